"""What each session operation does: create, load, save, destroy, cycle, exists."""

from __future__ import annotations

import logging

import pytest
import redis
from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from redis_sessions.session import SessionStore
from redis_sessions.store import get_store
from tests.support.keys import redis_key as redis_key_of


def saved_session(**data: object) -> SessionStore:
    session = SessionStore()
    session.update(data)
    session.create()
    return session


def loaded(session_key: str | None) -> SessionStore:
    """A store that has loaded its data, as a request does on first access."""
    session = SessionStore(session_key)
    session.items()
    return session


def redis_key(session: SessionStore | str) -> str:
    key = session if isinstance(session, str) else session.session_key
    assert key is not None
    return redis_key_of(key)


# create


def test_create_refuses_a_key_that_holds_a_live_session() -> None:
    first = saved_session(a=1)

    with pytest.raises(CreateError):
        get_store().create(first.session_key, {"b": 2}, 60)  # type: ignore[arg-type]
    assert SessionStore(first.session_key).load() == {"a": 1}


def test_create_refuses_a_key_that_holds_a_tombstone() -> None:
    first = saved_session(a=1)
    first.delete()

    with pytest.raises(CreateError):
        get_store().create(first.session_key, {"b": 2}, 60)  # type: ignore[arg-type]


def test_create_refuses_a_key_that_holds_a_value_of_another_kind(
    redis_client: redis.Redis,
) -> None:
    redis_client.set(redis_key("abcdefgh12"), "someone else's")

    with pytest.raises(CreateError):
        get_store().create("abcdefgh12", {"b": 2}, 60)
    assert redis_client.get(redis_key("abcdefgh12")) == b"someone else's"


def test_create_draws_a_fresh_key_for_each_attempt() -> None:
    session = SessionStore()
    session.create()
    other = SessionStore()
    other.create()

    assert session.session_key != other.session_key
    assert len(session.session_key or "") == 32


# load


def test_load_returns_what_was_saved() -> None:
    session = saved_session(a=1, b="two", c=[3], d={"e": None})

    assert SessionStore(session.session_key).load() == {
        "a": 1,
        "b": "two",
        "c": [3],
        "d": {"e": None},
    }


def test_load_of_an_unknown_key_is_empty_and_forgets_the_key(redis_client: redis.Redis) -> None:
    session = SessionStore("unknownkey123")

    assert session.load() == {}
    assert session.session_key is None
    assert redis_client.keys("*") == []


def test_load_of_a_destroyed_session_is_empty_and_logged_without_data(
    caplog: pytest.LogCaptureFixture,
) -> None:
    session = saved_session(secret="hunter2")
    session.delete()

    with caplog.at_level(logging.INFO, logger="redis_sessions"):
        assert SessionStore(session.session_key).load() == {}

    assert "destroyed" in caplog.text
    assert "hunter2" not in caplog.text
    assert str(session.session_key) not in caplog.text


def test_the_manager_reports_metadata_of_a_loaded_session() -> None:
    session = saved_session(_auth_user_id="5", a=1)

    stored = get_store().load(session.session_key)  # type: ignore[arg-type]

    assert stored is not None
    assert stored.user_id == "5"
    assert stored.created <= stored.saved
    assert stored.data == {"_auth_user_id": "5", "a": 1}


# save


def test_save_writes_only_the_fields_that_changed(redis_client: redis.Redis) -> None:
    session = saved_session(a=1, b=2)
    request = loaded(session.session_key)
    redis_client.hset(redis_key(session), "a", "\x00100")  # another request wrote a

    request["b"] = 3
    request.save()

    assert SessionStore(session.session_key).load() == {"a": 100, "b": 3}


def test_save_deletes_keys_removed_from_the_session() -> None:
    session = saved_session(a=1, b=2)

    request = SessionStore(session.session_key)
    del request["a"]
    request.save()

    assert SessionStore(session.session_key).load() == {"b": 2}


def test_a_value_mutated_in_place_is_saved_when_marked_modified() -> None:
    session = saved_session(cart=[1])

    request = SessionStore(session.session_key)
    request["cart"].append(2)
    request.modified = True
    request.save()

    assert SessionStore(session.session_key).load() == {"cart": [1, 2]}


def test_a_save_without_changes_writes_only_the_saved_time_and_ttl(
    redis_client: redis.Redis,
) -> None:
    session = saved_session(a=1)
    before = redis_client.hgetall(redis_key(session))
    redis_client.hset(redis_key(session), "#m", "1")
    redis_client.expire(redis_key(session), 5)

    request = loaded(session.session_key)
    request.save()

    after = redis_client.hgetall(redis_key(session))
    assert {k: v for k, v in after.items() if k != b"#m"} == {
        k: v for k, v in before.items() if k != b"#m"
    }
    assert int(after[b"#m"]) > 1
    assert redis_client.ttl(redis_key(session)) > 1000


def test_two_saves_in_one_request_each_write_their_own_changes(
    redis_client: redis.Redis,
) -> None:
    session = saved_session(a=1)
    request = SessionStore(session.session_key)
    request["b"] = 2
    request.save()
    redis_client.hset(redis_key(session), "b", "\x0020")  # another request changes b

    request["c"] = 3
    request.save()

    assert SessionStore(session.session_key).load() == {"a": 1, "b": 20, "c": 3}


def test_save_after_clear_removes_keys_other_requests_added(redis_client: redis.Redis) -> None:
    session = saved_session(a=1)
    request = loaded(session.session_key)
    redis_client.hset(redis_key(session), "late", "\x001")

    request.clear()
    request["fresh"] = True
    request.save()

    assert SessionStore(session.session_key).load() == {"fresh": True}
    assert redis_client.hexists(redis_key(session), "#c")


