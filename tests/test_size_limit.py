"""MAX_SESSION_BYTES: a save that would make a session too large writes nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.conf import settings
from django.test import Client, override_settings

from redis_sessions.exceptions import RedisSessionsError, SessionTooLarge
from redis_sessions.session import SessionStore
from redis_sessions.store import Store, get_store

#: 103 + 53 + 6 + 4 = 166 bytes of names and values.
DATA = {"big": "x" * 100, "mid": "y" * 50, "small": "z", "tiny": ""}
MESSAGE = (
    "The session would take 166 bytes, more than MAX_SESSION_BYTES (120); its largest "
    "keys: 'big' (103 bytes), 'mid' (53 bytes), 'small' (6 bytes). Nothing was saved."
)


def limit(size: int | None) -> override_settings:
    return override_settings(REDIS_SESSIONS={**settings.REDIS_SESSIONS, "MAX_SESSION_BYTES": size})


@pytest.fixture
def store() -> Iterator[Store]:
    with limit(120):
        yield get_store()


def test_a_create_above_the_limit_raises_and_writes_nothing(
    store: Store, redis_client: redis.Redis
) -> None:
    with pytest.raises(SessionTooLarge) as raised:
        store.create("toolarge01", DATA, 60)

    assert str(raised.value) == MESSAGE
    assert redis_client.keys("*") == []


def test_a_save_above_the_limit_raises_and_leaves_the_session_as_it_was(
    store: Store, redis_client: redis.Redis
) -> None:
    snapshot = store.create("toolarge01", {"big": "x" * 100}, 60)
    before = redis_client.hgetall(store.redis_key("toolarge01"))

    with pytest.raises(SessionTooLarge) as raised:
        store.save("toolarge01", DATA, 60, snapshot=snapshot)

    assert str(raised.value) == MESSAGE
    assert redis_client.hgetall(store.redis_key("toolarge01")) == before


def test_the_size_counts_what_the_save_leaves_not_what_it_sends(store: Store) -> None:
    snapshot = store.create("toolarge01", {"big": "x" * 100}, 60)

    with pytest.raises(SessionTooLarge):
        # Only "more" is sent, but the hash would hold "big" too.
        store.save("toolarge01", {"big": "x" * 100, "more": "m" * 20}, 60, snapshot=snapshot)
    store.save("toolarge01", {"big": "x" * 100, "more": "m" * 10}, 60, snapshot=snapshot)


def test_the_message_names_keys_as_the_session_has_them(store: Store) -> None:
    data = {"_auth_user_id": "7", "_auth_user_hash": "h" * 64, "#tag": "t" * 60}

    with pytest.raises(SessionTooLarge) as raised:
        store.create("toolarge01", data, 60)

    assert str(raised.value) == (
        "The session would take 134 bytes, more than MAX_SESSION_BYTES (120); its largest "
        "keys: '_auth_user_hash' (66 bytes), '#tag' (65 bytes), '_auth_user_id' (3 bytes). "
        "Nothing was saved."
    )


def test_a_cycle_above_the_limit_keeps_the_old_session(store: Store) -> None:
    store.create("toolarge01", {"a": 1}, 60)

    with pytest.raises(SessionTooLarge):
        store.cycle("toolarge01", "toolarge02", DATA, 60)

    assert store.exists("toolarge01") is True
    assert store.exists("toolarge02") is False


def test_the_asyncio_twins_raise_it_too(store: Store, redis_client: redis.Redis) -> None:
    async def scenario() -> list[str]:
        messages = []
        snapshot = await store.acreate("toolarge01", {"a": "b"}, 60)
        for attempt in (
            store.acreate("toolarge02", DATA, 60),
            store.asave("toolarge01", DATA, 60, snapshot=snapshot),
            store.aset("toolarge01", DATA, 60),
        ):
            with pytest.raises(SessionTooLarge) as raised:
                await attempt
            messages.append(str(raised.value))
        return messages

    assert asyncio.run(scenario()) == [MESSAGE] * 3
    assert redis_client.keys("*") == [store.redis_key("toolarge01").encode()]


def test_it_is_a_value_error_of_the_package_not_an_update_error() -> None:
    from django.contrib.sessions.backends.base import UpdateError

    assert issubclass(SessionTooLarge, RedisSessionsError)
    assert issubclass(SessionTooLarge, ValueError)
    assert not issubclass(SessionTooLarge, UpdateError)


@pytest.mark.django_db
def test_through_the_middleware_the_request_fails_and_the_session_is_kept(
    redis_client: redis.Redis,
) -> None:
    client = Client(raise_request_exception=True)
    client.get("/set/cart/book/")
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    before = redis_client.hgetall(get_store().redis_key(key))

    with pytest.raises(SessionTooLarge) as raised:
        # The default limit, 65536 bytes.
        client.get(f"/set/notes/{'n' * 70000}/")

    assert str(raised.value) == (
        "The session would take 70013 bytes, more than MAX_SESSION_BYTES (65536); its "
        "largest keys: 'notes' (70005 bytes), 'cart' (8 bytes). Nothing was saved."
    )
    assert redis_client.hgetall(get_store().redis_key(key)) == before
    unraised = Client(raise_request_exception=False)
    unraised.cookies[settings.SESSION_COOKIE_NAME] = key
    assert unraised.get(f"/set/notes/{'n' * 70000}/").status_code == 500


def test_a_new_session_above_the_limit_is_not_created(redis_client: redis.Redis) -> None:
    session = SessionStore()
    session["notes"] = "n" * 70000

    with pytest.raises(SessionTooLarge):
        session.save()

    assert redis_client.keys("*") == []


@pytest.mark.parametrize("data", [{"notes": "n" * 200_000}, {f"k{i}": i for i in range(10_000)}])
def test_none_turns_the_limit_off(data: dict[str, Any]) -> None:
    with limit(None):
        get_store().create("unlimited1", data, 60)
        loaded = get_store().load("unlimited1")

    assert loaded is not None
    assert loaded.data == data
