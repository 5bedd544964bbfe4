"""The session engine: ``SESSION_ENGINE = "redis_sessions.session"``.

A thin adapter from Django's ``SessionBase`` to
:class:`redis_sessions.manager.SessionManager`, which does the work.
"""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends.base import CreateError, SessionBase

from redis_sessions import codec
from redis_sessions.codec import Fields
from redis_sessions.keys import is_valid_session_key, new_session_key
from redis_sessions.manager import SessionManager, StoredSession, get_manager

#: How many fresh keys :meth:`SessionStore.create` tries before it gives up. With
#: 32 random characters a single collision is already beyond belief.
CREATE_ATTEMPTS = 10
CREATE_FAILED = "Unable to create a new session key: every key drawn was taken."


class SessionStore(SessionBase):
    """Django's session API on Redis: atomic saves that merge field by field and
    logouts that no concurrent request can undo."""

    def __init__(self, session_key: str | None = None) -> None:
        # Not SessionBase.__init__: it imports SESSION_SERIALIZER for every
        # store, a sixth of the time of a whole load. The manager encodes with
        # the serializer it imported once; SessionBase's own encode() and
        # decode() find it through the ``serializer`` property below.
        self._session_key = session_key
        self.accessed = False
        self.modified = False
        # The fields as last loaded or saved: a save writes only what differs.
        self._snapshot: Fields | None = None
        # Set by clear(): the next save removes fields other requests added too.
        self._replace = False

    # SessionBase's lazy load, without the AttributeError that it raises and
    # catches on the first access of every store: in a request, raising it
    # cost more than the rest of the method.

    def _get_session(self, no_load: bool = False) -> dict[str, Any]:
        self.accessed = True
        cache: dict[str, Any] | None = self.__dict__.get("_session_cache")
        if cache is None:
            cache = {} if no_load or self.session_key is None else self.load()
            self._session_cache = cache
        return cache

    async def _aget_session(self, no_load: bool = False) -> dict[str, Any]:
        self.accessed = True
        cache: dict[str, Any] | None = self.__dict__.get("_session_cache")
        if cache is None:
            cache = {} if no_load or self.session_key is None else await self.aload()
            self._session_cache = cache
        return cache

    _session = property(_get_session)

    @property
    def serializer(self) -> Any:
        return self.manager.codec.serializer_class

    @property
    def manager(self) -> SessionManager:
        return get_manager()

    def _validate_session_key(self, key: Any) -> bool:
        return is_valid_session_key(key)

    def _get_new_session_key(self) -> str:
        # No EXISTS round trip: create refuses a taken key and we draw again.
        return new_session_key()

    async def _aget_new_session_key(self) -> str:
        return new_session_key()

    # Sync and asyncio twins: the asyncio ones run on redis.asyncio in the
    # running loop, with no thread hop, and share everything but the I/O.

    def load(self) -> dict[str, Any]:
        stored = None if self.session_key is None else self.manager.load(self.session_key)
        return self._loaded(stored)

    async def aload(self) -> dict[str, Any]:
        key = self.session_key
        return self._loaded(None if key is None else await self.manager.aload(key))

    def _loaded(self, stored: StoredSession | None) -> dict[str, Any]:
        if stored is None:
            self._session_key = None
            self._snapshot = None
            return {}
        self._snapshot = stored.fields
        return stored.data

    def exists(self, session_key: str | None) -> bool:
        if session_key is None or not is_valid_session_key(session_key):
            return False
        return self.manager.exists(session_key)

    async def aexists(self, session_key: str | None) -> bool:
        if session_key is None or not is_valid_session_key(session_key):
            return False
        return await self.manager.aexists(session_key)

    def create(self) -> None:
        for _ in range(CREATE_ATTEMPTS):
            self._session_key = self._get_new_session_key()
            try:
                self.save(must_create=True)
            except CreateError:
                continue
            self.modified = True
            return
        raise RuntimeError(CREATE_FAILED)

    async def acreate(self) -> None:
        for _ in range(CREATE_ATTEMPTS):
            self._session_key = self._get_new_session_key()
            try:
                await self.asave(must_create=True)
            except CreateError:
                continue
            self.modified = True
            return
        raise RuntimeError(CREATE_FAILED)

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            self.create()
            return
        data = self._get_session(no_load=must_create)
        ttl = self.get_expiry_age()
        if must_create:
            self._snapshot = self.manager.create(self.session_key, data, ttl)
        else:
            self._snapshot = self.manager.save(
                self.session_key, data, ttl, snapshot=self._snapshot, replace=self._replace
            )
        self._replace = False

    async def asave(self, must_create: bool = False) -> None:
        if self.session_key is None:
            await self.acreate()
            return
        data = await self._aget_session(no_load=must_create)
        ttl = await self.aget_expiry_age()
        if must_create:
            self._snapshot = await self.manager.acreate(self.session_key, data, ttl)
        else:
            self._snapshot = await self.manager.asave(
                self.session_key, data, ttl, snapshot=self._snapshot, replace=self._replace
            )
        self._replace = False

    def get_expiry_age(self, **kwargs: Any) -> int:
        # The common case, no custom expiry, without SessionBase's clock reading.
        if not kwargs and "_session_expiry" not in self._session:
            return self.get_session_cookie_age()
        return super().get_expiry_age(**kwargs)

    def clear(self) -> None:
        super().clear()
        self._replace = True

    def delete(self, session_key: str | None = None) -> None:
        session_key = self._key_to_delete(session_key)
        if session_key is not None:
            self.manager.destroy(session_key, user_id=self._loaded_user_id(session_key))

    async def adelete(self, session_key: str | None = None) -> None:
        session_key = self._key_to_delete(session_key)
        if session_key is not None:
            await self.manager.adestroy(session_key, user_id=self._loaded_user_id(session_key))

    def _key_to_delete(self, session_key: str | None) -> str | None:
        if session_key is None:
            return self.session_key
        return session_key if is_valid_session_key(session_key) else None

    def _loaded_user_id(self, session_key: str | None) -> str | None:
        """The user id of this store's session as loaded, if ``session_key`` is it."""
        if session_key != self.session_key or not self._snapshot:
            return None
        user_id = self._snapshot.get(codec.USER_ID)
        return None if user_id is None else user_id.decode()

    def cycle_key(self) -> None:
        data = self._session
        old_key = self.session_key
        if old_key is None:
            self.create()
            return
        old_user_id = self._loaded_user_id(old_key)
        new_key = self._session_key = self._get_new_session_key()
        try:
            self._snapshot = self.manager.cycle(
                old_key, new_key, data, self.get_expiry_age(), old_user_id=old_user_id
            )
        except CreateError:
            # The old session is gone all the same; keep the data under a new key.
            self.create()
        self._cycled(data)

    async def acycle_key(self) -> None:
        data = await self._aget_session()
        old_key = self.session_key
        if old_key is None:
            await self.acreate()
            return
        old_user_id = self._loaded_user_id(old_key)
        new_key = self._session_key = self._get_new_session_key()
        ttl = await self.aget_expiry_age()
        try:
            self._snapshot = await self.manager.acycle(
                old_key, new_key, data, ttl, old_user_id=old_user_id
            )
        except CreateError:
            await self.acreate()
        self._cycled(data)

    def _cycled(self, data: dict[str, Any]) -> None:
        self._session_cache = data
        self._replace = False
        self.modified = True

    @classmethod
    async def aclear_expired(cls) -> int:  # type: ignore[override]
        """The asyncio twin of :meth:`clear_expired`."""
        return await get_manager().aprune_indexes()

    @classmethod
    def clear_expired(cls) -> int:  # type: ignore[override]
        """Prune the user indexes; Redis expires sessions and tombstones by itself.

        Returns how many index entries of expired sessions were removed.
        """
        return get_manager().prune_indexes()
