"""Create the benchmark site's database and its users, before any server starts.

Run by ``benchmarks.bench_asgi`` as ``python -m benchmarks.asgi_site.prepare USERS``
with the site's environment variables set.
"""

from __future__ import annotations

import os
import sys


def prepare(users: int) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.asgi_site.settings"
    import django

    django.setup()
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection

    from benchmarks.asgi_site.configs import PASSWORD, username

    call_command("check", fail_level="ERROR")
    call_command("migrate", verbosity=0, interactive=False)
    with connection.cursor() as cursor:
        # Write-ahead logging, a property of the file: readers then never wait
        # for a login writing last_login.
        cursor.execute("PRAGMA journal_mode=WAL")
    # One hash for all: the hasher's salt makes no difference to the benchmark.
    password = make_password(PASSWORD)
    User.objects.bulk_create(User(username=username(i), password=password) for i in range(users))


if __name__ == "__main__":
    prepare(int(sys.argv[1]))
