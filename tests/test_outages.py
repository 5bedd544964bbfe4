"""Redis down or refusing: errors that say what to do, and a 503 for the visitor.

Each test starts a server of its own and stops it (or sets a password on it):
no client of Redis is mocked.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.test import AsyncClient, Client, override_settings
from django.urls import URLPattern, URLResolver, path

import redis_sessions.session
from benchmarks.servers import RedisServer
from redis_sessions.exceptions import StoreUnavailable
from redis_sessions.session import SessionStore


def read_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(str(request.session.get("a")))


def write_view(request: HttpRequest) -> HttpResponse:
    request.session["a"] = 1
    return HttpResponse("ok")


async def async_read_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(str(await request.session.aget("a")))


#: The server the view of ``/restart/`` starts again, set by the test that uses it,
#: and a client of it that the view leaves open.
restarted: dict[str, RedisServer] = {}
watchers: dict[str, redis.Redis] = {}


def connections(client: redis.Redis) -> int:
    """How many connections the server of ``client`` took since it started."""
    return int(client.info("stats")["total_connections_received"])


def restarting_view(request: HttpRequest) -> HttpResponse:
    """Fail on the session, then start Redis again before the error page is made."""
    try:
        request.session.get("a")
    except StoreUnavailable:
        watcher = watchers["client"] = restarted["server"].start().client()
        request.META["connections"] = connections(watcher)
        raise
    return HttpResponse("Redis was up")


urlpatterns: list[URLPattern | URLResolver] = [
    path("read/", read_view),
    path("write/", write_view),
    path("async/read/", async_read_view),
    path("restart/", restarting_view),
    path("admin/", admin.site.urls),
]

DJANGOS_MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
WITH_503 = ["redis_sessions.middleware.StoreUnavailableMiddleware", *DJANGOS_MIDDLEWARE]
ENGINES_MIDDLEWARE = [
    "redis_sessions.middleware.StoreUnavailableMiddleware",
    "redis_sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Service unavailable</title></head>
<body>
<h1>Service unavailable</h1>
<p>The site cannot reach its session store. Please try again in a moment.</p>
</body>
</html>
"""


@pytest.fixture
def server() -> Iterator[RedisServer]:
    """A server of the test's own, which the engine uses."""
    with RedisServer() as server:
        options = {"URL": server.url, "SOCKET_TIMEOUT": 0.5, "SOCKET_CONNECT_TIMEOUT": 0.5}
        with override_settings(REDIS_SESSIONS=options, ROOT_URLCONF=__name__):
            yield server


@pytest.fixture
def stopped(server: RedisServer) -> str:
    """The key of a session saved before the server was stopped."""
    session = SessionStore()
    session["a"] = 1
    session.create()
    assert session.session_key is not None
    server.stop()
    return session.session_key


def browser(cookie: str | None = None) -> Client:
    client = Client(raise_request_exception=False)
    if cookie is not None:
        client.cookies[settings.SESSION_COOKIE_NAME] = cookie
    return client


