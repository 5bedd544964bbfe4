"""How a session is laid out in Redis: one hash per session, one field per key."""

from __future__ import annotations

import re
import time
from typing import cast

import pytest
import redis
from django.core.signing import JSONSerializer
from django.test import override_settings

from redis_sessions.session import SessionStore
from redis_sessions.store import get_store
from redis_sessions.store.keys import new_session_key
from tests.support.keys import redis_key

AUTH_HASH = "a" * 64


def saved_session(**data: object) -> SessionStore:
    session = SessionStore()
    session.update(data)
    session.create()
    return session


def test_a_session_is_one_hash_under_the_prefix_with_the_key_in_a_hash_tag(
    redis_client: redis.Redis,
) -> None:
    session = saved_session(colour="blue")

    assert redis_client.keys("*") == [redis_key(session.session_key).encode()]
    assert redis_client.type(redis_key(session.session_key)) == b"hash"


def test_the_prefix_comes_from_the_settings(redis_url: str, redis_client: redis.Redis) -> None:
    with override_settings(REDIS_SESSIONS={"URL": redis_url, "PREFIX": "myapp:s:"}):
        session = saved_session(colour="blue")

    assert redis_client.exists(redis_key(session.session_key, prefix="myapp:s:")) == 1


def test_strings_are_stored_bare_and_other_values_behind_a_nul_byte(
    redis_client: redis.Redis,
) -> None:
    session = saved_session(name="Zoë", count=3, items=[1, "two"], nothing=None)

    stored = redis_client.hgetall(redis_key(session.session_key))

    assert stored[b"name"] == "Zoë".encode()
    assert stored[b"count"] == b"\x003"
    assert stored[b"items"] == b'\x00[1,"two"]'
    assert stored[b"nothing"] == b"\x00null"


JSON_VALUES = [
    0,
    -7,
    2**70,
    1.5,
    1e300,
    float("inf"),
    float("nan"),
    True,
    None,
    "",
    "Zoë ☃ \u2028",
    [1, [2, {"k": "v"}], []],
    {"nested": {"a": [1.25, None, False]}, "ünïcode": "\u2028"},
]


@pytest.mark.parametrize("value", JSON_VALUES, ids=repr)
def test_values_are_stored_as_djangos_json_serializer_writes_them(
    redis_client: redis.Redis, value: object
) -> None:
    session = saved_session(value=value)

    stored = redis_client.hget(redis_key(session.session_key), "value")

    if isinstance(value, str):
        assert stored == value.encode()
    else:
        assert stored == b"\x00" + JSONSerializer().dumps(value)


def test_a_string_that_is_not_valid_text_is_stored_as_json_and_round_trips(
    redis_client: redis.Redis,
) -> None:
    # A lone surrogate has no UTF-8 form; JSON escapes it.
    session = saved_session(value="a\ud800b", _auth_user_id="7\udfff")

    stored = redis_client.hgetall(redis_key(session.session_key))

    assert stored[b"value"] == b'\x00"a\\ud800b"'
    assert stored[b"_auth_user_id"] == b'\x00"7\\udfff"'
    assert stored[b"#u"] == b"7\\udfff"
    loaded = SessionStore(session.session_key).load()
    assert loaded == {"value": "a\ud800b", "_auth_user_id": "7\udfff"}


def test_a_session_key_that_is_not_valid_text_raises_type_error(
    redis_client: redis.Redis,
) -> None:
    session = SessionStore()
    session["bad\ud800"] = 1

    with pytest.raises(TypeError, match=r"not valid text.*nothing was saved"):
        session.save()

    assert redis_client.keys("*") == []


def test_metadata_fields_hold_the_created_time_and_the_user_id(
    redis_client: redis.Redis,
) -> None:
    before = int(time.time())
    session = saved_session(_auth_user_id="42")

    stored = redis_client.hgetall(redis_key(session.session_key))

    assert before <= int(stored[b"#c"]) <= before + 1
    assert stored[b"#u"] == b"42"
    # Not saved since it was created: no last-saved time, which reads as the
    # created time.
    assert b"#m" not in stored
    loaded = get_store().load(cast(str, session.session_key))
    assert loaded is not None
    assert loaded.saved == loaded.created


