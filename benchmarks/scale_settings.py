"""Settings of the commands that ``bench_scale.py`` runs as ``python -m django``.

The engine and nothing else, on the server named by ``BENCH_REDIS_URL``, with
the ``SCAN_COUNT`` of ``BENCH_SCAN_COUNT`` (the engine's default, 100, unless
set).
"""

from __future__ import annotations

import os

SECRET_KEY = "benchmarks-only-not-secret"
USE_TZ = True

# redis_sessions first, so that its clearsessions is the one that runs.
INSTALLED_APPS = ["redis_sessions", "django.contrib.sessions"]

SESSION_ENGINE = "redis_sessions.session"

REDIS_SESSIONS = {
    "URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
    "SCAN_COUNT": int(os.environ.get("BENCH_SCAN_COUNT", "100")),
}
