"""One session at a time: :class:`SessionCore`, the per-session half of the manager.

Load, exists, create, save, destroy, cycle, touch and set, each one round trip
to Redis through the Lua scripts of ``lua/``, each with an asyncio twin.
:class:`redis_sessions.manager.SessionManager` adds the operations on many
sessions and the configured instance.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from itertools import chain
from typing import Any, NamedTuple

from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.core.signing import JSONSerializer
from redis import Redis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import RedisCluster
from redis.exceptions import ConnectionError, NoScriptError, RedisError, ResponseError, TimeoutError
from redis.sentinel import MasterNotFoundError

from redis_sessions import codec, scripts
from redis_sessions.codec import CorruptSession, FieldCodec, Fields, Serializer
from redis_sessions.conf import DEFAULTS
from redis_sessions.connection import Client, describe, is_cluster
from redis_sessions.direct import aexecute, as_dict, execute
from redis_sessions.exceptions import SessionDestroyed, StoreUnavailable
from redis_sessions.keys import abbreviated, redis_key
from redis_sessions.loops import AsyncClient, ClientPerLoop, async_twin

logger = logging.getLogger("redis_sessions")
security_logger = logging.getLogger("django.security.SuspiciousSession")

#: A script, the keys it runs on, and its arguments.
Call = tuple[scripts.LuaScript, list[str], list[Any]]


class ReplicasNotAcknowledged(RedisError):
    """Fewer replicas than ``MIN_REPLICAS_ACK`` acknowledged a write in time."""


def _as_int(raw: bytes | None) -> int:
    try:
        return int(raw or 0)
    except ValueError:
        return 0


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


class SessionCore:
    """Sessions in Redis, one hash per session, every write an atomic script.

    Each operation has a sync method and an asyncio twin whose name starts with
    ``a`` (``load``/``aload``, ...). The twins run on ``redis.asyncio`` with a
    client per event loop, derived from the sync client's server, database and
    credentials, and never hop to a thread.
    """

    def __init__(
        self,
        client: Client,
        *,
        prefix: str = DEFAULTS["PREFIX"],
        tombstone_ttl: int = DEFAULTS["TOMBSTONE_TTL"],
        scan_count: int = DEFAULTS["SCAN_COUNT"],
        serializer_class: type[Serializer] = JSONSerializer,
        owns_client: bool = False,
        async_client_factory: Callable[[], AsyncClient] | None = None,
        user_index: bool = DEFAULTS["USER_INDEX"],
        min_replicas_ack: int = DEFAULTS["MIN_REPLICAS_ACK"],
        replicas_ack_timeout: float = DEFAULTS["REPLICAS_ACK_TIMEOUT"],
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.tombstone_ttl = tombstone_ttl
        self.scan_count = scan_count
        self.codec = FieldCodec(serializer_class)
        #: Whether each user's sessions are listed in an index of their own.
        self.user_index = user_index
        #: Whether the client talks to a Redis Cluster, where a script touches
        #: one key: the user index is then written by a call of its own, in
        #: the same pipeline as the session's script.
        self.cluster = is_cluster(client)
        #: Replicas that must acknowledge each write (WAIT) before it succeeds.
        self.min_replicas_ack = min_replicas_ack
        self.replicas_ack_timeout = replicas_ack_timeout
        # What session keys and index keys start with, to tell them apart in
        # a SCAN batch of the whole prefix.
        self._session_head = f"{prefix}{{".encode()
        self._index_head = f"{prefix}user:{{".encode()
        self.owns_client = owns_client
        if async_client_factory is None:
            if not isinstance(client, Redis):
                raise TypeError("A cluster client needs its async_client_factory.")
            async_client_factory = partial(async_twin, client)
        self._async_clients = ClientPerLoop(async_client_factory)

    def __repr__(self) -> str:
        return f"<SessionManager {describe(self.client)} prefix={self.prefix!r}>"

    @property
    def aclient(self) -> AsyncClient:
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
            fields = as_dict(execute(self.client, "HGETALL", self.redis_key(session_key)))
        except RedisError as exc:
            self._load_failed(session_key, exc)
            return None
        return self._loaded(session_key, fields)

    async def aload(self, session_key: str) -> StoredSession | None:
        """The asyncio twin of :meth:`load`."""
        try:
            reply = await aexecute(self.aclient, "HGETALL", self.redis_key(session_key))
        except RedisError as exc:
            self._load_failed(session_key, exc)
            return None
        return self._loaded(session_key, as_dict(reply))

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
            found = execute(self.client, "HEXISTS", self.redis_key(session_key), codec.CREATED)
        except RedisError as exc:
            return self._exists_failed(exc)
        return bool(found)

    async def aexists(self, session_key: str) -> bool:
        """The asyncio twin of :meth:`exists`."""
        try:
            key = self.redis_key(session_key)
            found = await aexecute(self.aclient, "HEXISTS", key, codec.CREATED)
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

    def _run(self, calls: list[Call], action: str, *, acked: bool = False) -> list[Any]:
        """Send ``calls`` in one round trip; return their results.

        ``acked`` writes wait for ``min_replicas_ack`` replicas (WAIT in the
        same pipeline; on a cluster, a WAIT of its own to the session's primary).
        """
        if not calls:
            return []
        wait = acked and self.min_replicas_ack > 0
        try:
            if len(calls) == 1 and not (wait and not self.cluster):
                script, keys, args = calls[0]
                results = [script.run(self.client, keys, args)]
            else:
                pipe = self.client.pipeline(transaction=False)
                for script, keys, args in calls:
                    pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
                if wait and not self.cluster:
                    pipe.execute_command("WAIT", *self._wait_args())
                results = pipe.execute(raise_on_error=False)
                for position, (script, keys, args) in enumerate(calls):
                    # A server that lost its scripts refused to run them: run each
                    # again, which loads it first.
                    if isinstance(results[position], NoScriptError):
                        results[position] = script.run(self.client, keys, args)
                self._raise_first_error(results)
            if wait:
                acks = results.pop() if not self.cluster else self._cluster_wait(calls)
                self._check_acks(acks)
        except RedisError as exc:
            raise self._unavailable(exc, action) from exc
        return results

    async def _arun(self, calls: list[Call], action: str, *, acked: bool = False) -> list[Any]:
        if not calls:
            return []
        wait = acked and self.min_replicas_ack > 0
        client = self.aclient
        try:
            if len(calls) == 1 and not (wait and not self.cluster):
                script, keys, args = calls[0]
                results = [await script.arun(client, keys, args)]
            else:
                pipe = client.pipeline(transaction=False)
                for script, keys, args in calls:
                    pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
                if wait and not self.cluster:
                    pipe.execute_command("WAIT", *self._wait_args())
                results = await pipe.execute(raise_on_error=False)
                for position, (script, keys, args) in enumerate(calls):
                    if isinstance(results[position], NoScriptError):
                        results[position] = await script.arun(client, keys, args)
                self._raise_first_error(results)
            if wait:
                acks = results.pop() if not self.cluster else await self._acluster_wait(calls)
                self._check_acks(acks)
        except RedisError as exc:
            raise self._unavailable(exc, action) from exc
        return results

    def _wait_args(self) -> tuple[int, int]:
        return self.min_replicas_ack, max(1, round(self.replicas_ack_timeout * 1000))

    def _cluster_wait(self, calls: list[Call]) -> int:
        # WAIT names no key: it goes to the primary of the first call's key.
        assert isinstance(self.client, RedisCluster)
        cluster: Any = self.client
        node = cluster.get_node_from_key(calls[0][1][0])
        return int(cluster.execute_command("WAIT", *self._wait_args(), target_nodes=node))

    async def _acluster_wait(self, calls: list[Call]) -> int:
        client = self.aclient
        assert isinstance(client, AsyncRedisCluster)
        node = client.get_node_from_key(calls[0][1][0])
        return int(await client.execute_command("WAIT", *self._wait_args(), target_nodes=node))

    def _check_acks(self, acks: Any) -> None:
        if int(acks) < self.min_replicas_ack:
            raise ReplicasNotAcknowledged(
                f"only {acks} of the {self.min_replicas_ack} replicas asked for "
                f"(MIN_REPLICAS_ACK) acknowledged the write within "
                f"{self.replicas_ack_timeout} s; it is on the primary and may not survive "
                "a failover"
            )

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

    def _keep_index(
        self, call: Call, user_id: bytes | str, now: int, session_key: str, score: int | None
    ) -> list[Call]:
        """Have ``call``'s script move ``session_key``'s entry in the user's index.

        ``score`` None takes the entry out. On one server the script does it (the
        index becomes its second key, the entry its last two arguments); on a
        cluster, where the two keys live on different nodes, an ``index`` call
        does, in the same pipeline. Returns the calls to send.
        """
        if isinstance(user_id, bytes):
            user_id = user_id.decode()
        if not self.cluster:
            call[1].append(self.index_key(user_id))
            call[2].append(session_key)
            call[2].append("" if score is None else score)
            return [call]
        if score is None:
            return [call, self._index_call(user_id, now, remove=[session_key])]
        return [call, self._index_call(user_id, now, add={session_key: score})]

    # create

    def create(self, session_key: str, data: Mapping[str, Any], ttl: int) -> Fields:
        """Store a new session; raise ``CreateError`` if the key is taken.

        A key is taken while it holds a live session or a tombstone. Returns the
        fields written, to pass to a later :meth:`save`.
        """
        fields, calls = self._create_calls(session_key, data, ttl)
        self._check_created(self._run(calls, "create a session", acked=True))
        return fields

    async def acreate(self, session_key: str, data: Mapping[str, Any], ttl: int) -> Fields:
        """The asyncio twin of :meth:`create`."""
        fields, calls = self._create_calls(session_key, data, ttl)
        self._check_created(await self._arun(calls, "create a session", acked=True))
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
        user_id = fields.get(codec.USER_ID)
        score: int | None = None
        if user_id is not None and self.user_index:
            score = self._index_score(now, ttl)
            fields[codec.INDEXED] = str(score).encode()
        args: list[Any] = [ttl, now, *chain.from_iterable(fields.items())]
        call: Call = (scripts.CREATE, [self.redis_key(session_key)], args)
        if user_id is None or score is None:
            return fields, [call]
        return fields, self._keep_index(call, user_id, now, session_key, score)

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
        self._check_saved(session_key, self._run(calls, "save a session", acked=True)[0])
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
        results = await self._arun(calls, "save a session", acked=True)
        self._check_saved(session_key, results[0])
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
        score: int | None = None
        user_id = fields.get(codec.USER_ID)
        if user_id is not None and ttl > 0 and self.user_index:
            recorded = _as_int(snapshot.get(codec.INDEXED))
            if user_id != snapshot.get(codec.USER_ID) or recorded < now + ttl:
                score = self._index_score(now, ttl)
                fields[codec.INDEXED] = str(score).encode()
            else:
                fields[codec.INDEXED] = snapshot[codec.INDEXED]
        # An entry the session leaves behind in another user's index (it changed
        # hands, or lost its user) stays until it expires: reads check each
        # entry against its session, and never act on one that is not theirs.
        if replace:
            to_set = list(chain.from_iterable(fields.items()))
            to_delete: list[bytes] = []
        else:
            to_set, to_delete = codec.changes(fields, snapshot)
        args: list[Any] = [ttl, "1" if replace else "0", now, len(to_set) // 2, *to_set, *to_delete]
        call: Call = (scripts.UPDATE, [self.redis_key(session_key)], args)
        if user_id is None or score is None:
            return fields, [call]
        return fields, self._keep_index(call, user_id, now, session_key, score)

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
        calls = self._destroy_calls(session_key, user_id)
        return bool(self._run(calls, "destroy a session", acked=True)[0] != 0)

    async def adestroy(self, session_key: str, *, user_id: str | None = None) -> bool:
        """The asyncio twin of :meth:`destroy`."""
        calls = self._destroy_calls(session_key, user_id)
        return bool((await self._arun(calls, "destroy a session", acked=True))[0] != 0)

    def _destroy_calls(self, session_key: str, user_id: str | None) -> list[Call]:
        # Without the user id, the entry in that user's index stays until it
        # expires: reads check each entry against its session.
        call = self._destroy_call(session_key)
        if user_id is None or not self.user_index:
            return [call]
        return self._keep_index(call, user_id, int(time.time()), session_key, None)

    def _destroy_call(self, session_key: str, *, only_of: str = "") -> Call:
        args: list[Any] = [self.tombstone_ttl, int(time.time()), only_of]
        return scripts.DESTROY, [self.redis_key(session_key)], args

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
        fields, calls, creates = self._cycle_calls(old_key, new_key, data, ttl, old_user_id)
        results = self._run(calls, "cycle a session key", acked=True)
        self._check_created(results if creates else [])
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
        fields, calls, creates = self._cycle_calls(old_key, new_key, data, ttl, old_user_id)
        results = await self._arun(calls, "cycle a session key", acked=True)
        self._check_created(results if creates else [])
        return fields

    def _cycle_calls(
        self,
        old_key: str,
        new_key: str,
        data: Mapping[str, Any],
        ttl: int,
        old_user_id: str | None,
    ) -> tuple[Fields, list[Call], bool]:
        # The create (none if the TTL is over) and then the destroy, each
        # moving its user's index entry, in one pipeline. The create's result
        # comes first, when there is one.
        fields, calls = self._create_calls(new_key, data, ttl)
        creates = bool(calls)
        calls += self._destroy_calls(old_key, old_user_id)
        return fields, calls, creates

    # touch

    def touch(self, session_key: str, ttl: int) -> bool:
        """Give a live session a new time to live, and change nothing else.

        A tombstone is never extended and nothing is created. Returns whether a
        live session was there.
        """
        calls, now, score = self._touch_calls(session_key, ttl)
        touched = self._run(calls, "touch a session", acked=True)[0]
        if isinstance(touched, bytes):
            self._run(
                [self._index_call(touched, now, add={session_key: score})],
                "update a user's session index",
            )
        return bool(touched != 0)

    async def atouch(self, session_key: str, ttl: int) -> bool:
        """The asyncio twin of :meth:`touch`."""
        calls, now, score = self._touch_calls(session_key, ttl)
        touched = (await self._arun(calls, "touch a session", acked=True))[0]
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
        # Without the index, the script records no score and never asks for a move.
        args: list[Any] = [ttl, now + ttl, score if self.user_index else ""]
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

    def _unavailable(self, exc: RedisError, action: str) -> StoreUnavailable:
        if isinstance(exc, ReplicasNotAcknowledged):
            advice = "Check the replicas and their link to the primary."
        elif isinstance(exc, (ConnectionError, TimeoutError)):
            advice = "Check that the server is up and reachable."
        else:
            advice = "The server refused the command; nothing was changed."
        return StoreUnavailable(
            f"Redis at {describe(self.client)} could not {action} "
            f"({type(exc).__name__}: {_summary(exc)}). {advice}"
        )


def _summary(exc: RedisError) -> str:
    """The text of ``exc``, without what only makes it long.

    redis-py's ``MasterNotFoundError`` follows "No master found for 'name'" with
    the whole description of the client of every sentinel it asked.
    """
    text = str(exc)
    if isinstance(exc, MasterNotFoundError):
        return text.partition(" : ")[0]
    return text