def assert_503(response: HttpResponseBase) -> None:
    assert response.status_code == 503
    assert isinstance(response, HttpResponse)
    assert response.content.decode() == PAGE
    assert response["Retry-After"] == "30"
    assert response["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"


# Errors that say what to do.


def refusal(server: RedisServer, **credentials: str) -> redis.RedisError:
    """What redis-py raises for a command on ``server`` with these credentials."""
    with server.client(**credentials) as client:
        try:
            client.ping()
        except redis.RedisError as exc:
            return exc
    raise AssertionError("the server took the credentials")


def load_error(**options: str) -> str:
    with override_settings(REDIS_SESSIONS=options), pytest.raises(StoreUnavailable) as raised:
        SessionStore("a" * 32).load()
    return str(raised.value)


def test_a_missing_password_says_the_server_wants_one(server: RedisServer) -> None:
    with server.client() as client:
        client.config_set("requirepass", "the-right-one")
    exc = refusal(server)

    assert load_error(URL=server.url) == (
        f"Redis at 127.0.0.1:{server.port}/0 could not load a session "
        f"({type(exc).__name__}: {exc}). The server wants a password: give it in URL or PASSWORD."
    )


def test_a_wrong_password_says_it_was_refused(server: RedisServer) -> None:
    with server.client() as client:
        client.config_set("requirepass", "the-right-one")
    exc = refusal(server, password="the-wrong-one")

    message = load_error(URL=server.url, PASSWORD="the-wrong-one")

    assert message == (
        f"Redis at 127.0.0.1:{server.port}/0 could not load a session "
        f"({type(exc).__name__}: {exc}). The server refused the user name or password "
        "given: check URL, USERNAME and PASSWORD."
    )
    assert "the-wrong-one" not in message


def test_a_wrong_acl_user_says_it_was_refused(server: RedisServer) -> None:
    exc = refusal(server, username="nobody", password="pw")

    assert load_error(URL=f"redis://nobody:pw@127.0.0.1:{server.port}/0") == (
        f"Redis at 127.0.0.1:{server.port}/0 could not load a session "
        f"({type(exc).__name__}: {exc}). The server refused the user name or password "
        "given: check URL, USERNAME and PASSWORD."
    )


def test_a_database_the_server_does_not_have_says_so(server: RedisServer) -> None:
    assert load_error(URL=f"redis://127.0.0.1:{server.port}/99") == (
        f"Redis at 127.0.0.1:{server.port}/99 could not load a session (ResponseError: DB "
        "index is out of range). The server has no database of that number: name one below "
        "its 'databases' setting (16 by default) in URL."
    )


def test_a_stopped_server_says_to_check_it(stopped: str, server: RedisServer) -> None:
    with pytest.raises(StoreUnavailable) as raised:
        SessionStore(stopped).load()

    assert str(raised.value).startswith(
        f"Redis at 127.0.0.1:{server.port}/0 could not load a session (ConnectionError: "
    )
    assert str(raised.value).endswith(". Check that the server is up and reachable.")


# The app itself.


def test_the_engine_without_the_app_says_so_the_first_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    apps_without = [app for app in settings.INSTALLED_APPS if app != "redis_sessions"]
    monkeypatch.setattr(redis_sessions.session, "_app_looked_for", False)
    with override_settings(INSTALLED_APPS=apps_without):
        with pytest.warns(RuntimeWarning) as caught:
            SessionStore()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            SessionStore()

    (warning,) = caught
    assert str(warning.message) == (
        "The session engine redis_sessions.session is in use, but 'redis_sessions' is not "
        "in INSTALLED_APPS: the system checks of REDIS_SESSIONS, the engine's clearsessions "
        "command and its admin are off. Add 'redis_sessions' to INSTALLED_APPS, above "
        "'django.contrib.sessions'."
    )


def test_the_engine_with_the_app_says_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redis_sessions.session, "_app_looked_for", False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SessionStore()


# A session does not wait for Redis again once Redis failed it.


def test_a_session_that_failed_to_load_fails_again_at_once(
    stopped: str, server: RedisServer
) -> None:
    session = SessionStore(stopped)
    with pytest.raises(StoreUnavailable) as first:
        session.load()
    server.start()

    with pytest.raises(StoreUnavailable) as again:
        session.get("a")

    assert str(again.value) == str(first.value)
    assert session.unavailable is first.value
    # The next request's session finds Redis back (started again, and empty).
    assert SessionStore(stopped).load() == {}


def test_an_async_load_that_failed_fails_again_at_once(stopped: str, server: RedisServer) -> None:
    session = SessionStore(stopped)
    with pytest.raises(StoreUnavailable):
        asyncio.run(session.aload())
    server.start()

    with pytest.raises(StoreUnavailable):
        asyncio.run(session.aget("a"))


def test_djangos_debug_page_does_not_ask_redis_again(stopped: str, server: RedisServer) -> None:
    restarted["server"] = server
    with override_settings(DEBUG=True, MIDDLEWARE=DJANGOS_MIDDLEWARE):
        response = browser(stopped).get("/restart/")

    watcher = watchers.pop("client")
    try:
        # The error page reads request.user, which reads the session: no new
        # connection reached the server since the view started it again.
        assert connections(watcher) == response.wsgi_request.META["connections"]
    finally:
        watcher.close()
    assert response.status_code == 500
    assert b"StoreUnavailable" in response.content


# The 503.


def test_without_the_middleware_redis_down_is_a_500(stopped: str) -> None:
    with override_settings(MIDDLEWARE=DJANGOS_MIDDLEWARE):
        response = browser(stopped).get("/read/")

    assert response.status_code == 500


def test_a_load_with_redis_stopped_answers_503(stopped: str) -> None:
    with override_settings(MIDDLEWARE=WITH_503):
        response = browser(stopped).get("/read/")

    assert_503(response)


def test_a_save_with_redis_stopped_answers_503(stopped: str) -> None:
    with override_settings(MIDDLEWARE=WITH_503):
        response = browser().get("/write/")

    assert_503(response)
    assert settings.SESSION_COOKIE_NAME not in response.cookies


def test_the_admin_answers_503_before_its_login_check(stopped: str) -> None:
    with override_settings(MIDDLEWARE=WITH_503):
        response = browser(stopped).get("/admin/redis_sessions/session/")

    assert_503(response)


def test_the_async_path_answers_503(stopped: str) -> None:
    client = AsyncClient(raise_request_exception=False)
    client.cookies[settings.SESSION_COOKIE_NAME] = stopped
    with override_settings(MIDDLEWARE=ENGINES_MIDDLEWARE):
        response = asyncio.run(client.get("/async/read/"))

    assert_503(response)


def test_with_debug_the_503_says_what_failed(stopped: str, server: RedisServer) -> None:
    with override_settings(MIDDLEWARE=WITH_503, DEBUG=True):
        response = browser(stopped).get("/read/")

    assert response.status_code == 503
    page = response.content.decode()
    assert "<pre>Redis at 127.0.0.1:" in page
    assert "Check that the server is up and reachable.</pre>" in page


def test_the_503_is_logged_with_its_reason(
    stopped: str, server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    with override_settings(MIDDLEWARE=WITH_503):
        browser(stopped).get("/read/")

    (record,) = [record for record in caplog.records if record.name == "redis_sessions"]
    assert record.getMessage().startswith(
        f"GET /read/ answered 503: Redis at 127.0.0.1:{server.port}/0 could not load a session"
    )


def test_the_middleware_passes_other_responses(server: RedisServer) -> None:
    with override_settings(MIDDLEWARE=WITH_503):
        response = browser().get("/write/")

    assert response.status_code == 200
    assert settings.SESSION_COOKIE_NAME in response.cookies