def test_save_after_logout_elsewhere_raises_update_error_and_writes_nothing(
    redis_client: redis.Redis,
) -> None:
    session = saved_session(a=1)
    stale = loaded(session.session_key)
    SessionStore(session.session_key).flush()
    tombstone = redis_client.hgetall(redis_key(session))

    stale["a"] = 2
    with pytest.raises(UpdateError):
        stale.save()

    assert redis_client.hgetall(redis_key(session)) == tombstone


def test_save_after_the_tombstone_expired_still_raises_update_error(
    redis_client: redis.Redis,
) -> None:
    session = saved_session(a=1)
    stale = loaded(session.session_key)
    SessionStore(session.session_key).flush()
    redis_client.delete(redis_key(session))  # as if TOMBSTONE_TTL had passed

    stale["a"] = 2
    with pytest.raises(UpdateError):
        stale.save()

    assert redis_client.keys("*") == []


def test_save_after_expiry_raises_update_error(redis_client: redis.Redis) -> None:
    session = saved_session(a=1)
    stale = loaded(session.session_key)
    redis_client.delete(redis_key(session))

    stale["a"] = 2
    with pytest.raises(UpdateError):
        stale.save()


# destroy


def test_destroy_leaves_a_tombstone_that_lives_tombstone_ttl(
    redis_url: str, redis_client: redis.Redis
) -> None:
    with override_settings(REDIS_SESSIONS={"URL": redis_url, "TOMBSTONE_TTL": 42}):
        session = saved_session(secret="x")
        session.delete()

    assert set(redis_client.hgetall(redis_key(session))) == {b"#x", b"#r"}
    assert 40 <= redis_client.ttl(redis_key(session)) <= 42


def test_destroy_never_extends_a_tombstone(redis_client: redis.Redis) -> None:
    session = saved_session(a=1)
    session.delete()
    redis_client.expire(redis_key(session), 7)

    session.delete()

    assert redis_client.ttl(redis_key(session)) <= 7


def test_destroy_of_an_unknown_key_writes_nothing(redis_client: redis.Redis) -> None:
    assert get_store().destroy("neverexisted") is False
    assert redis_client.keys("*") == []


def test_destroy_leaves_a_value_of_another_kind_alone(redis_client: redis.Redis) -> None:
    redis_client.set(redis_key("abcdefgh12"), "not ours")

    SessionStore().delete("abcdefgh12")

    assert redis_client.get(redis_key("abcdefgh12")) == b"not ours"


def test_flush_destroys_and_forgets_the_key() -> None:
    session = saved_session(a=1)
    old_key = session.session_key

    session.flush()

    assert session.session_key is None
    assert SessionStore().exists(old_key) is False


# exists


def test_exists_is_true_only_for_a_live_session(redis_client: redis.Redis) -> None:
    live = saved_session(a=1)
    dead = saved_session(a=1)
    dead.delete()
    redis_client.set(redis_key("foreign123"), "x")

    store = SessionStore()
    assert store.exists(live.session_key) is True
    assert store.exists(dead.session_key) is False
    assert store.exists("foreign123") is False
    assert store.exists("missing123") is False
    assert store.exists(None) is False


# cycle_key


def test_cycle_key_moves_the_data_to_a_new_key_and_tombstones_the_old(
    redis_client: redis.Redis,
) -> None:
    session = saved_session(cart=[1], _auth_user_id="3")
    old_key = session.session_key

    session.cycle_key()

    assert session.session_key != old_key
    assert SessionStore(session.session_key).load() == {"cart": [1], "_auth_user_id": "3"}
    assert set(redis_client.hgetall(redis_key(old_key))) == {b"#x", b"#r", b"#u"}  # type: ignore[arg-type]


def test_cycle_key_then_save_writes_only_what_changed_since_the_cycle(
    redis_client: redis.Redis,
) -> None:
    session = saved_session(a=1)
    session.cycle_key()
    redis_client.hset(redis_key(session), "a", "\x0010")  # another request

    session["b"] = 2
    session.save()

    assert SessionStore(session.session_key).load() == {"a": 10, "b": 2}


def test_cycle_key_of_a_session_never_saved_creates_it() -> None:
    session = SessionStore()
    session["a"] = 1

    session.cycle_key()

    assert SessionStore(session.session_key).load() == {"a": 1}


def test_clear_expired_runs_and_leaves_live_sessions() -> None:
    session = saved_session(a=1)

    SessionStore.clear_expired()

    assert SessionStore().exists(session.session_key) is True


def test_create_gives_up_when_every_key_drawn_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    key = saved_session().session_key
    monkeypatch.setattr("redis_sessions.session.new_session_key", lambda: key)

    with pytest.raises(RuntimeError, match="every key drawn was taken"):
        SessionStore().create()


def test_cycle_key_onto_a_taken_key_keeps_the_data_under_another(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session = saved_session(a=1)
    old_key = session.session_key
    drawn = iter([saved_session().session_key, "freshkey000000000000000000000000"])
    monkeypatch.setattr("redis_sessions.session.new_session_key", lambda: next(drawn))

    session.cycle_key()

    assert session.session_key == "freshkey000000000000000000000000"
    assert SessionStore(session.session_key).load() == {"a": 1}
    assert SessionStore().exists(old_key) is False


def test_djangos_encode_and_decode_use_the_configured_serializer() -> None:
    session = SessionStore()

    assert session.decode(session.encode({"a": [1]})) == {"a": [1]}


def test_a_redis_sessions_setting_that_is_not_a_dict_stops_the_engine() -> None:
    with (
        override_settings(REDIS_SESSIONS="redis://localhost"),
        pytest.raises(ImproperlyConfigured, match="must be a dict"),
    ):
        SessionStore("abcdefgh12").load()
