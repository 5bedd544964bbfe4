"""The configurations that ``benchmarks.bench_asgi`` compares, and what they share.

Importable without Django: the load generator and the benchmark script read the
names and the users' credentials from here too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

#: Environment variables read by the settings module.
CONFIG_VARIABLE = "ASGI_BENCH_CONFIG"
REDIS_URL_VARIABLE = "ASGI_BENCH_REDIS_URL"
DATABASE_VARIABLE = "ASGI_BENCH_DATABASE"

DJANGO_SESSION_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"
ENGINE_SESSION_MIDDLEWARE = "redis_sessions.middleware.SessionMiddleware"

#: Every virtual user logs in as its own user, so that a session answering for
#: the wrong user shows up as an error. All share one password.
USERNAME_PREFIX = "bench-user-"
PASSWORD = "benchmark-password"

#: The paths of the site, shared by its URLconf and the load generator.
COUNTER_PATH = "/counter/"
LOGIN_PATH = "/login/"
LOGOUT_PATH = "/logout/"
INFO_PATH = "/info/"


def username(index: int) -> str:
    return f"{USERNAME_PREFIX}{index}"


@dataclass(frozen=True)
class SiteConfig:
    """One configuration: a session engine, a session middleware and a kind of view."""

    #: The value of ``ASGI_BENCH_CONFIG`` that selects it.
    name: str
    label: str
    session_engine: str
    session_middleware: str
    #: ``"async"`` (``aget``/``aset``, ``alogin``, ``request.auser()``) or
    #: ``"sync"`` (``request.session[...]``, ``login``, ``request.user``).
    views: str


ASYNC_ENGINE = SiteConfig(
    name="async",
    label="async engine",
    session_engine="redis_sessions.session",
    session_middleware=ENGINE_SESSION_MIDDLEWARE,
    views="async",
)
SYNC_ENGINE = SiteConfig(
    name="sync",
    label="sync engine under ASGI",
    session_engine="redis_sessions.session",
    session_middleware=DJANGO_SESSION_MIDDLEWARE,
    views="sync",
)
CACHE_ENGINE = SiteConfig(
    name="cache",
    label="Django cache engine on django-redis",
    session_engine="django.contrib.sessions.backends.cache",
    session_middleware=DJANGO_SESSION_MIDDLEWARE,
    views="async",
)

CONFIGS = {config.name: config for config in (ASYNC_ENGINE, SYNC_ENGINE, CACHE_ENGINE)}


def selected_config() -> SiteConfig:
    """Return the configuration named by ``ASGI_BENCH_CONFIG`` (default: the async engine)."""
    name = os.environ.get(CONFIG_VARIABLE, ASYNC_ENGINE.name)
    try:
        return CONFIGS[name]
    except KeyError:
        raise ValueError(
            f"{CONFIG_VARIABLE}={name!r} names no configuration; use one of {', '.join(CONFIGS)}"
        ) from None
