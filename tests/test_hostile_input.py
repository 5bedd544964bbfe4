"""What happens to bad input: hostile cookies, corrupt stored values, values that
cannot be serialized, and a Redis that is down, paused or full.

The rule throughout: a clear error or a safe default, and nothing is lost.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.conf import settings
from django.test import Client, override_settings

from benchmarks.servers import RedisServer, free_port
from redis_sessions.exceptions import StoreUnavailable
from redis_sessions.session import SessionStore
from tests.support.keys import redis_key

# Hostile cookies

HOSTILE_KEYS = [
    "",
    "short",
    "abcdefg",
    "A" * 32,
    "x" * 65,
    "../../../etc/passwd",
    "abcdefgh*",
    "sessions:*",
    "abcd{efgh}1234",
    "abcdefgh\r\nFLUSHALL",
    "abcdefgh 12345",
    "ключключключ",
    "\x00abcdefghij",
    "abcdefghij\x00",
]


@pytest.mark.parametrize("cookie", HOSTILE_KEYS)
def test_a_hostile_session_key_is_never_sent_to_redis(cookie: str, command_log: Any) -> None:
    with command_log() as log:
        session = SessionStore(cookie)
        assert session.session_key is None
        assert session.load() == {}
        assert session.exists(cookie) is False
        session.delete(cookie)

    assert log.names == []


@pytest.mark.parametrize("cookie", [None, 12345678, b"abcdefgh12", ["abcdefgh12"]])
def test_a_session_key_that_is_not_a_string_is_refused(cookie: Any, command_log: Any) -> None:
    with command_log() as log:
        session = SessionStore(cookie)
        assert session.session_key is None
        assert session.exists(cookie) is False

    assert log.names == []


@pytest.mark.parametrize("cookie", [key for key in HOSTILE_KEYS[1:] if key.isascii()])
def test_a_request_with_a_hostile_cookie_gets_a_fresh_session(
    cookie: str, redis_client: redis.Redis
) -> None:
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = cookie

    response = client.get("/counter/")

    assert response.status_code == 200
    assert response.json() == {"count": 1}
    new_key = response.cookies[settings.SESSION_COOKIE_NAME].value
    assert new_key != cookie
    assert redis_client.keys("*") == [redis_key(new_key).encode()]


# Corrupt stored values

KEY = "victim0123"
REDIS_KEY = redis_key(KEY)


def plant_string(client: redis.Redis) -> None:
    client.set(REDIS_KEY, "an old-format session string")


def plant_list(client: redis.Redis) -> None:
    client.rpush(REDIS_KEY, "a", "b")


def plant_hash_without_created_time(client: redis.Redis) -> None:
    client.hset(REDIS_KEY, mapping={"field": "value"})


def plant_undecodable_tagged_value(client: redis.Redis) -> None:
    client.hset(REDIS_KEY, mapping={"#c": "1", "#m": "1", "cart": b"\x00{not json"})


def plant_invalid_utf8(client: redis.Redis) -> None:
    client.hset(REDIS_KEY, mapping={"#c": "1", "#m": "1", "name": b"\xff\xfe"})


def plant_invalid_utf8_field_name(client: redis.Redis) -> None:
    client.hset(REDIS_KEY, mapping={"#c": "1", "#m": "1", b"\xff": "x"})


def plant_non_numeric_created_time(client: redis.Redis) -> None:
    client.hset(REDIS_KEY, mapping={"#c": "yesterday", "#m": "1", "a": "b"})


CORRUPTIONS = [
    plant_string,
    plant_list,
    plant_hash_without_created_time,
    plant_undecodable_tagged_value,
    plant_invalid_utf8,
    plant_invalid_utf8_field_name,
    plant_non_numeric_created_time,
]


@pytest.mark.parametrize("plant", CORRUPTIONS)
def test_a_corrupt_stored_session_loads_empty_with_a_security_warning(
    plant: Any, redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    plant(redis_client)
    session = SessionStore(KEY)

    with caplog.at_level(logging.WARNING, logger="django.security.SuspiciousSession"):
        assert session.load() == {}

    assert session.session_key is None
    assert [record.name for record in caplog.records] == ["django.security.SuspiciousSession"]
    assert KEY not in caplog.text


@pytest.mark.parametrize("plant", CORRUPTIONS)
def test_a_corrupt_stored_session_is_left_alone_and_a_save_creates_a_new_one(
    plant: Any, redis_client: redis.Redis
) -> None:
    plant(redis_client)
    before = redis_client.dump(REDIS_KEY)
    session = SessionStore(KEY)

    session["a"] = 1
    session.save()

    assert session.session_key not in (None, KEY)
    assert redis_client.dump(REDIS_KEY) == before
    assert SessionStore(session.session_key).load() == {"a": 1}


def test_a_request_presenting_a_corrupt_session_gets_a_fresh_one(
    redis_client: redis.Redis,
) -> None:
    plant_undecodable_tagged_value(redis_client)
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = KEY

    response = client.get("/counter/")

    assert response.json() == {"count": 1}
    assert response.cookies[settings.SESSION_COOKIE_NAME].value != KEY


# Values that cannot be stored


def test_a_value_json_cannot_encode_raises_type_error_naming_the_key(
    redis_client: redis.Redis,
) -> None:
    session = SessionStore()
    session["when"] = datetime.datetime(2026, 1, 1)

    with pytest.raises(TypeError, match=r"'when'.*nothing was saved"):
        session.save()

    assert redis_client.keys("*") == []


def test_a_value_that_contains_itself_raises_type_error_naming_the_key(
    redis_client: redis.Redis,
) -> None:
    loop: list[object] = []
    loop.append(loop)
    session = SessionStore()
    session["loop"] = loop

    with pytest.raises(TypeError, match=r"'loop'.*nothing was saved"):
        session.save()

    assert redis_client.keys("*") == []


def test_an_unencodable_value_in_an_update_writes_nothing(redis_client: redis.Redis) -> None:
    session = SessionStore()
    session["a"] = 1
    session.create()
    before = redis_client.hgetall(redis_key(session.session_key))

    session["a"] = 2
    session["when"] = {1, 2}
    with pytest.raises(TypeError, match="'when'"):
        session.save()

    assert redis_client.hgetall(redis_key(session.session_key)) == before


def test_a_session_key_that_is_not_a_string_raises_type_error(redis_client: redis.Redis) -> None:
    session = SessionStore()
    session[1] = "one"  # type: ignore[index]

    with pytest.raises(TypeError, match="Session keys must be strings"):
        session.save()

    assert redis_client.keys("*") == []


# Redis down, paused or full


@pytest.fixture
def own_server() -> Iterator[RedisServer]:
    with (
        RedisServer() as server,
        override_settings(
            REDIS_SESSIONS={"URL": server.url, "SOCKET_TIMEOUT": 0.3, "SOCKET_CONNECT_TIMEOUT": 0.3}
        ),
    ):
        yield server


def test_an_unreachable_server_raises_store_unavailable_and_never_an_empty_session() -> None:
    port = free_port()
    with override_settings(REDIS_SESSIONS={"URL": f"redis://127.0.0.1:{port}/0"}):
        session = SessionStore("abcdefgh1234")
        with pytest.raises(StoreUnavailable, match=f"127.0.0.1:{port}/0 could not load"):
            session.load()

    assert session.session_key == "abcdefgh1234"


def test_a_request_while_redis_is_down_fails_and_keeps_the_cookie(own_server: RedisServer) -> None:
    client = Client(raise_request_exception=False)
    first = client.get("/counter/")
    key = first.cookies[settings.SESSION_COOKIE_NAME].value
    own_server.stop()

    response = client.get("/counter/")

    assert response.status_code == 500
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert client.cookies[settings.SESSION_COOKIE_NAME].value == key


def test_a_save_to_a_stopped_server_raises_store_unavailable(own_server: RedisServer) -> None:
    session = SessionStore()
    session["a"] = 1
    session.create()
    own_server.stop()

    session["a"] = 2
    with pytest.raises(StoreUnavailable, match="could not save"):
        session.save()
    with pytest.raises(StoreUnavailable, match="could not destroy"):
        session.delete()
    with pytest.raises(StoreUnavailable, match="could not look"):
        session.exists(session.session_key)
    with pytest.raises(StoreUnavailable, match="could not create"):
        SessionStore().create()


def test_a_paused_server_times_out_and_the_session_survives_it(own_server: RedisServer) -> None:
    session = SessionStore()
    session["a"] = 1
    session.create()
    key = session.session_key

    own_server.pause()
    try:
        with pytest.raises(StoreUnavailable, match="Timeout"):
            SessionStore(key).load()
    finally:
        own_server.resume()

    assert SessionStore(key).load() == {"a": 1}


def test_the_engine_reconnects_after_a_restart(own_server: RedisServer) -> None:
    SessionStore().create()
    own_server.stop()
    own_server.start()

    session = SessionStore()
    session["a"] = 1
    session.create()  # the old connection is dead; a new one is made

    assert SessionStore(session.session_key).load() == {"a": 1}


def test_a_full_server_refuses_a_save_and_the_session_is_unchanged(
    own_server: RedisServer,
) -> None:
    session = SessionStore()
    session.update({"a": 1, "b": 2})
    session.create()
    admin = own_server.client()
    admin.config_set("maxmemory", max(1, int(admin.info("memory")["used_memory"]) // 2))

    try:
        request = SessionStore(session.session_key)
        request["a"] = 10
        del request["b"]
        request.clear()
        request["c"] = "x" * 1000
        with pytest.raises(StoreUnavailable, match=r"OutOfMemoryError.*refused"):
            request.save()
    finally:
        admin.config_set("maxmemory", 0)
        admin.close()

    assert SessionStore(session.session_key).load() == {"a": 1, "b": 2}
