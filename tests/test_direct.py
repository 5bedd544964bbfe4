"""The engine's single commands borrow a connection from redis-py's own pool.

On the stock ``ConnectionPool`` they keep the pool's books themselves (see
``redis_sessions/direct.py``); these tests hold them to what the pool itself
promises: every connection goes back, a connection the server closed or one
with a reply left unread is never used as it is, the pool's size limit holds,
threads and forked processes each get connections of their own. Any other pool
is asked through its own methods.
"""

from __future__ import annotations

import multiprocessing
import os
import select
import threading
import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from redis_sessions import direct
from redis_sessions.exceptions import StoreUnavailable
from redis_sessions.manager import SessionManager


def no_retries(url: str, **kwargs: Any) -> redis.Redis:
    """A client that gives up at the first failure: what works, works without retrying."""
    return redis.Redis.from_url(url, retry=Retry(NoBackoff(), 0), **kwargs)


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    client = no_retries(redis_url)
    yield client
    client.close()


def books(pool: Any) -> tuple[int, int]:
    """The pool's own count of connections in use and idle."""
    return len(pool._in_use_connections), len(pool._available_connections)


def test_a_stock_pool_is_served_by_borrowing(client: redis.Redis) -> None:
    assert direct._is_plain(client.connection_pool)


def test_every_borrowed_connection_goes_back_and_is_used_again(client: redis.Redis) -> None:
    for number in range(50):
        assert direct.execute(client, "ECHO", str(number)) == str(number).encode()

    assert books(client.connection_pool) == (0, 1)


def test_a_connection_goes_back_when_the_command_fails(client: redis.Redis) -> None:
    client.set("a-string", "x")

    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        direct.execute(client, "HGETALL", "a-string")

    assert books(client.connection_pool) == (0, 1)
    assert direct.execute(client, "GET", "a-string") == b"x"


def test_a_connection_the_server_closed_is_replaced_before_it_is_used(
    client: redis.Redis, redis_client: redis.Redis
) -> None:
    assert direct.execute(client, "PING") in (True, b"PONG")
    redis_client.client_kill_filter(_type="normal", skipme=True)

    # No retry allowed: the borrowed connection must be good from the start.
    assert direct.execute(client, "ECHO", "after") == b"after"
    assert books(client.connection_pool) == (0, 1)


def test_a_reply_left_unread_is_never_taken_for_the_next_one(redis_url: str) -> None:
    # Under RESP2. Under RESP3, redis-py's pool lets unread data through as a
    # possible maintenance notification, and borrowing does the same; the
    # engine itself never leaves a reply unread (next test).
    client = no_retries(redis_url, protocol=2)
    pool: Any = client.connection_pool
    connection = direct._borrow(pool)
    connection.send_command("ECHO", "stale")  # and never read
    select.select([connection._sock], [], [], 5)  # until the reply is there
    direct._give_back(pool, connection)

    assert direct.execute(client, "ECHO", "fresh") == b"fresh"
    assert direct.execute(client, "ECHO", "again") == b"again"
    client.close()


@pytest.mark.parametrize("protocol", [2, 3])
def test_a_command_cut_short_leaves_no_reply_behind(
    redis_url: str, redis_client: redis.Redis, protocol: int
) -> None:
    client = no_retries(redis_url, protocol=protocol, socket_timeout=0.2)
    assert direct.execute(client, "PING") in (True, b"PONG")
    sleeper = threading.Thread(target=redis_client.execute_command, args=("DEBUG", "SLEEP", "0.6"))
    sleeper.start()
    time.sleep(0.1)

    with pytest.raises(redis.TimeoutError):
        direct.execute(client, "ECHO", "late")
    sleeper.join()

    # The late reply went with the connection it was meant for.
    assert direct.execute(client, "ECHO", "on time") == b"on time"
    assert books(client.connection_pool) == (0, 1)
    client.close()


def test_the_pools_size_limit_holds(redis_url: str) -> None:
    client = no_retries(redis_url, max_connections=1)
    held = direct._borrow(client.connection_pool)
    try:
        with pytest.raises(redis.ConnectionError, match="Too many connections"):
            direct.execute(client, "PING")
    finally:
        direct._give_back(client.connection_pool, held)

    assert direct.execute(client, "ECHO", "free again") == b"free again"
    client.close()


def test_a_full_pool_leaves_the_manager_unavailable_with_a_clear_error(redis_url: str) -> None:
    client = no_retries(redis_url, max_connections=1)
    manager = SessionManager(client, owns_client=True)
    held = direct._borrow(client.connection_pool)
    try:
        with pytest.raises(StoreUnavailable, match=r"could not load a session.*Too many"):
            manager.load("abcdefgh")
    finally:
        direct._give_back(client.connection_pool, held)
    manager.close()


def test_threads_share_the_pool_and_every_connection_comes_back(
    client: redis.Redis, run_in_threads: Any
) -> None:
    def work(number: int) -> list[bytes]:
        return [direct.execute(client, "ECHO", f"{number}-{step}") for step in range(200)]

    results = run_in_threads(*(partial(work, number) for number in range(8)))

    assert results == [[f"{n}-{step}".encode() for step in range(200)] for n in range(8)]
    in_use, idle = books(client.connection_pool)
    assert in_use == 0
    assert 1 <= idle <= 8


def _echo_in_child(client: redis.Redis, results: Any) -> None:
    results.put((os.getpid(), direct.execute(client, "ECHO", "child")))
    results.put(books(client.connection_pool))


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork()")
def test_a_forked_process_makes_connections_of_its_own(client: redis.Redis) -> None:
    assert direct.execute(client, "ECHO", "parent") == b"parent"
    parents_connection = client.connection_pool._available_connections[0]

    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_echo_in_child, args=(client, results))
    child.start()
    pid, reply = results.get(timeout=30)
    child_books = results.get(timeout=30)
    child.join(timeout=30)

    assert (pid != os.getpid(), reply, child_books) == (True, b"child", (0, 1))
    assert child.exitcode == 0
    # The parent's connection was not touched by the child: still usable here.
    assert direct.execute(client, "ECHO", "parent again") == b"parent again"
    assert client.connection_pool._available_connections == [parents_connection]


class OwnPool(redis.ConnectionPool):
    """A pool of an application's own, which may do anything when lending."""


@pytest.mark.parametrize(
    "make_pool",
    [
        pytest.param(
            lambda url: redis.BlockingConnectionPool.from_url(url, max_connections=1),
            id="blocking",
        ),
        pytest.param(lambda url: OwnPool.from_url(url), id="subclass"),
        pytest.param(
            # The default user has no password: any password is accepted.
            lambda url: redis.ConnectionPool.from_url(
                url, credential_provider=redis.UsernamePasswordCredentialProvider("default", "any")
            ),
            id="credential-provider",
        ),
    ],
)
def test_any_other_pool_is_asked_through_its_own_methods(redis_url: str, make_pool: Any) -> None:
    pool = make_pool(redis_url)
    client = redis.Redis(connection_pool=pool)

    assert not direct._is_plain(pool)
    # A blocking pool of one connection would wait forever for a connection
    # that was not given back.
    for number in range(3):
        assert direct.execute(client, "ECHO", str(number)) == str(number).encode()
    client.close()
    pool.disconnect()
