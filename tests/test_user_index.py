"""The user index: each user's live sessions, kept current and never unbounded."""

from __future__ import annotations

import time
from typing import Any, cast

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from redis_sessions.session import SessionStore
from redis_sessions.store import get_store
from redis_sessions.store.keys import stored_id
from tests.support.keys import redis_key

# Sessions are indexed by user in every test of this module.
pytestmark = pytest.mark.usefixtures("indexed")


def index_of(client: redis.Redis, user_id: object) -> dict[str, float]:
    entries = client.zrange(f"sessions:user:{{{user_id}}}", 0, -1, withscores=True)
    return {member.decode(): score for member, score in cast("list[tuple[bytes, float]]", entries)}


def session_of(user_id: str, ttl: int | None = None, **data: Any) -> SessionStore:
    session = SessionStore()
    session.update({"_auth_user_id": user_id, **data})
    if ttl is not None:
        session.set_expiry(ttl)
    session.create()
    return session


def key_of(user_id: str, **data: Any) -> str:
    key = session_of(user_id, **data).session_key
    assert key is not None
    return key


@pytest.fixture
def ada(db: None) -> User:
    user: User = User.objects.create_user("ada", password="pw")
    return user


def log_in(client: Client) -> str:
    response = client.post("/login/", {"username": "ada", "password": "pw"})
    assert response.status_code == 200
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def test_a_login_puts_the_session_in_the_users_index(ada: User, redis_client: redis.Redis) -> None:
    key = log_in(Client())

    assert list(index_of(redis_client, ada.pk)) == [stored_id(key)]


def test_the_index_score_is_never_before_the_sessions_expiry(
    ada: User, redis_client: redis.Redis
) -> None:
    key = log_in(Client())

    expires_at = time.time() + redis_client.ttl(redis_key(key))
    assert index_of(redis_client, ada.pk)[stored_id(key)] >= expires_at - 1


def test_a_logout_takes_the_session_out_of_the_index(ada: User, redis_client: redis.Redis) -> None:
    client = Client()
    log_in(client)

    client.post("/logout/")

    assert index_of(redis_client, ada.pk) == {}
    assert redis_client.exists(f"sessions:user:{{{ada.pk}}}") == 0


def test_two_logins_make_two_entries(ada: User, redis_client: redis.Redis) -> None:
    first, second = log_in(Client()), log_in(Client())

    assert set(index_of(redis_client, ada.pk)) == {stored_id(first), stored_id(second)}


def test_an_ordinary_save_leaves_the_index_alone(command_log: Any) -> None:
    key = key_of("7")
    session = SessionStore(key)
    session["cart"] = [1]
    with command_log() as log:
        session.save()

    assert log.names == ["EVALSHA"]


def test_a_save_that_outlives_the_recorded_bound_moves_the_entry(
    redis_client: redis.Redis,
) -> None:
    key = key_of("7")
    redis_client.hset(redis_key(key), "#i", "100")
    redis_client.zadd("sessions:user:{7}", {key: 100})

    session = SessionStore(key)
    session["cart"] = [1]
    session.save()

    score = index_of(redis_client, "7")[stored_id(key)]
    assert score > time.time() + settings.SESSION_COOKIE_AGE
    assert redis_client.hget(redis_key(key), "#i") == str(int(score)).encode()


def test_cycle_key_moves_the_entry_to_the_new_key(redis_client: redis.Redis) -> None:
    session = SessionStore(key_of("7"))
    session.items()
    old_key = session.session_key

    session.cycle_key()

    assert list(index_of(redis_client, "7")) == [stored_id(str(session.session_key))]
    assert old_key != session.session_key


def test_destroying_by_key_alone_leaves_an_entry_that_reads_drop(
    redis_client: redis.Redis,
) -> None:
    key = key_of("7")

    SessionStore().delete(key)  # nothing loaded: the user is not known here

    assert list(index_of(redis_client, "7")) == [stored_id(key)]
    assert get_store().user_sessions("7") == []
    assert index_of(redis_client, "7") == {}


