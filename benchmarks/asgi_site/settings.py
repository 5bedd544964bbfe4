"""Settings of the benchmark site; one module for every configuration.

Environment variables (``benchmarks.bench_asgi`` sets all three):

* ``ASGI_BENCH_CONFIG``: ``async``, ``sync`` or ``cache`` (see :mod:`.configs`);
* ``ASGI_BENCH_REDIS_URL``: the server that holds the sessions;
* ``ASGI_BENCH_DATABASE``: the SQLite file with the users, made by :mod:`.prepare`.

Only the session engine, the session middleware and the views differ between
configurations; everything else is the same for all three.
"""

from __future__ import annotations

import os
from typing import Any

from benchmarks.asgi_site.configs import DATABASE_VARIABLE, REDIS_URL_VARIABLE, selected_config

CONFIG = selected_config()
REDIS_URL = os.environ.get(REDIS_URL_VARIABLE, "redis://127.0.0.1:6379/0")

SECRET_KEY = "benchmark-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
USE_TZ = True

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "redis_sessions",
]

# The session middleware under test and the authentication middleware, nothing
# else: every other middleware would add the same cost to each configuration
# (most are sync only, so each would add a thread hop per request) and blur
# the difference being measured. There is no CSRF middleware, so the login and
# logout views need no token.
MIDDLEWARE = [
    CONFIG.session_middleware,
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

ROOT_URLCONF = "benchmarks.asgi_site.urls"

DATABASES: dict[str, dict[str, Any]] = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get(DATABASE_VARIABLE, "asgi-bench.sqlite3"),
        # Logins write last_login from many threads at once; wait for the
        # write lock rather than fail.
        "OPTIONS": {"timeout": 30},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

# The cache engine's sessions go to django-redis on the same server as the
# engine's; the other configurations never touch this cache.
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
    }
}

SESSION_ENGINE = CONFIG.session_engine
SESSION_CACHE_ALIAS = "default"
REDIS_SESSIONS = {"URL": REDIS_URL}

# A login checks a password on every cycle; a deliberately slow hasher would
# make the benchmark measure the hasher instead of the sessions.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AUTH_PASSWORD_VALIDATORS: list[dict[str, Any]] = []

# With DEBUG off Django's default logging prints nothing; a failing request
# should leave its traceback in the server's log.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"django": {"handlers": ["stderr"], "level": "ERROR"}},
}
