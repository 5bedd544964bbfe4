"""The native asyncio path: redis.asyncio all the way down, no thread hop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest
import redis.asyncio
from asgiref.sync import SyncToAsync, async_to_sync
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.sessions.backends.base import UpdateError
from django.test import SimpleTestCase, TestCase, override_settings

from redis_sessions.session import SessionStore
from redis_sessions.store import get_store
from tests.support.django_suite import SessionTestsMixin
from tests.testapp import strict_async

T = TypeVar("T")

RACES = 200


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on a new event loop, closed afterwards (as Django's tests do)."""
    return asyncio.run(coroutine)


def refuse_thread_hop(hop: SyncToAsync[Any, Any], *args: Any, **kwargs: Any) -> Any:
    raise AssertionError(f"sync_to_async({hop.func!r}) was entered")


@pytest.fixture
def no_thread_hop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail on any sync_to_async and on any sync session I/O while the test runs."""
    monkeypatch.setattr(SyncToAsync, "__call__", refuse_thread_hop)
    monkeypatch.setattr(strict_async.SessionStore, "forbid_sync", True)


# Django's async session tests, with the sync path forbidden


def _sync_tests_left_out(cls: type) -> type:
    # Only the async tests of Django's mixin run here (the sync ones have their
    # own module); a test attribute that is not callable is not collected.
    for name in dir(SessionTestsMixin):
        if name.startswith("test_") and not asyncio.iscoroutinefunction(getattr(cls, name)):
            setattr(cls, name, None)
    return cls


@_sync_tests_left_out
class DjangosAsyncTestsWithoutThreadHop(SessionTestsMixin, SimpleTestCase):  # type: ignore[misc]
    backend = strict_async.SessionStore

    def setUp(self) -> None:
        super().setUp()
        strict_async.SessionStore.forbid_sync = True
        self.addCleanup(setattr, strict_async.SessionStore, "forbid_sync", False)
        self.addCleanup(setattr, SyncToAsync, "__call__", SyncToAsync.__call__)
        SyncToAsync.__call__ = refuse_thread_hop  # type: ignore[assignment,method-assign]


# The operations, one by one


@pytest.mark.usefixtures("no_thread_hop")
def test_every_async_operation_runs_on_the_event_loop_thread() -> None:
    loop_thread = threading.get_ident()

    async def scenario() -> None:
        session = strict_async.SessionStore()
        await session.aset("a", 1)
        await session.asave()
        key = session.session_key
        assert await session.aexists(key) is True
        other = strict_async.SessionStore(key)
        assert await other.aget("a") == 1
        await other.aset("b", 2)
        await other.asave()
        await other.acycle_key()
        assert await session.aexists(key) is False
        await other.aset_expiry(60)
        await other.asave()
        assert (
            await strict_async.SessionStore(other.session_key).aitems()
            == {
                "a": 1,
                "b": 2,
                "_session_expiry": 60,
            }.items()
        )
        await other.aflush()
        await strict_async.SessionStore.aclear_expired()
        assert threading.get_ident() == loop_thread

    run(scenario())


def test_async_and_sync_paths_read_each_others_sessions() -> None:
    sync_session = SessionStore()
    sync_session["from"] = "sync"
    sync_session.create()

    async def scenario() -> str | None:
        session = SessionStore(sync_session.session_key)
        await session.aset("also", "async")
        await session.asave()
        return session.session_key

    key = run(scenario())

    assert SessionStore(key).load() == {"from": "sync", "also": "async"}


def test_the_manager_has_an_async_twin_of_every_operation() -> None:
    store = get_store()

    async def scenario() -> None:
        await store.acreate("twin000001", {"a": 1}, 60)
        stored = await store.aload("twin000001")
        assert stored is not None
        assert stored.data == {"a": 1}
        await store.asave("twin000001", {"a": 2}, 60, snapshot=stored.fields)
        await store.acycle("twin000001", "twin000002", {"a": 2}, 60)
        assert await store.aexists("twin000001") is False
        assert await store.adestroy("twin000002") is True
        with pytest.raises(UpdateError):
            await store.asave("twin000002", {"a": 3}, 60)

    run(scenario())


# Event loops


def test_each_event_loop_gets_its_own_client_and_it_closes_with_the_loop() -> None:
    store = get_store()

    async def client_of_this_loop() -> int:
        client = store.aclient
        assert store.aclient is client  # one client per loop
        assert await client.ping()
        assert isinstance(client, redis.asyncio.Redis)
        return id(client)

    first = run(client_of_this_loop())
    second = run(client_of_this_loop())

    assert first != second


def test_a_closed_loop_leaves_no_open_connection(recwarn: pytest.WarningsRecorder) -> None:
    # ResourceWarning is an error in this suite; collect to be sure nothing is
    # left for the garbage collector to complain about.
    for _ in range(5):
        run(SessionStore().acreate())
    gc.collect()

    assert [str(w.message) for w in recwarn if w.category is ResourceWarning] == []


def test_async_to_sync_callers_work_too() -> None:
    session = SessionStore()
    async_to_sync(session.aset)("a", 1)
    async_to_sync(session.asave)()

    assert async_to_sync(SessionStore(session.session_key).aload)() == {"a": 1}


# The two races, with asyncio tasks


def test_a_logout_between_load_and_save_is_never_undone_with_tasks() -> None:
    async def race() -> bool:
        session = SessionStore()
        await session.aset("_auth_user_id", "1")
        await session.acreate()
        key = session.session_key
        loaded = asyncio.Event()
        logged_out = asyncio.Event()

        async def request_a() -> BaseException | None:
            request = SessionStore(key)
            await request.aget("_auth_user_id")
            loaded.set()
            await logged_out.wait()
            await request.aset("cart", [1])
            try:
                await request.asave()
            except UpdateError as exc:
                return exc
            return None

        async def request_b() -> None:
            await loaded.wait()
            await SessionStore(key).aflush()
            logged_out.set()

        outcome, _ = await asyncio.gather(request_a(), request_b())
        assert isinstance(outcome, UpdateError)
        return await SessionStore().aexists(key)

    async def races() -> int:
        return sum([await race() for _ in range(RACES)])

    assert run(races()) == 0


def test_logouts_racing_saves_in_unordered_tasks_are_never_undone() -> None:
    async def race() -> bool:
        session = SessionStore()
        await session.aset("_auth_user_id", "1")
        await session.acreate()
        key = session.session_key

        async def late_save() -> None:
            request = SessionStore(key)
            await request.aset("cart", [1])
            with contextlib.suppress(UpdateError):
                await request.asave()

        await asyncio.gather(late_save(), SessionStore(key).aflush())
        return await SessionStore().aexists(key)

    async def races() -> int:
        return sum(await asyncio.gather(*(race() for _ in range(RACES))))

    assert run(races()) == 0


def test_concurrent_async_saves_of_different_keys_both_survive() -> None:
    async def race(attempt: int) -> int:
        session = SessionStore()
        await session.aset("seed", attempt)
        await session.acreate()
        key = session.session_key
        both_loaded = asyncio.Barrier(2) if hasattr(asyncio, "Barrier") else None

        async def change(name: str) -> None:
            request = SessionStore(key)
            await request.aget("seed")
            if both_loaded is not None:
                await both_loaded.wait()
            await request.aset(name, attempt)
            await request.asave()

        await asyncio.gather(change("cart"), change("flash"))
        data = await SessionStore(key).aload()
        return (data.get("cart") != attempt) + (data.get("flash") != attempt)

    async def races() -> int:
        return sum(await asyncio.gather(*(race(attempt) for attempt in range(RACES))))

    assert run(races()) == 0


# alogin / alogout through Django's AsyncClient


@override_settings(
    SESSION_ENGINE="tests.testapp.strict_async",
    MIDDLEWARE=[
        "redis_sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ],
)
class AsyncViewsEndToEnd(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        User.objects.create_user("ada", password="pw")

    def setUp(self) -> None:
        strict_async.SessionStore.forbid_sync = True
        self.addCleanup(setattr, strict_async.SessionStore, "forbid_sync", False)

    async def test_alogin_and_alogout_in_async_views(self) -> None:
        assert (await self.async_client.get("/async/counter/")).json() == {"count": 1}
        anonymous_key = self.async_client.cookies[settings.SESSION_COOKIE_NAME].value

        response = await self.async_client.post(
            "/async/login/", {"username": "ada", "password": "pw"}
        )
        assert response.status_code == 200
        key = self.async_client.cookies[settings.SESSION_COOKIE_NAME].value
        assert key != anonymous_key
        assert (await self.async_client.get("/async/whoami/")).json() == {"user": "ada"}
        assert (await self.async_client.get("/async/counter/")).json() == {"count": 2}

        await self.async_client.post("/async/logout/")

        assert (await self.async_client.get("/async/whoami/")).json() == {"user": None}
        assert await SessionStore().aexists(key) is False
        assert await SessionStore().aexists(anonymous_key) is False

    async def test_a_stale_async_save_after_alogout_is_refused(self) -> None:
        await self.async_client.post("/async/login/", {"username": "ada", "password": "pw"})
        key = self.async_client.cookies[settings.SESSION_COOKIE_NAME].value
        stale = SessionStore(key)
        assert await stale.aget("_auth_user_id") is not None
        await SessionStore(key).aflush()

        await stale.aset("cart", [1])
        with pytest.raises(UpdateError):
            await stale.asave()
