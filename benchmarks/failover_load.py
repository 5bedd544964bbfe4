"""A load of session requests that keeps running while a primary dies.

Shared by ``tests/test_failover.py`` and ``benchmarks/bench_failover.py``: a
thread does what a request does to its session (create it, save a change,
load it back), over and over, and records when each attempt began, ended and
whether it succeeded. From that, :meth:`SessionLoad.recovery` tells how long
after a kill the store served every request again.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from redis_sessions.exceptions import StoreUnavailable
from redis_sessions.session import SessionStore


@dataclass
class Attempt:
    began: float
    ended: float
    ok: bool


@dataclass
class SessionLoad:
    """Session requests in a thread, one after the other, until :meth:`stop`."""

    #: Seconds to wait after a failed attempt, as a client retrying would.
    pause_after_failure: float = 0.01
    attempts: list[Attempt] = field(default_factory=list)
    #: Keys of the sessions whose whole request succeeded.
    saved: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> SessionLoad:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        number = 0
        while not self._stop.is_set():
            number += 1
            began = time.monotonic()
            try:
                session = SessionStore()
                session["visits"] = number
                session.create()
                session["cart"] = [number]
                session.save()
                key = session.session_key
                assert key is not None
                assert SessionStore(key).load() == {"visits": number, "cart": [number]}
            except StoreUnavailable:
                self.attempts.append(Attempt(began, time.monotonic(), False))
                time.sleep(self.pause_after_failure)
            else:
                self.attempts.append(Attempt(began, time.monotonic(), True))
                self.saved.append(key)

    def failures_after(self, moment: float) -> int:
        return sum(1 for attempt in self.attempts if attempt.began >= moment and not attempt.ok)

    def successes_after(self, moment: float) -> int:
        return sum(1 for attempt in self.attempts if attempt.began >= moment and attempt.ok)

    def successes_in_a_row_after(self, moment: float) -> int:
        """The successes that end the record, counting only attempts begun after ``moment``."""
        count = 0
        for attempt in reversed(self.attempts):
            if attempt.began < moment or not attempt.ok:
                break
            count += 1
        return count

    def recovery(self, killed_at: float) -> float:
        """Seconds from ``killed_at`` to the end of the first success after the last failure.

        Zero when no attempt failed after the kill.
        """
        after = [attempt for attempt in self.attempts if attempt.ended >= killed_at]
        last_failure = max(
            (index for index, attempt in enumerate(after) if not attempt.ok), default=None
        )
        if last_failure is None:
            return 0.0
        for attempt in after[last_failure + 1 :]:
            if attempt.ok:
                return attempt.ended - killed_at
        raise AssertionError("the store never served a request again after the kill")
