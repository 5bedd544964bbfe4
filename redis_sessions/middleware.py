"""Middleware: a session middleware whose asyncio path saves with ``asave()``,
and one that answers 503 while the session store is unavailable.

Django's ``SessionMiddleware`` is sync only: under ASGI, Django runs its
``process_response`` (and so every session save) in a thread. This subclass
behaves the same under WSGI and, under ASGI, saves natively on the event loop.
Use it in place of Django's::

    MIDDLEWARE = [
        "redis_sessions.middleware.SessionMiddleware",
        ...
    ]

:class:`StoreUnavailableMiddleware` turns a request that failed on
:class:`~redis_sessions.exceptions.StoreUnavailable` into a 503 response; it
goes above the session middleware::

    MIDDLEWARE = [
        "redis_sessions.middleware.StoreUnavailableMiddleware",
        "redis_sessions.middleware.SessionMiddleware",
        ...
    ]
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.exceptions import SessionInterrupted
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.utils.deprecation import MiddlewareMixin
from django.utils.html import escape
from django.utils.http import http_date

from redis_sessions.conf import conf
from redis_sessions.devices import IP, client_ip
from redis_sessions.exceptions import StoreUnavailable
from redis_sessions.session import SessionStore

__all__ = ["SessionMiddleware", "StoreUnavailableMiddleware"]

logger = logging.getLogger("redis_sessions")

#: The page of :class:`StoreUnavailableMiddleware`'s 503; ``{detail}`` is empty
#: unless ``DEBUG`` is on.
UNAVAILABLE_PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Service unavailable</title></head>
<body>
<h1>Service unavailable</h1>
<p>The site cannot reach its session store. Please try again in a moment.</p>{detail}
</body>
</html>
"""


def unsaved(request: HttpRequest, response: HttpResponseBase) -> bool:
    """Whether the request's session is degraded (see ``ON_UNAVAILABLE``).

    Such a session is not saved and its cookie is left as the browser has it:
    only the ``Vary: Cookie`` header is added to ``response``.
    """
    if not getattr(getattr(request, "session", None), "degraded", False):
        return False
    patch_vary_headers(response, ("Cookie",))
    return True


def note_activity(request: HttpRequest) -> None:
    """With ``DEVICE_DETAILS``, have a user's session saved once per ``ACTIVITY_INTERVAL``.

    A request that only reads the session leaves it unsaved, one round trip;
    once the session was last saved ``ACTIVITY_INTERVAL`` seconds ago or
    more, the next request saves it, which records its last activity (and
    the client's address, which may have changed).
    """
    session = getattr(request, "session", None)
    if not conf.DEVICE_DETAILS or not isinstance(session, SessionStore) or session.modified:
        return
    saved = session.last_saved()
    if saved is not None and time.time() - saved >= conf.ACTIVITY_INTERVAL:
        session[IP] = client_ip(request)
        session.modified = True


class SessionMiddleware(DjangoSessionMiddleware):
    """Django's session middleware, with a native asyncio path.

    It tells the engine's session the request it serves (its ``request``
    attribute), which :data:`~redis_sessions.signals.ended_session_presented`
    carries.
    """

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        session = getattr(request, "session", None)
        if isinstance(session, SessionStore):
            session.request = request

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if unsaved(request, response):
            return response
        note_activity(request)
        return super().process_response(request, response)

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
        if session is None or unsaved(request, response):
            return response
        note_activity(request)
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


class StoreUnavailableMiddleware(MiddlewareMixin):
    """Answer 503, with ``Retry-After``, when a request failed because Redis did.

    Two failures become a 503: a view that raised
    :class:`~redis_sessions.exceptions.StoreUnavailable` (the admin's login
    check that loads the session, say), and a 500 response of a request whose
    session met ``StoreUnavailable`` (its save in the session middleware,
    which is why this middleware goes above that one). Any other response
    passes as it is.
    """

    #: The seconds of the ``Retry-After`` header.
    retry_after = 30

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponseBase | None:
        if not isinstance(exception, StoreUnavailable):
            return None
        # Django logs the 503 without its reason: this says what failed.
        logger.error("%s %s answered 503: %s", request.method, request.path, exception)
        return self.unavailable_response(request, exception)

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        met = getattr(getattr(request, "session", None), "unavailable", None)
        if response.status_code == 500 and isinstance(met, StoreUnavailable):
            return self.unavailable_response(request, met)
        return response

    def unavailable_response(self, request: HttpRequest, exc: StoreUnavailable) -> HttpResponse:
        """The 503 response; override it for a page of the site's own."""
        detail = f"\n<pre>{escape(str(exc))}</pre>" if settings.DEBUG else ""
        response = HttpResponse(UNAVAILABLE_PAGE.format(detail=detail), status=503)
        response["Retry-After"] = str(self.retry_after)
        add_never_cache_headers(response)
        return response
