"""The circuit breaker: fail fast while Redis hangs, and let traffic back once it answers.

The first part states the breaker's rules on its own, with a clock the test
moves. The second part runs it on a real server that the test stops with
SIGSTOP (a hung server: connections open, no answer) or kills, under threads
and under asyncio tasks.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from django.test import override_settings
from redis.exceptions import ConnectionError, ResponseError, TimeoutError

from benchmarks.servers import RedisServer
from redis_sessions.exceptions import CircuitOpen, StoreUnavailable
from redis_sessions.session import SessionStore
from redis_sessions.store import get_store
from redis_sessions.store.breaker import CLOSED, OPEN, PROBING, Breaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock: Clock) -> Breaker:
    return Breaker(3, 0.5, lambda: "the test server", patience=2.0, clock=clock)


def fail(breaker: Breaker, times: int = 1) -> None:
    for _ in range(times):
        with pytest.raises(ConnectionError), breaker.call():
            raise ConnectionError("refused")


# The rules.


def test_it_opens_after_the_failures_in_a_row(breaker: Breaker) -> None:
    fail(breaker, 2)
    assert breaker.state == CLOSED
    fail(breaker)
    assert breaker.state == OPEN
    with pytest.raises(CircuitOpen, match="failed 3 times in a row"):
        breaker.call()


def test_a_success_between_failures_starts_the_count_again(breaker: Breaker) -> None:
    fail(breaker, 2)
    with breaker.call():
        pass
    fail(breaker, 2)
    assert breaker.state == CLOSED


def test_a_timeout_is_a_failure_and_an_error_reply_is_an_answer(breaker: Breaker) -> None:
    fail(breaker, 2)
    with pytest.raises(ResponseError), breaker.call():
        raise ResponseError("WRONGTYPE")
    fail(breaker, 2)
    with pytest.raises(TimeoutError), breaker.call():
        raise TimeoutError("no reply")
    assert breaker.state == OPEN


def test_the_open_error_says_what_to_do(breaker: Breaker, clock: Clock) -> None:
    fail(breaker, 3)
    clock.now += 0.2
    with pytest.raises(CircuitOpen) as raised:
        breaker.call("load a session")
    assert str(raised.value) == (
        "Redis at the test server could not load a session: it failed 3 times in a row, and "
        "the engine fails at once for 0.30 s more, then tries again. Check that the server is "
        "up and reachable (BREAKER_FAILURES and BREAKER_RESET set this)."
    )
    assert isinstance(raised.value, StoreUnavailable)


def test_after_reset_one_probe_goes_and_the_others_still_fail(
    breaker: Breaker, clock: Clock
) -> None:
    fail(breaker, 3)
    clock.now += 0.5
    probe = breaker.call()
    assert probe.probe
    assert breaker.state == PROBING
    with pytest.raises(CircuitOpen):
        breaker.call()
    with probe:
        pass
    assert breaker.state == CLOSED
    with breaker.call():
        pass


def test_a_probe_that_fails_opens_it_for_another_reset(breaker: Breaker, clock: Clock) -> None:
    fail(breaker, 3)
    clock.now += 0.5
    fail(breaker)
    assert breaker.state == OPEN
    clock.now += 0.4
    with pytest.raises(CircuitOpen):
        breaker.call()
    clock.now += 0.1
    assert breaker.call().probe


def test_while_a_probe_hangs_the_others_fail_until_its_patience_runs_out(
    breaker: Breaker, clock: Clock
) -> None:
    fail(breaker, 3)
    clock.now += 0.5
    assert breaker.call().probe  # waits on a hung server, say
    clock.now += 1.9
    with pytest.raises(CircuitOpen):
        breaker.call()
    clock.now += 0.1
    assert breaker.call().probe


def test_a_cancelled_probe_leaves_it_open(breaker: Breaker, clock: Clock) -> None:
    fail(breaker, 3)
    clock.now += 0.5
    with pytest.raises(asyncio.CancelledError), breaker.call():
        raise asyncio.CancelledError
    assert breaker.state == OPEN


def test_with_no_failures_allowed_it_never_opens(clock: Clock) -> None:
    off = Breaker(0, 0.5, lambda: "the test server", clock=clock)
    fail(off, 50)
    assert off.state == CLOSED


def test_opening_and_closing_are_logged(
    breaker: Breaker, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "redis_sessions.breaker")
    fail(breaker, 3)
    clock.now += 0.5
    with breaker.call():
        pass
    assert [(record.levelname, record.getMessage()) for record in caplog.records] == [
        (
            "WARNING",
            "Circuit breaker of Redis at the test server: open, 3 failures in a row; "
            "operations fail at once for 0.5 s before a probe.",
        ),
        ("INFO", "Circuit breaker of Redis at the test server: closed, Redis answers again."),
    ]


# On a real server.


@pytest.fixture
def server() -> Iterator[RedisServer]:
    with RedisServer() as started:
        options = {"URL": started.url, "SOCKET_TIMEOUT": 1.0, "SOCKET_CONNECT_TIMEOUT": 1.0}
        with override_settings(REDIS_SESSIONS=options):
            yield started


@dataclass
class Outcomes:
    """When each load began, how long it took, and whether it succeeded."""

    loads: list[tuple[float, float, bool]] = field(default_factory=list)

    def failed_after(self, moment: float) -> list[float]:
        return [took for began, took, ok in self.loads if began >= moment and not ok]

    def first_success_after(self, moment: float) -> float:
        return min(began + took for began, took, ok in self.loads if ok and began >= moment)


def saved_session() -> str:
    session = SessionStore()
    session["cart"] = [1, 2, 3]
    session.create()
    assert session.session_key is not None
    return session.session_key


def load_in_threads(key: str, until: threading.Event, outcomes: Outcomes) -> list[threading.Thread]:
    def work() -> None:
        while not until.is_set():
            began = time.monotonic()
            try:
                data = SessionStore(key).load()
            except StoreUnavailable:
                outcomes.loads.append((began, time.monotonic() - began, False))
                time.sleep(0.005)
            else:
                assert data == {"cart": [1, 2, 3]}
                outcomes.loads.append((began, time.monotonic() - began, True))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    return threads


def wait_for_open(deadline: float = 10.0) -> float:
    started = time.monotonic()
    while get_store().breaker.state == CLOSED:
        assert time.monotonic() - started < deadline, "the breaker never opened"
        time.sleep(0.01)
    return time.monotonic()


def report(what: str, failed: list[float], recovery: float) -> None:
    print(
        f"\n{what}: {len(failed)} failed loads while open, median "
        f"{statistics.median(failed) * 1000:.2f} ms, worst {max(failed) * 1000:.2f} ms; "
        f"first success {recovery * 1000:.0f} ms after the server answered again"
    )


def test_with_a_hung_server_loads_fail_at_once_and_resume_after_sigcont(
    server: RedisServer,
) -> None:
    key = saved_session()
    outcomes, until = Outcomes(), threading.Event()
    threads = load_in_threads(key, until, outcomes)
    time.sleep(0.2)
    server.pause()
    opened = wait_for_open()
    time.sleep(1.0)
    server.resume()
    resumed = time.monotonic()
    time.sleep(1.0)
    until.set()
    for thread in threads:
        thread.join()

    failed = outcomes.failed_after(opened)
    recovery = outcomes.first_success_after(resumed) - resumed
    report("Hung server, threads", failed, recovery)
    assert len(failed) > 20
    assert statistics.median(failed) < 0.010
    assert recovery < 1.0
    assert SessionStore(key).load() == {"cart": [1, 2, 3]}


def test_with_a_hung_server_async_loads_fail_at_once_and_resume(server: RedisServer) -> None:
    key = saved_session()
    outcomes = Outcomes()

    async def work(until: asyncio.Event) -> None:
        while not until.is_set():
            began = time.monotonic()
            try:
                data = await SessionStore(key).aload()
            except StoreUnavailable:
                outcomes.loads.append((began, time.monotonic() - began, False))
                await asyncio.sleep(0.005)
            else:
                assert data == {"cart": [1, 2, 3]}
                outcomes.loads.append((began, time.monotonic() - began, True))

    async def scenario() -> tuple[float, float]:
        until = asyncio.Event()
        tasks = [asyncio.create_task(work(until)) for _ in range(4)]
        await asyncio.sleep(0.2)
        server.pause()
        while get_store().breaker.state == CLOSED:
            await asyncio.sleep(0.01)
        opened = time.monotonic()
        await asyncio.sleep(1.0)
        server.resume()
        resumed = time.monotonic()
        await asyncio.sleep(1.0)
        until.set()
        await asyncio.gather(*tasks)
        return opened, resumed

    opened, resumed = asyncio.run(asyncio.wait_for(scenario(), 20))
    failed = outcomes.failed_after(opened)
    recovery = outcomes.first_success_after(resumed) - resumed
    report("Hung server, asyncio tasks", failed, recovery)
    assert len(failed) > 20
    assert statistics.median(failed) < 0.010
    assert recovery < 1.0


def test_a_killed_server_started_again_is_used_within_the_reset(server: RedisServer) -> None:
    key = saved_session()
    server.stop()
    for _ in range(3):
        with pytest.raises(StoreUnavailable, match="Connection refused"):
            SessionStore(key).load()
    with pytest.raises(CircuitOpen):
        SessionStore(key).load()
    server.start()
    restarted = time.monotonic()
    while True:
        try:
            data = SessionStore(key).load()
        except CircuitOpen:
            time.sleep(0.01)
        else:
            break
    # The restarted server keeps nothing on disk: the session is gone, not wrong.
    assert data == {}
    assert time.monotonic() - restarted < 0.5


def test_with_the_breaker_off_every_load_asks_the_server(server: RedisServer) -> None:
    key = saved_session()
    server.stop()
    with override_settings(REDIS_SESSIONS={"URL": server.url, "BREAKER_FAILURES": 0}):
        for _ in range(10):
            with pytest.raises(StoreUnavailable, match="Connection refused"):
                SessionStore(key).load()
        assert get_store().breaker.state == CLOSED
