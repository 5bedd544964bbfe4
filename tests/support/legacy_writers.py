"""django-redis-sessions itself, writing sessions as it did, for the migration tests.

It has our import name, ``redis_sessions``, so it cannot be imported here: it
is installed from PyPI into a virtualenv of its own under ``.cache/`` (made
once, reused by later runs) and runs in a subprocess of that virtualenv's
Python, with its own tiny settings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import django

REPOSITORY = Path(__file__).resolve().parents[2]
#: The release of django-redis-sessions the tests read; 0.6.2 is the last one.
VERSION = "0.6.2"

#: What the subprocess runs: save each session given on stdin with the old engine.
WRITER = """
import json, sys
import django
from django.conf import settings

job = json.load(sys.stdin)
settings.configure(
    SECRET_KEY=job["secret_key"],
    SESSION_REDIS=job["session_redis"],
    INSTALLED_APPS=[],
    USE_TZ=True,
)
django.setup()
from redis_sessions.session import SessionStore

keys = []
for session in job["sessions"]:
    store = SessionStore()
    store.update(session["data"])
    store.set_expiry(session["expiry"])
    store.save()
    keys.append(store.session_key)
json.dump(keys, sys.stdout)
"""


def legacy_python(*extras: str) -> Path:
    """The Python of a virtualenv with django-redis-sessions and this Django, made on first use.

    ``extras`` are more requirements to install there (the benchmark's HTTP
    servers); each set of them has a virtualenv of its own.
    """
    root = Path(os.environ.get("LEGACY_VENV_CACHE") or REPOSITORY / ".cache")
    name = f"django-redis-sessions-{VERSION}-django-{django.__version__}"
    if extras:
        name += "-" + "-".join(sorted(extra.replace("==", "-") for extra in extras))
    home = root / name
    python = home / "bin" / "python"
    ready = home / "installed"
    if not ready.exists():
        venv.create(home, with_pip=True, clear=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                f"django-redis-sessions=={VERSION}",
                f"django=={django.__version__}",
                "redis",
                *extras,
            ],
            check=True,
        )
        ready.write_text("")
    return python


def write_sessions(
    session_redis: dict[str, Any], sessions: list[tuple[dict[str, Any], int]], secret_key: str
) -> list[str]:
    """Save ``sessions`` (data, seconds to live) with django-redis-sessions; return their keys."""
    job = {
        "secret_key": secret_key,
        "session_redis": session_redis,
        "sessions": [{"data": data, "expiry": expiry} for data, expiry in sessions],
    }
    done = subprocess.run(
        [str(legacy_python()), "-c", WRITER],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        check=False,
        cwd=legacy_python().parent,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONNOUSERSITE": "1"},
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise RuntimeError(f"django-redis-sessions failed to write sessions: {done.stderr}")
    keys: list[str] = json.loads(done.stdout)
    return keys
