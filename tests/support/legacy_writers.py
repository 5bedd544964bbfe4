"""django-redis-sessions itself, writing sessions as it did, for the migration tests.

It has our import name, ``redis_sessions``, so it runs in a subprocess of the
virtualenv that :func:`benchmarks.legacy.legacy_python` makes, with its own
tiny settings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from benchmarks.legacy import legacy_python

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
