"""The two races this engine exists for: a logout undone by a late save, and two
concurrent saves of different keys where one change is lost.

Each is written out step by step, then run many times in real threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial

import pytest
from django.contrib.sessions.backends.base import UpdateError

from redis_sessions.session import SessionStore

RACES = 300


def logged_in_session() -> str:
    session = SessionStore()
    session.update({"_auth_user_id": "1", "_auth_user_hash": "f" * 64, "cart": []})
    session.create()
    assert session.session_key is not None
    return session.session_key


def loaded(session_key: str) -> SessionStore:
    session = SessionStore(session_key)
    session.items()
    return session


# A logout between another request's load and save


def test_a_logout_between_load_and_save_is_never_undone_step_by_step() -> None:
    key = logged_in_session()
    request_a = loaded(key)  # 1. request A loads the session
    SessionStore(key).flush()  # 2. request B logs out
    request_a["cart"] = [1]  # 3. request A changes the session ...

    with pytest.raises(UpdateError):  # 4. ... and its save is refused,
        request_a.save()

    assert SessionStore(key).load() == {}  # 5. so the session stays logged out.
    assert SessionStore().exists(key) is False


def test_a_logout_racing_saves_in_threads_is_never_undone(
    run_in_threads: Callable[..., list[object]],
) -> None:
    resurrected = 0
    for _ in range(RACES):
        key = logged_in_session()

        def late_save(key: str = key) -> None:
            session = loaded(key)
            session["cart"] = [1]
            session.save()

        def logout(key: str = key) -> None:
            SessionStore(key).flush()

        save_result, logout_result = run_in_threads(late_save, logout)
        assert logout_result is None
        # The save either came first (and the logout then ended the session) or
        # came second and was refused: never a third outcome.
        assert save_result is None or isinstance(save_result, UpdateError)
        resurrected += SessionStore().exists(key)

    assert resurrected == 0


def logout_inside_a_request(key: str) -> BaseException | None:
    """Request A loads, request B logs out, request A saves: on two real threads."""
    has_loaded = threading.Event()
    has_logged_out = threading.Event()
    outcome: list[BaseException | None] = []

    def request_a() -> None:
        session = loaded(key)
        has_loaded.set()
        has_logged_out.wait(5)
        session["cart"] = [1]
        try:
            session.save()
        except UpdateError as exc:
            outcome.append(exc)
        else:
            outcome.append(None)

    def request_b() -> None:
        has_loaded.wait(5)
        SessionStore(key).flush()
        has_logged_out.set()

    threads = [threading.Thread(target=request_a), threading.Thread(target=request_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcome[0]


def test_a_logout_landing_inside_a_request_in_threads_is_never_undone() -> None:
    resurrected = 0
    for _ in range(RACES):
        key = logged_in_session()
        assert isinstance(logout_inside_a_request(key), UpdateError)
        resurrected += SessionStore().exists(key)

    assert resurrected == 0


# Two requests changing different keys of one session


def test_concurrent_saves_of_different_keys_both_survive_step_by_step() -> None:
    key = logged_in_session()
    request_a = loaded(key)  # 1. both requests load the session
    request_b = loaded(key)
    request_a["cart"] = ["book"]  # 2. A changes the cart, B leaves a message
    request_b["flash"] = "Saved!"
    request_a.save()  # 3. both save, A first
    request_b.save()

    assert SessionStore(key).load() == {  # 4. both changes are there
        "_auth_user_id": "1",
        "_auth_user_hash": "f" * 64,
        "cart": ["book"],
        "flash": "Saved!",
    }


def change_after_both_loaded(
    key: str, both_loaded: threading.Barrier, value: int, name: str
) -> None:
    session = loaded(key)
    both_loaded.wait(5)  # neither request saves before both have loaded
    session[name] = value
    session.save()


def test_concurrent_saves_of_different_keys_in_threads_both_survive(
    run_in_threads: Callable[..., list[object]],
) -> None:
    lost = 0
    for attempt in range(RACES):
        key = logged_in_session()
        both_loaded = threading.Barrier(2)
        change = partial(change_after_both_loaded, key, both_loaded, attempt)

        results = run_in_threads(partial(change, "cart"), partial(change, "flash"))
        assert results == [None, None]
        data = SessionStore(key).load()
        lost += data.get("cart") != attempt
        lost += data.get("flash") != attempt

    assert lost == 0


def test_concurrent_increments_of_the_same_key_keep_one_of_them() -> None:
    # Field-level merge is not a lock: two writes of the same key are last-writer-wins.
    key = logged_in_session()
    request_a = loaded(key)
    request_b = loaded(key)
    request_a["cart"] = ["a"]
    request_b["cart"] = ["b"]
    request_a.save()
    request_b.save()

    assert SessionStore(key).load()["cart"] == ["b"]
