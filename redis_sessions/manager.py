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
from collections.abc import Callable, Mapping
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
from redis_sessions.exceptions import StoreUnavailable
from redis_sessions.keys import abbreviated, redis_key
from redis_sessions.loops import AsyncRedis, ClientPerLoop, async_twin

logger = logging.getLogger("redis_sessions")
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

    def _loaded(self, session_key: str, fields: dict[bytes, bytes]) -> StoredSession | None:
        if not fields:
            return None
        created = fields.get(codec.CREATED)
        if created is None:
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

    # create

    def create(self, session_key: str, data: Mapping[str, Any], ttl: int) -> Fields:
        """Store a new session; raise ``CreateError`` if the key is taken.

        A key is taken while it holds a live session or a tombstone. Returns the
        fields written, to pass to a later :meth:`save`.
        """
        fields, args = self._create_args(data, ttl)
        if args:
            try:
                created = scripts.CREATE(self.client, self.redis_key(session_key), args)
            except RedisError as exc:
                raise self._unavailable(exc, "create a session") from exc
            self._check_created(created)
        return fields

    async def acreate(self, session_key: str, data: Mapping[str, Any], ttl: int) -> Fields:
        """The asyncio twin of :meth:`create`."""
        fields, args = self._create_args(data, ttl)
        if args:
            try:
                created = await scripts.CREATE.acall(
                    self.aclient, self.redis_key(session_key), args
                )
            except RedisError as exc:
                raise self._unavailable(exc, "create a session") from exc
            self._check_created(created)
        return fields

    def _create_args(self, data: Mapping[str, Any], ttl: int) -> tuple[Fields, list[Any]]:
        fields = self.codec.encode(data)
        if int(ttl) <= 0:
            # It would expire at once: nothing to keep, nothing to send.
            return fields, []
        now = int(time.time())
        args: list[Any] = [int(ttl), codec.CREATED, now, codec.SAVED, now]
        for name, raw in fields.items():
            args.append(name)
            args.append(raw)
        return fields, args

    @staticmethod
    def _check_created(created: Any) -> None:
        if created != 1:
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

        Only the fields that differ from ``snapshot`` (the fields as loaded) are
        written, and the fields of ``snapshot`` that ``data`` no longer has are
        deleted; fields that other requests changed meanwhile are kept. With
        ``replace``, every field that ``data`` does not have is deleted. A TTL of
        zero or less deletes the session.

        Raises ``UpdateError`` if no live session is there: it expired, or it was
        destroyed, and a save never brings it back. Returns the new snapshot.
        """
        fields, args = self._update_args(data, ttl, snapshot, replace)
        try:
            saved = scripts.UPDATE(self.client, self.redis_key(session_key), args)
        except RedisError as exc:
            raise self._unavailable(exc, "save a session") from exc
        self._check_saved(session_key, saved)
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
        fields, args = self._update_args(data, ttl, snapshot, replace)
        try:
            saved = await scripts.UPDATE.acall(self.aclient, self.redis_key(session_key), args)
        except RedisError as exc:
            raise self._unavailable(exc, "save a session") from exc
        self._check_saved(session_key, saved)
        return fields

    def _update_args(
        self,
        data: Mapping[str, Any],
        ttl: int,
        snapshot: Mapping[bytes, bytes] | None,
        replace: bool,
    ) -> tuple[Fields, list[Any]]:
        fields = self.codec.encode(data)
        if replace:
            to_set = [item for pair in fields.items() for item in pair]
            to_delete: list[bytes] = []
        else:
            to_set, to_delete = codec.changes(fields, snapshot or {})
        args: list[Any] = [
            int(ttl),
            "1" if replace else "0",
            len(to_set) // 2 + 1,
            codec.SAVED,
            int(time.time()),
        ]
        args += to_set
        args += to_delete
        return fields, args

    @staticmethod
    def _check_saved(session_key: str, saved: Any) -> None:
        if saved == 1:
            return
        if saved == -1:
            logger.info(
                "A save of session %s was refused: it was destroyed by another request.",
                abbreviated(session_key),
            )
            raise UpdateError("The session was destroyed by another request.")
        raise UpdateError("The session expired or was never created.")

    # destroy

    def destroy(self, session_key: str) -> bool:
        """Replace a live session by a tombstone that lives ``tombstone_ttl`` seconds.

        Returns whether a live session was there.
        """
        try:
            destroyed = scripts.DESTROY(
                self.client, self.redis_key(session_key), self._destroy_args()
            )
        except RedisError as exc:
            raise self._unavailable(exc, "destroy a session") from exc
        return bool(destroyed == 1)

    async def adestroy(self, session_key: str) -> bool:
        """The asyncio twin of :meth:`destroy`."""
        try:
            destroyed = await scripts.DESTROY.acall(
                self.aclient, self.redis_key(session_key), self._destroy_args()
            )
        except RedisError as exc:
            raise self._unavailable(exc, "destroy a session") from exc
        return bool(destroyed == 1)

    def _destroy_args(self) -> list[Any]:
        return [self.tombstone_ttl, int(time.time())]

    # cycle

    def cycle(self, old_key: str, new_key: str, data: Mapping[str, Any], ttl: int) -> Fields:
        """Create ``new_key`` with ``data`` and destroy ``old_key``, in one round trip.

        Raises ``CreateError`` if ``new_key`` is taken; ``old_key`` is destroyed
        all the same, so the caller creates the data under another key.
        """
        fields, create_args = self._create_args(data, ttl)
        new_redis_key, old_redis_key = self.redis_key(new_key), self.redis_key(old_key)
        try:
            pipe = self.client.pipeline(transaction=False)
            if create_args:
                pipe.evalsha(scripts.CREATE.sha, 1, new_redis_key, *create_args)
            pipe.evalsha(scripts.DESTROY.sha, 1, old_redis_key, *self._destroy_args())
            results = pipe.execute(raise_on_error=False)
            # A server that lost its scripts refused to run them: run each again,
            # which loads it first.
            if isinstance(results[-1], NoScriptError):
                results[-1] = scripts.DESTROY(self.client, old_redis_key, self._destroy_args())
            if create_args and isinstance(results[0], NoScriptError):
                results[0] = scripts.CREATE(self.client, new_redis_key, create_args)
            self._raise_first_error(results)
        except RedisError as exc:
            raise self._unavailable(exc, "cycle a session key") from exc
        if create_args:
            self._check_created(results[0])
        return fields

    async def acycle(self, old_key: str, new_key: str, data: Mapping[str, Any], ttl: int) -> Fields:
        """The asyncio twin of :meth:`cycle`."""
        fields, create_args = self._create_args(data, ttl)
        new_redis_key, old_redis_key = self.redis_key(new_key), self.redis_key(old_key)
        client = self.aclient
        try:
            pipe = client.pipeline(transaction=False)
            if create_args:
                pipe.evalsha(scripts.CREATE.sha, 1, new_redis_key, *create_args)
            pipe.evalsha(scripts.DESTROY.sha, 1, old_redis_key, *self._destroy_args())
            results = await pipe.execute(raise_on_error=False)
            if isinstance(results[-1], NoScriptError):
                results[-1] = await scripts.DESTROY.acall(
                    client, old_redis_key, self._destroy_args()
                )
            if create_args and isinstance(results[0], NoScriptError):
                results[0] = await scripts.CREATE.acall(client, new_redis_key, create_args)
            self._raise_first_error(results)
        except RedisError as exc:
            raise self._unavailable(exc, "cycle a session key") from exc
        if create_args:
            self._check_created(results[0])
        return fields

    @staticmethod
    def _raise_first_error(results: list[Any]) -> None:
        for result in results:
            if isinstance(result, RedisError):
                raise result

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
