"""The Redis-facing core: :class:`SessionManager`.

The manager owns the connection, the naming of keys, the Lua scripts and the
encoding of values. :class:`redis_sessions.session.SessionStore` adapts it to
Django's ``SessionBase``; code that needs sessions outside a request can use it
directly::

    from redis_sessions.manager import get_manager

    stored = get_manager().load(session_key)

Each method is one round trip to Redis, and has an asyncio twin::

    stored = await get_manager().aload(session_key)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any, NamedTuple, cast

from django.conf import settings
from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.core.signals import setting_changed
from django.core.signing import JSONSerializer
from django.utils.module_loading import import_string
from redis import Redis
from redis.exceptions import ConnectionError, NoScriptError, RedisError, ResponseError, TimeoutError

from redis_sessions import codec, scripts
from redis_sessions.codec import CorruptSession, FieldCodec, Fields, Serializer
from redis_sessions.conf import DEFAULTS, conf
from redis_sessions.connection import client_from_settings, describe
from redis_sessions.exceptions import SessionDestroyed, StoreUnavailable
from redis_sessions.keys import abbreviated, redis_key
from redis_sessions.loops import AsyncRedis, ClientPerLoop, async_twin
from redis_sessions.stats import SessionStats, StatsCollector

logger = logging.getLogger("redis_sessions")

#: A script, the key it runs on, and its arguments.
Call = tuple[scripts.LuaScript, list[str], list[Any]]

#: Called by bulk operations after each SCAN batch, with the keys scanned so far.
Progress = Callable[[int], None]


def _glob_escape(text: str) -> str:
    """Escape what SCAN's MATCH would read as a wildcard."""
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)


def _batched(items: Iterable[bytes], size: int) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _or_none(result: Any) -> Any:
    if isinstance(result, ResponseError):
        return None
    if isinstance(result, RedisError):
        raise result
    return result


def _ttl(reply: Any) -> int | None:
    # TTL answers -1 for a key without expiry and -2 for a missing key.
    if reply is None or reply == -2:
        return 0
    return None if reply == -1 else int(reply)


def _as_int(raw: bytes | None) -> int:
    try:
        return int(raw or 0)
    except ValueError:
        return 0


security_logger = logging.getLogger("django.security.SuspiciousSession")


class StoredSession(NamedTuple):
    """A live session as read from Redis."""

    session_key: str
    #: The session dict.
    data: dict[str, Any]
    #: The user id copied from ``_auth_user_id``, or None for an anonymous session.
    user_id: str | None
    #: Unix time the session was created.
    created: int
    #: Unix time the session was last saved.
    saved: int
    #: The hash as stored; pass it back to :meth:`SessionManager.save` so that it
    #: writes only what changed.
    fields: Fields


