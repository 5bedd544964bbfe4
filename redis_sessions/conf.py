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
    "USER_INDEX": False,
    "ABSOLUTE_TTL": None,
    "MAX_SESSION_BYTES": 65536,
    "USERNAME": None,
    "PASSWORD": None,
    "TLS_CA_CERTS": None,
    "TLS_CERTFILE": None,
    "TLS_KEYFILE": None,
    "TLS_CHECK_HOSTNAME": True,
    "SENTINELS": None,
    "SENTINEL_SERVICE": None,
    "SENTINEL_USERNAME": None,
    "SENTINEL_PASSWORD": None,
    "SENTINEL_TLS": False,
    "CLUSTER_NODES": None,
    "MIN_REPLICAS_ACK": 0,
    "REPLICAS_ACK_TIMEOUT": 0.5,
    "MIGRATE_FROM": [],
    "BREAKER_FAILURES": 3,
    "BREAKER_RESET": 0.1,
    "ON_UNAVAILABLE": "raise",
    "DEVICE_DETAILS": False,
    "CLIENT_IP_HEADER": None,
    "ANONYMIZE_IP": False,
    "ACTIVITY_INTERVAL": 300,
    "MAX_SESSIONS_PER_USER": None,
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

    @property
    def USER_INDEX(self) -> bool:
        return self._get("USER_INDEX")  # type: ignore[no-any-return]

    @property
    def ABSOLUTE_TTL(self) -> int | None:
        return self._get("ABSOLUTE_TTL")  # type: ignore[no-any-return]

    @property
    def MAX_SESSION_BYTES(self) -> int | None:
        return self._get("MAX_SESSION_BYTES")  # type: ignore[no-any-return]

    @property
    def USERNAME(self) -> str | None:
        return self._get("USERNAME")  # type: ignore[no-any-return]

    @property
    def PASSWORD(self) -> str | None:
        return self._get("PASSWORD")  # type: ignore[no-any-return]

    @property
    def TLS_CA_CERTS(self) -> str | None:
        return self._get("TLS_CA_CERTS")  # type: ignore[no-any-return]

    @property
    def TLS_CERTFILE(self) -> str | None:
        return self._get("TLS_CERTFILE")  # type: ignore[no-any-return]

    @property
    def TLS_KEYFILE(self) -> str | None:
        return self._get("TLS_KEYFILE")  # type: ignore[no-any-return]

    @property
    def TLS_CHECK_HOSTNAME(self) -> bool:
        return self._get("TLS_CHECK_HOSTNAME")  # type: ignore[no-any-return]

    @property
    def SENTINELS(self) -> list[str | tuple[str, int]] | None:
        return self._get("SENTINELS")  # type: ignore[no-any-return]

    @property
    def SENTINEL_SERVICE(self) -> str | None:
        return self._get("SENTINEL_SERVICE")  # type: ignore[no-any-return]

    @property
    def SENTINEL_USERNAME(self) -> str | None:
        return self._get("SENTINEL_USERNAME")  # type: ignore[no-any-return]

    @property
    def SENTINEL_PASSWORD(self) -> str | None:
        return self._get("SENTINEL_PASSWORD")  # type: ignore[no-any-return]

    @property
    def SENTINEL_TLS(self) -> bool:
        return self._get("SENTINEL_TLS")  # type: ignore[no-any-return]

    @property
    def CLUSTER_NODES(self) -> list[str | tuple[str, int]] | None:
        return self._get("CLUSTER_NODES")  # type: ignore[no-any-return]

    @property
    def MIN_REPLICAS_ACK(self) -> int:
        return self._get("MIN_REPLICAS_ACK")  # type: ignore[no-any-return]

    @property
    def REPLICAS_ACK_TIMEOUT(self) -> float:
        return self._get("REPLICAS_ACK_TIMEOUT")  # type: ignore[no-any-return]

    @property
    def MIGRATE_FROM(self) -> list[str]:
        return self._get("MIGRATE_FROM")  # type: ignore[no-any-return]

    @property
    def BREAKER_FAILURES(self) -> int:
        return self._get("BREAKER_FAILURES")  # type: ignore[no-any-return]

    @property
    def BREAKER_RESET(self) -> float:
        return self._get("BREAKER_RESET")  # type: ignore[no-any-return]

    @property
    def ON_UNAVAILABLE(self) -> str:
        return self._get("ON_UNAVAILABLE")  # type: ignore[no-any-return]

    @property
    def DEVICE_DETAILS(self) -> bool:
        return self._get("DEVICE_DETAILS")  # type: ignore[no-any-return]

    @property
    def CLIENT_IP_HEADER(self) -> str | None:
        return self._get("CLIENT_IP_HEADER")  # type: ignore[no-any-return]

    @property
    def ANONYMIZE_IP(self) -> bool:
        return self._get("ANONYMIZE_IP")  # type: ignore[no-any-return]

    @property
    def ACTIVITY_INTERVAL(self) -> int:
        return self._get("ACTIVITY_INTERVAL")  # type: ignore[no-any-return]

    @property
    def MAX_SESSIONS_PER_USER(self) -> int | None:
        return self._get("MAX_SESSIONS_PER_USER")  # type: ignore[no-any-return]


conf = Settings()
