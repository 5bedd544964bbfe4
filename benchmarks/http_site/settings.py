"""Settings of the benchmark site; one module for every configuration.

Environment variables (``benchmarks.bench_http`` sets them):

* ``HTTP_BENCH_CONFIG``: a name of :data:`.engines.CONFIGS`;
* ``HTTP_BENCH_REDIS_URL``: the server that holds the Redis-backed sessions,
  each configuration in a database of its own;
* ``HTTP_BENCH_SQLITE``: the SQLite file with the users (and the ``db``
  engine's sessions), made by :mod:`.prepare`;
* ``HTTP_BENCH_POSTGRES``: ``host:port`` of the PostgreSQL server that holds
  the sessions of ``db-postgres``;
* ``HTTP_BENCH_SERVER``: ``gunicorn`` or ``uvicorn``, the server that serves it.

Only the session engine, its middleware and the kind of views differ between
configurations; everything else is the same for all.
"""

from __future__ import annotations

import os
from typing import Any

from .engines import (
    POSTGRES_VARIABLE,
    REDIS_URL_VARIABLE,
    SERVER_VARIABLE,
    SQLITE_VARIABLE,
    WSGI,
    selected,
)

CONFIG = selected()
REDIS_URL = os.environ.get(REDIS_URL_VARIABLE, "redis://127.0.0.1:6379").rstrip("/")

#: The Redis database of each configuration that keeps its sessions in Redis.
DATABASE_NUMBERS = {
    "engine": 0,
    "engine-async": 0,
    "cache": 1,
    "cache-builtin": 2,
    "cached_db": 3,
    "least": 5,
}
LEGACY_DATABASE = 4
SESSIONS_URL = f"{REDIS_URL}/{DATABASE_NUMBERS.get(CONFIG.name, LEGACY_DATABASE)}"

SECRET_KEY = "benchmark-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
USE_TZ = True

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "http_site.apps.SiteConfig",
]
if CONFIG.session_engine == "redis_sessions.session" and not CONFIG.legacy:
    # Its system checks and its login receiver; the other engines have none.
    INSTALLED_APPS.append("redis_sessions")

# The session middleware under test and nothing else: every other middleware
# would add the same cost to each configuration and blur the difference being
# measured. There is no authentication middleware either: the views read the
# user's id from the session, so that no configuration pays for a query of the
# user. There is no CSRF middleware, so the login and logout views need no token.
MIDDLEWARE = [CONFIG.middleware] if CONFIG.middleware else []

ROOT_URLCONF = "http_site.urls"

DATABASES: dict[str, dict[str, Any]] = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get(SQLITE_VARIABLE, "http-bench.sqlite3"),
        # Sessions of the db engine are written from many workers at once;
        # wait for the write lock rather than fail.
        "OPTIONS": {"timeout": 30},
    }
}
if CONFIG.store == "postgres":
    host, _, port = os.environ.get(POSTGRES_VARIABLE, "127.0.0.1:5432").rpartition(":")
    DATABASES["postgres"] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "sessions",
        "USER": "postgres",
        "HOST": host,
        "PORT": port,
    }
    if os.environ.get(SERVER_VARIABLE, WSGI) == WSGI:
        # One connection per worker process, kept for the whole run.
        DATABASES["postgres"]["CONN_MAX_AGE"] = None
    else:
        # Under ASGI each request runs its sync code in a thread of its own, so
        # Django's persistent connections would pile up, one per thread that
        # ever ran; Django's answer is psycopg's connection pool.
        DATABASES["postgres"]["OPTIONS"] = {"pool": True}
    DATABASE_ROUTERS = ["http_site.routers.SessionsToPostgres"]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

CACHES = {
    "default": {
        "BACKEND": (
            "django.core.cache.backends.redis.RedisCache"
            if CONFIG.name == "cache-builtin"
            else "django_redis.cache.RedisCache"
        ),
        "LOCATION": SESSIONS_URL,
    }
}

SESSION_ENGINE = CONFIG.session_engine or "django.contrib.sessions.backends.db"
SESSION_CACHE_ALIAS = "default"
# This engine (REDIS_SESSIONS) and django-redis-sessions (SESSION_REDIS).
REDIS_SESSIONS = {"URL": SESSIONS_URL}
SESSION_REDIS = {"url": SESSIONS_URL}

# A login checks a password; a deliberately slow hasher would make the
# benchmark measure the hasher instead of the sessions.
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
