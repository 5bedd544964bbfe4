"""Every session operation is one round trip, counted on the server with MONITOR."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from django.contrib.auth.models import User
from django.test import Client

from redis_sessions.session import SessionStore
from tests.support.keys import redis_key


def saved_session(**data: object) -> SessionStore:
    session = SessionStore()
    session.update(data)
    session.create()
    return session


def test_create_is_one_evalsha(command_log: Any) -> None:
    session = SessionStore()
    session["a"] = 1
    with command_log() as log:
        session.create()

    assert log.names == ["EVALSHA"]


def test_load_is_one_hgetall(command_log: Any) -> None:
    key = saved_session(a=1).session_key
    with command_log() as log:
        SessionStore(key).load()

    assert log.names == ["HGETALL"]


def test_save_of_a_loaded_session_is_one_evalsha(command_log: Any) -> None:
    session = SessionStore(saved_session(a=1).session_key)
    session["a"] = 2
    with command_log() as log:
        session.save()

    assert log.names == ["EVALSHA"]


def test_load_then_update_is_two_round_trips(command_log: Any) -> None:
    key = saved_session(a=1).session_key
    with command_log() as log:
        session = SessionStore(key)
        session["b"] = 2
        session.save()

    assert log.names == ["HGETALL", "EVALSHA"]


def test_delete_is_one_evalsha(command_log: Any) -> None:
    key = saved_session(a=1).session_key
    with command_log() as log:
        SessionStore().delete(key)

    assert log.names == ["EVALSHA"]


def test_exists_is_one_hexists(command_log: Any) -> None:
    key = saved_session(a=1).session_key
    with command_log() as log:
        SessionStore().exists(key)

    assert log.names == ["HEXISTS"]


def test_cycle_key_is_one_pipeline_of_create_and_destroy(command_log: Any) -> None:
    session = SessionStore(saved_session(a=1).session_key)
    session.items()
    with command_log() as log:
        session.cycle_key()

    assert log.names == ["EVALSHA", "EVALSHA"]


def test_a_flushed_script_cache_costs_one_script_load_then_nothing(
    command_log: Any, redis_client: redis.Redis
) -> None:
    session = SessionStore(saved_session(a=1).session_key)
    session["a"] = 2
    redis_client.script_flush()
    with command_log() as log:
        session.save()
        session["a"] = 3
        session.save()

    assert log.names == ["EVALSHA", "SCRIPT", "EVALSHA", "EVALSHA"]
    assert SessionStore(session.session_key).load() == {"a": 3}


def test_a_flushed_script_cache_during_cycle_key_is_recovered(
    command_log: Any, redis_client: redis.Redis
) -> None:
    session = SessionStore(saved_session(a=1).session_key)
    session.items()
    old_key = session.session_key
    redis_client.script_flush()

    session.cycle_key()

    assert SessionStore(session.session_key).load() == {"a": 1}
    assert SessionStore().exists(old_key) is False


@pytest.mark.django_db
def test_a_request_that_reads_and_writes_its_session_costs_two_round_trips(
    command_log: Any,
) -> None:
    client = Client()
    client.get("/counter/")  # the first request creates the session
    with command_log() as log:
        response = client.get("/counter/")

    assert response.json() == {"count": 2}
    assert log.names == ["HGETALL", "EVALSHA"]


def log_a_login(command_log: Any) -> tuple[Any, Any, str, str]:
    """Log in through the test site after an anonymous visit; return the
    commands of the login, the user, the new session key and the anonymous one."""
    user = User.objects.create_user("ada", password="pw")
    client = Client()
    client.get("/counter/")
    anonymous_key = client.cookies["sessionid"].value
    with command_log() as log:
        response = client.post("/login/", {"username": "ada", "password": "pw"})
    assert response.status_code == 200
    return log, user, client.cookies["sessionid"].value, anonymous_key


@pytest.mark.django_db
def test_a_login_costs_a_load_a_cycle_and_a_save(command_log: Any) -> None:
    log, _, key, anonymous_key = log_a_login(command_log)

    # Three round trips: the load; the new key created and the old destroyed,
    # in one pipeline; the save of the user id.
    assert log.names == ["HGETALL", "EVALSHA", "EVALSHA", "EVALSHA"]
    assert [command.split(" ")[2:4] for command in log.commands[1:]] == [
        ["1", redis_key(key)],
        ["1", redis_key(anonymous_key)],
        ["1", redis_key(key)],
    ]


@pytest.mark.django_db
@pytest.mark.usefixtures("indexed")
def test_a_login_with_the_user_index_keeps_it_in_the_same_scripts(command_log: Any) -> None:
    log, user, key, anonymous_key = log_a_login(command_log)

    # Still three round trips: the save of the user id puts the session in the
    # user's index in the same script.
    assert log.names == ["HGETALL", "EVALSHA", "EVALSHA", "EVALSHA"]
    assert [command.split(" ")[2:5] for command in log.commands[1:]] == [
        ["1", redis_key(key), "1209600"],
        ["1", redis_key(anonymous_key), "300"],
        ["2", redis_key(key), f"sessions:user:{{{user.pk}}}"],
    ]
