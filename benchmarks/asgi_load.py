"""The load generator of ``benchmarks.bench_asgi``: virtual users on keep-alive HTTP/1.1.

The benchmark runs it in a process of its own::

    python -m benchmarks.asgi_load --port PORT [--users 64] [--warmup 2] [--duration 10]
        [--cycle 20] [--max-requests N] [--request-timeout 10]

Each virtual user holds one keep-alive connection to 127.0.0.1 and a cookie jar
of its own, and sends one request at a time, in cycles of ``--cycle`` requests:

* counter requests (``GET /counter/``) on an anonymous session;
* ``POST /login/`` as the user's own account;
* :data:`COUNTERS_WHILE_LOGGED_IN` counter requests as that user;
* ``POST /logout/``.

The users start at different points of the anonymous part, so the logins are
spread over time. Every answer is checked, so that a fast wrong server cannot
win: the status; that the counter is one more than the last one this user saw
(1 after a logout); that the counter view names the logged-in user, and only
between login and logout; that a login hands out a new session key and a
logout takes the cookie away.

Nothing is recorded during the first ``--warmup`` seconds. The run stops by
itself after the warm-up and ``--duration`` seconds, or after
``--max-requests`` requests, whichever comes first. Throughput counts the
requests that complete within the measured window; latency runs from writing
the request to reading the last byte of the response.

The result is one JSON object on standard output. The HTTP client is written
for this server and this workload alone (asyncio streams, a header parser of a
few lines), to keep the generator's share of the CPU small.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import resource
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from benchmarks.asgi_site import configs

#: The only host this generator talks to.
HOST = "127.0.0.1"

#: The cookie Django's session middlewares set (``SESSION_COOKIE_NAME``).
SESSION_COOKIE = b"sessionid"

COUNTER = "counter"
LOGIN = "login"
LOGOUT = "logout"
KINDS = (COUNTER, LOGIN, LOGOUT)

COUNTER_PATH = configs.COUNTER_PATH.encode()
LOGIN_PATH = configs.LOGIN_PATH.encode()
LOGOUT_PATH = configs.LOGOUT_PATH.encode()

#: Counter requests between a login and its logout.
COUNTERS_WHILE_LOGGED_IN = 2

#: What the counter view shows for an anonymous user (see ``asgi_site.responses``).
ANONYMOUS = b"-"

#: Error samples kept for the report.
MAX_SAMPLES = 5

now = time.perf_counter


class CheckFailed(Exception):
    """A response that the server should not have sent."""

    def __init__(self, category: str, detail: str) -> None:
        super().__init__(f"{category}: {detail}")
        self.category = category


def cycle_steps(length: int) -> list[str]:
    """Return the kinds of the requests of one cycle, in order."""
    anonymous = length - COUNTERS_WHILE_LOGGED_IN - 2
    if anonymous < 1:
        raise ValueError(f"a cycle needs at least {COUNTERS_WHILE_LOGGED_IN + 3} requests")
    return [*[COUNTER] * anonymous, LOGIN, *[COUNTER] * COUNTERS_WHILE_LOGGED_IN, LOGOUT]


class Connection:
    """One keep-alive HTTP/1.1 connection with its cookie jar."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.host_header = b"Host: %s:%d\r\n" % (HOST.encode(), port)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.cookies: dict[bytes, bytes] = {}

    async def request(self, method: bytes, path: bytes, body: bytes = b"") -> tuple[int, bytes]:
        """Send one request and return the status and body of the response."""
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        parts = [method, b" ", path, b" HTTP/1.1\r\n", self.host_header]
        if self.cookies:
            jar = b"; ".join(name + b"=" + value for name, value in self.cookies.items())
            parts += [b"Cookie: ", jar, b"\r\n"]
        if body:
            parts.append(
                b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n"
                % len(body)
            )
        parts += [b"\r\n", body]
        # One write per request and no drain(): the request is tiny and the
        # next one waits for this response, so the buffer never fills.
        self.writer.write(b"".join(parts))
        return await self._response(self.reader)

    async def _response(self, reader: asyncio.StreamReader) -> tuple[int, bytes]:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head[:-4].split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = -1
        chunked = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = value.strip().lower() == b"chunked"
            elif name == b"set-cookie":
                self._store_cookie(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                raise CheckFailed("connection", "the server closed a keep-alive connection")
        if chunked:
            return status, await self._read_chunked(reader)
        if length >= 0:
            return status, await reader.readexactly(length)
        raise CheckFailed("framing", "a response with neither Content-Length nor chunks")

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
        # Django sets no Content-Length, so uvicorn sends chunks.
        chunks: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass  # trailers, if any
                return b"".join(chunks)
            chunks.append((await reader.readexactly(size + 2))[:-2])

    def _store_cookie(self, header: bytes) -> None:
        pair, *attributes = header.split(b";")
        name, _, value = pair.partition(b"=")
        name = name.strip()
        # Django deletes a cookie with Max-Age=0 (and an expiry in 1970).
        if any(attribute.strip().lower() == b"max-age=0" for attribute in attributes):
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = value.strip()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None
        self.cookies = {}


class Run:
    """The shared state of one run: its window, its counts and its latencies."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.steps = cycle_steps(args.cycle)
        start = now()
        self.window_start = start + args.warmup
        self.window_end = self.window_start + args.duration
        #: When the run stopped issuing requests early (the request limit).
        self.stopped_at: float | None = None
        self.issued = 0
        self.completed = 0
        self.latencies: dict[str, list[float]] = {kind: [] for kind in KINDS}
        self.checked: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.samples: list[str] = []

    def may_issue(self) -> bool:
        if self.stopped_at is not None or now() >= self.window_end:
            return False
        if self.issued >= self.args.max_requests:
            self.stopped_at = now()
            return False
        self.issued += 1
        return True

    def record(self, kind: str, start: float, end: float) -> None:
        self.completed += 1
        self.checked[kind] += 1
        if self.window_start <= end <= self.window_end:
            self.latencies[kind].append(end - start)

    def error(self, kind: str, exc: BaseException) -> None:
        category = exc.category if isinstance(exc, CheckFailed) else type(exc).__name__
        self.errors[f"{kind}: {category}"] += 1
        if len(self.samples) < MAX_SAMPLES:
            self.samples.append(f"{kind}: {exc!r}")


class VirtualUser:
    """One user: one connection, one cookie jar, one request at a time."""

    def __init__(self, index: int, run: Run) -> None:
        self.run = run
        self.username = configs.username(index).encode()
        self.login_body = b"username=%s&password=%s" % (
            quote(configs.username(index)).encode(),
            quote(configs.PASSWORD).encode(),
        )
        self.connection = Connection(run.args.port)
        anonymous = len(run.steps) - COUNTERS_WHILE_LOGGED_IN - 2
        # Users start at different points of the anonymous part, so that their
        # logins do not all come at once.
        self.step = index % anonymous
        self.count = 0
        self.logged_in = False
        #: When the request in flight started; 0 when there is none.
        self.started = 0.0

    async def loop(self) -> None:
        run = self.run
        steps = run.steps
        try:
            while run.may_issue():
                kind = steps[self.step % len(steps)]
                self.step += 1
                start = self.started = now()
                try:
                    await self.send(kind)
                except (CheckFailed, OSError, EOFError, ValueError, IndexError) as exc:
                    # asyncio.IncompleteReadError is an EOFError; LimitOverrunError
                    # and malformed numbers are ValueErrors. Start this user over
                    # on a new connection, so one error does not cascade.
                    self.started = 0.0
                    run.error(kind, exc)
                    self.restart()
                    # A pause, so that a server that is down is not hammered
                    # with connection attempts until the run ends.
                    await asyncio.sleep(0.1)
                    continue
                self.started = 0.0
                run.record(kind, start, now())
        finally:
            self.connection.close()

    def restart(self) -> None:
        self.connection.close()
        self.step = 0
        self.count = 0
        self.logged_in = False

    async def send(self, kind: str) -> None:
        connection = self.connection
        if kind == COUNTER:
            status, body = await connection.request(b"GET", COUNTER_PATH)
            expect_status(status, 200)
            count_text, _, name = body.partition(b" ")
            count = int(count_text)
            if count != self.count + 1:
                raise CheckFailed("counter", f"expected {self.count + 1}, got {count}")
            self.count = count
            expected_name = self.username if self.logged_in else ANONYMOUS
            if name != expected_name:
                raise CheckFailed("user", f"expected {expected_name!r}, got {name!r}")
        elif kind == LOGIN:
            old_key = connection.cookies.get(SESSION_COOKIE)
            status, body = await connection.request(b"POST", LOGIN_PATH, self.login_body)
            expect_status(status, 200)
            if body != self.username:
                raise CheckFailed("login", f"logged in as {body!r}")
            new_key = connection.cookies.get(SESSION_COOKIE)
            if new_key is None or new_key == old_key:
                raise CheckFailed("login", "no new session key after the login")
            self.logged_in = True
        else:
            status, body = await connection.request(b"POST", LOGOUT_PATH)
            expect_status(status, 200)
            if SESSION_COOKIE in connection.cookies:
                raise CheckFailed("logout", "the session cookie outlived the logout")
            self.logged_in = False
            self.count = 0


def expect_status(status: int, expected: int) -> None:
    if status != expected:
        raise CheckFailed(f"status {status}", f"expected {expected}, got {status}")


async def watchdog(
    run: Run, users: Sequence[VirtualUser], tasks: Sequence[asyncio.Task[None]]
) -> None:
    """Cancel a user whose request has waited longer than ``--request-timeout``."""
    timeout = run.args.request_timeout
    while not all(task.done() for task in tasks):
        await asyncio.sleep(0.25)
        moment = now()
        for user, task in zip(users, tasks, strict=True):
            if user.started and moment - user.started > timeout and not task.done():
                run.error("any", TimeoutError(f"no response within {timeout:g} s"))
                task.cancel()


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted seconds, in milliseconds."""
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)] * 1000


