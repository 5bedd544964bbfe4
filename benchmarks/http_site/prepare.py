"""Create the site's databases and its users, before any server starts.

Run by ``benchmarks.bench_http`` as ``python -m http_site.prepare USERS`` with
the site's environment variables set: with ``HTTP_BENCH_CONFIG=db`` it makes
the SQLite file (users and the db engine's table), with ``db-postgres`` the
session table in PostgreSQL.
"""

from __future__ import annotations

import os
import sys


def prepare(users: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "http_site.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection

    from .engines import PASSWORD, username

    if "postgres" in settings.DATABASES:
        call_command("migrate", database="postgres", verbosity=0, interactive=False)
        return
    call_command("migrate", verbosity=0, interactive=False)
    with connection.cursor() as cursor:
        # Write-ahead logging, a property of the file: readers then never wait
        # for a writer.
        cursor.execute("PRAGMA journal_mode=WAL")
    # One hash for all: the hasher's salt makes no difference to the benchmark.
    password = make_password(PASSWORD)
    User.objects.bulk_create(User(username=username(i), password=password) for i in range(users))


if __name__ == "__main__":
    prepare(int(sys.argv[1]))
