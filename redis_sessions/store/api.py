"""The store's public Python API: :class:`Store` and :func:`get_store`.

The store owns the connection, the naming of keys, the Lua scripts and the
encoding of values. :class:`redis_sessions.session.SessionStore` adapts it to
Django's ``SessionBase``; code that needs sessions outside a request uses it
directly::

    from redis_sessions.store import get_store

    stored = get_store().load(session_key)

Each method has an asyncio twin whose name starts with ``a``, which runs on
``redis.asyncio`` in the running event loop and never hops to a thread::

    stored = await get_store().aload(session_key)

Both run the same plan (:mod:`redis_sessions.store.plans`): the sync method
through :class:`~redis_sessions.store.drivers.SyncDriver`, the asyncio one
through :class:`~redis_sessions.store.drivers.AsyncDriver`.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

from django.conf import settings
from django.core.signals import setting_changed
from django.core.signing import JSONSerializer
from django.utils.module_loading import import_string
from redis import Redis

from redis_sessions.conf import DEFAULTS, conf
from redis_sessions.store.async_clients import AsyncClient, ClientPerLoop, async_twin
from redis_sessions.store.breaker import Breaker
from redis_sessions.store.clients import (
    Client,
    close_client,
    connection_from_settings,
    describe,
    is_cluster,
)
from redis_sessions.store.codec import FieldCodec, Fields, Serializer
from redis_sessions.store.drivers import AsyncDriver, Replicas, SyncDriver
from redis_sessions.store.ended import LIMIT, REVOKE, Ended
from redis_sessions.store.plans import Page, Plans, Progress, StoredSession
from redis_sessions.store.stats import SessionStats
from redis_sessions.store.steps import START, Plan

T = TypeVar("T")

__all__ = ["Progress", "Store", "StoredSession", "get_store", "reset_store"]


class Store:
    """Sessions in Redis, one hash per session, every write an atomic script.

    Each operation has a sync method and an asyncio twin (``load``/``aload``...).
    The twins run on ``redis.asyncio`` with a client per event loop, made by
    ``async_client_factory`` (by default, from the sync client's server,
    database and credentials).
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
        absolute_ttl: int | None = DEFAULTS["ABSOLUTE_TTL"],
        max_session_bytes: int | None = DEFAULTS["MAX_SESSION_BYTES"],
        breaker_failures: int = DEFAULTS["BREAKER_FAILURES"],
        breaker_reset: float = DEFAULTS["BREAKER_RESET"],
        breaker_patience: float = DEFAULTS["SOCKET_CONNECT_TIMEOUT"] + DEFAULTS["SOCKET_TIMEOUT"],
    ) -> None:
        self.client = client
        self.owns_client = owns_client
        self.plans = Plans(
            prefix=prefix,
            codec=FieldCodec(serializer_class),
            tombstone_ttl=tombstone_ttl,
            scan_count=scan_count,
            user_index=user_index,
            cluster=is_cluster(client),
            absolute_ttl=absolute_ttl,
            max_bytes=max_session_bytes,
        )
        if async_client_factory is None:
            if not isinstance(client, Redis):
                raise TypeError("A cluster client needs its async_client_factory.")
            async_client_factory = partial(async_twin, client)
        replicas = Replicas(min_replicas_ack, replicas_ack_timeout)
        where = partial(describe, client)
        #: Fails operations at once while Redis does not answer; both drivers share it.
        self.breaker = Breaker(breaker_failures, breaker_reset, where, breaker_patience)
        #: Runs plans on the sync client.
        self.driver = SyncDriver(client, where, replicas, self.breaker)
        #: Runs plans on the asyncio client of the running event loop.
        self.adriver = AsyncDriver(
            ClientPerLoop(async_client_factory), where, replicas, self.breaker
        )

    @classmethod
    def from_settings(cls) -> Store:
        """Build a store from ``REDIS_SESSIONS`` and ``SESSION_SERIALIZER``."""
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
            absolute_ttl=conf.ABSOLUTE_TTL,
            max_session_bytes=conf.MAX_SESSION_BYTES,
            breaker_failures=conf.BREAKER_FAILURES,
            breaker_reset=conf.BREAKER_RESET,
            # A probe has its outcome once the socket timeouts have passed.
            breaker_patience=(conf.SOCKET_CONNECT_TIMEOUT or 0) + (conf.SOCKET_TIMEOUT or 0)
            or DEFAULTS["SOCKET_CONNECT_TIMEOUT"] + DEFAULTS["SOCKET_TIMEOUT"],
        )

    def __repr__(self) -> str:
        return f"<Store {describe(self.client)} prefix={self.prefix!r}>"

    @property
    def prefix(self) -> str:
        """What every key of this store starts with."""
        return self.plans.prefix

    @property
    def codec(self) -> FieldCodec:
        """How session dicts are laid out in hash fields."""
        return self.plans.codec

    @property
    def user_index(self) -> bool:
        """Whether each user's sessions are listed in an index of their own."""
        return self.plans.user_index

    @property
    def cluster(self) -> bool:
        """Whether the store is a Redis Cluster."""
        return self.plans.cluster

    @property
    def aclient(self) -> AsyncClient:
        """The asyncio client of the running event loop."""
        return self.adriver.client

    def close(self) -> None:
        """Close the sync client's connections, if the store made the client.

        Asyncio clients are closed when their event loop closes.
        """
        if self.owns_client:
            close_client(self.client)

    def redis_key(self, session_key: str) -> str:
        """Return the Redis key of ``session_key``'s session: that of its stored id."""
        return self.plans.redis_key(session_key)

    def id_key(self, stored_id: str) -> str:
        """Return the Redis key of the session of a stored id."""
        return self.plans.id_key(stored_id)

    def index_key(self, user_id: str) -> str:
        """Return the Redis key of the index of ``user_id``'s sessions."""
        return self.plans.index_key(user_id)

    # Running plans: the store's own, or a caller's built from the same steps.

    def run(self, plan: Plan[T]) -> T:
        """Run a plan (see :mod:`redis_sessions.store.steps`) on the sync client."""
        return self.driver.run(plan)

    async def arun(self, plan: Plan[T]) -> T:
        """Run a plan on the asyncio client of the running event loop."""
        return await self.adriver.run(plan)

    # One session. Every method is documented on its plan in
    # redis_sessions.store.plans, whose docstring each one shares.

    def load(self, session_key: str) -> StoredSession | None:
        return self.driver.run(self.plans.load(session_key))

    async def aload(self, session_key: str) -> StoredSession | None:
        return await self.adriver.run(self.plans.load(session_key))

    get = load
    aget = aload

    def load_id(self, stored_id: str) -> StoredSession | None:
        return self.driver.run(self.plans.load_id(stored_id))

    async def aload_id(self, stored_id: str) -> StoredSession | None:
        return await self.adriver.run(self.plans.load_id(stored_id))

    def presented(self, session_key: str) -> StoredSession | Ended | None:
        return self.driver.run(self.plans.presented(session_key))

    async def apresented(self, session_key: str) -> StoredSession | Ended | None:
        return await self.adriver.run(self.plans.presented(session_key))

    def exists(self, session_key: str) -> bool:
        return self.driver.run(self.plans.exists(session_key))

    async def aexists(self, session_key: str) -> bool:
        return await self.adriver.run(self.plans.exists(session_key))

    def create(self, session_key: str, data: Mapping[str, Any], ttl: int) -> Fields:
        return self.driver.run(self.plans.create(session_key, data, ttl))

    async def acreate(self, session_key: str, data: Mapping[str, Any], ttl: int) -> Fields:
        return await self.adriver.run(self.plans.create(session_key, data, ttl))

    def create_many(
        self, sessions: Sequence[tuple[str, Mapping[str, Any], int]]
    ) -> list[bool | None]:
        return self.driver.run(self.plans.create_many(sessions))

    async def acreate_many(
        self, sessions: Sequence[tuple[str, Mapping[str, Any], int]]
    ) -> list[bool | None]:
        return await self.adriver.run(self.plans.create_many(sessions))

    def save(
        self,
        session_key: str,
        data: Mapping[str, Any],
        ttl: int,
        *,
        snapshot: Mapping[bytes, bytes] | None = None,
        replace: bool = False,
    ) -> Fields:
        plan = self.plans.save(session_key, data, ttl, snapshot=snapshot, replace=replace)
        return self.driver.run(plan)

    async def asave(
        self,
        session_key: str,
        data: Mapping[str, Any],
        ttl: int,
        *,
        snapshot: Mapping[bytes, bytes] | None = None,
        replace: bool = False,
    ) -> Fields:
        plan = self.plans.save(session_key, data, ttl, snapshot=snapshot, replace=replace)
        return await self.adriver.run(plan)

    def destroy(
        self, session_key: str, *, user_id: str | None = None, reason: str = REVOKE
    ) -> bool:
        return self.driver.run(self.plans.destroy(session_key, user_id=user_id, reason=reason))

    async def adestroy(
        self, session_key: str, *, user_id: str | None = None, reason: str = REVOKE
    ) -> bool:
        plan = self.plans.destroy(session_key, user_id=user_id, reason=reason)
        return await self.adriver.run(plan)

    def destroy_id(
        self, stored_id: str, *, user_id: str | None = None, reason: str = REVOKE
    ) -> bool:
        return self.driver.run(self.plans.destroy_id(stored_id, user_id=user_id, reason=reason))

    async def adestroy_id(
        self, stored_id: str, *, user_id: str | None = None, reason: str = REVOKE
    ) -> bool:
        plan = self.plans.destroy_id(stored_id, user_id=user_id, reason=reason)
        return await self.adriver.run(plan)

    def cycle(
        self,
        old_key: str,
        new_key: str,
        data: Mapping[str, Any],
        ttl: int,
        *,
        old_user_id: str | None = None,
        created: int | None = None,
    ) -> Fields:
        plan = self.plans.cycle(
            old_key, new_key, data, ttl, old_user_id=old_user_id, created=created
        )
        return self.driver.run(plan)

    async def acycle(
        self,
        old_key: str,
        new_key: str,
        data: Mapping[str, Any],
        ttl: int,
        *,
        old_user_id: str | None = None,
        created: int | None = None,
    ) -> Fields:
        plan = self.plans.cycle(
            old_key, new_key, data, ttl, old_user_id=old_user_id, created=created
        )
        return await self.adriver.run(plan)

    def touch(self, session_key: str, ttl: int) -> bool:
        return self.driver.run(self.plans.touch(session_key, ttl))

    async def atouch(self, session_key: str, ttl: int) -> bool:
        return await self.adriver.run(self.plans.touch(session_key, ttl))

    def set(self, session_key: str, data: Mapping[str, Any], ttl: int) -> Fields:
        return self.driver.run(self.plans.set(session_key, data, ttl))

    async def aset(self, session_key: str, data: Mapping[str, Any], ttl: int) -> Fields:
        return await self.adriver.run(self.plans.set(session_key, data, ttl))

    # Many sessions.

    def iter_sessions(self) -> Iterator[StoredSession]:
        """Yield every live session of this prefix, a SCAN batch at a time.

        Tombstones and keys this engine did not write are skipped, and a key
        that SCAN returns twice (it may, while Redis resizes its table) is
        yielded once.
        """
        page = self.plans.sessions_page(set())
        cursor = START
        while True:
            found: Page[StoredSession] = self.driver.run(page(cursor))
            yield from found.items
            if (cursor := found.cursor) == START:
                return

    async def aiter_sessions(self) -> AsyncIterator[StoredSession]:
        """The asyncio twin of :meth:`iter_sessions`."""
        page = self.plans.sessions_page(set())
        cursor = START
        while True:
            found: Page[StoredSession] = await self.adriver.run(page(cursor))
            for stored in found.items:
                yield stored
            if (cursor := found.cursor) == START:
                return

    def count(self, *, progress: Progress | None = None) -> int:
        return self.driver.run(self.plans.count(progress=progress))

    async def acount(self, *, progress: Progress | None = None) -> int:
        return await self.adriver.run(self.plans.count(progress=progress))

    def clear(self, *, dry_run: bool = False, progress: Progress | None = None) -> int:
        return self.driver.run(self.plans.clear(dry_run=dry_run, progress=progress))

    async def aclear(self, *, dry_run: bool = False, progress: Progress | None = None) -> int:
        return await self.adriver.run(self.plans.clear(dry_run=dry_run, progress=progress))

    def stats(
        self, *, top: int = 10, sample: int = 1000, progress: Progress | None = None
    ) -> SessionStats:
        return self.driver.run(self.plans.stats(top=top, sample=sample, progress=progress))

    async def astats(
        self, *, top: int = 10, sample: int = 1000, progress: Progress | None = None
    ) -> SessionStats:
        return await self.adriver.run(self.plans.stats(top=top, sample=sample, progress=progress))

    def ttls(self, stored_ids: Sequence[str]) -> list[int | None]:
        return self.driver.run(self.plans.ttls(stored_ids))

    async def attls(self, stored_ids: Sequence[str]) -> list[int | None]:
        return await self.adriver.run(self.plans.ttls(stored_ids))

    def user_sessions(self, user_id: str) -> list[StoredSession]:
        return self.driver.run(self.plans.user_sessions(user_id))

    async def auser_sessions(self, user_id: str) -> list[StoredSession]:
        return await self.adriver.run(self.plans.user_sessions(user_id))

    def destroy_user_sessions(
        self, user_id: str, *, keep: str | None = None, reason: str = REVOKE
    ) -> int:
        plan = self.plans.destroy_user_sessions(user_id, keep=keep, reason=reason)
        return self.driver.run(plan)

    async def adestroy_user_sessions(
        self, user_id: str, *, keep: str | None = None, reason: str = REVOKE
    ) -> int:
        plan = self.plans.destroy_user_sessions(user_id, keep=keep, reason=reason)
        return await self.adriver.run(plan)

    def limit_user_sessions(self, user_id: str, limit: int, *, reason: str = LIMIT) -> list[str]:
        return self.driver.run(self.plans.limit_user_sessions(user_id, limit, reason=reason))

    async def alimit_user_sessions(
        self, user_id: str, limit: int, *, reason: str = LIMIT
    ) -> list[str]:
        plan = self.plans.limit_user_sessions(user_id, limit, reason=reason)
        return await self.adriver.run(plan)

    def prune_indexes(self) -> int:
        return self.driver.run(self.plans.prune_indexes())

    async def aprune_indexes(self) -> int:
        return await self.adriver.run(self.plans.prune_indexes())


def _share_docstrings() -> None:
    """Give each method the docstring of its plan; an asyncio twin says whose twin it is."""
    for name, method in vars(Store).items():
        if name.startswith("_") or not callable(method) or method.__doc__:
            continue
        sync_name = name[1:] if name.startswith("a") and hasattr(Plans, name[1:]) else name
        plan = getattr(Plans, sync_name, None)
        if plan is None:
            continue
        if sync_name != name:
            method.__doc__ = f"The asyncio twin of :meth:`{sync_name}`."
        else:
            method.__doc__ = plan.__doc__


_share_docstrings()


_lock = threading.Lock()
_default: Store | None = None


def get_store() -> Store:
    """Return the store configured by the settings, made on first use."""
    global _default
    store = _default
    if store is None:
        with _lock:
            if _default is None:
                _default = Store.from_settings()
            store = _default
    return store


def reset_store() -> None:
    """Forget the configured store; the next :func:`get_store` makes a new one."""
    global _default
    with _lock:
        store, _default = _default, None
    if store is not None:
        store.close()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in {"REDIS_SESSIONS", "SESSION_SERIALIZER", "CACHES"}:
        reset_store()


setting_changed.connect(_on_setting_changed)
