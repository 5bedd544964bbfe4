"""``ON_UNAVAILABLE = "anonymous"``: pages served while Redis is down, nobody logged out.

Each test logs a user in on a server of its own, then stops that server with
SIGSTOP (hung) or kills it, and sends requests through the real middleware.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.test import AsyncClient, Client, override_settings
from django.urls import URLPattern, path

from benchmarks.servers import RedisServer
from redis_sessions.exceptions import StoreUnavailable
from redis_sessions.signals import session_degraded
from tests.support.signals import heard

pytestmark = pytest.mark.django_db


def who(request: HttpRequest) -> HttpResponse:
    user = request.user
    name = user.get_username() if user.is_authenticated else "anonymous"
    return HttpResponse(f"{name} {request.session.get('theme')}")


async def atheme(request: HttpRequest) -> HttpResponse:
    return HttpResponse(str(await request.session.aget("theme")))


def set_theme(request: HttpRequest) -> HttpResponse:
    request.session["theme"] = request.GET["theme"]
    return HttpResponse("ok")


def log_in(request: HttpRequest) -> HttpResponse:
    user = get_user_model().objects.get(username=request.GET["as"])
    login(request, user)
    request.session["theme"] = "dark"
    return HttpResponse("in")


@login_required
def private(request: HttpRequest) -> HttpResponse:
    return HttpResponse("private")


def form(request: HttpRequest) -> HttpResponse:
    return HttpResponse(get_token(request))


urlpatterns: list[URLPattern] = [
    path("who/", who),
    path("atheme/", atheme),
    path("theme/", set_theme),
    path("login/", log_in),
    path("private/", private),
    path("form/", form),
]

MIDDLEWARE = [
    "redis_sessions.middleware.StoreUnavailableMiddleware",
    "redis_sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
DJANGOS_SESSION_MIDDLEWARE = [
    "redis_sessions.middleware.StoreUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]


@pytest.fixture
def server() -> Iterator[RedisServer]:
    with RedisServer() as started:
        options = {
            "URL": started.url,
            "SOCKET_TIMEOUT": 0.3,
            "SOCKET_CONNECT_TIMEOUT": 0.3,
            "ON_UNAVAILABLE": "anonymous",
            "BREAKER_RESET": 0.05,
        }
        with override_settings(
            REDIS_SESSIONS=options, ROOT_URLCONF=__name__, MIDDLEWARE=MIDDLEWARE
        ):
            yield started


@pytest.fixture
def ada(server: RedisServer) -> Client:
    """A browser whose user, ada, logged in while Redis was up."""
    get_user_model().objects.create_user("ada", password="not-used")
    browser = Client(raise_request_exception=False)
    assert browser.get("/login/?as=ada").status_code == 200
    assert browser.get("/who/").content == b"ada dark"
    return browser


@pytest.fixture
def degraded() -> Iterator[list[dict[str, Any]]]:
    """The arguments of every ``session_degraded`` signal sent."""
    with heard(session_degraded) as sent:
        yield sent


def cookie_of(browser: Client | AsyncClient) -> str:
    return browser.cookies[settings.SESSION_COOKIE_NAME].value


@pytest.mark.parametrize("fault", ["pause", "stop"])
def test_a_page_is_served_anonymous_while_redis_is_down(
    ada: Client, server: RedisServer, fault: str, degraded: list[dict[str, Any]]
) -> None:
    getattr(server, fault)()

    response = ada.get("/who/")

    assert response.status_code == 200
    assert response.content == b"anonymous None"
    assert settings.SESSION_COOKIE_NAME not in response.cookies  # neither replaced nor deleted
    assert response["Vary"] == "Cookie"
    assert len(degraded) == 1
    assert isinstance(degraded[0]["exception"], StoreUnavailable)
    assert degraded[0]["request"] is not None
    assert len(degraded[0]["stored_id"]) == 32


def test_the_user_is_logged_in_again_as_soon_as_redis_answers(
    ada: Client, server: RedisServer
) -> None:
    cookie = cookie_of(ada)
    server.pause()
    assert ada.get("/who/").content == b"anonymous None"
    server.resume()
    time.sleep(0.1)  # the breaker's next probe

    assert ada.get("/who/").content == b"ada dark"
    assert cookie_of(ada) == cookie


def test_a_change_made_while_degraded_is_not_saved_and_nothing_is_lost(
    ada: Client, server: RedisServer
) -> None:
    server.pause()
    response = ada.get("/theme/?theme=light")
    assert response.status_code == 200
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    server.resume()
    time.sleep(0.1)
    assert ada.get("/who/").content == b"ada dark"


def test_save_every_request_leaves_the_cookie_alone_too(ada: Client, server: RedisServer) -> None:
    server.pause()
    with override_settings(SESSION_SAVE_EVERY_REQUEST=True):
        response = ada.get("/who/")
    assert response.status_code == 200
    assert settings.SESSION_COOKIE_NAME not in response.cookies


def test_with_djangos_session_middleware_the_same_cookie_is_sent_back(
    ada: Client, server: RedisServer
) -> None:
    cookie = cookie_of(ada)
    server.pause()
    with override_settings(MIDDLEWARE=DJANGOS_SESSION_MIDDLEWARE):
        browser = Client(raise_request_exception=False)  # a client loads MIDDLEWARE once
        browser.cookies = ada.cookies
        response = browser.get("/theme/?theme=light")
    assert response.status_code == 200
    # Django's middleware sets the cookie of a modified session; the key is the same.
    assert response.cookies[settings.SESSION_COOKIE_NAME].value == cookie
    server.resume()
    time.sleep(0.1)
    assert ada.get("/who/").content == b"ada dark"


def test_a_page_that_needs_a_login_redirects_to_it(ada: Client, server: RedisServer) -> None:
    server.pause()
    response = ada.get("/private/")
    assert response.status_code == 302
    assert response["Location"] == f"{settings.LOGIN_URL}?next=/private/"


def test_logging_in_while_degraded_answers_503(ada: Client, server: RedisServer) -> None:
    server.pause()
    assert ada.get("/login/?as=ada").status_code == 503


def test_each_degraded_request_is_logged(
    ada: Client, server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.pause()
    with caplog.at_level(logging.WARNING, "redis_sessions"):
        ada.get("/who/")
        ada.get("/who/")
    served = [
        record.getMessage()
        for record in caplog.records
        if record.getMessage().startswith("Serving an empty session")
    ]
    assert len(served) == 2
    assert served[0].startswith(
        "Serving an empty session for GET /who/, unsaved, since Redis is unavailable "
        f"(ON_UNAVAILABLE='anonymous'): Redis at 127.0.0.1:{server.port}/0 could not"
    )


def test_forms_fail_csrf_with_csrf_use_sessions(ada: Client, server: RedisServer) -> None:
    browser = Client(enforce_csrf_checks=True, raise_request_exception=False)
    browser.cookies = ada.cookies
    with override_settings(CSRF_USE_SESSIONS=True):
        token = browser.get("/form/").content.decode()
        server.pause()
        response = browser.post("/theme/?theme=light", {"csrfmiddlewaretoken": token})
    assert response.status_code == 403


def test_the_async_path_is_served_anonymous_too(
    server: RedisServer, degraded: list[dict[str, Any]]
) -> None:
    browser = AsyncClient(raise_request_exception=False)

    async def scenario() -> list[tuple[int, bytes, bool]]:
        seen = []
        await browser.get("/theme/?theme=dark")
        for _ in range(2):
            response = await browser.get("/atheme/")
            seen.append(
                (
                    response.status_code,
                    response.content,
                    settings.SESSION_COOKIE_NAME in response.cookies,
                )
            )
            server.pause()
        server.resume()
        return seen

    up, down = asyncio.run(scenario())
    assert up == (200, b"dark", False)
    assert down == (200, b"None", False)
    assert len(degraded) == 1


def test_by_default_a_load_that_fails_answers_503(ada: Client, server: RedisServer) -> None:
    server.pause()
    with override_settings(REDIS_SESSIONS={"URL": server.url, "SOCKET_TIMEOUT": 0.3}):
        assert ada.get("/who/").status_code == 503
