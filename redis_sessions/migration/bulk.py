"""Bulk migration: every session of a source, in batches (``sessions migrate``).

Each batch is read from the source, stored here in one round trip
(create-if-absent: a key the engine holds already is left as it is), then
removed from the source, together with the expired sessions of the batch.
Memory holds one batch at a time. Running it again moves nothing more: what
was moved is gone from the source. A corrupt session (its signature fails, or
it holds no dict) is counted and left in place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError

from redis_sessions.exceptions import SessionTooLarge, StoreUnavailable
from redis_sessions.migration.sources import CORRUPT, EXPIRED, START, Found, Source
from redis_sessions.store import Store


@dataclasses.dataclass
class Summary:
    """What a bulk migration did, or would do with ``dry_run``."""

    migrated: int = 0
    #: Already stored here: a request moved them first, or an earlier run did.
    present: int = 0
    expired: int = 0
    corrupt: int = 0
    failed: int = 0
    #: Where a run stopped early can go on from (``--cursor``); START when it ended.
    cursor: str = START

    @property
    def seen(self) -> int:
        return self.migrated + self.present + self.expired + self.corrupt + self.failed


def migrate(
    store: Store,
    source: Source,
    *,
    batch_size: int,
    cursor: str = START,
    dry_run: bool = False,
    max_batches: int | None = None,
    on_batch: Callable[[Summary], None] | None = None,
) -> Summary:
    """Move the sessions of ``source`` here, ``batch_size`` at a time, from ``cursor``.

    ``max_batches`` stops after that many batches; the summary's cursor then
    says where to go on from.
    """
    summary = Summary(cursor=cursor)
    batches = 0
    while True:
        batch = source.batch(summary.cursor, batch_size)
        summary.cursor = batch.cursor
        found: list[tuple[str, Found]] = []
        for key, what in batch.sessions:
            if isinstance(what, Found):
                found.append((key, what))
        summary.expired += sum(what == EXPIRED for _, what in batch.sessions)
        summary.corrupt += sum(what == CORRUPT for _, what in batch.sessions)
        expired = [key for key, what in batch.sessions if what == EXPIRED]
        if dry_run:
            summary.migrated += len(found)
        else:
            done = _store(store, found, summary)
            source.remove(done + expired)
        batches += 1
        if on_batch is not None:
            on_batch(summary)
        if summary.cursor == START or (max_batches is not None and batches >= max_batches):
            return summary


#: The result of a session too large to store here.
TOO_LARGE = "too large"


def _store(store: Store, found: list[tuple[str, Found]], summary: Summary) -> list[str]:
    """Store a batch here; return the keys to remove from the source."""
    sessions = [(key, what.data, what.ttl) for key, what in found]
    results: list[bool | str | None]
    try:
        results = list(store.create_many(sessions))
    except (StoreUnavailable, RedisError):
        summary.failed += len(sessions)
        return []
    except SessionTooLarge:
        # One of them is over MAX_SESSION_BYTES: the others go one by one.
        results = [_store_one(store, session) for session in sessions]
    done = []
    for (key, _, _), result in zip(sessions, results, strict=True):
        if result == TOO_LARGE:
            summary.failed += 1
            continue
        if result is True:
            summary.migrated += 1
        elif result is False:
            summary.present += 1
        else:
            summary.expired += 1
        done.append(key)
    return done


def _store_one(store: Store, session: tuple[str, dict[str, Any], int]) -> bool | str | None:
    try:
        return store.create_many([session])[0]
    except SessionTooLarge:
        return TOO_LARGE
