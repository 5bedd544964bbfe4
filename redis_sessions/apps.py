from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_save, pre_save


class RedisSessionsConfig(AppConfig):
    name = "redis_sessions"
    verbose_name = "Redis sessions"

    def ready(self) -> None:
        # Imported for its side effect: registering the system checks.
        from redis_sessions import checks  # noqa: F401
        from redis_sessions.signals import (
            end_sessions_on_password_change,
            note_login,
            note_password_change,
        )

        if self.apps is not None and self.apps.is_installed("django.contrib.auth"):
            from django.contrib.auth.signals import user_logged_in

            user_logged_in.connect(note_login, dispatch_uid="redis_sessions.note_login")
            pre_save.connect(
                note_password_change,
                sender=settings.AUTH_USER_MODEL,
                dispatch_uid="redis_sessions.note_password_change",
            )
            post_save.connect(
                end_sessions_on_password_change,
                sender=settings.AUTH_USER_MODEL,
                dispatch_uid="redis_sessions.end_sessions_on_password_change",
            )
