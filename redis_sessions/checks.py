"""System checks for the ``REDIS_SESSIONS`` setting.

Each problem has a stable id, so it can be silenced with
``SILENCED_SYSTEM_CHECKS`` and looked up in the README.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from redis_sessions.conf import DEFAULTS

URL_SCHEMES = ("redis", "rediss", "unix")


def _is_positive_int(value: Any) -> bool:
    return type(value) is int and value > 0


def _is_timeout(value: Any) -> bool:
    return value is None or (type(value) in (int, float) and value > 0)


@register(Tags.compatibility)
def check_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    user = getattr(settings, "REDIS_SESSIONS", {})
    if not isinstance(user, dict):
        return [
            Error(
                f"REDIS_SESSIONS must be a dict, not {type(user).__name__}.",
                hint="Set REDIS_SESSIONS = {'URL': 'redis://host:6379/0'} or leave it out.",
                id="redis_sessions.E001",
            )
        ]
    errors: list[CheckMessage] = []
    unknown = sorted(str(name) for name in user if name not in DEFAULTS)
    if unknown:
        errors.append(
            Error(
                f"REDIS_SESSIONS has unknown keys: {', '.join(unknown)}.",
                hint=f"The keys are: {', '.join(DEFAULTS)}.",
                id="redis_sessions.E002",
            )
        )
    values = {**DEFAULTS, **user}
    url = values["URL"]
    if not isinstance(url, str) or urlsplit(url).scheme not in URL_SCHEMES:
        errors.append(
            Error(
                f"REDIS_SESSIONS['URL'] must be a redis://, rediss:// or unix:// URL, not {url!r}.",
                hint="For example 'redis://127.0.0.1:6379/0'.",
                id="redis_sessions.E003",
            )
        )
    alias = values["CACHE_ALIAS"]
    if alias is not None:
        caches = getattr(settings, "CACHES", {})
        backend = caches.get(alias, {}).get("BACKEND") if isinstance(alias, str) else None
        if backend is None:
            errors.append(
                Error(
                    f"REDIS_SESSIONS['CACHE_ALIAS'] is {alias!r}, which is not a cache in CACHES.",
                    hint="Name a cache of CACHES, or leave CACHE_ALIAS out and set URL.",
                    id="redis_sessions.E004",
                )
            )
        elif not backend.startswith("django_redis."):
            errors.append(
                Error(
                    f"The cache {alias!r} of REDIS_SESSIONS['CACHE_ALIAS'] uses {backend}, "
                    "not django-redis.",
                    hint="CACHE_ALIAS reuses the client of a django_redis.cache.RedisCache; "
                    "for any other cache set URL instead.",
                    id="redis_sessions.E005",
                )
            )
        elif "URL" in user:
            errors.append(
                Warning(
                    "REDIS_SESSIONS sets both URL and CACHE_ALIAS; URL is ignored.",
                    hint="Remove one of them.",
                    id="redis_sessions.W001",
                )
            )
    prefix = values["PREFIX"]
    if not isinstance(prefix, str) or "{" in prefix or "}" in prefix:
        errors.append(
            Error(
                f"REDIS_SESSIONS['PREFIX'] must be a string without braces, not {prefix!r}.",
                hint="Braces would change the hash slot of session keys on Redis Cluster.",
                id="redis_sessions.E006",
            )
        )
    for name, error_id in (("SCAN_COUNT", "E007"), ("TOMBSTONE_TTL", "E008")):
        if not _is_positive_int(values[name]):
            errors.append(
                Error(
                    f"REDIS_SESSIONS[{name!r}] must be a positive integer, not {values[name]!r}.",
                    hint=f"The default is {DEFAULTS[name]}.",
                    id=f"redis_sessions.{error_id}",
                )
            )
    for name in ("SOCKET_CONNECT_TIMEOUT", "SOCKET_TIMEOUT"):
        if not _is_timeout(values[name]):
            errors.append(
                Error(
                    f"REDIS_SESSIONS[{name!r}] must be a positive number of seconds or None, "
                    f"not {values[name]!r}.",
                    hint=f"The default is {DEFAULTS[name]}.",
                    id="redis_sessions.E009",
                )
            )
    if type(values["REVOKE_ON_PASSWORD_CHANGE"]) is not bool:
        errors.append(
            Error(
                "REDIS_SESSIONS['REVOKE_ON_PASSWORD_CHANGE'] must be True or False, not "
                f"{values['REVOKE_ON_PASSWORD_CHANGE']!r}.",
                hint="The default is False.",
                id="redis_sessions.E011",
            )
        )
    if hasattr(settings, "SESSION_REDIS") and not hasattr(settings, "REDIS_SESSIONS"):
        errors.append(
            Warning(
                "SESSION_REDIS is a setting of django-redis-sessions; this engine reads "
                "REDIS_SESSIONS.",
                hint="Move the connection into REDIS_SESSIONS, e.g. "
                "REDIS_SESSIONS = {'URL': 'redis://host:port/db', 'PREFIX': 'session:'}.",
                id="redis_sessions.W002",
            )
        )
    return errors
