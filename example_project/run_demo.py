#!/usr/bin/env python
"""Run the example project against a throwaway Redis: ``make demo``.

Starts a Redis server on a free loopback port, migrates the SQLite database,
makes sure the user ``demo`` (password ``demo``) exists, then serves the project
with ``runserver`` on 127.0.0.1:8000 (``DEMO_PORT`` picks another port) until
Ctrl-C. Redis is stopped on the way out, however the script ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

PROJECT_DIR = Path(__file__).resolve().parent
# For ``benchmarks.servers``, which knows how to start a disposable server.
sys.path.insert(1, str(PROJECT_DIR.parent))

from benchmarks.servers import RedisServer  # noqa: E402

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


def terminate(signum: int, frame: FrameType | None) -> None:
    # Unwinds through the finally blocks, which stop the servers.
    raise SystemExit(128 + signum)


def main() -> int:
    # A shell starts background jobs with SIGINT ignored, and Python keeps it so;
    # the demo must stop on ``kill -INT`` all the same.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, terminate)
    port = int(os.environ.get("DEMO_PORT", "8000"))
    redis_server = RedisServer()
    try:
        redis_server.start()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "demo.settings",
            "REDIS_URL": redis_server.url,
        }
        for command in (["migrate", "--no-input", "--verbosity", "0"], ["demo_user"]):
            code = manage(*command, env=env)
            if code:
                print(f"manage.py {command[0]} failed with exit code {code}.", file=sys.stderr)
                return code
        print(
            "\nRedis sessions demo\n"
            f"  Redis     {redis_server.url} (throwaway, stopped on exit)\n"
            f"  Open      http://127.0.0.1:{port}/\n"
            "  Log in    demo / demo\n"
            "  Stop      Ctrl-C\n",
            flush=True,
        )
        return serve(port, env)
    except KeyboardInterrupt:
        return 0
    finally:
        redis_server.close()


if __name__ == "__main__":
    sys.exit(main())
