"""Fixtures: a throwaway Redis server for the whole run, wiped before each test."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest
import redis
from django.test import override_settings

from benchmarks.servers import RedisServer
from redis_sessions.store import scripts

pytest_plugins = ["tests.support.topology_fixtures", "tests.support.stores_on_topologies"]


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The URL of the server the engine talks to: ``REDIS_URL``, or a server of our own."""
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    with RedisServer() as server:
        yield server.url


@pytest.fixture(scope="session", autouse=True)
def _engine_on_test_server(redis_url: str) -> Iterator[None]:
    with override_settings(REDIS_SESSIONS={"URL": redis_url}):
        yield


@pytest.fixture
def indexed() -> Iterator[None]:
    """Index each user's sessions (``USER_INDEX``), as the test's settings."""
    from django.conf import settings

    with override_settings(REDIS_SESSIONS={**settings.REDIS_SESSIONS, "USER_INDEX": True}):
        yield


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A client of the engine's server, for looking at what the engine stored."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture(autouse=True)
def _empty_database(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        client.flushdb()
    finally:
        client.close()


class CommandLog:
    """The commands that clients sent to the server, as the server saw them.

    Commands run by Lua scripts are left out, and so is the set-up a client
    sends once on each new connection (a pool may open one at any time): what
    is left is one entry per command a client sent, so its length is the number
    of round trips (for commands sent one at a time) or of commands (for
    pipelines).
    """

    def __init__(self) -> None:
        self.commands: list[str] = []

    def __len__(self) -> int:
        return len(self.commands)

    @property
    def names(self) -> list[str]:
        return [command.split(" ", 1)[0].upper() for command in self.commands]


#: What redis-py sends when it opens a connection, before any command of ours.
HANDSHAKE = ("HELLO", "CLIENT SETINFO", "CLIENT SETNAME", "AUTH", "SELECT")


def _is_handshake(command: str) -> bool:
    return command.upper().startswith(HANDSHAKE)


@pytest.fixture
def command_log(redis_url: str) -> Iterator[Callable[[], AbstractContextManager[CommandLog]]]:
    """A context store that records, with MONITOR, the commands sent inside it.

    The engine's scripts are loaded first, as they are on a server in use: the
    first call after a restart pays one SCRIPT LOAD, which has a test of its own.
    """
    watcher = redis.Redis.from_url(redis_url)
    marker = redis.Redis.from_url(redis_url)
    for script in scripts.ALL:
        marker.script_load(script.source)

    @contextmanager
    def record() -> Iterator[CommandLog]:
        log = CommandLog()
        with watcher.monitor() as monitor:  # type: ignore[no-untyped-call]
            marker.echo("command-log-start")
            while "command-log-start" not in monitor.next_command()["command"]:
                pass
            yield log
            marker.echo("command-log-end")
            while True:
                entry = monitor.next_command()
                if "command-log-end" in entry["command"]:
                    break
                if entry.get("client_type") != "lua" and not _is_handshake(entry["command"]):
                    log.commands.append(entry["command"])

    yield record
    watcher.close()
    marker.close()


@pytest.fixture
def run_in_threads() -> object:
    """Run callables in threads that start together; re-raise the first error."""

    def run(*functions: object) -> list[object]:
        barrier = threading.Barrier(len(functions))
        results: list[object] = [None] * len(functions)

        def target(index: int, function: object) -> None:
            barrier.wait()
            try:
                results[index] = function()  # type: ignore[operator]
            except BaseException as exc:  # noqa: BLE001 -- returned for the test to assert on
                results[index] = exc

        threads = [
            threading.Thread(target=target, args=(index, function))
            for index, function in enumerate(functions)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results

    return run


@pytest.fixture
def page_size() -> Iterator[Callable[[int], None]]:
    """Set the admin session list's page size for one test."""
    from django.contrib import admin

    from redis_sessions.admin import SessionAdmin
    from redis_sessions.models import Session

    model_admin = admin.site.get_model_admin(Session)
    assert isinstance(model_admin, SessionAdmin)

    def set_size(size: int) -> None:
        # An attribute of the instance, over the class's.
        vars(model_admin)["list_per_page"] = size

    yield set_size
    vars(model_admin).pop("list_per_page", None)
