"""What the views answer, and a view that describes the running server."""

from __future__ import annotations

import asyncio

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, JsonResponse

from benchmarks.asgi_site.configs import selected_config

#: What the counter view shows in place of a username for an anonymous user.
ANONYMOUS = "-"


def counter_response(count: int, user: AbstractBaseUser | AnonymousUser) -> HttpResponse:
    # Plain text, "<count> <username>": the load generator parses it without a
    # JSON decoder, which keeps it lean.
    name = user.get_username() if user.is_authenticated else ANONYMOUS
    return HttpResponse(f"{count} {name}", content_type="text/plain")


async def info(request: HttpRequest) -> HttpResponse:
    """Describe the server, so the benchmark can check it runs what it should."""
    loop = type(asyncio.get_running_loop())
    return JsonResponse(
        {
            "config": selected_config().name,
            "session_engine": settings.SESSION_ENGINE,
            "middleware": list(settings.MIDDLEWARE),
            "loop": f"{loop.__module__}.{loop.__qualname__}",
        }
    )
