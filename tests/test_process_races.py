"""Races between processes, as between the workers of a site, on a real server.

Two processes (``spawn``ed, each with its own connections) take the same
sessions one after the other and meet at a barrier before each, so that their
requests on it overlap in every order the machine gives. The default run takes
300 sessions per race; ``REDIS_SESSIONS_RACE_ROUNDS=10000`` runs the long one.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import override_settings

from benchmarks.servers import RedisServer
from redis_sessions.session import SessionStore
from tests.support import race_workers

ROUNDS = int(os.environ.get("REDIS_SESSIONS_RACE_ROUNDS", "300"))


@pytest.fixture
def server() -> Iterator[RedisServer]:
    with RedisServer() as started, override_settings(REDIS_SESSIONS={"URL": started.url}):
        yield started


def sessions(data: dict[str, Any]) -> list[str]:
    keys = []
    for _ in range(ROUNDS):
        session = SessionStore()
        session.update(data)
        session.create()
        assert session.session_key is not None
        keys.append(session.session_key)
    return keys


def race(
    worker: Callable[..., None], roles: tuple[str, str], url: str, keys: list[str]
) -> dict[str, Any]:
    """Run ``worker`` as both roles at once; return what each put on the queue."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    processes = [
        context.Process(target=worker, args=(role, url, keys, barrier, results)) for role in roles
    ]
    started = time.monotonic()
    for process in processes:
        process.start()
    seen = dict(results.get(timeout=300) for _ in roles)
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    print(
        f"\n{worker.__name__}: {len(keys)} sessions in {time.monotonic() - started:.1f} s: {seen}"
    )
    return seen


def test_no_save_brings_back_a_session_that_another_process_logged_out(
    server: RedisServer,
) -> None:
    keys = sessions({"_auth_user_id": "7", "cart": []})

    seen = race(race_workers.logout_or_save, ("logout", "save"), server.url, keys)

    resurrected = [key for key in keys if SessionStore(key).exists(key)]
    assert resurrected == []
    assert seen["logout"] == {"deleted": ROUNDS}
    assert sum(seen["save"].values()) == ROUNDS


def test_saves_of_different_keys_in_two_processes_both_stay(server: RedisServer) -> None:
    keys = sessions({"a": -1, "b": -1, "c": -1, "d": -1})

    race(race_workers.change_own_keys, ("first", "second"), server.url, keys)

    lost = [
        key
        for number, key in enumerate(keys)
        if SessionStore(key).load() != {"a": number, "b": number, "c": number, "d": number}
    ]
    assert lost == []


def test_saves_of_the_same_keys_end_with_one_writers_whole_value(server: RedisServer) -> None:
    keys = sessions({"x": "", "y": ""})

    race(race_workers.change_same_keys, ("first", "second"), server.url, keys)

    finals = [SessionStore(key).load() for key in keys]
    mixed = [data for data in finals if data["x"] != data["y"]]
    assert mixed == []
    winners = {data["x"].split("-")[0] for data in finals}
    print(f"last writers: {sorted(winners)}")
    assert winners <= {"first", "second"}
