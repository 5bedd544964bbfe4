"""The load generator of ``benchmarks.bench_http``: virtual users running one flow each.

The benchmark starts it once, as ``python -m benchmarks.http_load``, and sends
it one job per line on standard input, a JSON object::

    {"port": 8001, "flow": "b", "connections": 16, "warmup": 0.3, "duration": 1.0,
     "pids": [1234], "check": true, "tag": "r1-b-16"}

For each job it answers one line on standard output, a JSON object with what it
measured (see :func:`run_job`). Each virtual user holds one HTTP/1.1 connection
(kept alive when the server keeps it; gunicorn's sync workers close it after
each response, and then each request opens a new one) and a cookie jar of its
own, and sends one request at a time:

* flow ``a``: an anonymous visitor whose session holds a token; it reads the
  page that shows it (``GET /read/``), which must be its own token;
* flow ``b``: a logged-in user; ``POST /write/`` adds one to a counter in the
  session, which must go up by one each time and name the user;
* flow ``c``: ``POST /login/`` then ``POST /logout/``: the login must hand out
  a session cookie and the logout take it away;
* flow ``d``: two connections that share one cookie jar (so the connections
  count pairs); they send ``POST /side/?key=left`` and ``?key=right`` at the
  same time, each adding one to its own key. At the end ``GET /state/`` shows
  what the session kept: every change that a 200 acknowledged and the session
  does not hold is a lost change.

With ``check`` false (the configurations without a session) only the status is
checked. The set-up (the start of the session, the login of flow b) happens
before the warm-up. Nothing is recorded during the ``warmup`` seconds; then for
``duration`` seconds every completed request counts towards throughput, its
time from writing the request (connecting first if need be) to reading the
last byte of the response towards latency, and the CPU time of the processes
``pids`` is read at the window's two ends.
"""

from __future__ import annotations

import asyncio
import json
import math
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from benchmarks.http_site.engines import (
    LOGIN_PATH,
    LOGOUT_PATH,
    PASSWORD,
    READ_PATH,
    SIDE_PATH,
    SIDES,
    START_PATH,
    STATE_PATH,
    WRITE_PATH,
    username,
)
from benchmarks.processes import cpu_seconds_of

#: The only host this generator talks to.
HOST = "127.0.0.1"

#: The cookie Django's session middlewares set (``SESSION_COOKIE_NAME``).
SESSION_COOKIE = b"sessionid"

FLOWS = ("a", "b", "c", "d")

#: Seconds a request may take before it counts as failed.
REQUEST_TIMEOUT = 10.0

#: What a request that got no usable answer raises: counted as a connection error.
TRANSPORT_ERRORS = (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError)

#: Error samples kept for the report.
MAX_SAMPLES = 5

now = time.perf_counter


class CheckFailed(Exception):
    """A response that the server should not have sent."""

    def __init__(self, category: str, detail: str) -> None:
        super().__init__(f"{category}: {detail}")
        self.category = category


@dataclass
class Jar:
    """The cookies of one visitor, shared by its connections."""

    cookies: dict[bytes, bytes] = field(default_factory=dict)

    def header(self) -> bytes:
        if not self.cookies:
            return b""
        pairs = b"; ".join(name + b"=" + value for name, value in self.cookies.items())
        return b"Cookie: " + pairs + b"\r\n"

    def store(self, header_value: bytes) -> None:
        first, *attributes = header_value.split(b";")
        name, _, value = first.strip().partition(b"=")
        expired = any(
            attribute.strip().lower() in (b"max-age=0", b"expires=thu, 01 jan 1970 00:00:00 gmt")
            for attribute in attributes
        )
        if expired or not value:
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = value


