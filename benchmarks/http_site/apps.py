"""The site's app: what it changes in Django's wiring as it starts."""

from __future__ import annotations

from django.apps import AppConfig


class SiteConfig(AppConfig):
    name = "http_site"

    def ready(self) -> None:
        from django.contrib.auth.models import update_last_login
        from django.contrib.auth.signals import user_logged_in

        # A login's write of last_login is the same query for every engine and
        # is not a session's cost; the floor, which does not log in, never pays it.
        user_logged_in.disconnect(update_last_login, dispatch_uid="update_last_login")
