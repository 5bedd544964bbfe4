"""A session middleware whose asyncio path saves with ``asave()``.

Django's ``SessionMiddleware`` is sync only: under ASGI, Django runs its
``process_response`` (and so every session save) in a thread. This subclass
behaves the same under WSGI and, under ASGI, saves natively on the event loop.
Use it in place of Django's::

    MIDDLEWARE = [
        "redis_sessions.middleware.SessionMiddleware",
        ...
    ]
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.exceptions import SessionInterrupted
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_vary_headers
from django.utils.http import http_date


class SessionMiddleware(DjangoSessionMiddleware):
    """Django's session middleware, with a native asyncio path."""

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        # Making the store does no I/O: the session loads on first access.
        self.process_request(request)
        response: HttpResponseBase = await self.get_response(request)  # type: ignore[misc]
        return await self.aprocess_response(request, response)

    async def aprocess_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        """Do what ``process_response`` does, with the session's async methods."""
        session: Any = getattr(request, "session", None)
        if session is None:
            return response
        cookie = settings.SESSION_COOKIE_NAME
        vary_on_cookie = session.accessed
        if cookie in request.COOKIES and session.is_empty():
            # An emptied session (after a logout, say) takes its cookie with it.
            response.delete_cookie(
                cookie,
                path=settings.SESSION_COOKIE_PATH,
                domain=settings.SESSION_COOKIE_DOMAIN,
                samesite=settings.SESSION_COOKIE_SAMESITE,
            )
            vary_on_cookie = True
        elif (
            (session.modified or settings.SESSION_SAVE_EVERY_REQUEST)
            and not session.is_empty()
            and response.status_code < 500
        ):
            if await session.aget_expire_at_browser_close():
                max_age = None
                expires = None
            else:
                max_age = await session.aget_expiry_age()
                expires = http_date(time.time() + max_age)
            try:
                await session.asave()
            except UpdateError as exc:
                raise SessionInterrupted(
                    "The request's session was deleted before the request completed. "
                    "The user may have logged out in a concurrent request, for example."
                ) from exc
            response.set_cookie(
                cookie,
                session.session_key,
                max_age=max_age,
                expires=expires,
                domain=settings.SESSION_COOKIE_DOMAIN,
                path=settings.SESSION_COOKIE_PATH,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=settings.SESSION_COOKIE_HTTPONLY,
                samesite=settings.SESSION_COOKIE_SAMESITE,
            )
            vary_on_cookie = True
        if vary_on_cookie:
            patch_vary_headers(response, ("Cookie",))
        return response