async def generate(args: argparse.Namespace) -> dict[str, Any]:
    run = Run(args)
    users = [VirtualUser(index, run) for index in range(args.users)]
    tasks = [asyncio.create_task(user.loop()) for user in users]
    guard = asyncio.create_task(watchdog(run, users, tasks))
    await asyncio.wait(tasks)
    await guard
    window = (run.stopped_at or run.window_end) - run.window_start
    every = sorted(latency for kind in KINDS for latency in run.latencies[kind])
    by_kind = {}
    for kind in KINDS:
        ordered = sorted(run.latencies[kind])
        by_kind[kind] = {
            "count": len(ordered),
            "p50": percentile(ordered, 0.5),
            "p99": percentile(ordered, 0.99),
        }
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "window_seconds": window,
        "measured": len(every),
        "requests_per_second": len(every) / window if window > 0 else 0.0,
        "p50": percentile(every, 0.5),
        "p90": percentile(every, 0.9),
        "p99": percentile(every, 0.99),
        "max": percentile(every, 1.0),
        "by_kind": by_kind,
        "issued": run.issued,
        "completed": run.completed,
        "checked": dict(run.checked),
        "errors": sum(run.errors.values()),
        "error_kinds": dict(run.errors),
        "error_samples": run.samples,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True, help="the server's port on 127.0.0.1")
    parser.add_argument("--users", type=int, default=64, help="virtual users (connections)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds not recorded")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured")
    parser.add_argument("--cycle", type=int, default=20, help="requests per login cycle")
    parser.add_argument("--max-requests", type=int, default=5_000_000, help="requests at most")
    parser.add_argument(
        "--request-timeout", type=float, default=10.0, help="seconds a response may take"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    result = asyncio.run(generate(args))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
