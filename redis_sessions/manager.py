"""The Redis-facing core: :class:`SessionManager`.

The manager owns the connection, the naming of keys, the Lua scripts and the
encoding of values. :class:`redis_sessions.session.SessionStore` adapts it to
Django's ``SessionBase``; code that needs sessions outside a request can use it
directly::

    from redis_sessions.manager import get_manager

    stored = get_manager().load(session_key)

Each method has an asyncio twin::

    stored = await get_manager().aload(session_key)

The operations on one session live in :mod:`redis_sessions.core`; this module
adds those on many sessions (SCAN batches, the user index, statistics) and the
instance the settings configure.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple, cast

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.exceptions import RedisError, ResponseError

from redis_sessions import scripts
from redis_sessions.conf import conf
from redis_sessions.connection import connection_from_settings
from redis_sessions.core import Call, SessionCore, StoredSession
from redis_sessions.keys import glob_escape
from redis_sessions.stats import SessionStats, StatsCollector

__all__ = [
    "Call",
    "Progress",
    "SessionManager",
    "StoredSession",
    "get_manager",
    "reset_manager",
    "seconds_left",
]

#: Called by bulk operations after each SCAN batch, with the keys scanned so far.
Progress = Callable[[int], None]


def _batched(items: Iterable[bytes], size: int) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class Batch(NamedTuple):
    """Keys that one SCAN call returned, and the cluster node it ran on (None on one server)."""

    node: Any
    keys: list[bytes]


def _or_none(result: Any) -> Any:
    if isinstance(result, ResponseError):
        return None
    if isinstance(result, RedisError):
        raise result
    return result


def seconds_left(reply: Any) -> int | None:
    """A ``TTL`` reply as the store API gives it: None for no expiry, 0 for gone."""
    # TTL answers -1 for a key without expiry and -2 for a missing key.
    if reply is None or reply == -2:
        return 0
    return None if reply == -1 else int(reply)


class SessionManager(SessionCore):
    """Sessions in Redis: one session at a time (see :class:`SessionCore`), and
    many at a time, a SCAN batch per round trip."""

    @classmethod
    def from_settings(cls) -> SessionManager:
        """Build a manager from ``REDIS_SESSIONS`` and ``SESSION_SERIALIZER``."""
        connection = connection_from_settings()
        return cls(
            connection.client,
            prefix=conf.PREFIX,
            tombstone_ttl=conf.TOMBSTONE_TTL,
            scan_count=conf.SCAN_COUNT,
            serializer_class=import_string(settings.SESSION_SERIALIZER),
            owns_client=connection.owned,
            async_client_factory=connection.async_factory,
            user_index=conf.USER_INDEX,
            min_replicas_ack=conf.MIN_REPLICAS_ACK,
            replicas_ack_timeout=conf.REPLICAS_ACK_TIMEOUT,
        )

    # Many sessions. SCAN walks the keys of this prefix in batches of
    # ``scan_count``; each batch is fetched with one pipelined round trip.
    # Only keys of this prefix are ever touched: never KEYS, never FLUSHDB.

    def session_pattern(self) -> str:
        """The SCAN pattern of this prefix's session keys (tombstones included)."""
        return f"{glob_escape(self.prefix)}{{*}}"

    def index_pattern(self) -> str:
        """The SCAN pattern of this prefix's user index keys."""
        return f"{glob_escape(self.prefix)}user:{{*}}"

    def prefix_pattern(self) -> str:
        """The SCAN pattern of every key of this prefix, sessions and indexes alike.

        Operations that need both kinds walk the keys once with it and sort them
        by shape: each SCAN pass visits the whole database, whatever it matches.
        """
        return f"{glob_escape(self.prefix)}*"

    def _scan_batches(self, pattern: str, type_: str | None = None) -> Iterator[Batch]:
        """SCAN the keys of ``pattern``; on a cluster, each primary in turn.

        A cluster's batches hold keys of one node each, so that a bulk script
        can run on that node with all of them.
        """
        try:
            if not self.cluster:
                keys = self.client.scan_iter(match=pattern, count=self.scan_count, _type=type_)
                for batch in _batched(keys, self.scan_count):
                    yield Batch(None, batch)
                return
            cluster: Any = self.client
            for node in cluster.get_primaries():
                cursor = 0
                while True:
                    cursors, found = cluster.scan(
                        cursor, match=pattern, count=self.scan_count, _type=type_,
                        target_nodes=node,
                    )  # fmt: skip
                    if found:
                        yield Batch(node, found)
                    cursor = next(iter(cursors.values()))
                    if cursor == 0:
                        break
        except RedisError as exc:
            raise self._unavailable(exc, "scan the sessions") from exc

    async def _ascan_batches(self, pattern: str, type_: str | None = None) -> AsyncIterator[Batch]:
        """The asyncio twin of :meth:`_scan_batches`."""
        client = self.aclient
        try:
            if isinstance(client, AsyncRedisCluster):
                cluster: Any = client
                # An asyncio cluster client learns the nodes on its first command.
                await cluster.initialize()
                for node in cluster.get_primaries():
                    cursor = 0
                    while True:
                        cursors, keys = await cluster.scan(
                            cursor, match=pattern, count=self.scan_count, _type=type_,
                            target_nodes=node,
                        )  # fmt: skip
                        if keys:
                            yield Batch(node, keys)
                        cursor = next(iter(cursors.values()))
                        if cursor == 0:
                            break
                return
            batch: list[bytes] = []
            async for key in client.scan_iter(match=pattern, count=self.scan_count, _type=type_):
                batch.append(key)
                if len(batch) == self.scan_count:
                    yield Batch(None, batch)
                    batch = []
            if batch:
                yield Batch(None, batch)
        except RedisError as exc:
            raise self._unavailable(exc, "scan the sessions") from exc

    def _pipelined(self, command: str, keys: Iterable[bytes | str], *args: Any) -> list[Any]:
        try:
            pipe = self.client.pipeline(transaction=False)
            for key in keys:
                pipe.execute_command(command, key, *args)
            # A key that changed type since the scan answers with an error: it
            # is not a session, which the callers see as an empty answer.
            return [_or_none(result) for result in pipe.execute(raise_on_error=False)]
        except RedisError as exc:
            raise self._unavailable(exc, "read sessions") from exc

    async def _apipelined(self, command: str, keys: Iterable[bytes | str], *args: Any) -> list[Any]:
        try:
            pipe = self.aclient.pipeline(transaction=False)
            for key in keys:
                pipe.execute_command(command, key, *args)
            return [_or_none(result) for result in await pipe.execute(raise_on_error=False)]
        except RedisError as exc:
            raise self._unavailable(exc, "read sessions") from exc

    def _bulk(
        self,
        script: scripts.LuaScript,
        batch: Batch,
        keys: list[bytes],
        args: list[Any],
        action: str,
    ) -> Any:
        # One script call for a whole SCAN batch: the per-key work runs on the
        # server, and the client parses one reply instead of one per key. The
        # keys follow ``args`` as arguments; on a cluster the script runs on the
        # node the batch came from, whose keys of many slots it may read so.
        try:
            return script.run(self.client, [], [*args, *keys], node=batch.node)
        except RedisError as exc:
            raise self._unavailable(exc, action) from exc

    async def _abulk(
        self,
        script: scripts.LuaScript,
        batch: Batch,
        keys: list[bytes],
        args: list[Any],
        action: str,
    ) -> Any:
        try:
            return await script.arun(self.aclient, [], [*args, *keys], node=batch.node)
        except RedisError as exc:
            raise self._unavailable(exc, action) from exc

    def _is_session(self, key: bytes) -> bool:
        """Whether a key SCAN found under the prefix has the shape of a session key."""
        return key.startswith(self._session_head) and key.endswith(b"}")

    def _is_index(self, key: bytes) -> bool:
        """Whether a key SCAN found under the prefix has the shape of a user index key."""
        return key.startswith(self._index_head) and key.endswith(b"}")

    def _is_ours(self, key: bytes) -> bool:
        return self._is_session(key) or self._is_index(key)

    def _user_of(self, index_key: bytes) -> str:
        return index_key[len(self._index_head) : -1].decode()

    def _session_key_of(self, redis_key: bytes) -> str:
        return redis_key.decode()[len(self.prefix) + 1 : -1]

    def _stored(self, redis_keys: list[bytes], hashes: list[Any]) -> Iterator[StoredSession]:
        for key, fields in zip(redis_keys, hashes, strict=True):
            if isinstance(fields, dict) and fields:
                stored = self._loaded(self._session_key_of(key), fields, quiet=True)
                if stored is not None:
                    yield stored

    def iter_sessions(self) -> Iterator[StoredSession]:
        """Yield every live session of this prefix, a batch at a time.

        Tombstones and keys this engine did not write are skipped, and a key
        that SCAN returns twice (it may, while Redis resizes its table) is
        yielded once.
        """
        seen: set[bytes] = set()
        for batch in self._scan_batches(self.session_pattern(), "HASH"):
            fresh = [key for key in batch.keys if key not in seen]
            seen.update(fresh)
            yield from self._stored(fresh, self._pipelined("HGETALL", fresh))

    async def aiter_sessions(self) -> AsyncIterator[StoredSession]:
        """The asyncio twin of :meth:`iter_sessions`."""
        seen: set[bytes] = set()
        async for batch in self._ascan_batches(self.session_pattern(), "HASH"):
            fresh = [key for key in batch.keys if key not in seen]
            seen.update(fresh)
            for stored in self._stored(fresh, await self._apipelined("HGETALL", fresh)):
                yield stored

    def count(self, *, progress: Progress | None = None) -> int:
        """Count the live sessions of this prefix, with memory that stays flat.

        Each SCAN batch is checked on the server by one script call. A key that
        SCAN returns twice while Redis resizes its table is counted twice, as
        ``redis-cli --scan`` would. ``progress``, if given, is called after each
        batch with the number of keys scanned so far.
        """
        live = scanned = 0
        # No TYPE filter: the server would look every key's type up for it,
        # which costs more than the script's own check.
        for batch in self._scan_batches(self.session_pattern()):
            live += self._bulk(scripts.COUNT, batch, batch.keys, [], "count the sessions")
            scanned += len(batch.keys)
            if progress is not None:
                progress(scanned)
        return live

    async def acount(self, *, progress: Progress | None = None) -> int:
        """The asyncio twin of :meth:`count`."""
        live = scanned = 0
        async for batch in self._ascan_batches(self.session_pattern()):
            live += await self._abulk(scripts.COUNT, batch, batch.keys, [], "count the sessions")
            scanned += len(batch.keys)
            if progress is not None:
                progress(scanned)
        return live

    def clear(self, *, dry_run: bool = False, progress: Progress | None = None) -> int:
        """Delete every session, tombstone and user index of this prefix.

        Returns how many keys were deleted, or with ``dry_run`` how many would
        be (a key that SCAN returns twice counts twice then). Other keys of the
        database are left alone. One SCAN pass over the prefix finds both
        kinds of keys; each batch is one ``UNLINK``.
        """
        deleted = scanned = 0
        for batch in self._scan_batches(self.prefix_pattern()):
            doomed = [key for key in batch.keys if self._is_ours(key)]
            if dry_run:
                deleted += len(doomed)
            elif doomed:
                deleted += self._bulk(scripts.UNLINK, batch, doomed, [], "delete sessions")
            scanned += len(batch.keys)
            if progress is not None:
                progress(scanned)
        return deleted

    async def aclear(self, *, dry_run: bool = False, progress: Progress | None = None) -> int:
        """The asyncio twin of :meth:`clear`."""
        deleted = scanned = 0
        async for batch in self._ascan_batches(self.prefix_pattern()):
            doomed = [key for key in batch.keys if self._is_ours(key)]
            if dry_run:
                deleted += len(doomed)
            elif doomed:
                deleted += await self._abulk(scripts.UNLINK, batch, doomed, [], "delete sessions")
            scanned += len(batch.keys)
            if progress is not None:
                progress(scanned)
        return deleted

    def stats(
        self, *, top: int = 10, sample: int = 1000, progress: Progress | None = None
    ) -> SessionStats:
        """Return the statistics of this prefix's sessions, in flat memory.

        One SCAN pass over the prefix; each batch, sessions and user indexes
        alike, is read by one call of the ``survey`` script. ``top`` is how many
        of the users with the most sessions to list (from their indexes);
        ``sample`` how many live sessions to measure with ``MEMORY USAGE``, the
        first ones SCAN finds (SCAN walks Redis' hash table, so they are spread
        at random over the keys). ``progress``, if given, is called after each
        batch with the number of keys scanned so far.
        """
        collector = StatsCollector(top=top, sample=sample)
        now = int(time.time())
        scanned = 0
        for batch in self._scan_batches(self.prefix_pattern()):
            sessions, indexes, args = self._survey_args(batch.keys, now, collector)
            if sessions or indexes:
                keys = sessions + indexes
                reply = self._bulk(scripts.SURVEY, batch, keys, args, "read statistics")
                collector.add(len(sessions), [self._user_of(key) for key in indexes], reply)
            scanned += len(batch.keys)
            if progress is not None:
                progress(scanned)
        return self._stats_result(collector)

    async def astats(
        self, *, top: int = 10, sample: int = 1000, progress: Progress | None = None
    ) -> SessionStats:
        """The asyncio twin of :meth:`stats`."""
        collector = StatsCollector(top=top, sample=sample)
        now = int(time.time())
        scanned = 0
        async for batch in self._ascan_batches(self.prefix_pattern()):
            sessions, indexes, args = self._survey_args(batch.keys, now, collector)
            if sessions or indexes:
                keys = sessions + indexes
                reply = await self._abulk(scripts.SURVEY, batch, keys, args, "read statistics")
                collector.add(len(sessions), [self._user_of(key) for key in indexes], reply)
            scanned += len(batch.keys)
            if progress is not None:
                progress(scanned)
        return self._stats_result(collector)

    def _stats_result(self, collector: StatsCollector) -> SessionStats:
        stats = collector.result()
        if self.user_index:
            return stats
        # Users are counted from their indexes; without them, they are not
        # counted at all (a count of every user would grow with the users).
        return dataclasses.replace(stats, users=None, top_users=None)

    def _survey_args(
        self, batch: list[bytes], now: int, collector: StatsCollector
    ) -> tuple[list[bytes], list[bytes], list[Any]]:
        sessions = [key for key in batch if self._is_session(key)]
        indexes = [key for key in batch if self._is_index(key)]
        return sessions, indexes, [len(sessions), now, collector.to_measure]

    def ttls(self, session_keys: Sequence[str]) -> list[int | None]:
        """Return the seconds each session has left to live, in one round trip.

        None for a key that never expires (the engine never leaves one so); 0
        for a key that is gone.
        """
        return [
            seconds_left(ttl) for ttl in self._pipelined("TTL", map(self.redis_key, session_keys))
        ]

    async def attls(self, session_keys: Sequence[str]) -> list[int | None]:
        """The asyncio twin of :meth:`ttls`."""
        replies = await self._apipelined("TTL", map(self.redis_key, session_keys))
        return [seconds_left(ttl) for ttl in replies]

    def user_sessions(self, user_id: str) -> list[StoredSession]:
        """Return the live sessions of ``user_id``, oldest first.

        With ``user_index``, read from the user's index: each entry is checked
        against its session, and entries of sessions that ended or changed
        hands are removed. Without, found by a SCAN of every session, each batch
        filtered on the server.
        """
        now = int(time.time())
        keys = self._user_session_keys(user_id, now)
        hashes = self._pipelined("HGETALL", [self.redis_key(key) for key in keys])
        sessions, stale = self._owned(user_id, keys, hashes)
        if stale and self.user_index:
            self._run([self._index_call(user_id, now, remove=stale)], "prune a user's index")
        return sessions

    async def auser_sessions(self, user_id: str) -> list[StoredSession]:
        """The asyncio twin of :meth:`user_sessions`."""
        now = int(time.time())
        keys = await self._auser_session_keys(user_id, now)
        hashes = await self._apipelined("HGETALL", [self.redis_key(key) for key in keys])
        sessions, stale = self._owned(user_id, keys, hashes)
        if stale and self.user_index:
            await self._arun([self._index_call(user_id, now, remove=stale)], "prune a user's index")
        return sessions

    def _user_session_keys(self, user_id: str, now: int) -> list[str]:
        if self.user_index:
            return self._index_members(user_id, now)
        found: list[str] = []
        for batch in self._scan_batches(self.session_pattern()):
            keys = self._bulk(scripts.OWNED, batch, batch.keys, [user_id], "find sessions")
            found += [self._session_key_of(key) for key in keys]
        return found

    async def _auser_session_keys(self, user_id: str, now: int) -> list[str]:
        if self.user_index:
            return await self._aindex_members(user_id, now)
        found: list[str] = []
        async for batch in self._ascan_batches(self.session_pattern()):
            keys = await self._abulk(scripts.OWNED, batch, batch.keys, [user_id], "find sessions")
            found += [self._session_key_of(key) for key in keys]
        return found

    def _index_members(self, user_id: str, now: int) -> list[str]:
        try:
            members = self.client.zrangebyscore(self.index_key(user_id), f"({now}", "+inf")
        except RedisError as exc:
            raise self._unavailable(exc, "read a user's session index") from exc
        return [member.decode() for member in cast("list[bytes]", members)]

    async def _aindex_members(self, user_id: str, now: int) -> list[str]:
        try:
            members = await self.aclient.zrangebyscore(self.index_key(user_id), f"({now}", "+inf")
        except RedisError as exc:
            raise self._unavailable(exc, "read a user's session index") from exc
        return [member.decode() for member in cast("list[bytes]", members)]

    def _owned(
        self, user_id: str, keys: list[str], hashes: list[Any]
    ) -> tuple[list[StoredSession], list[str]]:
        sessions: list[StoredSession] = []
        stale: list[str] = []
        for key, fields in zip(keys, hashes, strict=True):
            stored = self._loaded(key, fields, quiet=True) if fields else None
            if stored is not None and stored.user_id == user_id:
                sessions.append(stored)
            else:
                stale.append(key)
        sessions.sort(key=lambda stored: stored.created)
        return sessions, stale

    def destroy_user_sessions(self, user_id: str, *, keep: str | None = None) -> int:
        """Destroy every session of ``user_id`` but ``keep``, in one round trip.

        Returns how many live sessions were destroyed: "log out everywhere".
        """
        now = int(time.time())
        keys = [key for key in self._user_session_keys(user_id, now) if key != keep]
        calls = self._destroy_many_calls(user_id, keys, now)
        results = self._run(calls, "destroy sessions", acked=True)
        return sum(1 for result in results[: len(keys)] if result != 0)

    async def adestroy_user_sessions(self, user_id: str, *, keep: str | None = None) -> int:
        """The asyncio twin of :meth:`destroy_user_sessions`."""
        now = int(time.time())
        keys = [key for key in await self._auser_session_keys(user_id, now) if key != keep]
        calls = self._destroy_many_calls(user_id, keys, now)
        results = await self._arun(calls, "destroy sessions", acked=True)
        return sum(1 for result in results[: len(keys)] if result != 0)

    def _destroy_many_calls(self, user_id: str, keys: list[str], now: int) -> list[Call]:
        if not keys:
            return []
        # Only sessions that are still this user's: an entry whose session
        # changed hands meanwhile is not acted on.
        calls = [self._destroy_call(key, only_of=user_id) for key in keys]
        if self.user_index:
            calls.append(self._index_call(user_id, now, remove=keys))
        return calls

    def prune_indexes(self) -> int:
        """Remove the index entries of expired sessions; return how many went.

        What Django's ``clearsessions`` runs: Redis expires the sessions
        themselves.
        """
        pruned = 0
        now = int(time.time())
        for batch in self._scan_batches(self.index_pattern()):
            calls: list[Call] = [(scripts.INDEX, [key.decode()], [now, 0]) for key in batch.keys]
            pruned += sum(self._run(calls, "prune the user indexes"))
        return pruned

    async def aprune_indexes(self) -> int:
        """The asyncio twin of :meth:`prune_indexes`."""
        pruned = 0
        now = int(time.time())
        async for batch in self._ascan_batches(self.index_pattern()):
            calls = [(scripts.INDEX, [key.decode()], [now, 0]) for key in batch.keys]
            pruned += sum(await self._arun(calls, "prune the user indexes"))
        return pruned

    #: The store API's names for :meth:`load` and :meth:`aload`.
    get = SessionCore.load
    aget = SessionCore.aload


_lock = threading.Lock()
_default: SessionManager | None = None


def get_manager() -> SessionManager:
    """Return the manager configured by the settings, made on first use."""
    global _default
    manager = _default
    if manager is None:
        with _lock:
            if _default is None:
                _default = SessionManager.from_settings()
            manager = _default
    return manager


def reset_manager() -> None:
    """Forget the configured manager; the next :func:`get_manager` makes a new one."""
    global _default
    with _lock:
        manager, _default = _default, None
    if manager is not None:
        manager.close()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in {"REDIS_SESSIONS", "SESSION_SERIALIZER", "CACHES"}:
        reset_manager()


setting_changed.connect(_on_setting_changed)
