"""ABSOLUTE_TTL: a session ends a fixed time after its creation, however active.

The clock of a session is its created time (``#c``). Where a test needs a
session older than the test, it writes an earlier ``#c`` into the hash, as a
session created that long ago would have; elsewhere it waits, with a bound of
seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.sessions.backends.base import UpdateError
from django.test import Client, override_settings

from redis_sessions.session import SessionStore
from redis_sessions.store import Store, get_store

pytestmark = pytest.mark.django_db


def lifetime(seconds: int) -> override_settings:
    return override_settings(REDIS_SESSIONS={**settings.REDIS_SESSIONS, "ABSOLUTE_TTL": seconds})


@pytest.fixture
def store() -> Iterator[Store]:
    """The engine's store, with sessions that end 60 seconds after their creation."""
    with lifetime(60):
        yield get_store()


@pytest.fixture
def ada() -> User:
    user: User = User.objects.create_user("ada", password="pw")
    return user


def created(redis_client: redis.Redis, session_key: str) -> int:
    return int(redis_client.hget(get_store().redis_key(session_key), "#c") or 0)


def age(redis_client: redis.Redis, session_key: str, seconds: int) -> int:
    """Make the session look ``seconds`` old; return its new created time."""
    earlier = int(time.time()) - seconds
    redis_client.hset(get_store().redis_key(session_key), "#c", earlier)
    return earlier


def test_an_active_session_ends_at_its_bound_through_the_middleware(
    ada: User, redis_client: redis.Redis
) -> None:
    client = Client()
    with lifetime(3):
        client.post("/login/", {"username": "ada", "password": "pw"})
        key = client.cookies[settings.SESSION_COOKIE_NAME].value
        redis_key = get_store().redis_key(key)
        bound = created(redis_client, key) + 3
        counts = []
        while time.time() < bound - 0.3:
            counts.append(client.get("/counter/").json()["count"])
            # Each request saved the session, and none gave it a TTL past the bound.
            assert client.cookies[settings.SESSION_COOKIE_NAME].value == key
            assert 0 < redis_client.pttl(redis_key) <= (bound + 1 - time.time()) * 1000
            time.sleep(0.2)
        time.sleep(max(0.0, bound - time.time()))

        after = client.get("/whoami/").json()
        while redis_client.exists(redis_key) and time.time() < bound + 1.2:
            time.sleep(0.05)

    assert counts == list(range(1, len(counts) + 1))
    assert len(counts) >= 2
    assert after == {"user": None}
    assert redis_client.exists(redis_key) == 0  # Redis expired it by itself


def test_a_save_never_extends_the_ttl_past_the_bound(
    store: Store, redis_client: redis.Redis
) -> None:
    store.create("lifetime01", {"a": 1}, 3600)
    assert 58 <= redis_client.ttl(store.redis_key("lifetime01")) <= 60
    age(redis_client, "lifetime01", 50)

    store.save("lifetime01", {"a": 2}, 3600)

    assert 8 <= redis_client.ttl(store.redis_key("lifetime01")) <= 10


def test_a_touch_never_extends_the_ttl_past_the_bound(
    store: Store, redis_client: redis.Redis
) -> None:
    store.create("lifetime01", {"a": 1}, 100)
    age(redis_client, "lifetime01", 50)

    assert store.touch("lifetime01", 3600) is True

    assert 8 <= redis_client.ttl(store.redis_key("lifetime01")) <= 10


def test_an_idle_timeout_shorter_than_what_is_left_still_applies(
    store: Store, redis_client: redis.Redis
) -> None:
    store.create("lifetime01", {"a": 1}, 100)

    store.save("lifetime01", {"a": 2}, 5)

    assert 4 <= redis_client.ttl(store.redis_key("lifetime01")) <= 5


def test_a_session_past_its_bound_loads_empty(store: Store, redis_client: redis.Redis) -> None:
    store.create("lifetime01", {"a": 1}, 3600)
    age(redis_client, "lifetime01", 60)

    assert store.load("lifetime01") is None
    assert SessionStore("lifetime01").load() == {}


def test_a_save_past_the_bound_deletes_the_session_and_brings_nothing_back(
    store: Store, redis_client: redis.Redis
) -> None:
    store.create("lifetime01", {"a": 1}, 3600)
    age(redis_client, "lifetime01", 61)

    with pytest.raises(UpdateError, match=r"^The session expired or was never created\.$"):
        store.save("lifetime01", {"a": 2}, 3600)

    assert redis_client.exists(store.redis_key("lifetime01")) == 0


def test_a_touch_past_the_bound_deletes_the_session(
    store: Store, redis_client: redis.Redis
) -> None:
    store.create("lifetime01", {"a": 1}, 3600)
    age(redis_client, "lifetime01", 60)

    assert store.touch("lifetime01", 3600) is False

    assert redis_client.exists(store.redis_key("lifetime01")) == 0


def test_the_asyncio_twins_keep_the_bound(store: Store, redis_client: redis.Redis) -> None:
    async def scenario() -> tuple[bool, bool]:
        await store.acreate("lifetime01", {"a": 1}, 3600)
        await store.acreate("lifetime02", {"a": 1}, 3600)
        age(redis_client, "lifetime01", 50)
        age(redis_client, "lifetime02", 60)
        await store.asave("lifetime01", {"a": 2}, 3600)
        return await store.atouch("lifetime02", 3600), await store.aexists("lifetime02")

    assert asyncio.run(scenario()) == (False, False)
    assert 8 <= redis_client.ttl(store.redis_key("lifetime01")) <= 10


def test_a_session_made_before_the_setting_ends_once_it_is_past_the_bound(
    redis_client: redis.Redis,
) -> None:
    get_store().create("lifetime01", {"a": 1}, 3600)
    age(redis_client, "lifetime01", 120)

    with lifetime(60):
        assert get_store().load("lifetime01") is None
        assert get_store().touch("lifetime01", 3600) is False


def test_login_starts_a_new_session_whose_bound_starts_anew(
    ada: User, redis_client: redis.Redis
) -> None:
    client = Client()
    with lifetime(60):
        client.get("/set/cart/book/")
        anonymous_key = client.cookies[settings.SESSION_COOKIE_NAME].value
        age(redis_client, anonymous_key, 50)

        client.post("/login/", {"username": "ada", "password": "pw"})
        key = client.cookies[settings.SESSION_COOKIE_NAME].value

        assert key != anonymous_key
        assert created(redis_client, key) >= int(time.time()) - 1
        assert redis_client.ttl(get_store().redis_key(key)) > 50
        assert client.get("/whoami/").json() == {"user": "ada"}


def test_a_password_change_cycles_the_key_but_keeps_the_bound(
    ada: User, redis_client: redis.Redis
) -> None:
    client = Client()
    with lifetime(60):
        client.post("/login/", {"username": "ada", "password": "pw"})
        logged_in_key = client.cookies[settings.SESSION_COOKIE_NAME].value
        began = age(redis_client, logged_in_key, 50)

        client.post("/password/", {"new_password": "new"})
        key = client.cookies[settings.SESSION_COOKIE_NAME].value

        assert key != logged_in_key
        assert created(redis_client, key) == began
        assert redis_client.ttl(get_store().redis_key(key)) <= 10
        assert client.get("/whoami/").json() == {"user": "ada"}
