"""Every operation of the store, written once, as a plan.

A plan (see :mod:`redis_sessions.store.steps`) yields the commands and scripts
to send and reads their replies; it never touches a socket. The sync and
asyncio drivers of :mod:`redis_sessions.store.drivers` run the same plans, so
each rule here holds for both. :class:`Plans` holds what the rules depend on
(the prefix, the codec, the tombstone's lifetime, whether users' sessions are
indexed, whether the server is a cluster, the sessions' absolute lifetime and
size limit).

One session at a time: load, exists, create, save, destroy, cycle, touch,
set; each is one round trip. Many sessions at a time: a walk of SCAN batches
over the prefix (on a cluster, every primary in turn), each batch read or
changed by one more round trip.
"""

from __future__ import annotations

import builtins
import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import chain
from typing import Any, Generic, NamedTuple, TypeVar

from django.contrib.sessions.backends.base import CreateError, UpdateError
from redis.exceptions import ResponseError

from redis_sessions.exceptions import SessionDestroyed, SessionTooLarge
from redis_sessions.store import codec, scripts
from redis_sessions.store.codec import CorruptSession, FieldCodec, Fields
from redis_sessions.store.ended import (
    CYCLE,
    LIMIT,
    REVOKE,
    Ended,
    check_reason,
    read_tombstone,
)
from redis_sessions.store.keys import abbreviated, glob_escape, is_stored_id, stored_id
from redis_sessions.store.stats import SessionStats, StatsCollector
from redis_sessions.store.steps import (
    START,
    Command,
    Key,
    Plan,
    Round,
    Scan,
    Scanned,
    ScriptCall,
    Step,
)

logger = logging.getLogger("redis_sessions")
security_logger = logging.getLogger("django.security.SuspiciousSession")

T = TypeVar("T")

#: Called by bulk operations after each SCAN batch, with the keys scanned so far.
Progress = Callable[[int], None]


class StoredSession(NamedTuple):
    """A live session as read from Redis."""

    #: Its stored id: what Redis knows it by (see ``keys.stored_id``).
    stored_id: str
    #: The session dict.
    data: dict[str, Any]
    #: The user id copied from ``_auth_user_id``, or None for an anonymous session.
    user_id: str | None
    #: Unix time the session was created.
    created: int
    #: Unix time the session was last saved.
    saved: int
    #: The hash as stored; pass it back to :meth:`Store.save` so that it writes
    #: only what changed.
    fields: Fields


@dataclasses.dataclass(frozen=True)
class Page(Generic[T]):
    """What one step of a walk found, and where the walk goes on from."""

    items: list[T]
    #: The cursor of the next page; :data:`~redis_sessions.store.steps.START`
    #: when this page is the last.
    cursor: str


def seconds_left(reply: Any) -> int | None:
    """A ``TTL`` reply as the store gives it: None for no expiry, 0 for gone."""
    # TTL answers -1 for a key without expiry and -2 for a missing key.
    if reply is None or reply == -2:
        return 0
    return None if reply == -1 else int(reply)


def _as_int(raw: bytes | None) -> int:
    try:
        return int(raw or 0)
    except ValueError:
        return 0


def _index_score(now: int, ttl: int) -> int:
    # A tenth of the TTL ahead of the expiry: an entry of the user index moves
    # at most once per tenth of the session's life.
    return now + ttl + ttl // 10


def _single(replies: list[Any]) -> Any:
    return replies[0]


