from __future__ import annotations

from django.apps import AppConfig


class RedisSessionsConfig(AppConfig):
    name = "redis_sessions"
    verbose_name = "Redis sessions"

    def ready(self) -> None:
        # Imported for its side effect: registering the system checks.
        from redis_sessions import checks  # noqa: F401
