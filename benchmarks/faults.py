"""Faults injected into a real Redis while requests use their sessions.

Shared by ``tests/test_faults.py`` (bounded runs with assertions) and
``benchmarks/bench_faults.py`` (the "Failure behaviour" table of the docs).

Each fault has a start and an end. :func:`run` starts a server (with an
append-only file written at every write, so that acknowledged writes survive a
kill) and, for the faults of the network, a :class:`~benchmarks.proxy.Proxy`
in front of it; it runs request cycles on their own sessions (load a session,
check its counter, add one, save), in threads or in asyncio tasks, starts the
fault, ends it after ``duration`` seconds, and waits for the cycles to succeed
again. Every cycle is recorded: when it began, how long it took, and what it
raised.

A counter read back is *wrong* when it is neither the last value whose save
was acknowledged nor the one whose save failed (a save can fail after Redis
applied it: a reply cut in transit, say); it is *lost* when it is below the
last acknowledged one.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.test import override_settings

from benchmarks.proxy import Mode, Proxy
from benchmarks.servers import RedisServer

#: Seconds the engine waits for a connection and for a reply.
TIMEOUT = 0.5

#: Concurrent request loops.
WORKERS = 4


@dataclass
class Cycle:
    began: float
    took: float
    error: str | None


@dataclass
class Counter:
    """What one worker's session must hold."""

    acked: int = 0
    attempted: int = 0


@dataclass
class Outcome:
    """What the cycles of one run met."""

    cycles: list[Cycle] = field(default_factory=list)
    started: float = 0.0
    ended: float = 0.0
    wrong: int = 0
    lost: int = 0

    def failed(self) -> list[Cycle]:
        return [c for c in self.cycles if c.error is not None and c.began >= self.started]

    def errors(self) -> list[str]:
        return sorted({c.error for c in self.failed() if c.error is not None})

    def median_failed_ms(self) -> float:
        failed = self.failed()
        return statistics.median(c.took for c in failed) * 1000 if failed else 0.0

    def worst_failed_ms(self) -> float:
        failed = self.failed()
        return max(c.took for c in failed) * 1000 if failed else 0.0

    def recovery(self) -> float:
        """Seconds from the fault's end to the end of the first success begun after it."""
        ends = [c.began + c.took for c in self.cycles if c.error is None and c.began >= self.ended]
        return min(ends) - self.ended if ends else float("inf")

    def successes_after_end(self) -> int:
        return sum(1 for c in self.cycles if c.error is None and c.began >= self.ended)


@dataclass
class Target:
    """What a fault acts on: the server, the proxy in front of it, an admin client."""

    server: RedisServer
    proxy: Proxy
    #: Seconds the fault lasts.
    duration: float
    #: Set to end a fault that runs in a thread of its own.
    calm: threading.Event = field(default_factory=threading.Event)
    #: A connection made before the fault: once CLIENT PAUSE is on, even a new
    #: connection's handshake waits.
    admin: Any = None

    def __post_init__(self) -> None:
        self.admin = self.server.client(socket_timeout=5, single_connection_client=True)
        self.admin.ping()


def kill(target: Target) -> None:
    target.server.stop()


def restart(target: Target) -> None:
    target.server.start()


def hang(target: Target) -> None:
    target.server.pause()


def unhang(target: Target) -> None:
    target.server.resume()


def set_mode(mode: Mode, delay: float = 0.0) -> Callable[[Target], None]:
    def change(target: Target) -> None:
        target.proxy.delay = delay
        target.proxy.mode = mode

    return change


def client_pause(target: Target) -> None:
    # CLIENT UNPAUSE would wait behind the pause too: it ends by itself.
    target.admin.execute_command("CLIENT", "PAUSE", round(target.duration * 1000), "ALL")


def pause_ends(target: Target) -> None:
    """Nothing to do: the pause lasts the fault's duration."""


def flush_scripts_often(target: Target) -> None:
    def flush() -> None:
        with target.server.client() as admin:
            while not target.calm.wait(0.05):
                admin.script_flush()

    threading.Thread(target=flush, daemon=True).start()


def stop_flushing(target: Target) -> None:
    target.calm.set()


def fill_memory(target: Target) -> None:
    used = int(target.admin.info("memory")["used_memory"])
    target.admin.config_set("maxmemory-policy", "noeviction")
    target.admin.config_set("maxmemory", used)


def free_memory(target: Target) -> None:
    target.admin.config_set("maxmemory", 0)


@dataclass(frozen=True)
class Fault:
    name: str
    what: str
    start: Callable[[Target], None]
    end: Callable[[Target], None]
    through_proxy: bool = False


