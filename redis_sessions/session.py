"""The session engine: ``SESSION_ENGINE = "redis_sessions.session"``.

A thin adapter from Django's ``SessionBase`` to :class:`redis_sessions.store.Store`,
which does the work. It overrides the methods that Django's own engines
override (load, exists, create, save, delete, cycle_key, clear_expired and
their asyncio twins) and nothing else.
"""

from __future__ import annotations

import logging
import warnings
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from asgiref.sync import sync_to_async
from django.apps import apps
from django.contrib.sessions.backends.base import CreateError, SessionBase
from django.http import HttpRequest

from redis_sessions.conf import conf
from redis_sessions.exceptions import StoreUnavailable
from redis_sessions.migration.lazy import migrated
from redis_sessions.signals import ended_session_presented, session_degraded
from redis_sessions.store import Ended, Store, StoredSession, codec, get_store
from redis_sessions.store.codec import Fields
from redis_sessions.store.ended import LOGOUT
from redis_sessions.store.keys import is_valid_session_key, new_session_key, stored_id

logger = logging.getLogger("redis_sessions")

#: The ``ON_UNAVAILABLE`` that serves an empty session while Redis is down.
ANONYMOUS = "anonymous"

#: How many fresh keys :meth:`SessionStore.create` tries before it gives up. With
#: 160 random bits a single collision is already beyond belief.
CREATE_ATTEMPTS = 10
CREATE_FAILED = "Unable to create a new session key: every key drawn was taken."

#: The warning of the first session made while the app is not installed.
APP_NOT_INSTALLED = (
    "The session engine redis_sessions.session is in use, but 'redis_sessions' is not in "
    "INSTALLED_APPS: the system checks of REDIS_SESSIONS, the engine's clearsessions "
    "command and its admin are off. Add 'redis_sessions' to INSTALLED_APPS, above "
    "'django.contrib.sessions'."
)

# Whether the first session made once the apps were ready looked for the app.
_app_looked_for = False


def _warn_unless_installed() -> None:
    global _app_looked_for
    if _app_looked_for or not apps.ready:
        return
    _app_looked_for = True
    if not apps.is_installed("redis_sessions"):
        warnings.warn(APP_NOT_INSTALLED, RuntimeWarning, stacklevel=3)


