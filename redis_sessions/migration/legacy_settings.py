"""The settings of django-redis-sessions, and what to write instead.

django-redis-sessions, the package this one replaces, read a ``SESSION_REDIS``
dict (lower-case keys), and before that flat ``SESSION_REDIS_*`` settings; its
Sentinel list, master alias and Sentinel password stayed flat. This module
reads them as it did, to reach the sessions it wrote, and says for each one
the ``REDIS_SESSIONS`` key that replaces it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from django.conf import settings
from redis import Redis
from redis.sentinel import Sentinel

#: The keys of ``SESSION_REDIS``, each with the flat setting of older versions.
KEYS = (
    "host",
    "port",
    "db",
    "password",
    "prefix",
    "socket_timeout",
    "retry_on_timeout",
    "url",
    "unix_domain_socket_path",
)

#: Settings that were always flat.
FLAT_ONLY = (
    "SESSION_REDIS_SENTINEL_LIST",
    "SESSION_REDIS_SENTINEL_MASTER_ALIAS",
    "SESSION_REDIS_SENTINEL_PASSWORD",
)

#: For each legacy name, what to write in ``REDIS_SESSIONS`` instead.
REPLACEMENTS: dict[str, str] = {
    "host": "the host of 'URL': 'redis://host:port/db'",
    "port": "the port of 'URL': 'redis://host:port/db'",
    "db": "the database number of 'URL': 'redis://host:port/db'",
    "password": "'PASSWORD'",
    "prefix": "'PREFIX' (the engine's keys differ, so a new prefix is best; keep "
    "reading the old sessions with 'MIGRATE_FROM': ['django-redis-sessions'])",
    "socket_timeout": "'SOCKET_TIMEOUT'",
    "retry_on_timeout": "nothing: the engine retries a command once on a new connection by itself",
    "url": "'URL'",
    "unix_domain_socket_path": "a unix:// 'URL': 'unix:///path/to/redis.sock?db=0'",
    "SESSION_REDIS_SENTINEL_LIST": "'SENTINELS': ['host:port', ...]",
    "SESSION_REDIS_SENTINEL_MASTER_ALIAS": "'SENTINEL_SERVICE'",
    "SESSION_REDIS_SENTINEL_PASSWORD": "'SENTINEL_PASSWORD'",
}

#: django-redis-sessions' defaults, where its settings leave a key out.
_DEFAULTS: dict[str, Any] = {
    "host": "localhost",
    "port": 6379,
    "db": 0,
    "password": None,
    "prefix": "",
    # django-redis-sessions waited 0.1 s; a batch of a bulk migration needs longer.
    "socket_timeout": 2.0,
    "retry_on_timeout": False,
    "url": None,
    "unix_domain_socket_path": None,
}


def flat_name(key: str) -> str:
    """The flat setting of older versions for a key of ``SESSION_REDIS``."""
    return f"SESSION_REDIS_{key.upper()}"


class LegacySetting(NamedTuple):
    """One legacy setting present: where it is written, and what replaces it."""

    where: str
    replacement: str


def present() -> list[LegacySetting]:
    """The settings of django-redis-sessions that the project defines, in a stable order."""
    found = []
    dict_setting = getattr(settings, "SESSION_REDIS", None)
    for key in KEYS:
        if isinstance(dict_setting, dict) and key in dict_setting:
            found.append(LegacySetting(f"SESSION_REDIS[{key!r}]", REPLACEMENTS[key]))
        if hasattr(settings, flat_name(key)):
            found.append(LegacySetting(flat_name(key), REPLACEMENTS[key]))
    for name in FLAT_ONLY:
        if hasattr(settings, name):
            found.append(LegacySetting(name, REPLACEMENTS[name]))
    return found


def value(key: str) -> Any:
    """A setting of django-redis-sessions as it read it: the dict, then the flat name."""
    dict_setting = getattr(settings, "SESSION_REDIS", None)
    if isinstance(dict_setting, dict) and key in dict_setting:
        return dict_setting[key]
    return getattr(settings, flat_name(key), _DEFAULTS[key])


def prefix() -> str:
    """The prefix django-redis-sessions stored keys under; '' for none."""
    return str(value("prefix") or "")


def legacy_key(session_key: str) -> str:
    """The Redis key of a session that django-redis-sessions wrote: ``prefix:key``, or the key."""
    return f"{prefix()}:{session_key}" if prefix() else session_key


def client() -> Redis:
    """A client of the server django-redis-sessions used, chosen in its order.

    Sentinel first, then a URL, then a Unix socket, then host and port.
    """
    timeout = value("socket_timeout")
    # redis-py retries on a timeout by itself; retry_on_timeout is deprecated there.
    sentinels = getattr(settings, "SESSION_REDIS_SENTINEL_LIST", None)
    if sentinels is not None:
        sentinel_password = getattr(settings, "SESSION_REDIS_SENTINEL_PASSWORD", None)
        sentinel = Sentinel(
            [tuple(address) for address in sentinels],
            socket_timeout=timeout,
            db=value("db"),
            password=value("password"),
            sentinel_kwargs={"password": sentinel_password} if sentinel_password else None,
        )
        alias = str(getattr(settings, "SESSION_REDIS_SENTINEL_MASTER_ALIAS", None))
        master: Redis = sentinel.master_for(alias)
        return master
    if value("url") is not None:
        return Redis.from_url(value("url"), socket_timeout=timeout)
    if value("unix_domain_socket_path") is not None:
        return Redis(
            unix_socket_path=value("unix_domain_socket_path"),
            socket_timeout=timeout,
            db=value("db"),
            password=value("password"),
        )
    return Redis(
        host=value("host"),
        port=value("port"),
        socket_timeout=timeout,
        db=value("db"),
        password=value("password"),
    )
