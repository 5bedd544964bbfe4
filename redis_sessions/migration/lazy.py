"""Migration on load: a key the engine does not know is looked up in the sources.

With ``REDIS_SESSIONS['MIGRATE_FROM']`` set, a request that presents a key
which has neither a session nor a tombstone here looks in each source, in
order. A session found is stored here, with the seconds it had left (and its
user index entry with ``USER_INDEX``), then removed from the source.

Two first requests with one key may both find it in the source; the store's
create is create-if-absent, so one of them stores it and the other is refused
and loads what the first stored: the session never forks into two. A key the
engine knows costs nothing more; an unknown one costs a lookup per source and
one more load here (a concurrent first request may have moved it meanwhile:
it stored the session here before it removed it from the source).
"""

from __future__ import annotations

import logging
import threading

from django.contrib.sessions.backends.base import CreateError
from django.core.signals import setting_changed
from django.db import DatabaseError
from redis.exceptions import RedisError

from redis_sessions.conf import conf
from redis_sessions.migration.sources import Source, source
from redis_sessions.store import Store, StoredSession

logger = logging.getLogger("redis_sessions.migration")

_lock = threading.Lock()
_sources: dict[str, Source] = {}


def configured_sources() -> list[Source]:
    """The sources of ``MIGRATE_FROM``, made once and kept until the settings change."""
    names = conf.MIGRATE_FROM
    with _lock:
        for name in names:
            if name not in _sources:
                _sources[name] = source(name)
        return [_sources[name] for name in names]


def migrated(store: Store, session_key: str) -> StoredSession | None:
    """Move the session of ``session_key`` here from the first source that holds it.

    Returns it as stored here, or None when it is neither here nor in a source. A source that
    fails is logged and passed over: the request goes on without its session.
    """
    for legacy in configured_sources():
        try:
            found = legacy.find(session_key)
        except (RedisError, DatabaseError, OSError):
            logger.warning("Migrating sessions: the %s source failed.", legacy.name, exc_info=True)
            continue
        if found is None:
            continue
        try:
            store.create(session_key, found.data, found.ttl)
        except CreateError:
            # Another request stored it first: load what it stored.
            return store.load(session_key)
        try:
            legacy.remove([session_key])
        except (RedisError, DatabaseError, OSError):
            logger.warning(
                "Migrating sessions: a session moved here stays in the %s source.",
                legacy.name,
                exc_info=True,
            )
        return store.load(session_key)
    # A concurrent request may have moved it between this one's first load
    # and its lookups: then it is here now.
    return store.load(session_key)


def _on_setting_changed(*, setting: str, **kwargs: object) -> None:
    if setting.startswith(("SESSION_REDIS", "REDIS_SESSIONS", "CACHES", "SESSION_CACHE_ALIAS")):
        with _lock:
            _sources.clear()


setting_changed.connect(_on_setting_changed)