class SessionManager:
    """Sessions in Redis, one hash per session, every write an atomic script.

    Each operation has a sync method and an asyncio twin whose name starts with
    ``a`` (``load``/``aload``, ...). The twins run on ``redis.asyncio`` with a
    client per event loop, derived from the sync client's server, database and
    credentials, and never hop to a thread.
    """

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = DEFAULTS["PREFIX"],
        tombstone_ttl: int = DEFAULTS["TOMBSTONE_TTL"],
        scan_count: int = DEFAULTS["SCAN_COUNT"],
        serializer_class: type[Serializer] = JSONSerializer,
        owns_client: bool = False,
        async_client_factory: Callable[[], AsyncRedis] | None = None,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.tombstone_ttl = tombstone_ttl
        self.scan_count = scan_count
        self.codec = FieldCodec(serializer_class)
        # What session keys and index keys start with, to tell them apart in
        # a SCAN batch of the whole prefix.
        self._session_head = f"{prefix}{{".encode()
        self._index_head = f"{prefix}user:{{".encode()
        self.owns_client = owns_client
        self._async_clients = ClientPerLoop(async_client_factory or partial(async_twin, client))

    @classmethod
    def from_settings(cls) -> SessionManager:
        """Build a manager from ``REDIS_SESSIONS`` and ``SESSION_SERIALIZER``."""
        client, owned = client_from_settings()
        return cls(
            client,
            prefix=conf.PREFIX,
            tombstone_ttl=conf.TOMBSTONE_TTL,
            scan_count=conf.SCAN_COUNT,
            serializer_class=import_string(settings.SESSION_SERIALIZER),
            owns_client=owned,
        )

    def __repr__(self) -> str:
        return f"<SessionManager {describe(self.client)} prefix={self.prefix!r}>"

    @property
    def aclient(self) -> AsyncRedis:
        """The asyncio client of the running event loop."""
        return self._async_clients.get()

    def close(self) -> None:
        """Close the sync client's connections, if the manager made the client.

        Asyncio clients are closed when their event loop closes.
        """
        if self.owns_client:
            self.client.close()

    def redis_key(self, session_key: str) -> str:
        """Return the Redis key under which ``session_key`` is stored."""
        return redis_key(self.prefix, session_key)

    # load

    def load(self, session_key: str) -> StoredSession | None:
        """Return the live session stored under ``session_key``, or None.

        None stands for a missing or expired session, a destroyed one (its
        tombstone), and a key that holds something this engine did not write;
        the last is logged on ``django.security.SuspiciousSession``. A load never
        writes anything.
        """
        try:
            fields = self.client.hgetall(self.redis_key(session_key))
        except RedisError as exc:
            self._load_failed(session_key, exc)
            return None
        return self._loaded(session_key, cast("dict[bytes, bytes]", fields))

    async def aload(self, session_key: str) -> StoredSession | None:
        """The asyncio twin of :meth:`load`."""
        try:
            fields = await self.aclient.hgetall(self.redis_key(session_key))
        except RedisError as exc:
            self._load_failed(session_key, exc)
            return None
        return self._loaded(session_key, cast("dict[bytes, bytes]", fields))

    def _load_failed(self, session_key: str, exc: RedisError) -> None:
        """Log a key of another type (the load is then a miss); raise for the rest."""
        if isinstance(exc, ResponseError) and str(exc).startswith("WRONGTYPE"):
            self._suspicious(session_key, "it is not a hash")
            return
        raise self._unavailable(exc, "load a session") from exc

    def _loaded(
        self, session_key: str, fields: dict[bytes, bytes], *, quiet: bool = False
    ) -> StoredSession | None:
        """Decode a hash; None for a tombstone or anything this engine did not write.

        ``quiet`` is for bulk reads, which skip such keys without a log line each.
        """
        if not fields:
            return None
        created = fields.get(codec.CREATED)
        if created is None:
            if quiet:
                return None
            if codec.DESTROYED in fields:
                logger.info(
                    "Session %s was presented after it was destroyed; it loads empty.",
                    abbreviated(session_key),
                )
            else:
                self._suspicious(session_key, "it has no creation time")
            return None
        try:
            data = self.codec.decode(fields)
            created_at = int(created)
            saved_at = int(fields.get(codec.SAVED, created))
        except (CorruptSession, ValueError) as exc:
            if not quiet:
                self._suspicious(session_key, str(exc))
            return None
        user_id = fields.get(codec.USER_ID)
        return StoredSession(
            session_key,
            data,
            None if user_id is None else user_id.decode(),
            created_at,
            saved_at,
            fields,
        )

    def _suspicious(self, session_key: str, reason: str) -> None:
        security_logger.warning(
            "Session %s holds data this engine did not write (%s); it loads empty and "
            "is left as it is.",
            abbreviated(session_key),
            reason,
        )

    # exists

    def exists(self, session_key: str) -> bool:
        """Tell whether a live session is stored under ``session_key``."""
        try:
            found = self.client.hexists(self.redis_key(session_key), codec.CREATED)
        except RedisError as exc:
            return self._exists_failed(exc)
        return bool(found)

    async def aexists(self, session_key: str) -> bool:
        """The asyncio twin of :meth:`exists`."""
        try:
            found = await self.aclient.hexists(self.redis_key(session_key), codec.CREATED)
        except RedisError as exc:
            return self._exists_failed(exc)
        return bool(found)

    def _exists_failed(self, exc: RedisError) -> bool:
        if isinstance(exc, ResponseError) and str(exc).startswith("WRONGTYPE"):
            return False
        raise self._unavailable(exc, "look a session up") from exc

    # Writes. Each one is a list of script calls sent in one round trip (one
    # call alone, or a pipeline); the sync and asyncio twins share everything
    # but the I/O.

    def _run(self, calls: list[Call], action: str) -> list[Any]:
        if not calls:
            return []
        try:
            if len(calls) == 1:
                script, keys, args = calls[0]
                return [script.run(self.client, keys, args)]
            pipe = self.client.pipeline(transaction=False)
            for script, keys, args in calls:
                pipe.evalsha(script.sha, len(keys), *keys, *args)
            results = pipe.execute(raise_on_error=False)
            for position, (script, keys, args) in enumerate(calls):
                # A server that lost its scripts refused to run them: run each
                # again, which loads it first.
                if isinstance(results[position], NoScriptError):
                    results[position] = script.run(self.client, keys, args)
            self._raise_first_error(results)
        except RedisError as exc:
            raise self._unavailable(exc, action) from exc
        return results

    async def _arun(self, calls: list[Call], action: str) -> list[Any]:
        if not calls:
            return []
        client = self.aclient
        try:
            if len(calls) == 1:
                script, keys, args = calls[0]
                return [await script.arun(client, keys, args)]
            pipe = client.pipeline(transaction=False)
            for script, keys, args in calls:
                pipe.evalsha(script.sha, len(keys), *keys, *args)
            results = await pipe.execute(raise_on_error=False)
            for position, (script, keys, args) in enumerate(calls):
                if isinstance(results[position], NoScriptError):
                    results[position] = await script.arun(client, keys, args)
            self._raise_first_error(results)
        except RedisError as exc:
            raise self._unavailable(exc, action) from exc
        return results

    @staticmethod
    def _raise_first_error(results: list[Any]) -> None:
        for result in results:
            if isinstance(result, RedisError):
                raise result

    # The user index: for each user, a sorted set of their session keys scored
    # by a time at which the session has surely expired. A session records
    # that score (#i) and moves its entry only when its expiry passes it, so
    # an ordinary save does not touch the index.

    def index_key(self, user_id: str) -> str:
        """Return the Redis key of the index of ``user_id``'s sessions."""
        return f"{self.prefix}user:{{{user_id}}}"

    @staticmethod
    def _index_score(now: int, ttl: int) -> int:
        # A tenth of the TTL ahead of the expiry: the entry moves at most once
        # per tenth of the session's life.
        return now + ttl + ttl // 10

    def _index_call(
        self,
        user_id: bytes | str,
        now: int,
        add: Mapping[str, int] | None = None,
        remove: Iterable[str] = (),
    ) -> Call:
        if isinstance(user_id, bytes):
            user_id = user_id.decode()
        args: list[Any] = [now, len(add or ())]
        for session_key, score in (add or {}).items():
            args.append(score)
            args.append(session_key)
        args.extend(remove)
        return scripts.INDEX, [self.index_key(user_id)], args

    # create

    def create(self, session_key: str, data: Mapping[str, Any], ttl: int) -> Fields:
        """Store a new session; raise ``CreateError`` if the key is taken.

        A key is taken while it holds a live session or a tombstone. Returns the
        fields written, to pass to a later :meth:`save`.
        """
        fields, calls = self._create_calls(session_key, data, ttl)
        self._check_created(self._run(calls, "create a session"))
        return fields

    async def acreate(self, session_key: str, data: Mapping[str, Any], ttl: int) -> Fields:
        """The asyncio twin of :meth:`create`."""
        fields, calls = self._create_calls(session_key, data, ttl)
        self._check_created(await self._arun(calls, "create a session"))
        return fields

    def _create_calls(
        self, session_key: str, data: Mapping[str, Any], ttl: int
    ) -> tuple[Fields, list[Call]]:
        fields = self.codec.encode(data)
        ttl = int(ttl)
        if ttl <= 0:
            # It would expire at once: nothing to keep, nothing to send.
            return fields, []
        now = int(time.time())
        keys = [self.redis_key(session_key)]
        score: int | str = ""
        user_id = fields.get(codec.USER_ID)
        if user_id is not None:
            score = self._index_score(now, ttl)
            fields[codec.INDEXED] = str(score).encode()
            keys.append(self.index_key(user_id.decode()))
        args: list[Any] = [ttl, now, session_key, score, codec.CREATED, now, codec.SAVED, now]
        for name, raw in fields.items():
            args.append(name)
            args.append(raw)
        return fields, [(scripts.CREATE, keys, args)]

    @staticmethod
    def _check_created(results: list[Any]) -> None:
        if results and results[0] != 1:
            raise CreateError

    # save

    def save(
        self,
        session_key: str,
        data: Mapping[str, Any],
        ttl: int,
        *,
        snapshot: Mapping[bytes, bytes] | None = None,
        replace: bool = False,
    ) -> Fields:
        """Save ``data`` into the live session ``session_key``.

        Only the fields that differ from ``snapshot`` (the hash as loaded) are
        written, and the fields of ``snapshot`` that ``data`` no longer has are
        deleted; fields that other requests changed meanwhile are kept. With
        ``replace``, every field that ``data`` does not have is deleted. A TTL of
        zero or less deletes the session.

        Raises ``UpdateError`` if no live session is there: it expired, or it was
        destroyed (:class:`~redis_sessions.exceptions.SessionDestroyed`), and a
        save never brings it back. Returns the new snapshot.
        """
        fields, calls = self._update_calls(session_key, data, ttl, snapshot or {}, replace)
        self._check_saved(session_key, self._run(calls, "save a session")[0])
        return fields

    async def asave(
        self,
        session_key: str,
        data: Mapping[str, Any],
        ttl: int,
        *,
        snapshot: Mapping[bytes, bytes] | None = None,
        replace: bool = False,
    ) -> Fields:
        """The asyncio twin of :meth:`save`."""
        fields, calls = self._update_calls(session_key, data, ttl, snapshot or {}, replace)
        self._check_saved(session_key, (await self._arun(calls, "save a session"))[0])
        return fields

    def _update_calls(
        self,
        session_key: str,
        data: Mapping[str, Any],
        ttl: int,
        snapshot: Mapping[bytes, bytes],
        replace: bool,
    ) -> tuple[Fields, list[Call]]:
        fields = self.codec.encode(data)
        ttl = int(ttl)
        now = int(time.time())
        keys = [self.redis_key(session_key)]
        score: int | str = ""
        user_id = fields.get(codec.USER_ID)
        if user_id is not None and ttl > 0:
            recorded = _as_int(snapshot.get(codec.INDEXED))
            if user_id != snapshot.get(codec.USER_ID) or recorded < now + ttl:
                score = self._index_score(now, ttl)
                fields[codec.INDEXED] = str(score).encode()
                keys.append(self.index_key(user_id.decode()))
            else:
                fields[codec.INDEXED] = snapshot[codec.INDEXED]
        # An entry the session leaves behind in another user's index (it changed
        # hands, or lost its user) stays until it expires: reads check each
        # entry against its session, and never act on one that is not theirs.
        if replace:
            to_set = [item for pair in fields.items() for item in pair]
            to_delete: list[bytes] = []
        else:
            to_set, to_delete = codec.changes(fields, snapshot)
        args: list[Any] = [ttl, "1" if replace else "0", now, session_key, score]
        args += [len(to_set) // 2 + 1, codec.SAVED, now]
        args += to_set
        args += to_delete
        return fields, [(scripts.UPDATE, keys, args)]

    @staticmethod
    def _check_saved(session_key: str, saved: Any) -> None:
        if saved == 1:
            return
        if saved == -1:
            logger.info(
                "A save of session %s was refused: it was destroyed by another request.",
                abbreviated(session_key),
            )
            raise SessionDestroyed("The session was destroyed by another request.")
        raise UpdateError("The session expired or was never created.")

    # destroy

    def destroy(self, session_key: str, *, user_id: str | None = None) -> bool:
        """Replace a live session by a tombstone that lives ``tombstone_ttl`` seconds.

        ``user_id``, when the caller knows whose session it is, takes the entry
        out of that user's index in the same script. Returns whether a live
        session was there.
        """
        calls = [self._destroy_call(session_key, user_id)]
        return bool(self._run(calls, "destroy a session")[0] != 0)

    async def adestroy(self, session_key: str, *, user_id: str | None = None) -> bool:
        """The asyncio twin of :meth:`destroy`."""
        calls = [self._destroy_call(session_key, user_id)]
        return bool((await self._arun(calls, "destroy a session"))[0] != 0)

    def _destroy_call(self, session_key: str, user_id: str | None, *, only_of: str = "") -> Call:
        # Without the user id, the entry in that user's index stays until it
        # expires: reads check each entry against its session.
        keys = [self.redis_key(session_key)]
        if user_id is not None:
            keys.append(self.index_key(user_id))
        args: list[Any] = [self.tombstone_ttl, int(time.time()), session_key, only_of]
        return scripts.DESTROY, keys, args

    # cycle

    def cycle(
        self,
        old_key: str,
        new_key: str,
        data: Mapping[str, Any],
        ttl: int,
        *,
        old_user_id: str | None = None,
    ) -> Fields:
        """Create ``new_key`` with ``data`` and destroy ``old_key``, in one round trip.

        Raises ``CreateError`` if ``new_key`` is taken; ``old_key`` is destroyed
        all the same, so the caller creates the data under another key.
        """
        fields, calls = self._cycle_calls(old_key, new_key, data, ttl, old_user_id)
        self._check_created(self._run(calls, "cycle a session key")[:-1])
        return fields

    async def acycle(
        self,
        old_key: str,
        new_key: str,
        data: Mapping[str, Any],
        ttl: int,
        *,
        old_user_id: str | None = None,
    ) -> Fields:
        """The asyncio twin of :meth:`cycle`."""
        fields, calls = self._cycle_calls(old_key, new_key, data, ttl, old_user_id)
        self._check_created((await self._arun(calls, "cycle a session key"))[:-1])
        return fields

    def _cycle_calls(
        self,
        old_key: str,
        new_key: str,
        data: Mapping[str, Any],
        ttl: int,
        old_user_id: str | None,
    ) -> tuple[Fields, list[Call]]:
        # The create (none if the TTL is over) and then the destroy, each
        # moving its user's index entry, in one pipeline.
        fields, calls = self._create_calls(new_key, data, ttl)
        calls.append(self._destroy_call(old_key, old_user_id))
        return fields, calls

    # touch

    def touch(self, session_key: str, ttl: int) -> bool:
        """Give a live session a new time to live, and change nothing else.

        A tombstone is never extended and nothing is created. Returns whether a
        live session was there.
        """
        calls, now, score = self._touch_calls(session_key, ttl)
        touched = self._run(calls, "touch a session")[0]
        if isinstance(touched, bytes):
            self._run(
                [self._index_call(touched, now, add={session_key: score})],
                "update a user's session index",
            )
        return bool(touched != 0)

    async def atouch(self, session_key: str, ttl: int) -> bool:
        """The asyncio twin of :meth:`touch`."""
        calls, now, score = self._touch_calls(session_key, ttl)
        touched = (await self._arun(calls, "touch a session"))[0]
        if isinstance(touched, bytes):
            await self._arun(
                [self._index_call(touched, now, add={session_key: score})],
                "update a user's session index",
            )
        return bool(touched != 0)

    def _touch_calls(self, session_key: str, ttl: int) -> tuple[list[Call], int, int]:
        ttl = int(ttl)
        if ttl <= 0:
            raise ValueError(f"touch() needs a TTL above zero, not {ttl}; use destroy().")
        now = int(time.time())
        score = self._index_score(now, ttl)
        args: list[Any] = [ttl, now + ttl, score]
        return [(scripts.TOUCH, [self.redis_key(session_key)], args)], now, score

    # set

    def set(self, session_key: str, data: Mapping[str, Any], ttl: int) -> Fields:
        """Store ``data`` as the whole session ``session_key``, live or new.

        Raises :class:`~redis_sessions.exceptions.SessionDestroyed` for a
        destroyed session: even this never brings one back.
        """
        try:
            return self.save(session_key, data, ttl, replace=True)
        except SessionDestroyed:
            raise
        except UpdateError:
            return self.create(session_key, data, ttl)

    async def aset(self, session_key: str, data: Mapping[str, Any], ttl: int) -> Fields:
        """The asyncio twin of :meth:`set`."""
        try:
            return await self.asave(session_key, data, ttl, replace=True)
        except SessionDestroyed:
            raise
        except UpdateError:
            return await self.acreate(session_key, data, ttl)

    # Many sessions. SCAN walks the keys of this prefix in batches of
    # ``scan_count``; each batch is fetched with one pipelined round trip.
    # Only keys of this prefix are ever touched: never KEYS, never FLUSHDB.

    def session_pattern(self) -> str:
        """The SCAN pattern of this prefix's session keys (tombstones included)."""
        return f"{_glob_escape(self.prefix)}{{*}}"

    def index_pattern(self) -> str:
        """The SCAN pattern of this prefix's user index keys."""
        return f"{_glob_escape(self.prefix)}user:{{*}}"

    def prefix_pattern(self) -> str:
        """The SCAN pattern of every key of this prefix, sessions and indexes alike.

        Operations that need both kinds walk the keys once with it and sort them
        by shape: each SCAN pass visits the whole database, whatever it matches.
        """
        return f"{_glob_escape(self.prefix)}*"

    def _scan_batches(self, pattern: str, type_: str | None = None) -> Iterator[list[bytes]]:
        try:
            keys = self.client.scan_iter(match=pattern, count=self.scan_count, _type=type_)
            yield from _batched(keys, self.scan_count)
        except RedisError as exc:
            raise self._unavailable(exc, "scan the sessions") from exc

    async def _ascan_batches(
        self, pattern: str, type_: str | None = None
    ) -> AsyncIterator[list[bytes]]:
        batch: list[bytes] = []
        try:
            async for key in self.aclient.scan_iter(
                match=pattern, count=self.scan_count, _type=type_
            ):
                batch.append(key)
                if len(batch) == self.scan_count:
                    yield batch
                    batch = []
        except RedisError as exc:
            raise self._unavailable(exc, "scan the sessions") from exc
        if batch:
            yield batch

    def _pipelined(self, command: str, keys: Iterable[bytes | str], *args: Any) -> list[Any]:
        try:
            pipe = self.client.pipeline(transaction=False)
            for key in keys:
                pipe.execute_command(command, key, *args)  # type: ignore[no-untyped-call]
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
        self, script: scripts.LuaScript, keys: list[bytes], args: list[Any], action: str
    ) -> Any:
        # One script call for a whole SCAN batch: the per-key work runs on the
        # server, and the client parses one reply instead of one per key.
        try:
            return script.run(self.client, keys, args)
        except RedisError as exc:
            raise self._unavailable(exc, action) from exc

    async def _abulk(
        self, script: scripts.LuaScript, keys: list[bytes], args: list[Any], action: str
    ) -> Any:
        try:
            return await script.arun(self.aclient, keys, args)
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
            fresh = [key for key in batch if key not in seen]
            seen.update(fresh)
            yield from self._stored(fresh, self._pipelined("HGETALL", fresh))

    async def aiter_sessions(self) -> AsyncIterator[StoredSession]:
        """The asyncio twin of :meth:`iter_sessions`."""
        seen: set[bytes] = set()
        async for batch in self._ascan_batches(self.session_pattern(), "HASH"):
            fresh = [key for key in batch if key not in seen]
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
            live += self._bulk(scripts.COUNT, batch, [], "count the sessions")
            scanned += len(batch)
            if progress is not None:
                progress(scanned)
        return live

    async def acount(self, *, progress: Progress | None = None) -> int:
        """The asyncio twin of :meth:`count`."""
        live = scanned = 0
        async for batch in self._ascan_batches(self.session_pattern()):
            live += await self._abulk(scripts.COUNT, batch, [], "count the sessions")
            scanned += len(batch)
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
            doomed = [key for key in batch if self._is_ours(key)]
            if dry_run:
                deleted += len(doomed)
            elif doomed:
                deleted += self._unlink(doomed)
            scanned += len(batch)
            if progress is not None:
                progress(scanned)
        return deleted

    async def aclear(self, *, dry_run: bool = False, progress: Progress | None = None) -> int:
        """The asyncio twin of :meth:`clear`."""
        deleted = scanned = 0
        async for batch in self._ascan_batches(self.prefix_pattern()):
            doomed = [key for key in batch if self._is_ours(key)]
            if dry_run:
                deleted += len(doomed)
            elif doomed:
                deleted += await self._aunlink(doomed)
            scanned += len(batch)
            if progress is not None:
                progress(scanned)
        return deleted

    def _unlink(self, keys: list[bytes]) -> int:
        try:
            return self.client.unlink(*keys)
        except RedisError as exc:
            raise self._unavailable(exc, "delete sessions") from exc

    async def _aunlink(self, keys: list[bytes]) -> int:
        try:
            return await self.aclient.unlink(*keys)
        except RedisError as exc:
            raise self._unavailable(exc, "delete sessions") from exc

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
            sessions, indexes, args = self._survey_args(batch, now, collector)
            if sessions or indexes:
                reply = self._bulk(scripts.SURVEY, sessions + indexes, args, "read statistics")
                collector.add(len(sessions), [self._user_of(key) for key in indexes], reply)
            scanned += len(batch)
            if progress is not None:
                progress(scanned)
        return collector.result()

    async def astats(
        self, *, top: int = 10, sample: int = 1000, progress: Progress | None = None
    ) -> SessionStats:
        """The asyncio twin of :meth:`stats`."""
        collector = StatsCollector(top=top, sample=sample)
        now = int(time.time())
        scanned = 0
        async for batch in self._ascan_batches(self.prefix_pattern()):
            sessions, indexes, args = self._survey_args(batch, now, collector)
            if sessions or indexes:
                keys = sessions + indexes
                reply = await self._abulk(scripts.SURVEY, keys, args, "read statistics")
                collector.add(len(sessions), [self._user_of(key) for key in indexes], reply)
            scanned += len(batch)
            if progress is not None:
                progress(scanned)
        return collector.result()

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
        return [_ttl(ttl) for ttl in self._pipelined("TTL", map(self.redis_key, session_keys))]

    async def attls(self, session_keys: Sequence[str]) -> list[int | None]:
        """The asyncio twin of :meth:`ttls`."""
        replies = await self._apipelined("TTL", map(self.redis_key, session_keys))
        return [_ttl(ttl) for ttl in replies]

    def user_sessions(self, user_id: str) -> list[StoredSession]:
        """Return the live sessions of ``user_id``, oldest first.

        Read from the user's index; each entry is checked against its session,
        and entries of sessions that ended or changed hands are removed.
        """
        now = int(time.time())
        keys = self._index_members(user_id, now)
        hashes = self._pipelined("HGETALL", [self.redis_key(key) for key in keys])
        sessions, stale = self._owned(user_id, keys, hashes)
        if stale:
            self._run([self._index_call(user_id, now, remove=stale)], "prune a user's index")
        return sessions

    async def auser_sessions(self, user_id: str) -> list[StoredSession]:
        """The asyncio twin of :meth:`user_sessions`."""
        now = int(time.time())
        keys = await self._aindex_members(user_id, now)
        hashes = await self._apipelined("HGETALL", [self.redis_key(key) for key in keys])
        sessions, stale = self._owned(user_id, keys, hashes)
        if stale:
            await self._arun([self._index_call(user_id, now, remove=stale)], "prune a user's index")
        return sessions

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
        keys = [key for key in self._index_members(user_id, now) if key != keep]
        results = self._run(self._destroy_many_calls(user_id, keys, now), "destroy sessions")
        return sum(1 for result in results[: len(keys)] if result != 0)

    async def adestroy_user_sessions(self, user_id: str, *, keep: str | None = None) -> int:
        """The asyncio twin of :meth:`destroy_user_sessions`."""
        now = int(time.time())
        keys = [key for key in await self._aindex_members(user_id, now) if key != keep]
        results = await self._arun(self._destroy_many_calls(user_id, keys, now), "destroy sessions")
        return sum(1 for result in results[: len(keys)] if result != 0)

    def _destroy_many_calls(self, user_id: str, keys: list[str], now: int) -> list[Call]:
        if not keys:
            return []
        # Only sessions that are still this user's: an entry whose session
        # changed hands meanwhile is not acted on.
        calls = [self._destroy_call(key, None, only_of=user_id) for key in keys]
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
            calls: list[Call] = [(scripts.INDEX, [key.decode()], [now, 0]) for key in batch]
            pruned += sum(self._run(calls, "prune the user indexes"))
        return pruned

    async def aprune_indexes(self) -> int:
        """The asyncio twin of :meth:`prune_indexes`."""
        pruned = 0
        now = int(time.time())
        async for batch in self._ascan_batches(self.index_pattern()):
            calls = [(scripts.INDEX, [key.decode()], [now, 0]) for key in batch]
            pruned += sum(await self._arun(calls, "prune the user indexes"))
        return pruned

    #: The store API's names for :meth:`load` and :meth:`aload`.
    get = load
    aget = aload

    def _unavailable(self, exc: RedisError, action: str) -> StoreUnavailable:
        if isinstance(exc, (ConnectionError, TimeoutError)):
            advice = "Check that the server is up and reachable."
        else:
            advice = "The server refused the command; nothing was changed."
        return StoreUnavailable(
            f"Redis at {describe(self.client)} could not {action} "
            f"({type(exc).__name__}: {exc}). {advice}"
        )


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
