"""The async path under bad input and failures: the same answers as the sync path."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest
import redis
from django.contrib.sessions.backends.base import CreateError
from django.test import override_settings

from benchmarks.servers import RedisServer
from redis_sessions.exceptions import StoreUnavailable
from redis_sessions.session import SessionStore
from redis_sessions.store import get_store
from tests.support.keys import redis_key

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


@pytest.fixture
def stopped_server() -> Iterator[None]:
    with (
        RedisServer() as server,
        override_settings(REDIS_SESSIONS={"URL": server.url, "SOCKET_CONNECT_TIMEOUT": 0.3}),
    ):
        server.stop()
        yield


@pytest.mark.usefixtures("stopped_server")
@pytest.mark.parametrize(
    ("operation", "message"),
    [
        (lambda m: m.aload("abcdefgh12"), "could not load"),
        (lambda m: m.aexists("abcdefgh12"), "could not look"),
        (lambda m: m.acreate("abcdefgh12", {"a": 1}, 60), "could not create"),
        (lambda m: m.asave("abcdefgh12", {"a": 1}, 60), "could not save"),
        (lambda m: m.adestroy("abcdefgh12"), "could not destroy"),
        (lambda m: m.acycle("abcdefgh12", "abcdefgh13", {}, 60), "could not cycle"),
    ],
)
def test_every_async_operation_on_a_stopped_server_raises_store_unavailable(
    operation: Any, message: str
) -> None:
    async def attempt() -> None:
        await operation(get_store())

    with pytest.raises(StoreUnavailable, match=message):
        run(attempt())


def test_an_async_load_of_a_key_of_another_type_is_empty_and_logged(
    redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    redis_client.set(redis_key("foreign123"), "x")

    async def scenario() -> tuple[dict[str, Any], bool]:
        return await SessionStore("foreign123").aload(), await SessionStore().aexists("foreign123")

    with caplog.at_level(logging.WARNING, logger="django.security.SuspiciousSession"):
        loaded, exists = run(scenario())

    assert loaded == {}
    assert exists is False
    assert "did not write" in caplog.text


@pytest.mark.parametrize("key", [None, "short", "NOT-VALID-KEY"])
def test_an_async_exists_of_an_invalid_key_is_false(key: str | None) -> None:
    assert run(SessionStore().aexists(key)) is False


def test_async_operations_recover_from_a_flushed_script_cache(redis_client: redis.Redis) -> None:
    async def scenario() -> dict[str, Any]:
        session = SessionStore()
        await session.aset("a", 1)
        await session.acreate()
        redis_client.script_flush()
        await session.aset("a", 2)
        await session.asave()
        redis_client.script_flush()
        await session.acycle_key()
        return await SessionStore(session.session_key).aload()

    assert run(scenario()) == {"a": 2}


def test_an_async_cycle_onto_a_taken_key_raises_create_error() -> None:
    store = get_store()

    async def scenario() -> None:
        await store.acreate("oldkey0001", {"a": 1}, 60)
        await store.acreate("taken00001", {"b": 2}, 60)
        await store.acycle("oldkey0001", "taken00001", {"a": 1}, 60)

    with pytest.raises(CreateError):
        run(scenario())
    assert store.exists("oldkey0001") is False


def test_async_cycle_key_of_a_session_never_saved_creates_it() -> None:
    async def scenario() -> dict[str, Any]:
        session = SessionStore()
        await session.aset("a", 1)
        await session.acycle_key()
        return await SessionStore(session.session_key).aload()

    assert run(scenario()) == {"a": 1}


FRESH = "freshkey000000000000000000000000"


def draw_keys(monkeypatch: pytest.MonkeyPatch, *keys: str) -> None:
    """Make the engine draw these session keys, in this order."""
    drawn = iter(keys)
    monkeypatch.setattr("redis_sessions.session.new_session_key", lambda: next(drawn))


def taken_key() -> str:
    session = SessionStore()
    session.create()
    assert session.session_key is not None
    return session.session_key


def test_async_create_draws_another_key_when_one_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    draw_keys(monkeypatch, taken_key(), FRESH)

    async def scenario() -> str | None:
        session = SessionStore()
        await session.aset("a", 1)
        await session.acreate()
        return session.session_key

    assert run(scenario()) == FRESH


def test_async_create_gives_up_when_every_key_drawn_is_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = taken_key()
    monkeypatch.setattr("redis_sessions.session.new_session_key", lambda: key)

    with pytest.raises(RuntimeError, match="every key drawn was taken"):
        run(SessionStore().acreate())


def test_async_cycle_key_onto_a_taken_key_keeps_the_data_under_another(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session = SessionStore()
    session["a"] = 1
    session.create()
    old_key = session.session_key
    draw_keys(monkeypatch, taken_key(), FRESH)

    async def scenario() -> dict[str, Any]:
        request = SessionStore(old_key)
        await request.aget("a")
        await request.acycle_key()
        assert request.session_key == FRESH
        return await SessionStore(FRESH).aload()

    assert run(scenario()) == {"a": 1}
    assert SessionStore().exists(old_key) is False