def test_each_save_records_its_time_as_the_last_saved_time(redis_client: redis.Redis) -> None:
    session = saved_session(a=1)
    at = redis_key(session.session_key)
    redis_client.hset(at, "#c", "1000")

    before = int(time.time())
    SessionStore(session.session_key).save()  # no change: the saved time all the same

    saved = int(redis_client.hget(at, "#m") or 0)
    assert before <= saved <= before + 1
    loaded = get_store().load(cast(str, session.session_key))
    assert loaded is not None
    assert (loaded.created, loaded.saved) == (1000, saved)


def test_an_anonymous_session_has_no_user_id_field(redis_client: redis.Redis) -> None:
    session = saved_session(cart=[1])

    assert not redis_client.hexists(redis_key(session.session_key), "#u")


def test_the_user_id_field_follows_login_and_logout_within_one_session(
    redis_client: redis.Redis,
) -> None:
    session = saved_session(cart=[1])
    key = redis_key(session.session_key)

    session["_auth_user_id"] = "7"
    session.save()
    assert redis_client.hget(key, "#u") == b"7"

    del session["_auth_user_id"]
    session.save()
    assert not redis_client.hexists(key, "#u")


def test_session_keys_that_look_like_metadata_are_escaped_and_round_trip(
    redis_client: redis.Redis,
) -> None:
    session = saved_session(**{"#c": "mine", "#": "hash", "##x": 1})

    stored = redis_client.hgetall(redis_key(session.session_key))
    loaded = SessionStore(session.session_key).load()

    assert stored[b"##c"] == b"mine"
    assert stored[b"##"] == b"hash"
    assert stored[b"###x"] == b"\x001"
    assert loaded == {"#c": "mine", "#": "hash", "##x": 1}


def test_a_string_starting_with_nul_round_trips(redis_client: redis.Redis) -> None:
    session = saved_session(odd="\x00[1]")

    assert SessionStore(session.session_key).load() == {"odd": "\x00[1]"}


def test_a_typical_logged_in_session_stays_in_the_compact_hash_encoding(
    redis_client: redis.Redis,
) -> None:
    # Redis keeps a hash compact (listpack) only while every value is at most 64
    # bytes; _auth_user_hash is 64 characters. JSON quotes would make it 66.
    session = saved_session(
        _auth_user_id="42",
        _auth_user_backend="django.contrib.auth.backends.ModelBackend",
        _auth_user_hash=AUTH_HASH,
        recent=[1, 2, 3],
    )

    encoding = redis_client.object("encoding", redis_key(session.session_key))

    assert encoding in (b"listpack", b"ziplist")


def test_the_ttl_is_the_session_expiry_age(redis_client: redis.Redis) -> None:
    session = SessionStore()
    session.set_expiry(600)
    session["a"] = 1
    session.create()

    assert 598 <= redis_client.ttl(redis_key(session.session_key)) <= 600


def test_a_save_refreshes_the_ttl(redis_client: redis.Redis) -> None:
    session = saved_session(a=1)
    key = redis_key(session.session_key)
    redis_client.expire(key, 5)

    session.save()

    assert redis_client.ttl(key) > 1000


def test_a_save_with_an_expiry_in_the_past_deletes_the_session(redis_client: redis.Redis) -> None:
    session = saved_session(a=1)

    session.set_expiry(-10)
    session.save()

    assert redis_client.keys("*") == []


def test_a_new_session_with_an_expiry_in_the_past_writes_nothing(
    redis_client: redis.Redis,
) -> None:
    session = SessionStore()
    session["a"] = 1
    session.set_expiry(-10)
    session.save()

    assert session.session_key is not None
    assert redis_client.keys("*") == []


def test_an_empty_session_is_still_created(redis_client: redis.Redis) -> None:
    session = SessionStore()
    session.create()

    assert SessionStore().exists(session.session_key) is True
    assert set(redis_client.hgetall(redis_key(session.session_key))) == {b"#c"}