class Plans:
    """The plans of every operation, for one prefix and configuration."""

    def __init__(
        self,
        *,
        prefix: str,
        codec: FieldCodec,
        tombstone_ttl: int,
        scan_count: int,
        user_index: bool,
        cluster: bool,
        absolute_ttl: int | None = None,
        max_bytes: int | None = None,
    ) -> None:
        self.prefix = prefix
        self.codec = codec
        self.tombstone_ttl = tombstone_ttl
        self.scan_count = scan_count
        #: Whether each user's sessions are listed in an index of their own.
        self.user_index = user_index
        #: Whether the server is a Redis Cluster, where a script touches one
        #: key: the user index is then written by a call of its own, in the
        #: same round trip as the session's script.
        self.cluster = cluster
        #: Seconds after its creation (``#c``) at which a session ends, however
        #: active; None for no such bound.
        self.absolute_ttl = absolute_ttl
        #: The most bytes the fields of a session may take; None for no limit.
        self.max_bytes = max_bytes
        # What session keys and index keys start with, to tell them apart in
        # a SCAN batch of the whole prefix.
        self.session_head = f"{prefix}{{".encode()
        self.index_head = f"{prefix}user:{{".encode()

    # Keys and patterns.

    def redis_key(self, session_key: str) -> str:
        """The Redis key under which ``session_key``'s session is stored: its stored id's."""
        return self.id_key(stored_id(session_key))

    def id_key(self, stored_id: str) -> str:
        """The Redis key of the session of a stored id.

        The stored id is a hash tag, so on Redis Cluster everything the engine
        keeps for one session hashes to one slot.
        """
        return f"{self.prefix}{{{stored_id}}}"

    def index_key(self, user_id: str) -> str:
        """The Redis key of the index of ``user_id``'s sessions."""
        return f"{self.prefix}user:{{{user_id}}}"

    def session_pattern(self, id_prefix: str = "") -> str:
        """The SCAN pattern of this prefix's session keys (tombstones included).

        ``id_prefix`` keeps those whose stored id starts with it.
        """
        return f"{glob_escape(self.prefix)}{{{glob_escape(id_prefix)}*}}"

    def index_pattern(self) -> str:
        """The SCAN pattern of this prefix's user index keys."""
        return f"{glob_escape(self.prefix)}user:{{*}}"

    def prefix_pattern(self) -> str:
        """The SCAN pattern of every key of this prefix, sessions and indexes alike.

        Operations that need both kinds walk the keys once with it and sort them
        by shape: each SCAN pass visits the whole database, whatever it matches.
        """
        return f"{glob_escape(self.prefix)}*"

    def is_session(self, key: bytes) -> bool:
        """Whether a key SCAN found under the prefix has the shape of a session key."""
        return key.startswith(self.session_head) and key.endswith(b"}")

    def is_index(self, key: bytes) -> bool:
        """Whether a key SCAN found under the prefix has the shape of a user index key."""
        return key.startswith(self.index_head) and key.endswith(b"}")

    def stored_id_of(self, key: bytes) -> str:
        """The stored id of a session's Redis key."""
        return key[len(self.session_head) : -1].decode()

    def user_of(self, index_key: bytes) -> str:
        """The user id of a user index's Redis key."""
        return index_key[len(self.index_head) : -1].decode()

    # Reading a hash.

    def stored(self, stored_id: str, fields: Any, *, quiet: bool = False) -> StoredSession | None:
        """Decode a hash; None for a tombstone or anything this engine did not write.

        ``quiet`` is for bulk reads, which skip such keys without a log line each.
        """
        if not fields or not isinstance(fields, dict):
            return None
        hash_: Mapping[bytes, bytes] = fields
        created = hash_.get(codec.CREATED)
        if created is None:
            if quiet:
                return None
            if codec.DESTROYED in hash_:
                self.tombstone(stored_id, hash_)
            else:
                self.suspicious(stored_id, "it has no creation time")
            return None
        try:
            data = self.codec.decode(hash_)
            created_at = int(created)
            saved_at = int(hash_.get(codec.SAVED, created))
        except (CorruptSession, ValueError) as exc:
            if not quiet:
                self.suspicious(stored_id, str(exc))
            return None
        if self.past_lifetime(created_at, int(time.time())):
            # Past its absolute lifetime: Redis expires it within the second,
            # or with the next save or touch.
            return None
        user_id = hash_.get(codec.USER_ID)
        return StoredSession(
            stored_id,
            data,
            None if user_id is None else user_id.decode(),
            created_at,
            saved_at,
            fields,
        )

    def past_lifetime(self, created: int, now: int) -> bool:
        """Whether a session created at ``created`` is past its absolute lifetime at ``now``."""
        return self.absolute_ttl is not None and created + self.absolute_ttl <= now

    def check_size(self, fields: Fields) -> None:
        """Raise :class:`~redis_sessions.exceptions.SessionTooLarge` if ``fields`` exceed the limit.

        The size is that of the names and values of ``fields``, the hash's
        fields but its two timestamps; the message names the three keys of the
        session whose fields take the most, never their values.
        """
        if self.max_bytes is None:
            return
        size = sum(len(name) + len(value) for name, value in fields.items())
        if size <= self.max_bytes:
            return
        by_key = [
            (len(name) + len(value), key)
            for name, value in fields.items()
            if (key := codec.key_of(name)) is not None
        ]
        by_key.sort(key=lambda pair: (-pair[0], pair[1]))
        largest = ", ".join(f"{key!r} ({taken} bytes)" for taken, key in by_key[:3])
        raise SessionTooLarge(
            f"The session would take {size} bytes, more than MAX_SESSION_BYTES "
            f"({self.max_bytes}); its largest keys: {largest}. Nothing was saved."
        )

    @staticmethod
    def tombstone(stored_id: str, fields: Mapping[bytes, bytes]) -> Ended:
        """Read a tombstone that a request presented, and log it at INFO.

        The log names the session by an abbreviation of its stored id.
        """
        ended = read_tombstone(stored_id, fields)
        logger.info(
            "Session %s was presented after it was destroyed; it loads empty.",
            abbreviated(ended.stored_id),
        )
        return ended

    @staticmethod
    def suspicious(stored_id: str, reason: str) -> None:
        security_logger.warning(
            "Session %s holds data this engine did not write (%s); it loads empty and "
            "is left as it is.",
            abbreviated(stored_id),
            reason,
        )

    # One session.

    def load(self, session_key: str) -> Plan[StoredSession | None]:
        """The live session of ``session_key``, or None.

        None stands for a missing or expired session, a destroyed one (its
        tombstone), and a key that holds something this engine did not write;
        the last is logged on ``django.security.SuspiciousSession``. A load never
        writes anything.
        """
        return (yield from self.load_id(stored_id(session_key)))

    def load_id(self, stored_id: str) -> Plan[StoredSession | None]:
        """The live session of a stored id, or None: :meth:`load` by stored id."""
        found = yield from self.presented_id(stored_id)
        return found if isinstance(found, StoredSession) else None

    def presented(self, session_key: str) -> Plan[StoredSession | Ended | None]:
        """What a request that presents ``session_key`` finds: as :meth:`load`,
        but a destroyed session whose tombstone still lives gives the
        :class:`~redis_sessions.store.ended.Ended` record of it (logged at INFO).
        """
        return (yield from self.presented_id(stored_id(session_key)))

    def presented_id(self, stored_id: str) -> Plan[StoredSession | Ended | None]:
        """:meth:`presented` by stored id."""
        fields = _single(
            (
                yield Round(
                    [Command(("HGETALL", self.id_key(stored_id)))],
                    "load a session",
                    tolerant=True,
                )
            )
        )
        if isinstance(fields, ResponseError):
            self.suspicious(stored_id, "it is not a hash")
            return None
        if isinstance(fields, dict) and codec.CREATED not in fields and codec.DESTROYED in fields:
            return self.tombstone(stored_id, fields)
        return self.stored(stored_id, fields)

    def exists(self, session_key: str) -> Plan[bool]:
        """Whether a live session is stored under ``session_key``."""
        step = Command(("HEXISTS", self.redis_key(session_key), codec.CREATED))
        found = _single((yield Round([step], "look a session up", tolerant=True)))
        # A key of another type (WRONGTYPE) holds no session.
        return found is not None and not isinstance(found, ResponseError) and bool(found)

    def create(self, session_key: str, data: Mapping[str, Any], ttl: int) -> Plan[Fields]:
        """Store a new session; raise ``CreateError`` if the key is taken.

        A key is taken while it holds a live session or a tombstone. Returns the
        fields written, to pass to a later save.
        """
        fields, steps = self._create_steps(stored_id(session_key), data, ttl)
        if steps:
            replies = yield Round(steps, "create a session", acked=True)
            if replies[0] != 1:
                raise CreateError
        return fields

    def create_many(
        self, sessions: Sequence[tuple[str, Mapping[str, Any], int]]
    ) -> Plan[list[bool | None]]:
        """Store each of ``sessions`` (key, data, TTL) whose key is free, in one round trip.

        Returns, for each in order, True if it was stored, False if its key was
        taken (a live session or a tombstone), None if its TTL left nothing to
        keep. A session over ``MAX_SESSION_BYTES`` raises, as :meth:`create` does.
        """
        steps: list[Step] = []
        firsts: list[int | None] = []
        for session_key, data, ttl in sessions:
            session_steps = self._create_steps(stored_id(session_key), data, ttl)[1]
            firsts.append(len(steps) if session_steps else None)
            steps += session_steps
        if not steps:
            return [None] * len(firsts)
        replies = yield Round(steps, "create sessions", acked=True)
        return [None if first is None else replies[first] == 1 for first in firsts]

    def _create_steps(
        self, stored_id: str, data: Mapping[str, Any], ttl: int, created: int | None = None
    ) -> tuple[Fields, list[Step]]:
        fields = self.codec.encode(data)
        ttl = int(ttl)
        now = int(time.time())
        created = now if created is None else int(created)
        if self.absolute_ttl is not None:
            ttl = min(ttl, created + self.absolute_ttl - now)
        if ttl <= 0:
            # It would expire at once, or is past its absolute lifetime:
            # nothing to keep, nothing to send.
            return fields, []
        user_id = fields.get(codec.USER_ID)
        score: int | None = None
        if user_id is not None and self.user_index:
            score = _index_score(now, ttl)
            fields[codec.INDEXED] = str(score).encode()
        self.check_size(fields)
        call = ScriptCall(
            scripts.CREATE,
            [self.id_key(stored_id)],
            [ttl, now, created, *chain.from_iterable(fields.items())],
        )
        if user_id is None or score is None:
            return fields, [call]
        return fields, self._keep_index(call, user_id, now, stored_id, score)

    def save(
        self,
        session_key: str,
        data: Mapping[str, Any],
        ttl: int,
        *,
        snapshot: Mapping[bytes, bytes] | None = None,
        replace: bool = False,
    ) -> Plan[Fields]:
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
        sid = stored_id(session_key)
        fields, steps = self._update_steps(sid, data, ttl, snapshot or {}, replace)
        saved = (yield Round(steps, "save a session", acked=True))[0]
        if saved == 1:
            return fields
        if saved == -1:
            logger.info(
                "A save of session %s was refused: it was destroyed by another request.",
                abbreviated(sid),
            )
            raise SessionDestroyed("The session was destroyed by another request.")
        raise UpdateError("The session expired or was never created.")

    def _update_steps(
        self,
        stored_id: str,
        data: Mapping[str, Any],
        ttl: int,
        snapshot: Mapping[bytes, bytes],
        replace: bool,
    ) -> tuple[Fields, list[Step]]:
        fields = self.codec.encode(data)
        ttl = int(ttl)
        now = int(time.time())
        score: int | None = None
        user_id = fields.get(codec.USER_ID)
        if user_id is not None and ttl > 0 and self.user_index:
            recorded = _as_int(snapshot.get(codec.INDEXED))
            if user_id != snapshot.get(codec.USER_ID) or recorded < now + ttl:
                score = _index_score(now, ttl)
                fields[codec.INDEXED] = str(score).encode()
            else:
                fields[codec.INDEXED] = snapshot[codec.INDEXED]
        if ttl > 0:
            self.check_size(fields)
        # An entry the session leaves behind in another user's index (it changed
        # hands, or lost its user) stays until it expires: reads check each
        # entry against its session, and never act on one that is not theirs.
        if replace:
            to_set = list(chain.from_iterable(fields.items()))
            to_delete: list[bytes] = []
        else:
            to_set, to_delete = codec.changes(fields, snapshot)
        lifetime = self.absolute_ttl or 0
        args: list[Any] = [
            ttl,
            "1" if replace else "0",
            now,
            lifetime,
            len(to_set) // 2,
            *to_set,
            *to_delete,
        ]
        call = ScriptCall(scripts.UPDATE, [self.id_key(stored_id)], args)
        if user_id is None or score is None:
            return fields, [call]
        return fields, self._keep_index(call, user_id, now, stored_id, score)

    def destroy(
        self, session_key: str, *, user_id: str | None = None, reason: str = REVOKE
    ) -> Plan[bool]:
        """Replace a live session by a tombstone that lives ``tombstone_ttl`` seconds.

        ``user_id``, when the caller knows whose session it is, takes the entry
        out of that user's index in the same round trip. ``reason``, a short
        code (see :mod:`redis_sessions.store.ended`), is kept in the tombstone
        with the time and the session's user id, for a request that presents
        the key later. Returns whether a live session was there.
        """
        sid = stored_id(session_key)
        return (yield from self.destroy_id(sid, user_id=user_id, reason=reason))

    def destroy_id(
        self, stored_id: str, *, user_id: str | None = None, reason: str = REVOKE
    ) -> Plan[bool]:
        """:meth:`destroy` by stored id."""
        steps = self._destroy_steps(stored_id, user_id, check_reason(reason))
        replies = yield Round(steps, "destroy a session", True)
        return bool(replies[0] != 0)

    def _destroy_steps(self, stored_id: str, user_id: str | None, reason: str) -> list[Step]:
        # Without the user id, the entry in that user's index stays until it
        # expires: reads check each entry against its session.
        call = self._destroy_call(stored_id, reason)
        if user_id is None or not self.user_index:
            return [call]
        return self._keep_index(call, user_id, int(time.time()), stored_id, None)

    def _destroy_call(self, stored_id: str, reason: str, *, only_of: str = "") -> ScriptCall:
        args: list[Any] = [self.tombstone_ttl, int(time.time()), only_of, reason]
        return ScriptCall(scripts.DESTROY, [self.id_key(stored_id)], args)

    def cycle(
        self,
        old_key: str,
        new_key: str,
        data: Mapping[str, Any],
        ttl: int,
        *,
        old_user_id: str | None = None,
        created: int | None = None,
    ) -> Plan[Fields]:
        """Create ``new_key`` with ``data`` and destroy ``old_key``, in one round trip.

        ``created`` is the creation time the new session keeps (the old one's,
        so that its absolute lifetime runs on), or None for now. Raises
        ``CreateError`` if ``new_key`` is taken; ``old_key`` is destroyed all
        the same, so the caller creates the data under another key. The
        tombstone of ``old_key`` gives the reason ``cycle``.
        """
        # The create (none if the TTL or the absolute lifetime is over) and then
        # the destroy, each moving its user's index entry. The create's reply
        # comes first.
        fields, steps = self._create_steps(stored_id(new_key), data, ttl, created)
        creates = bool(steps)
        steps += self._destroy_steps(stored_id(old_key), old_user_id, CYCLE)
        replies = yield Round(steps, "cycle a session key", acked=True)
        if creates and replies[0] != 1:
            raise CreateError
        return fields

    def touch(self, session_key: str, ttl: int) -> Plan[bool]:
        """Give a live session a new time to live, and change nothing else.

        A tombstone is never extended and nothing is created. Returns whether a
        live session was there.
        """
        ttl = int(ttl)
        if ttl <= 0:
            raise ValueError(f"touch() needs a TTL above zero, not {ttl}; use destroy().")
        now = int(time.time())
        score = _index_score(now, ttl)
        # Without the index, the script records no score and never asks for a move.
        lifetime = self.absolute_ttl or 0
        args: list[Any] = [ttl, now + ttl, score if self.user_index else "", now, lifetime]
        sid = stored_id(session_key)
        call = ScriptCall(scripts.TOUCH, [self.id_key(sid)], args)
        touched = (yield Round([call], "touch a session", acked=True))[0]
        if isinstance(touched, bytes):
            # The script answers with the user id when the index entry must move.
            step = self._index_call(touched.decode(), now, add={sid: score})
            yield Round([step], "update a user's session index")
        return bool(touched != 0)

    def set(self, session_key: str, data: Mapping[str, Any], ttl: int) -> Plan[Fields]:
        """Store ``data`` as the whole session ``session_key``, live or new.

        Raises :class:`~redis_sessions.exceptions.SessionDestroyed` for a
        destroyed session: even this never brings one back.
        """
        try:
            return (yield from self.save(session_key, data, ttl, replace=True))
        except SessionDestroyed:
            raise
        except UpdateError:
            return (yield from self.create(session_key, data, ttl))

    # The user index: for each user, a sorted set of their sessions' stored ids scored
    # by a time at which the session has surely expired. A session records
    # that score (#i) and moves its entry only when its expiry passes it, so
    # an ordinary save does not touch the index.

    def _index_call(
        self,
        user_id: str,
        now: int,
        add: Mapping[str, int] | None = None,
        remove: Iterable[str] = (),
    ) -> ScriptCall:
        args: list[Any] = [now, len(add or ())]
        for member, score in (add or {}).items():
            args.append(score)
            args.append(member)
        args.extend(remove)
        return ScriptCall(scripts.INDEX, [self.index_key(user_id)], args)

    def _keep_index(
        self, call: ScriptCall, user_id: bytes | str, now: int, stored_id: str, score: int | None
    ) -> list[Step]:
        """Have ``call``'s script move the session's entry (its stored id) in the user's index.

        ``score`` None takes the entry out. On one server the script does it (the
        index becomes its second key, the entry its last two arguments); on a
        cluster, where the two keys live on different nodes, an ``index`` call
        does, in the same round trip. Returns the steps to send.
        """
        if isinstance(user_id, bytes):
            user_id = user_id.decode()
        if not self.cluster:
            call.keys.append(self.index_key(user_id))
            call.args.append(stored_id)
            call.args.append("" if score is None else score)
            return [call]
        if score is None:
            return [call, self._index_call(user_id, now, remove=[stored_id])]
        return [call, self._index_call(user_id, now, add={stored_id: score})]

    # Many sessions. SCAN walks the keys of this prefix in batches of
    # ``scan_count``; each batch is read or changed in one more round trip.
    # Only keys of this prefix are ever touched: never KEYS, never FLUSHDB.

    def walk(
        self,
        pattern: str,
        each: Callable[[Scanned], Plan[None]],
        progress: Progress | None = None,
        type_: str | None = None,
    ) -> Plan[None]:
        """Walk every key of ``pattern``, running ``each`` on batches of ``scan_count`` keys.

        SCAN hands keys out a hash bucket at a time, so its calls find about
        ``scan_count`` keys each; the walk cuts what they find into batches of
        exactly that many (the last of a node may be shorter), all of one node.
        ``progress``, if given, is called after each batch with the number of
        keys handled so far.
        """
        size = self.scan_count
        cursor = START
        pending: list[bytes] = []
        node: Any = None
        handled = 0
        while True:
            found: Scanned = yield Scan(pattern, cursor, size, type_)
            cursor = found.cursor
            if pending and found.node != node:
                # A cluster walk moved to the next primary: a batch never mixes nodes.
                yield from each(Scanned(pending, cursor, node))
                handled += len(pending)
                pending = []
                if progress is not None:
                    progress(handled)
            pending.extend(found.keys)
            node = found.node
            while len(pending) >= size or (pending and cursor == START):
                batch, pending = pending[:size], pending[size:]
                yield from each(Scanned(batch, cursor, node))
                handled += len(batch)
                if progress is not None:
                    progress(handled)
            if cursor == START:
                return

    @staticmethod
    def bulk(
        script: scripts.LuaScript, batch: Scanned, keys: Sequence[Key], args: list[Any]
    ) -> ScriptCall:
        """One script call for a whole SCAN batch.

        The per-key work runs on the server, and the client parses one reply
        instead of one per key. The keys follow ``args`` as arguments; on a
        cluster the script runs on the node the batch came from, whose keys of
        many slots it may read so.
        """
        return ScriptCall(script, [], [*args, *keys], node=batch.node)

    def read(self, redis_keys: Sequence[Key], action: str = "read sessions") -> Plan[list[Any]]:
        """The hashes of ``redis_keys``, in one round trip; None for a key of another type."""
        if not redis_keys:
            return []
        steps = [Command(("HGETALL", key)) for key in redis_keys]
        replies = yield Round(steps, action, tolerant=True)
        # A key that changed type since the scan answers with an error: it is
        # not a session.
        return [None if isinstance(reply, ResponseError) else reply for reply in replies]

    def sessions_page(
        self, seen: builtins.set[bytes]
    ) -> Callable[[str], Plan[Page[StoredSession]]]:
        """The plan of the live sessions of one SCAN batch from a cursor.

        Tombstones and keys this engine did not write are skipped, and a key in
        ``seen`` (SCAN may return a key twice while Redis resizes its table) is
        skipped and the others added to it.
        """

        def page(cursor: str) -> Plan[Page[StoredSession]]:
            batch: Scanned = yield Scan(self.session_pattern(), cursor, self.scan_count, "HASH")
            fresh = [key for key in batch.keys if key not in seen]
            seen.update(fresh)
            hashes = yield from self.read(fresh)
            found = [
                stored
                for key, fields in zip(fresh, hashes, strict=True)
                if (stored := self.stored(self.stored_id_of(key), fields, quiet=True))
            ]
            return Page(found, batch.cursor)

        return page

    def count(self, *, progress: Progress | None = None) -> Plan[int]:
        """Count the live sessions of this prefix, with memory that stays flat.

        Each SCAN batch is checked on the server by one script call. A key that
        SCAN returns twice while Redis resizes its table is counted twice, as
        ``redis-cli --scan`` would.
        """
        live = 0

        def each(batch: Scanned) -> Plan[None]:
            nonlocal live
            call = self.bulk(scripts.COUNT, batch, batch.keys, [])
            live += (yield Round([call], "count the sessions"))[0]

        # No TYPE filter: the server would look every key's type up for it,
        # which costs more than the script's own check.
        yield from self.walk(self.session_pattern(), each, progress)
        return live

    def clear(self, *, dry_run: bool = False, progress: Progress | None = None) -> Plan[int]:
        """Delete every session, tombstone and user index of this prefix.

        Returns how many keys were deleted, or with ``dry_run`` how many would
        be (a key that SCAN returns twice counts twice then). Other keys of the
        database are left alone. One SCAN pass over the prefix finds both
        kinds of keys; each batch is one ``UNLINK``.
        """
        deleted = 0

        def each(batch: Scanned) -> Plan[None]:
            nonlocal deleted
            doomed = [key for key in batch.keys if self.is_session(key) or self.is_index(key)]
            if dry_run:
                deleted += len(doomed)
            elif doomed:
                call = self.bulk(scripts.UNLINK, batch, doomed, [])
                deleted += (yield Round([call], "delete sessions"))[0]

        yield from self.walk(self.prefix_pattern(), each, progress)
        return deleted

    def stats(
        self, *, top: int = 10, sample: int = 1000, progress: Progress | None = None
    ) -> Plan[SessionStats]:
        """The statistics of this prefix's sessions, in flat memory.

        One SCAN pass over the prefix; each batch, sessions and user indexes
        alike, is read by one call of the ``survey`` script. ``top`` is how many
        of the users with the most sessions to list (from their indexes);
        ``sample`` how many live sessions to measure with ``MEMORY USAGE``, the
        first ones SCAN finds (SCAN walks Redis' hash table, so they are spread
        at random over the keys).
        """
        collector = StatsCollector(top=top, sample=sample)
        now = int(time.time())

        def each(batch: Scanned) -> Plan[None]:
            sessions = [key for key in batch.keys if self.is_session(key)]
            indexes = [key for key in batch.keys if self.is_index(key)]
            if sessions or indexes:
                args: list[Any] = [len(sessions), now, collector.to_measure]
                call = self.bulk(scripts.SURVEY, batch, sessions + indexes, args)
                reply = (yield Round([call], "read statistics"))[0]
                collector.add(len(sessions), [self.user_of(key) for key in indexes], reply)

        yield from self.walk(self.prefix_pattern(), each, progress)
        stats = collector.result()
        if self.user_index:
            return stats
        # Users are counted from their indexes; without them, they are not
        # counted at all (a count of every user would grow with the users).
        return dataclasses.replace(stats, users=None, top_users=None)

    def ttls(self, stored_ids: Sequence[str]) -> Plan[list[int | None]]:
        """The seconds each session (by stored id) has left to live, in one round trip.

        None for a key that never expires (the engine never leaves one so); 0
        for a key that is gone.
        """
        if not stored_ids:
            return []
        steps = [Command(("TTL", self.id_key(sid))) for sid in stored_ids]
        replies = yield Round(steps, "read sessions", tolerant=True)
        return [seconds_left(None if isinstance(r, ResponseError) else r) for r in replies]

    def user_sessions(self, user_id: str) -> Plan[list[StoredSession]]:
        """The live sessions of ``user_id``, oldest first.

        With ``user_index``, read from the user's index: each entry is checked
        against its session, and entries of sessions that ended or changed
        hands are removed. Without, found by a SCAN of every session, each batch
        filtered on the server.
        """
        now = int(time.time())
        keys = yield from self._user_session_ids(user_id, now)
        hashes = yield from self.read([self.id_key(key) for key in keys])
        sessions: list[StoredSession] = []
        stale: list[str] = []
        for key, fields in zip(keys, hashes, strict=True):
            stored = self.stored(key, fields, quiet=True)
            if stored is not None and stored.user_id == user_id:
                sessions.append(stored)
            else:
                stale.append(key)
        if stale and self.user_index:
            yield Round([self._index_call(user_id, now, remove=stale)], "prune a user's index")
        sessions.sort(key=lambda stored: stored.created)
        return sessions

    def _user_session_ids(self, user_id: str, now: int) -> Plan[list[str]]:
        if self.user_index:
            step = Command(("ZRANGEBYSCORE", self.index_key(user_id), f"({now}", "+inf"))
            members = (yield Round([step], "read a user's session index"))[0]
            return [member.decode() for member in members]
        found: list[str] = []

        def each(batch: Scanned) -> Plan[None]:
            call = self.bulk(scripts.OWNED, batch, batch.keys, [user_id])
            keys = (yield Round([call], "find sessions"))[0]
            found.extend(self.stored_id_of(key) for key in keys)

        yield from self.walk(self.session_pattern(), each)
        return found

    def destroy_user_sessions(
        self, user_id: str, *, keep: str | None = None, reason: str = REVOKE
    ) -> Plan[int]:
        """Destroy every session of ``user_id`` but ``keep``, in one more round trip.

        ``keep`` is a session key or a stored id. Each tombstone keeps
        ``reason``, as :meth:`destroy`'s do. Returns how many live sessions were
        destroyed: "log out everywhere".
        """
        check_reason(reason)
        now = int(time.time())
        spared = keep if keep is None or is_stored_id(keep) else stored_id(keep)
        keys = [key for key in (yield from self._user_session_ids(user_id, now)) if key != spared]
        ended = yield from self._destroy_of_user(user_id, keys, reason, now)
        return len(ended)

    def limit_user_sessions(
        self, user_id: str, limit: int, *, reason: str = LIMIT
    ) -> Plan[list[str]]:
        """End the sessions of ``user_id`` beyond its ``limit`` most recently active ones.

        Sessions rank by their last save (or creation), then by stored id, so
        that two calls that see the same sessions end the same ones: after two
        logins at once, each followed by this, at most ``limit`` are left.
        Each tombstone keeps ``reason``. Returns the stored ids of the sessions
        ended.
        """
        check_reason(reason)
        sessions = yield from self.user_sessions(user_id)
        ranked = sorted(
            sessions, key=lambda stored: (max(stored.created, stored.saved), stored.stored_id)
        )
        over = [stored.stored_id for stored in ranked[: max(0, len(ranked) - limit)]]
        return (yield from self._destroy_of_user(user_id, over, reason, int(time.time())))

    def _destroy_of_user(
        self, user_id: str, keys: list[str], reason: str, now: int
    ) -> Plan[list[str]]:
        """Destroy the sessions ``keys`` (stored ids) that are still ``user_id``'s."""
        if not keys:
            return []
        # Only sessions that are still this user's: an entry whose session
        # changed hands meanwhile is not acted on.
        steps: list[Step] = [self._destroy_call(key, reason, only_of=user_id) for key in keys]
        if self.user_index:
            steps.append(self._index_call(user_id, now, remove=keys))
        replies = yield Round(steps, "destroy sessions", acked=True)
        return [key for key, reply in zip(keys, replies, strict=False) if reply != 0]

    def prune_indexes(self) -> Plan[int]:
        """Remove the index entries of expired sessions; return how many went.

        What Django's ``clearsessions`` runs: Redis expires the sessions
        themselves.
        """
        pruned = 0
        now = int(time.time())

        def each(batch: Scanned) -> Plan[None]:
            nonlocal pruned
            steps = [ScriptCall(scripts.INDEX, [key], [now, 0]) for key in batch.keys]
            pruned += sum((yield Round(steps, "prune the user indexes")))

        yield from self.walk(self.index_pattern(), each)
        return pruned
