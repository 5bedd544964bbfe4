"""A circuit breaker: fail fast while Redis does not answer.

A hung server (a stopped process, a blackholed network, a stalled failover)
makes every command wait out ``SOCKET_TIMEOUT``. After ``failures`` commands in
a row found no server, the breaker opens: operations raise
:class:`~redis_sessions.exceptions.CircuitOpen` at once, without touching the
network. Every ``reset`` seconds, one operation goes through as a probe; the
first one that reaches the server closes the breaker again. While a probe
waits for its answer, the others still fail at once: another probe goes only
if that one has had no outcome for ``patience`` seconds (the socket timeouts,
after which it has one).

One breaker serves a store: its sync driver and its asyncio driver share it, so
the threads and the event loops of a process see one state. Its lock is held
to read and change that state, never across I/O, so it does not serialise the
operations it guards.

What counts as a failure is a command that did not reach a server or got no
reply (``ConnectionError`` and ``TimeoutError`` of redis-py, which include
"no master found" from Sentinel and a server still loading its data, and
on Redis Cluster ``RedisClusterUnreachableError``, no node answering). A
server that answers, even with an error, closes the breaker.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType

from redis.exceptions import ConnectionError, RedisClusterException, RedisError, TimeoutError

from redis_sessions.exceptions import CircuitOpen

__all__ = ["CLOSED", "OPEN", "PROBING", "Breaker", "Call"]

logger = logging.getLogger("redis_sessions.breaker")

#: Operations go to Redis.
CLOSED = "closed"
#: Operations fail at once.
OPEN = "open"
#: One operation, the probe, is on its way to Redis; the others fail at once.
PROBING = "probing"


class Breaker:
    """The state shared by every operation of one store in this process.

    ``failures`` is how many failures in a row open it (0 turns it off);
    ``reset`` the seconds it stays open before a probe; ``patience`` the
    seconds a probe may go without an outcome before another one goes;
    ``where`` describes the server for the log and the errors.
    """

    def __init__(
        self,
        failures: int,
        reset: float,
        where: Callable[[], str],
        patience: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failures = failures
        self.reset = reset
        self.patience = patience
        self.where = where
        self.clock = clock
        self.state = CLOSED
        #: Failures since the last success.
        self.in_a_row = 0
        #: When it last opened, or when its probe set out.
        self.since = 0.0
        self.lock = threading.Lock()

    def call(self, action: str = "run a command") -> Call:
        """Guard one operation, which would ``action``: ``with breaker.call(...): ...``."""
        return Call(self, self.admit(action))

    def admit(self, action: str = "run a command") -> bool:
        """Let an operation through, or raise :class:`CircuitOpen` saying it could not ``action``.

        True when the operation is the probe.
        """
        if self.state == CLOSED:
            return False
        with self.lock:
            now = self.clock()
            if self.state == CLOSED:
                return False
            # A probe with no outcome after ``patience`` (cancelled, say) no
            # longer holds the others back.
            wait = self.reset if self.state == OPEN else self.patience
            if now - self.since >= wait:
                self.since = now
                self._change(PROBING, "a probe goes to Redis")
                return True
            waited = wait - (now - self.since)
        raise CircuitOpen(
            f"Redis at {self.where()} could not {action}: it failed {self.in_a_row} times in "
            f"a row, and the engine fails at once for {waited:.2f} s more, then tries again. "
            "Check that the server is up and reachable (BREAKER_FAILURES and BREAKER_RESET "
            "set this)."
        )

    def succeeded(self) -> None:
        """Record an operation that reached the server."""
        if self.state == CLOSED and self.in_a_row == 0:
            return
        with self.lock:
            self.in_a_row = 0
            if self.state != CLOSED:
                self._change(CLOSED, "Redis answers again")

    def failed(self) -> None:
        """Record an operation that found no server."""
        if not self.failures:
            return
        with self.lock:
            self.in_a_row += 1
            if self.state == PROBING or (self.state == CLOSED and self.in_a_row >= self.failures):
                self.since = self.clock()
                self._change(
                    OPEN,
                    f"{self.in_a_row} failures in a row; operations fail at once for "
                    f"{self.reset} s before a probe",
                )

    def abandoned(self) -> None:
        """Record a probe that ended without an answer either way (cancelled, say)."""
        with self.lock:
            if self.state == PROBING:
                self._change(OPEN, "the probe was abandoned")

    def _change(self, state: str, why: str) -> None:
        if state == self.state:
            return
        # Opening and closing are news; the probes in between are not.
        if state == CLOSED:
            level = logging.INFO
        elif self.state == CLOSED:
            level = logging.WARNING
        else:
            level = logging.DEBUG
        logger.log(level, "Circuit breaker of Redis at %s: %s, %s.", self.where(), state, why)
        self.state = state


class Call:
    """One guarded operation: a context manager that reports how it went."""

    __slots__ = ("breaker", "probe")

    def __init__(self, breaker: Breaker, probe: bool) -> None:
        self.breaker = breaker
        self.probe = probe

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is None:
            self.breaker.succeeded()
        elif issubclass(kind, (ConnectionError, TimeoutError, RedisClusterException)):
            self.breaker.failed()
        elif issubclass(kind, RedisError):
            # Any other error of redis-py is an answer of the server.
            self.breaker.succeeded()
        elif self.probe:
            # Cancelled, say: the probe tells nothing, and another may go.
            self.breaker.abandoned()
