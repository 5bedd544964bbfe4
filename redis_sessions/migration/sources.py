"""The engines sessions are migrated from, each read through its own public API.

A source finds one session by its key (:meth:`Source.find`), removes it
(:meth:`Source.remove`), and, for ``manage.py sessions migrate``, reads them
all in batches (:meth:`Source.batch`). The names are those of
``REDIS_SESSIONS['MIGRATE_FROM']`` and of ``sessions migrate --from``:

``django-redis-sessions``
    Its Redis keys, ``<prefix>:<key>`` (the key alone without a prefix), hold
    Django's encoded session string, signed with ``SECRET_KEY``.
``cache``
    Django's ``cache`` engine: pickled data in ``SESSION_CACHE_ALIAS`` under
    ``django.contrib.sessions.cache<key>``.
``db``
    Django's ``db`` and ``cached_db`` engines: rows of ``django_session``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, NamedTuple, Protocol

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.core.cache import caches
from redis import Redis
from redis.exceptions import ResponseError

from redis_sessions.migration import legacy_settings
from redis_sessions.store.keys import glob_escape, is_valid_session_key

#: Why a session of a source is left where it is.
EXPIRED = "expired"
CORRUPT = "corrupt"

#: The cursor that starts a bulk read, and that the last batch gives back.
START = "0"


class Found(NamedTuple):
    """A session a source holds: its data and the seconds it has left."""

    data: dict[str, Any]
    ttl: int


class Batch(NamedTuple):
    """Sessions of a source, read in one go."""

    #: Each session key with what it holds, or why it is skipped.
    sessions: list[tuple[str, Found | str]]
    #: Where the next batch starts; :data:`START` when this one was the last.
    cursor: str


class Source(Protocol):
    name: str

    def find(self, session_key: str) -> Found | None:
        """The live session of ``session_key``, or None."""

    def remove(self, session_keys: Sequence[str]) -> int:
        """Remove these sessions; return how many were there."""

    def batch(self, cursor: str, size: int) -> Batch:
        """About ``size`` sessions from ``cursor``."""


class SessionStore(SessionBase):
    """Reads what another engine's ``SessionStore`` encoded.

    Django salts an encoded session's signature with the name of the class that
    encoded it; Django's engines and django-redis-sessions all name it
    ``SessionStore``, and so does this one.
    """


def decoded(encoded: str) -> dict[str, Any]:
    """Django's encoded session string as a dict, through ``SessionBase.decode``.

    A string whose signature fails (another ``SECRET_KEY``, tampering) gives
    an empty dict, and Django logs it on ``django.security.SuspiciousSession``.
    """
    return SessionStore().decode(encoded)


def _found(data: Any, ttl: float) -> Found | str:
    if not isinstance(data, dict) or not data:
        return CORRUPT
    if ttl < 1:
        return EXPIRED
    return Found(data, math.ceil(ttl))


def _redis_ttl(ttl: int) -> float:
    """Seconds left from Redis's TTL: -1 (no expiry) stands for a full session age."""
    return float(settings.SESSION_COOKIE_AGE) if ttl == -1 else float(ttl)


class DjangoRedisSessions:
    """The sessions django-redis-sessions wrote, on the server of its settings."""

    name = "django-redis-sessions"

    def __init__(self, client: Redis | None = None) -> None:
        self.client = legacy_settings.client() if client is None else client
        self.prefix = legacy_settings.prefix()

    def key(self, session_key: str) -> str:
        return f"{self.prefix}:{session_key}" if self.prefix else session_key

    def session_key(self, key: bytes | str) -> str | None:
        """The session key of a Redis key of the source, or None if it names none."""
        text = key.decode(errors="replace") if isinstance(key, bytes) else key
        if self.prefix:
            head, _, text = text.rpartition(":")
            if head != self.prefix:
                return None
        return text if is_valid_session_key(text) else None

    def _read(self, keys: Sequence[str | bytes]) -> list[Found | str]:
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.get(key)
            pipe.ttl(key)
        replies = pipe.execute(raise_on_error=False)
        found: list[Found | str] = []
        for value, ttl in zip(replies[0::2], replies[1::2], strict=True):
            if value is None or isinstance(value, ResponseError) or not isinstance(ttl, int):
                found.append(EXPIRED if value is None else CORRUPT)
            else:
                found.append(_found(decoded(value.decode(errors="replace")), _redis_ttl(ttl)))
        return found

    def find(self, session_key: str) -> Found | None:
        found = self._read([self.key(session_key)])[0]
        return found if isinstance(found, Found) else None

    def remove(self, session_keys: Sequence[str]) -> int:
        if not session_keys:
            return 0
        return int(self.client.delete(*(self.key(key) for key in session_keys)))

    def batch(self, cursor: str, size: int) -> Batch:
        pattern = f"{glob_escape(self.prefix)}:*" if self.prefix else "*"
        next_cursor, keys = self.client.scan(int(cursor), match=pattern, count=size, _type="string")
        named = []
        for key in keys:
            session_key = self.session_key(key)
            if session_key is not None:
                named.append((key, session_key))
        found = self._read([key for key, _ in named])
        sessions = [
            (session_key, what) for (_, session_key), what in zip(named, found, strict=True)
        ]
        return Batch(sessions, str(next_cursor))