class SessionStore(SessionBase):
    """Django's session API on Redis: atomic saves that merge field by field and
    logouts that no concurrent request can undo."""

    def __init__(self, session_key: str | None = None) -> None:
        _warn_unless_installed()
        # A cookie that is not one of our keys (8 to 64 of a-z and 0-9) names
        # no session: it is dropped here and never sent to Redis.
        super().__init__(session_key if is_valid_session_key(session_key) else None)
        if self.session_key is None:
            # A new session has nothing to load: its data starts empty, as
            # SessionBase's lazy load would make it on first access.
            self._session_cache: dict[str, Any] = {}
        # The hash as last loaded or saved: a save writes only what differs.
        self._snapshot: Fields | None = None
        # The dict that load or the last save gave the session. When the
        # session's dict is another one (clear() puts a new one in place), the
        # next save replaces the whole session, fields other requests added
        # included.
        self._kept: dict[str, Any] | None = None
        #: The :class:`StoreUnavailable` an operation of this session raised, if
        #: one did. A session lives for one request: once Redis failed it, a
        #: load raises again at once rather than waiting for the timeouts anew
        #: (Django's error page reads the session, through ``request.user``).
        self.unavailable: StoreUnavailable | None = None
        #: Whether this session loaded empty because Redis could not be reached
        #: and ``ON_UNAVAILABLE`` is ``"anonymous"``: its saves are skipped, and
        #: its key stays, so its cookie is neither replaced nor deleted.
        self.degraded = False
        #: Set at login with ``MAX_SESSIONS_PER_USER``: once the next save has
        #: stored the user's new session, their sessions over the limit end.
        self.limit_after_save = False
        self._request: weakref.ref[HttpRequest] | None = None

    @property
    def request(self) -> HttpRequest | None:
        """The request this session serves, if it was told: the engine's
        :class:`~redis_sessions.middleware.SessionMiddleware` tells it.

        It goes with :data:`~redis_sessions.signals.ended_session_presented`.
        Held weakly: a session does not keep its request alive.
        """
        return None if self._request is None else self._request()

    @request.setter
    def request(self, request: HttpRequest | None) -> None:
        self._request = None if request is None else weakref.ref(request)

    @property
    def store(self) -> Store:
        """The store of the settings."""
        return get_store()

    # SessionBase's lazy load, which Django's own engines call in their save
    # (django-stubs leaves these two out).

    def _data(self, *, no_load: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = self._get_session(no_load=no_load)  # type: ignore[attr-defined]
        return data

    async def _adata(self, *, no_load: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = await self._aget_session(no_load=no_load)  # type: ignore[attr-defined]
        return data

    # Sync and asyncio twins: the asyncio ones run on redis.asyncio in the
    # running loop, with no thread hop, and share everything but the I/O.

    @contextmanager
    def _noting_outages(self, *, again: bool = True) -> Iterator[None]:
        """Keep the :class:`StoreUnavailable` raised inside as :attr:`unavailable`.

        Unless ``again``, one seen before is raised at once, and Redis is not asked.
        """
        if not again and self.unavailable is not None:
            raise StoreUnavailable(str(self.unavailable)) from self.unavailable
        try:
            yield
        except StoreUnavailable as exc:
            self.unavailable = exc
            raise

    # A key whose session ended sends ended_session_presented, once: the
    # session then has no key, and a session without a key never loads.

    def load(self) -> dict[str, Any]:
        key = self.session_key
        try:
            with self._noting_outages(again=False):
                found = self.store.presented(key) if is_valid_session_key(key) else None
                if found is None and conf.MIGRATE_FROM and is_valid_session_key(key):
                    found = migrated(self.store, key)
        except StoreUnavailable as exc:
            if conf.ON_UNAVAILABLE != ANONYMOUS:
                raise
            session_degraded.send(sender=type(self), **self._degrade(exc))
            return {}
        if isinstance(found, Ended):
            self._session_key = None
            ended_session_presented.send(sender=type(self), **self._signal_arguments(found))
        return self._loaded(found)

    async def aload(self) -> dict[str, Any]:
        key = self.session_key
        try:
            with self._noting_outages(again=False):
                found = await self.store.apresented(key) if is_valid_session_key(key) else None
                if found is None and conf.MIGRATE_FROM and is_valid_session_key(key):
                    # The db source reads through Django's ORM, which is sync.
                    found = await sync_to_async(migrated)(self.store, key)
        except StoreUnavailable as exc:
            if conf.ON_UNAVAILABLE != ANONYMOUS:
                raise
            await session_degraded.asend(sender=type(self), **self._degrade(exc))
            return {}
        if isinstance(found, Ended):
            self._session_key = None
            await ended_session_presented.asend(sender=type(self), **self._signal_arguments(found))
        return self._loaded(found)

    def _degrade(self, exc: StoreUnavailable) -> dict[str, Any]:
        """Mark this session degraded and log it; return the signal's arguments."""
        self.degraded = True
        self._snapshot = self._kept = None
        request = self.request
        where = "" if request is None else f" for {request.method} {request.path}"
        logger.warning(
            "Serving an empty session%s, unsaved, since Redis is unavailable "
            "(ON_UNAVAILABLE='anonymous'): %s",
            where,
            exc,
        )
        key = self.session_key
        return {
            "stored_id": stored_id(key) if key is not None else None,
            "exception": exc,
            "request": request,
        }

    def _signal_arguments(self, ended: Ended) -> dict[str, Any]:
        return {
            "stored_id": ended.stored_id,
            "user_id": ended.user_id,
            "ended": datetime.fromtimestamp(ended.ended, tz=timezone.utc),
            "reason": ended.reason,
            "request": self.request,
        }

    def _loaded(self, stored: StoredSession | Ended | None) -> dict[str, Any]:
        if not isinstance(stored, StoredSession):
            # As Django's engines do: an unknown key is dropped, never created.
            self._session_key = None
            self._snapshot = self._kept = None
            return {}
        self._snapshot = stored.fields
        self._kept = stored.data
        return stored.data

    def _limit_due(self, data: dict[str, Any]) -> tuple[str, int] | None:
        """The user id and limit to apply after this save, once, if a login asked."""
        limit, user_id = conf.MAX_SESSIONS_PER_USER, data.get(codec.AUTH_USER_ID_KEY)
        if not self.limit_after_save or limit is None or user_id is None:
            return None
        self.limit_after_save = False
        return str(user_id), limit

    def last_saved(self) -> int | None:
        """Unix time the session of a user was last saved, as it was loaded.

        None for an anonymous session, or one not loaded from Redis.
        """
        fields = self._snapshot
        if not fields or codec.USER_ID not in fields:
            return None
        saved = fields.get(codec.SAVED) or fields.get(codec.CREATED) or b"0"
        return int(saved)

    def exists(self, session_key: str | None) -> bool:
        return is_valid_session_key(session_key) and self.store.exists(session_key)

    async def aexists(self, session_key: str | None) -> bool:
        return is_valid_session_key(session_key) and await self.store.aexists(session_key)

    def create(self) -> None:
        # No EXISTS round trip for each key drawn: the create script refuses a
        # key that is taken, and another one is drawn.
        for _ in range(CREATE_ATTEMPTS):
            self._session_key = new_session_key()
            try:
                self.save(must_create=True)
            except CreateError:
                continue
            self.modified = True
            return
        raise RuntimeError(CREATE_FAILED)

    async def acreate(self) -> None:
        for _ in range(CREATE_ATTEMPTS):
            self._session_key = new_session_key()
            try:
                await self.asave(must_create=True)
            except CreateError:
                continue
            self.modified = True
            return
        raise RuntimeError(CREATE_FAILED)

    def save(self, must_create: bool = False) -> None:
        if self.degraded:
            return
        key = self.session_key
        if key is None:
            self.create()
            return
        data = self._data(no_load=must_create)
        ttl = self.get_expiry_age()
        with self._noting_outages():
            if must_create:
                self._snapshot = self.store.create(key, data, ttl)
            else:
                replace = data is not self._kept
                self._snapshot = self.store.save(
                    key, data, ttl, snapshot=self._snapshot, replace=replace
                )
            self._kept = data
            if limit := self._limit_due(data):
                self.store.limit_user_sessions(*limit)

    async def asave(self, must_create: bool = False) -> None:
        if self.degraded:
            return
        key = self.session_key
        if key is None:
            await self.acreate()
            return
        data = await self._adata(no_load=must_create)
        ttl = await self.aget_expiry_age()
        with self._noting_outages():
            if must_create:
                self._snapshot = await self.store.acreate(key, data, ttl)
            else:
                replace = data is not self._kept
                self._snapshot = await self.store.asave(
                    key, data, ttl, snapshot=self._snapshot, replace=replace
                )
            self._kept = data
            if limit := self._limit_due(data):
                await self.store.alimit_user_sessions(*limit)

    def delete(self, session_key: str | None = None) -> None:
        key = self._key_to_delete(session_key)
        if key is not None:
            with self._noting_outages():
                self.store.destroy(key, user_id=self._loaded_user_id(key), reason=LOGOUT)

    async def adelete(self, session_key: str | None = None) -> None:
        key = self._key_to_delete(session_key)
        if key is not None:
            with self._noting_outages():
                await self.store.adestroy(key, user_id=self._loaded_user_id(key), reason=LOGOUT)

    def _key_to_delete(self, session_key: str | None) -> str | None:
        key = self.session_key if session_key is None else session_key
        return key if is_valid_session_key(key) else None

    def _loaded_user_id(self, session_key: str) -> str | None:
        """The user id of this store's session as loaded, if ``session_key`` is it."""
        if session_key != self.session_key or not self._snapshot:
            return None
        user_id = self._snapshot.get(codec.USER_ID)
        return None if user_id is None else user_id.decode()

    def cycle_key(self) -> None:
        data = self._data()
        old_key = self.session_key
        if old_key is None:
            self.create()
            return
        old_user_id = self._loaded_user_id(old_key)
        created = self._kept_creation(old_user_id)
        new_key = self._session_key = new_session_key()
        try:
            self._snapshot = self.store.cycle(
                old_key,
                new_key,
                data,
                self.get_expiry_age(),
                old_user_id=old_user_id,
                created=created,
            )
        except CreateError:
            # The old session is gone all the same; keep the data under a new key.
            self.create()
        self._cycled(data)

    async def acycle_key(self) -> None:
        data = await self._adata()
        old_key = self.session_key
        if old_key is None:
            await self.acreate()
            return
        old_user_id = self._loaded_user_id(old_key)
        created = self._kept_creation(old_user_id)
        new_key = self._session_key = new_session_key()
        ttl = await self.aget_expiry_age()
        try:
            self._snapshot = await self.store.acycle(
                old_key, new_key, data, ttl, old_user_id=old_user_id, created=created
            )
        except CreateError:
            await self.acreate()
        self._cycled(data)

    def _kept_creation(self, old_user_id: str | None) -> int | None:
        """The creation time the new key keeps: the old session's, if it held a user.

        Django cycles the key of an anonymous session as it logs a user in:
        that starts a new session, whose absolute lifetime (``ABSOLUTE_TTL``)
        starts anew. A session that holds a user already (its password changed,
        and ``update_session_auth_hash()`` cycles it) keeps its creation time,
        so that no change of key lengthens it. None: the new session starts now.
        """
        if old_user_id is None or not self._snapshot:
            return None
        created = self._snapshot.get(codec.CREATED)
        return None if created is None else int(created)

    def _cycled(self, data: dict[str, Any]) -> None:
        # As SessionBase.cycle_key does: the data stays this store's session.
        self._session_cache = self._kept = data
        self.modified = True

    @classmethod
    def clear_expired(cls) -> int:  # type: ignore[override]
        """Prune the user indexes; Redis expires sessions and tombstones by itself.

        Returns how many index entries of expired sessions were removed.
        """
        return get_store().prune_indexes()

    @classmethod
    async def aclear_expired(cls) -> int:  # type: ignore[override]
        """The asyncio twin of :meth:`clear_expired`."""
        return await get_store().aprune_indexes()