def test_a_session_changing_hands_joins_the_new_users_index(redis_client: redis.Redis) -> None:
    session = SessionStore(key_of("7"))
    session["_auth_user_id"] = "8"
    session.save()

    assert list(index_of(redis_client, "8")) == [stored_id(str(session.session_key))]
    assert get_store().user_sessions("7") == []
    assert [stored.stored_id for stored in get_store().user_sessions("8")] == [
        stored_id(str(session.session_key))
    ]


def test_logging_a_user_out_everywhere_spares_a_session_that_changed_hands() -> None:
    session = SessionStore(key_of("7"))
    session["_auth_user_id"] = "8"
    session.save()  # its entry in user 7's index is stale now

    assert get_store().destroy_user_sessions("7") == 0
    assert SessionStore().exists(session.session_key) is True


def test_the_index_key_expires_with_its_last_entry(redis_client: redis.Redis) -> None:
    session_of("7", ttl=100)
    session_of("7", ttl=1000)

    assert 1000 < redis_client.ttl("sessions:user:{7}") <= 1101


def test_ten_thousand_expired_sessions_leave_an_empty_index(redis_client: redis.Redis) -> None:
    store = get_store()
    for number in range(10_000):
        store.create(f"expiring{number:05d}", {"_auth_user_id": "7"}, 2)
    # Each write prunes what has expired, so the index never holds more than
    # the user's unexpired sessions.
    left = redis_client.zcard("sessions:user:{7}")
    assert 0 < left <= 10_000

    time.sleep(2.2)
    pruned = SessionStore.clear_expired()

    assert pruned == left
    assert redis_client.exists("sessions:user:{7}") == 0


def test_user_sessions_lists_the_live_ones_oldest_first() -> None:
    first = key_of("7", note="first")
    second = key_of("7", note="second")
    session_of("8")

    sessions = get_store().user_sessions("7")

    ids = [stored.stored_id for stored in sessions]
    assert ids in ([stored_id(first), stored_id(second)], [stored_id(second), stored_id(first)])
    assert {stored.data["note"] for stored in sessions} == {"first", "second"}
    assert all(stored.user_id == "7" for stored in sessions)


def test_user_sessions_drops_entries_of_sessions_that_ended_elsewhere(
    redis_client: redis.Redis,
) -> None:
    live = key_of("7")
    gone = key_of("7")
    redis_client.delete(redis_key(gone))  # as if Redis had evicted it

    sessions = get_store().user_sessions("7")

    assert [stored.stored_id for stored in sessions] == [stored_id(live)]
    assert list(index_of(redis_client, "7")) == [stored_id(live)]


def test_log_out_everywhere_but_here(redis_client: redis.Redis) -> None:
    here = key_of("7")
    others = [key_of("7") for _ in range(3)]
    someone_else = key_of("8")

    destroyed = get_store().destroy_user_sessions("7", keep=here)

    assert destroyed == 3
    assert SessionStore().exists(here) is True
    assert not any(SessionStore().exists(key) for key in others)
    assert SessionStore().exists(someone_else) is True
    assert list(index_of(redis_client, "7")) == [stored_id(here)]


def test_log_out_everywhere(redis_client: redis.Redis) -> None:
    keys = [key_of("7") for _ in range(3)]

    assert get_store().destroy_user_sessions("7") == 3
    assert not any(SessionStore().exists(key) for key in keys)
    assert redis_client.exists("sessions:user:{7}") == 0


def test_cycle_key_of_a_logged_in_session_is_one_round_trip(command_log: Any) -> None:
    session = SessionStore(key_of("7"))
    session.items()
    with command_log() as log:
        session.cycle_key()

    # Create and destroy, each moving the index entry, pipelined.
    assert log.names == ["EVALSHA", "EVALSHA"]


def test_a_logout_of_a_loaded_session_is_one_round_trip(command_log: Any) -> None:
    session = SessionStore(key_of("7"))
    session.items()
    with command_log() as log:
        session.flush()

    assert log.names == ["EVALSHA"]  # the tombstone and the index entry in one script