class CacheEngine:
    """The sessions of Django's ``cache`` engine, through the cache API.

    The cache holds them pickled: reading one unpickles it, and whoever can
    write to that cache can make that run code. Hence it is read only when
    ``MIGRATE_FROM`` names it.
    """

    name = "cache"
    #: Where Django's cache engine puts its sessions, before the cache's own key function.
    KEY_PREFIX = "django.contrib.sessions.cache"

    def __init__(self) -> None:
        self.cache = caches[settings.SESSION_CACHE_ALIAS]

    def find(self, session_key: str) -> Found | None:
        key = self.KEY_PREFIX + session_key
        data = self.cache.get(key)
        if data is None:
            return None
        # django-redis's cache tells a key's TTL; other caches do not.
        ttl_of = getattr(self.cache, "ttl", None)
        ttl = ttl_of(key) if callable(ttl_of) else None
        found = _found(data, settings.SESSION_COOKIE_AGE if ttl is None else ttl)
        return found if isinstance(found, Found) else None

    def remove(self, session_keys: Sequence[str]) -> int:
        return sum(bool(self.cache.delete(self.KEY_PREFIX + key)) for key in session_keys)

    def batch(self, cursor: str, size: int) -> Batch:
        raise NotImplementedError(
            "A Django cache cannot list its keys: sessions of the cache engine move one by "
            "one as users come back, with REDIS_SESSIONS['MIGRATE_FROM'] = ['cache']."
        )


class DatabaseEngine:
    """The rows of ``django_session``, which Django's ``db`` and ``cached_db`` engines write."""

    name = "db"

    def __init__(self) -> None:
        from django.contrib.sessions.models import Session

        self.model = Session
        #: The last key a bulk read reached: kept here, never printed.
        self.last_key = ""

    def _of(self, row: Any) -> Found | str:
        ttl = (row.expire_date - datetime.now(timezone.utc)).total_seconds()
        return _found(row.get_decoded(), ttl)

    def find(self, session_key: str) -> Found | None:
        row = self.model.objects.filter(session_key=session_key).first()
        found = None if row is None else self._of(row)
        return found if isinstance(found, Found) else None

    def remove(self, session_keys: Sequence[str]) -> int:
        if not session_keys:
            return 0
        removed: int = self.model.objects.filter(session_key__in=list(session_keys)).delete()[0]
        return removed

    def batch(self, cursor: str, size: int) -> Batch:
        # Rows go in key order, from the last key of the previous batch: a
        # cursor that names a key would print session keys, so this one only
        # says whether there is more.
        if cursor == START:
            self.last_key = ""
        rows = list(
            self.model.objects.filter(session_key__gt=self.last_key).order_by("session_key")[:size]
        )
        if rows:
            self.last_key = rows[-1].session_key
        sessions = [(row.session_key, self._of(row)) for row in rows]
        return Batch(sessions, START if len(rows) < size else "more")


#: Every source by name.
SOURCES: dict[str, type[DjangoRedisSessions] | type[CacheEngine] | type[DatabaseEngine]] = {
    DjangoRedisSessions.name: DjangoRedisSessions,
    CacheEngine.name: CacheEngine,
    DatabaseEngine.name: DatabaseEngine,
}


def source(name: str) -> Source:
    """The source of this name, connected as the settings say."""
    try:
        kind = SOURCES[name]
    except KeyError:
        raise ValueError(
            f"No session source is named {name!r}; the sources are: {', '.join(SOURCES)}."
        ) from None
    made: Source = kind()
    return made