class Connection:
    """One HTTP/1.1 connection of a visitor; it reconnects after the server closes it."""

    def __init__(self, port: int, jar: Jar) -> None:
        self.port = port
        self.jar = jar
        self.host_header = b"Host: %s:%d\r\n" % (HOST.encode(), port)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: bytes, path: bytes, body: bytes = b"") -> tuple[int, bytes]:
        """Send one request and return the status and body of the response."""
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        parts = [method, b" ", path, b" HTTP/1.1\r\n", self.host_header, self.jar.header()]
        if body:
            parts.append(
                b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n"
                % len(body)
            )
        elif method == b"POST":
            parts.append(b"Content-Length: 0\r\n")
        parts += [b"\r\n", body]
        self.writer.write(b"".join(parts))
        try:
            return await self.response(self.reader)
        except BaseException:
            self.close()
            raise

    async def response(self, reader: asyncio.StreamReader) -> tuple[int, bytes]:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head[:-4].split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = -1
        chunked = closing = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = value.strip().lower() == b"chunked"
            elif name == b"set-cookie":
                self.jar.store(value)
            elif name == b"connection":
                closing = value.strip().lower() == b"close"
        if chunked:
            body = await self.read_chunked(reader)
        elif length >= 0:
            body = await reader.readexactly(length)
        else:
            body = await reader.read()
            closing = True
        if closing:
            self.close()
        return status, body

    @staticmethod
    async def read_chunked(reader: asyncio.StreamReader) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return b"".join(chunks)
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class Window:
    """The measured window of one job, and what was recorded in it."""

    start: float
    end: float
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)

    def over(self) -> bool:
        return now() >= self.end

    def record(self, began: float) -> None:
        finished = now()
        if self.start <= began and finished <= self.end:
            self.latencies.append(finished - began)

    def fail(self, category: str, detail: str) -> None:
        self.errors[category] += 1
        if len(self.samples) < MAX_SAMPLES:
            self.samples.append(f"{category}: {detail}")


class Visitor:
    """A virtual user: its connections, its jar, what it expects to see."""

    def __init__(self, port: int, index: int, tag: str, check: bool, connections: int = 1):
        self.jar = Jar()
        self.connections = [Connection(port, self.jar) for _ in range(connections)]
        self.index = index
        self.token = f"{tag}-{index}".encode()
        self.check = check
        self.user_pk = b""
        self.count = 0
        #: Changes of flow (d) that a 200 acknowledged, per key.
        self.acknowledged = dict.fromkeys(SIDES, 0)

    def credentials(self) -> bytes:
        return f"username={quote(username(self.index))}&password={quote(PASSWORD)}".encode()

    async def call(
        self,
        window: Window | None,
        method: bytes,
        path: bytes,
        body: bytes = b"",
        connection: int = 0,
    ) -> bytes:
        """Send one request, record it in ``window`` and return its body; raise on a bad status."""
        began = now()
        status, answer = await asyncio.wait_for(
            self.connections[connection].request(method, path, body), REQUEST_TIMEOUT
        )
        if status != 200:
            raise CheckFailed(
                "status", f"{method.decode()} {path.decode()}: {status} {answer[:80]!r}"
            )
        if window is not None:
            window.record(began)
        return answer

    def expect(self, condition: bool, category: str, detail: str) -> None:
        if self.check and not condition:
            raise CheckFailed(category, detail)

    # Set-up ------------------------------------------------------------------

    async def set_up(self, flow: str) -> None:
        if flow in ("a", "d"):
            answer = await self.call(None, b"GET", START_PATH.encode() + b"?token=" + self.token)
            self.expect(answer == self.token, "start", f"{answer!r} for {self.token!r}")
        elif flow == "b":
            self.user_pk = await self.call(None, b"POST", LOGIN_PATH.encode(), self.credentials())
            self.expect(SESSION_COOKIE in self.jar.cookies, "login", "no session cookie")

    # Steps -------------------------------------------------------------------

    async def step(self, flow: str, window: Window) -> None:
        if flow == "a":
            answer = await self.call(window, b"GET", READ_PATH.encode())
            self.expect(answer == self.token, "read", f"{answer!r} for {self.token!r}")
        elif flow == "b":
            answer = await self.call(window, b"POST", WRITE_PATH.encode())
            self.count += 1
            expected = b"%s %d" % (self.user_pk, self.count)
            if self.check and answer != expected:
                # Resynchronise on what the server says, so one error is counted once.
                self.count = int(answer.rsplit(b" ", 1)[-1])
                raise CheckFailed("write", f"{answer!r}, expected {expected!r}")
        elif flow == "c":
            before = self.jar.cookies.get(SESSION_COOKIE)
            await self.call(window, b"POST", LOGIN_PATH.encode(), self.credentials())
            after = self.jar.cookies.get(SESSION_COOKIE)
            self.expect(after is not None and after != before, "login", "no new session cookie")
            await self.call(window, b"POST", LOGOUT_PATH.encode())
            self.expect(SESSION_COOKIE not in self.jar.cookies, "logout", "the cookie stayed")
        else:
            await asyncio.gather(*(self.change(window, side) for side in range(len(SIDES))))

    async def change(self, window: Window, side: int) -> None:
        key = SIDES[side]
        path = SIDE_PATH.encode() + b"?key=" + key.encode()
        await self.call(window, b"POST", path, connection=side)
        self.acknowledged[key] += 1

    async def lost_changes(self) -> int:
        """Count the acknowledged changes of flow (d) that the session does not hold."""
        state = json.loads(await self.call(None, b"GET", STATE_PATH.encode()))
        return sum(max(0, self.acknowledged[key] - int(state[key])) for key in SIDES)

    def close(self) -> None:
        for connection in self.connections:
            connection.close()