@pytest.mark.parametrize("count", [1, 600, 2500])
def test_sessions_with_many_keys_are_saved_whole(count: int) -> None:
    session = saved_session(**{f"k{i}": i for i in range(count)})
    session.update({f"k{i}": -i for i in range(count)})
    session.save()

    assert SessionStore(session.session_key).load() == {f"k{i}": -i for i in range(count)}


def test_with_another_serializer_every_value_goes_through_it(redis_client: redis.Redis) -> None:
    with override_settings(SESSION_SERIALIZER="tests.support.serializers.TaggingSerializer"):
        session = saved_session(name="plain", count=2)
        stored = redis_client.hgetall(redis_key(session.session_key))
        loaded = SessionStore(session.session_key).load()

    assert stored[b"name"] == b'\x00tagged:"plain"'
    assert stored[b"count"] == b"\x00tagged:2"
    assert loaded == {"name": "plain", "count": 2}


def test_new_session_keys_are_32_random_characters_of_the_cookie_alphabet() -> None:
    keys = set()
    for _ in range(1000):
        session = SessionStore()
        session.create()
        keys.add(session.session_key)

    assert len(keys) == 1000
    assert all(re.fullmatch(r"[a-z2-7]{32}", str(key)) for key in keys)


def test_every_character_of_new_keys_is_about_equally_likely() -> None:
    counts: dict[str, int] = {}
    for _ in range(2000):
        for character in new_session_key():
            counts[character] = counts.get(character, 0) + 1

    # 64,000 draws over 32 characters: 2,000 each expected; a biased mapping of
    # bytes to characters would be off by far more than this margin.
    assert len(counts) == 32
    assert all(1700 < count < 2300 for count in counts.values())


def test_djangos_auth_keys_are_stored_under_short_names(redis_client: redis.Redis) -> None:
    session = saved_session(
        _auth_user_id="42",
        _auth_user_backend="django.contrib.auth.backends.ModelBackend",
        _auth_user_hash=AUTH_HASH,
    )

    stored = redis_client.hgetall(redis_key(session.session_key))
    loaded = SessionStore(session.session_key).load()

    assert {name: stored[name] for name in (b"#u", b"#b", b"#h")} == {
        b"#u": b"42",
        b"#b": b"django.contrib.auth.backends.ModelBackend",
        b"#h": AUTH_HASH.encode(),
    }
    assert not any(name.startswith(b"_auth") for name in cast("dict[bytes, bytes]", stored))
    assert loaded == {
        "_auth_user_id": "42",
        "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
        "_auth_user_hash": AUTH_HASH,
    }


def test_a_user_id_that_is_not_a_string_keeps_its_own_field(redis_client: redis.Redis) -> None:
    session = saved_session(_auth_user_id=42)

    stored = redis_client.hgetall(redis_key(session.session_key))

    assert stored[b"_auth_user_id"] == b"\x0042"
    assert stored[b"#u"] == b"42"
    assert SessionStore(session.session_key).load() == {"_auth_user_id": 42}


def test_logging_out_by_removing_the_auth_keys_removes_their_fields(
    redis_client: redis.Redis,
) -> None:
    session = saved_session(_auth_user_id="7", _auth_user_backend="b", _auth_user_hash="h", a=1)
    request = SessionStore(session.session_key)
    for key in ("_auth_user_id", "_auth_user_backend", "_auth_user_hash"):
        del request[key]
    request.save()

    stored = redis_client.hgetall(redis_key(session.session_key))
    assert set(stored) == {b"#c", b"#m", b"a"}
    assert SessionStore(session.session_key).load() == {"a": 1}


def test_with_another_serializer_the_user_id_is_still_stored_as_it_is(
    redis_client: redis.Redis,
) -> None:
    with override_settings(SESSION_SERIALIZER="tests.support.serializers.TaggingSerializer"):
        session = saved_session(_auth_user_id="42", _auth_user_backend="b")
        stored = redis_client.hgetall(redis_key(session.session_key))
        loaded = SessionStore(session.session_key).load()

    assert stored[b"#u"] == b"42"
    assert stored[b"#b"] == b'\x00tagged:"b"'
    assert loaded == {"_auth_user_id": "42", "_auth_user_backend": "b"}