FAULTS = [
    Fault("kill", "Server killed (SIGKILL), then started again", kill, restart),
    Fault("hang", "Server stopped (SIGSTOP), then SIGCONT", hang, unhang),
    Fault("blackhole", "Network drops everything", set_mode("blackhole"), set_mode("pass"), True),
    Fault(
        "slow", "Network delays each reply 0.2 s", set_mode("delay", 0.2), set_mode("pass"), True
    ),
    Fault("cut", "Network cuts each reply in half", set_mode("cut"), set_mode("pass"), True),
    Fault("pause", "CLIENT PAUSE ALL for the fault's duration", client_pause, pause_ends),
    Fault("flush", "SCRIPT FLUSH every 50 ms", flush_scripts_often, stop_flushing),
    Fault("oom", "maxmemory reached, noeviction", fill_memory, free_memory),
]


def new_session() -> str:
    from redis_sessions.session import SessionStore

    session = SessionStore()
    session["n"] = 0
    session.create()
    assert session.session_key is not None
    return session.session_key


def check(value: Any, counter: Counter, outcome: Outcome) -> int:
    """The counter read back, checked against what was saved."""
    if value not in (counter.acked, counter.attempted):
        outcome.wrong += 1
    if not isinstance(value, int) or value < counter.acked:
        outcome.lost += 1
        return counter.acked
    return value


def sync_cycle(key: str, counter: Counter, outcome: Outcome) -> None:
    from redis_sessions.session import SessionStore

    session = SessionStore(key)
    value = check(session.get("n"), counter, outcome)
    session["n"] = counter.attempted = value + 1
    session.save()
    counter.acked = value + 1


async def async_cycle(key: str, counter: Counter, outcome: Outcome) -> None:
    from redis_sessions.session import SessionStore

    session = SessionStore(key)
    value = check(await session.aget("n"), counter, outcome)
    await session.aset("n", value + 1)
    counter.attempted = value + 1
    await session.asave()
    counter.acked = value + 1


def record(outcome: Outcome, began: float, error: BaseException | None) -> None:
    name = None if error is None else type(error).__name__
    outcome.cycles.append(Cycle(began, time.monotonic() - began, name))


def run_threads(
    keys: list[str], outcome: Outcome, fault: Fault, target: Target, duration: float
) -> None:
    stop = threading.Event()

    def loop(key: str) -> None:
        counter = Counter()
        while not stop.is_set():
            began = time.monotonic()
            try:
                sync_cycle(key, counter, outcome)
            except Exception as exc:  # noqa: BLE001 (the suite fails on any but StoreUnavailable)
                record(outcome, began, exc)
                time.sleep(0.005)
            else:
                record(outcome, began, None)

    threads = [threading.Thread(target=loop, args=(key,)) for key in keys]
    for thread in threads:
        thread.start()
    drive(outcome, fault, target, duration, time.sleep)
    stop.set()
    for thread in threads:
        thread.join()


def run_tasks(
    keys: list[str], outcome: Outcome, fault: Fault, target: Target, duration: float
) -> None:
    async def loop(key: str, stop: asyncio.Event) -> None:
        counter = Counter()
        while not stop.is_set():
            began = time.monotonic()
            try:
                await async_cycle(key, counter, outcome)
            except Exception as exc:  # noqa: BLE001 (the suite fails on any but StoreUnavailable)
                record(outcome, began, exc)
                await asyncio.sleep(0.005)
            else:
                record(outcome, began, None)

    async def main() -> None:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(loop(key, stop)) for key in keys]
        # The fault is driven from a thread: the loop goes on running the cycles.
        await asyncio.to_thread(drive, outcome, fault, target, duration, time.sleep)
        stop.set()
        await asyncio.gather(*tasks)

    asyncio.run(main())


def drive(
    outcome: Outcome,
    fault: Fault,
    target: Target,
    duration: float,
    sleep: Callable[[float], None],
) -> None:
    """Start the fault after a calm moment, end it after ``duration``, await recovery."""
    sleep(0.3)
    outcome.started = time.monotonic()
    fault.start(target)
    sleep(duration)
    fault.end(target)
    outcome.ended = time.monotonic()
    deadline = outcome.ended + 10
    while outcome.successes_after_end() < 2 * WORKERS and time.monotonic() < deadline:
        sleep(0.02)


def run(fault: Fault, mode: str, duration: float = 1.5) -> Outcome:
    """Run ``fault`` under request cycles, in ``"threads"`` or ``"tasks"``."""
    outcome = Outcome()
    with (
        RedisServer("--appendonly", "yes", "--appendfsync", "always") as server,
        Proxy(("127.0.0.1", server.port)) as proxy,
    ):
        target = Target(server, proxy, duration)
        url = proxy.url if fault.through_proxy else server.url
        engine = {"URL": url, "SOCKET_TIMEOUT": TIMEOUT, "SOCKET_CONNECT_TIMEOUT": TIMEOUT}
        try:
            with override_settings(REDIS_SESSIONS=engine):
                keys = [new_session() for _ in range(WORKERS)]
                runner = run_threads if mode == "threads" else run_tasks
                runner(keys, outcome, fault, target, duration)
        finally:
            target.admin.close()
    return outcome
