"""The ``REDIS_SESSIONS`` setting, read lazily.

Every property reads ``django.conf.settings`` when it is accessed, so
``override_settings`` works in tests. Values are validated by the system
checks in :mod:`redis_sessions.checks`, not here.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEFAULTS: dict[str, Any] = {
    "URL": "redis://127.0.0.1:6379/0",
    "CACHE_ALIAS": None,
    "PREFIX": "sessions:",
    "SCAN_COUNT": 100,
    "TOMBSTONE_TTL": 300,
    "SOCKET_CONNECT_TIMEOUT": 2.0,
    "SOCKET_TIMEOUT": 2.0,
    "REVOKE_ON_PASSWORD_CHANGE": False,
}


class Settings:
    """Accessors for the keys of ``settings.REDIS_SESSIONS`` with their defaults."""

    def user_settings(self) -> dict[str, Any]:
        value = getattr(settings, "REDIS_SESSIONS", {})
        if not isinstance(value, dict):
            raise ImproperlyConfigured(
                "REDIS_SESSIONS must be a dict; run 'manage.py check' for details."
            )
        return value

    def _get(self, name: str) -> Any:
        return self.user_settings().get(name, DEFAULTS[name])

    @property
    def URL(self) -> str:
        return self._get("URL")  # type: ignore[no-any-return]

    @property
    def CACHE_ALIAS(self) -> str | None:
        return self._get("CACHE_ALIAS")  # type: ignore[no-any-return]

    @property
    def PREFIX(self) -> str:
        return self._get("PREFIX")  # type: ignore[no-any-return]

    @property
    def SCAN_COUNT(self) -> int:
        return self._get("SCAN_COUNT")  # type: ignore[no-any-return]

    @property
    def TOMBSTONE_TTL(self) -> int:
        return self._get("TOMBSTONE_TTL")  # type: ignore[no-any-return]

    @property
    def SOCKET_CONNECT_TIMEOUT(self) -> float | None:
        return self._get("SOCKET_CONNECT_TIMEOUT")  # type: ignore[no-any-return]

    @property
    def SOCKET_TIMEOUT(self) -> float | None:
        return self._get("SOCKET_TIMEOUT")  # type: ignore[no-any-return]

    @property
    def REVOKE_ON_PASSWORD_CHANGE(self) -> bool:
        return self._get("REVOKE_ON_PASSWORD_CHANGE")  # type: ignore[no-any-return]


conf = Settings()
