"""The site's URLs; the configuration decides whether sync or async views serve them."""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import path

from . import views
from .engines import (
    INFO_PATH,
    LOGIN_PATH,
    LOGOUT_PATH,
    READ_PATH,
    SIDE_PATH,
    START_PATH,
    STATE_PATH,
    WRITE_PATH,
    selected,
)


def info(request: HttpRequest) -> HttpResponse:
    """Say which configuration this server runs, for the benchmark to check."""
    import django

    import redis_sessions

    return HttpResponse(
        json.dumps(
            {
                "config": selected().name,
                "session_engine": settings.SESSION_ENGINE,
                "middleware": settings.MIDDLEWARE,
                "redis_sessions": getattr(redis_sessions, "__version__", "unknown"),
                "redis_sessions_file": redis_sessions.__file__,
                "django": django.__version__,
            }
        ),
        content_type="application/json",
    )


ASYNC = selected().views == "async"
PAGES = {
    START_PATH: views.astart if ASYNC else views.start,
    READ_PATH: views.aread if ASYNC else views.read,
    WRITE_PATH: views.awrite if ASYNC else views.write,
    LOGIN_PATH: views.alog_in if ASYNC else views.log_in,
    LOGOUT_PATH: views.alog_out if ASYNC else views.log_out,
    SIDE_PATH: views.aside if ASYNC else views.side,
    STATE_PATH: views.astate if ASYNC else views.state,
}

urlpatterns = [
    *(path(route.lstrip("/"), view) for route, view in PAGES.items()),
    path(INFO_PATH.lstrip("/"), info),
]
