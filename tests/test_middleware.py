"""redis_sessions.middleware.SessionMiddleware: Django's, with a native async path."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, cast

import pytest
import redis
from django.conf import settings
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.exceptions import SessionInterrupted
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.test import RequestFactory, override_settings

from redis_sessions.middleware import SessionMiddleware
from redis_sessions.session import SessionStore
from redis_sessions.store.async_clients import async_twin
from tests.support.keys import redis_key

View = Callable[[HttpRequest], Awaitable[HttpResponseBase]]


def serve(view: View, cookie: str | None = None) -> HttpResponse:
    """Run one request through the middleware's async path."""
    request = RequestFactory().get("/")
    if cookie is not None:
        request.COOKIES[settings.SESSION_COOKIE_NAME] = cookie
    middleware = SessionMiddleware(view)
    assert asyncio.iscoroutinefunction(middleware)
    return cast(HttpResponse, asyncio.run(middleware(request)))


def existing_session(**data: Any) -> str:
    session = SessionStore()
    session.update(data)
    session.create()
    assert session.session_key is not None
    return session.session_key


async def write_view(request: HttpRequest) -> HttpResponse:
    await request.session.aset("seen", True)
    return HttpResponse("ok")


def test_a_new_session_is_saved_and_its_cookie_set() -> None:
    response = serve(write_view)

    key = response.cookies[settings.SESSION_COOKIE_NAME].value
    assert SessionStore(key).load() == {"seen": True}
    assert response.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == settings.SESSION_COOKIE_AGE
    assert response.headers["Vary"] == "Cookie"


def test_the_cookie_has_djangos_attributes() -> None:
    with override_settings(SESSION_COOKIE_SECURE=True, SESSION_COOKIE_SAMESITE="Strict"):
        cookie = serve(write_view).cookies[settings.SESSION_COOKIE_NAME]

    assert cookie["secure"] is True
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/"


def test_a_session_that_ends_at_browser_close_gets_a_cookie_without_expiry() -> None:
    with override_settings(SESSION_EXPIRE_AT_BROWSER_CLOSE=True):
        cookie = serve(write_view).cookies[settings.SESSION_COOKIE_NAME]

    assert cookie["max-age"] == ""
    assert cookie["expires"] == ""


def test_an_emptied_session_deletes_its_cookie() -> None:
    async def logout_view(request: HttpRequest) -> HttpResponse:
        await request.session.aflush()
        return HttpResponse("bye")

    key = existing_session(a=1)
    response = serve(logout_view, cookie=key)

    assert response.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == 0
    assert SessionStore().exists(key) is False


def test_a_session_only_read_is_not_saved_but_varies_on_cookie(
    redis_client: redis.Redis,
) -> None:
    async def read_view(request: HttpRequest) -> HttpResponse:
        return HttpResponse(str(await request.session.aget("a")))

    key = existing_session(a=1)
    redis_client.hset(redis_key(key), "#m", "1")

    response = serve(read_view, cookie=key)

    assert response.content == b"1"
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert response.headers["Vary"] == "Cookie"
    assert redis_client.hget(redis_key(key), "#m") == b"1"


def test_a_server_error_response_does_not_save_the_session() -> None:
    async def failing_view(request: HttpRequest) -> HttpResponse:
        await request.session.aset("half", "done")
        return HttpResponse(status=500)

    key = existing_session(a=1)
    response = serve(failing_view, cookie=key)

    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert SessionStore(key).load() == {"a": 1}


def test_a_save_after_a_concurrent_logout_raises_session_interrupted() -> None:
    key = existing_session(_auth_user_id="1")

    async def slow_view(request: HttpRequest) -> HttpResponse:
        await request.session.aset("cart", [1])
        await SessionStore(key).aflush()  # another request logs out meanwhile
        return HttpResponse("late")

    with pytest.raises(SessionInterrupted) as raised:
        serve(slow_view, cookie=key)

    assert isinstance(raised.value.__cause__, UpdateError)
    assert SessionStore().exists(key) is False


def test_a_request_whose_session_was_removed_passes_through() -> None:
    async def view(request: HttpRequest) -> HttpResponse:
        del request.session
        return HttpResponse("no session")

    response = serve(view)

    assert response.content == b"no session"
    assert not response.cookies


def test_the_sync_path_is_djangos() -> None:
    def view(request: HttpRequest) -> HttpResponse:
        request.session["sync"] = True
        return HttpResponse("ok")

    middleware = SessionMiddleware(view)
    response = cast(HttpResponse, middleware(RequestFactory().get("/")))

    assert not asyncio.iscoroutinefunction(middleware)
    key = response.cookies[settings.SESSION_COOKIE_NAME].value
    assert SessionStore(key).load() == {"sync": True}


def test_an_async_twin_of_an_unknown_connection_class_is_refused() -> None:
    class HomeMadeConnection(redis.Connection):
        pass

    client = redis.Redis(connection_pool=redis.ConnectionPool(connection_class=HomeMadeConnection))
    with pytest.raises(ImproperlyConfigured, match="HomeMadeConnection"):
        async_twin(client)
    client.close()