async def run_visitor(visitor: Visitor, flow: str, window: Window) -> None:
    while not window.over():
        try:
            await visitor.step(flow, window)
        except CheckFailed as failure:
            window.fail(failure.category, str(failure))
        except TRANSPORT_ERRORS as error:
            window.fail("connection", f"{type(error).__name__}: {error}")
            for connection in visitor.connections:
                connection.close()


def cpu_of(pids: list[int]) -> float:
    return sum(cpu_seconds_of(pid) for pid in pids)


async def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run one job and return what it measured.

    ``completed`` and ``requests_per_second`` count the requests completed in
    the window; ``p50`` and ``p99`` are their latencies in milliseconds;
    ``server_cpu`` is the CPU seconds of ``pids`` over the window; ``lost`` and
    ``changes`` are flow (d)'s lost and acknowledged changes over the whole job.
    """
    flow = job["flow"]
    if flow not in FLOWS:
        raise ValueError(f"no such flow: {flow!r}")
    pair = flow == "d"
    count = max(1, job["connections"] // 2) if pair else job["connections"]
    visitors = [
        Visitor(job["port"], index, job["tag"], job["check"], 2 if pair else 1)
        for index in range(count)
    ]
    setup_window = Window(0.0, 0.0)
    await asyncio.gather(*(checked(setup_window, visitor.set_up(flow)) for visitor in visitors))
    begin = now()
    window = Window(begin + job["warmup"], begin + job["warmup"] + job["duration"])
    window.errors.update(setup_window.errors)
    window.samples += setup_window.samples
    cpu: list[float] = []

    async def read_cpu() -> None:
        for edge in (window.start, window.end):
            await asyncio.sleep(max(0.0, edge - now()))
            cpu.append(cpu_of(job["pids"]))

    generator_before = resource.getrusage(resource.RUSAGE_SELF)
    await asyncio.gather(read_cpu(), *(run_visitor(visitor, flow, window) for visitor in visitors))
    generator_after = resource.getrusage(resource.RUSAGE_SELF)
    lost = changes = 0
    if pair:
        for visitor in visitors:
            changes += sum(visitor.acknowledged.values())
            if job["check"]:
                lost += await checked(window, visitor.lost_changes()) or 0
    for visitor in visitors:
        visitor.close()
    latencies = sorted(window.latencies)
    seconds = window.end - window.start
    return {
        "tag": job["tag"],
        "completed": len(latencies),
        "requests_per_second": len(latencies) / seconds,
        "p50": percentile(latencies, 50) * 1e3,
        "p99": percentile(latencies, 99) * 1e3,
        "server_cpu": cpu[1] - cpu[0],
        "generator_cpu": (generator_after.ru_utime + generator_after.ru_stime)
        - (generator_before.ru_utime + generator_before.ru_stime),
        "errors": sum(window.errors.values()),
        "error_kinds": dict(window.errors),
        "error_samples": window.samples,
        "lost": lost,
        "changes": changes,
    }


async def checked(window: Window, awaitable: Any) -> Any:
    """Await a set-up or final step; count a failure in ``window`` instead of raising it."""
    try:
        return await awaitable
    except CheckFailed as failure:
        window.fail(failure.category, str(failure))
    except TRANSPORT_ERRORS as error:
        window.fail("connection", f"{type(error).__name__}: {error}")
    return None


def percentile(values: list[float], rank: float) -> float:
    """The nearest-rank percentile of sorted ``values`` (nan when there are none)."""
    if not values:
        return float("nan")
    return values[max(0, math.ceil(rank / 100 * len(values)) - 1)]


def main() -> None:
    for line in sys.stdin:
        if line.strip():
            result = asyncio.run(run_job(json.loads(line)))
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
