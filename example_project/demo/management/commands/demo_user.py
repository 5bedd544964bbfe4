from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

USERNAME = "demo"
PASSWORD = "demo"


class Command(BaseCommand):
    help = f"Create the user {USERNAME!r} with password {PASSWORD!r}, or reset its password."

    def handle(self, *args: Any, **options: Any) -> None:
        user, created = get_user_model().objects.get_or_create(
            username=USERNAME,
            # Staff and superuser so that the admin, whose login shares the
            # session, can be tried too.
            defaults={"is_staff": True, "is_superuser": True},
        )
        if created or not user.check_password(PASSWORD):
            user.set_password(PASSWORD)
            user.save()
        if options["verbosity"] >= 1:
            verb = "Created" if created else "Found"
            self.stdout.write(f"{verb} user {USERNAME!r} with password {PASSWORD!r}.")
