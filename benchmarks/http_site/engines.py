"""The configurations that ``benchmarks.bench_http`` compares, and the site's constants.

Importable without Django: the load generator and the benchmark script read the
names, paths and credentials from here too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

#: Environment variables read by the settings module.
CONFIG_VARIABLE = "HTTP_BENCH_CONFIG"
REDIS_URL_VARIABLE = "HTTP_BENCH_REDIS_URL"
SQLITE_VARIABLE = "HTTP_BENCH_SQLITE"
POSTGRES_VARIABLE = "HTTP_BENCH_POSTGRES"
SERVER_VARIABLE = "HTTP_BENCH_SERVER"

DJANGO_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"
ENGINE_MIDDLEWARE = "redis_sessions.middleware.SessionMiddleware"

#: Every virtual user logs in as its own user, so that a session answering for
#: the wrong user shows up as an error. All share one password.
USERNAME_PREFIX = "bench-user-"
PASSWORD = "benchmark-password"

#: The site's paths, shared by its URLconf and the load generator.
START_PATH = "/start/"
READ_PATH = "/read/"
WRITE_PATH = "/write/"
LOGIN_PATH = "/login/"
LOGOUT_PATH = "/logout/"
SIDE_PATH = "/side/"
STATE_PATH = "/state/"
INFO_PATH = "/info/"

#: The two keys that the two concurrent requests of flow (d) change.
SIDES = ("left", "right")

#: Seconds the page of flow (d) spends between reading the session and
#: changing it: the page's own work (a query, a template), the same for every
#: configuration. Without it the two requests would hardly ever overlap.
PAGE_WORK = 0.001

WSGI = "gunicorn"
ASGI = "uvicorn"


def username(index: int) -> str:
    return f"{USERNAME_PREFIX}{index}"


@dataclass(frozen=True)
class Config:
    """One way of serving the site: a session engine, its middleware and its views."""

    #: The value of ``HTTP_BENCH_CONFIG`` that selects it.
    name: str
    label: str
    #: None: no session at all, the floor that overheads are measured from.
    session_engine: str | None
    middleware: str | None
    #: ``"sync"`` or ``"async"`` views (``aget``/``aset``, ``alogin``, ``alogout``).
    views: str = "sync"
    #: The servers that run it: async views are for ASGI alone.
    servers: tuple[str, ...] = (WSGI, ASGI)
    #: The configuration without a session that its overhead is measured from.
    floor: str = "none"
    #: What the sessions are kept in: ``redis``, ``sqlite``, ``postgres``, ``cookie``.
    store: str = "redis"
    #: Served by the virtualenv of django-redis-sessions rather than this one.
    legacy: bool = False
    #: An engine a site could pick instead of this one (not a floor, not a reference).
    peer: bool = True

    @property
    def is_floor(self) -> bool:
        return self.session_engine is None


CACHE_ENGINE = "django.contrib.sessions.backends.cache"

CONFIGS = {
    config.name: config
    for config in (
        Config("none", "no session", None, None, store="none"),
        Config("none-async", "no session, async views", None, None, "async", (ASGI,), store="none"),
        Config("engine", "this engine", "redis_sessions.session", ENGINE_MIDDLEWARE),
        Config(
            "engine-async",
            "this engine, async views",
            "redis_sessions.session",
            ENGINE_MIDDLEWARE,
            "async",
            (ASGI,),
            floor="none-async",
        ),
        Config("cache", "cache on django-redis", CACHE_ENGINE, DJANGO_MIDDLEWARE),
        Config("cache-builtin", "cache on Django's RedisCache", CACHE_ENGINE, DJANGO_MIDDLEWARE),
        Config(
            "cached_db",
            "cached_db (django-redis, SQLite)",
            "django.contrib.sessions.backends.cached_db",
            DJANGO_MIDDLEWARE,
        ),
        Config(
            "db",
            "db on SQLite",
            "django.contrib.sessions.backends.db",
            DJANGO_MIDDLEWARE,
            store="sqlite",
        ),
        Config(
            "db-postgres",
            "db on PostgreSQL",
            "django.contrib.sessions.backends.db",
            DJANGO_MIDDLEWARE,
            store="postgres",
        ),
        Config(
            "signed_cookies",
            "signed_cookies",
            "django.contrib.sessions.backends.signed_cookies",
            DJANGO_MIDDLEWARE,
            store="cookie",
        ),
        Config(
            "least",
            "least possible (reference)",
            "http_site.least",
            DJANGO_MIDDLEWARE,
            peer=False,
        ),
        Config(
            "legacy",
            "django-redis-sessions",
            "redis_sessions.session",
            DJANGO_MIDDLEWARE,
            legacy=True,
        ),
    )
}

#: The peer that the overhead ratios divide by.
REFERENCE = "cache"


def selected() -> Config:
    """Return the configuration that ``HTTP_BENCH_CONFIG`` names (default: this engine)."""
    name = os.environ.get(CONFIG_VARIABLE, "engine")
    try:
        return CONFIGS[name]
    except KeyError:
        raise ValueError(
            f"{CONFIG_VARIABLE}={name!r} names no configuration; use one of {', '.join(CONFIGS)}"
        ) from None
