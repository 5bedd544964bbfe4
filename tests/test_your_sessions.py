"""Device details and the "Your sessions" page, through the real middleware.

Two browsers (two test clients) log the same user in; the page of one lists
both, marks its own, and ends the other, which is then logged out. With and
without ``USER_INDEX``, on the sync view and on the asyncio one.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, Client, override_settings
from django.urls import URLPattern, URLResolver, include, path

from redis_sessions.devices import client_ip, describe_agent
from redis_sessions.session import SessionStore
from redis_sessions.signals import ended_session_presented
from redis_sessions.store import get_store
from redis_sessions.store.keys import stored_id
from redis_sessions.views import AsyncYourSessionsView
from tests.support.signals import heard

pytestmark = pytest.mark.django_db(transaction=True)

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
SAFARI_ON_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
EDGE = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86"
)
CHROME_ON_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.6778.135 Mobile Safari/537.36"
)


def log_in(request: HttpRequest) -> HttpResponse:
    login(request, get_user_model().objects.get(username="ada"))
    return HttpResponse("in")


def who(request: HttpRequest) -> HttpResponse:
    user = request.user
    return HttpResponse(user.get_username() if user.is_authenticated else "anonymous")


urlpatterns: list[URLPattern | URLResolver] = [
    path("login/", log_in),
    path("who/", who),
    path("sessions/", include("redis_sessions.urls")),
    path("async/sessions/", AsyncYourSessionsView.as_view()),
]

MIDDLEWARE = [
    "redis_sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]


@pytest.fixture(params=[False, True], ids=["scan", "user-index"])
def site(request: pytest.FixtureRequest, redis_url: str) -> Iterator[None]:
    """The test's URLs and middleware, device details on, with and without the index."""
    engine = {"URL": redis_url, "DEVICE_DETAILS": True, "USER_INDEX": request.param}
    with override_settings(ROOT_URLCONF=__name__, MIDDLEWARE=MIDDLEWARE, REDIS_SESSIONS=engine):
        get_user_model().objects.create_user("ada", password="not-used")
        yield


def browser(agent: str, address: str) -> Client:
    client = Client(HTTP_USER_AGENT=agent, REMOTE_ADDR=address)
    assert client.get("/login/").status_code == 200
    return client


def listed(page: str) -> list[str]:
    """The browsers the page lists, in order, with "(this)" after the current one."""
    items = re.findall(r"<li( class=\"current\")?>\s*<strong>([^<]*)</strong>", page)
    return [f"{name} (this)" if current else name for current, name in items]


def stored_ids(page: str) -> list[str]:
    return re.findall(r'name="session" value="([A-Z2-7]{32})"', page)


def cookie(client: Client | AsyncClient) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


# What is recorded.


@pytest.mark.parametrize(
    ("agent", "described"),
    [
        (FIREFOX, "Firefox 133 on Linux"),
        (SAFARI_ON_IPHONE, "Safari 17 on iOS"),
        (EDGE, "Edge 131 on Windows"),
        (CHROME_ON_ANDROID, "Chrome 131 on Android"),
        ("curl/8.5.0", "curl/8.5.0"),
        ("x" * 300, "x" * 64),
        ("", ""),
    ],
)
def test_a_browser_is_described_in_at_most_64_bytes(agent: str, described: str) -> None:
    assert describe_agent(agent) == described
    assert len(describe_agent(agent).encode()) <= 64


@pytest.mark.parametrize(
    ("meta", "options", "address"),
    [
        ({"REMOTE_ADDR": "203.0.113.9"}, {}, "203.0.113.9"),
        ({"REMOTE_ADDR": "203.0.113.9"}, {"ANONYMIZE_IP": True}, "203.0.113.0"),
        ({"REMOTE_ADDR": "2001:db8:1:2::7"}, {"ANONYMIZE_IP": True}, "2001:db8:1::"),
        (
            {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "198.51.100.1, 192.0.2.60"},
            {"CLIENT_IP_HEADER": "HTTP_X_FORWARDED_FOR"},
            "192.0.2.60",
        ),
        (
            {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "192.0.2.60"},
            {},
            "10.0.0.2",
        ),
        ({"REMOTE_ADDR": "<script>"}, {}, ""),
        ({}, {"CLIENT_IP_HEADER": "HTTP_X_REAL_IP"}, ""),
    ],
)
def test_the_client_address_is_read_as_the_settings_say(
    meta: dict[str, str], options: dict[str, Any], address: str
) -> None:
    request = HttpRequest()
    request.META.update(meta)
    with override_settings(REDIS_SESSIONS={**settings.REDIS_SESSIONS, **options}):
        assert client_ip(request) == address


def test_a_login_records_the_device_in_two_short_fields(
    site: None, redis_client: redis.Redis
) -> None:
    firefox = browser(FIREFOX, "203.0.113.9")

    fields = redis_client.hgetall(f"sessions:{{{stored_id(cookie(firefox))}}}")
    assert fields[b"#a"] == b"Firefox 133 on Linux"
    assert fields[b"#p"] == b"203.0.113.9"
    assert redis_client.object("encoding", f"sessions:{{{stored_id(cookie(firefox))}}}") in (
        b"listpack",
        b"ziplist",
    )


def test_without_device_details_nothing_is_recorded(site: None, redis_client: redis.Redis) -> None:
    engine = {**settings.REDIS_SESSIONS, "DEVICE_DETAILS": False}
    with override_settings(REDIS_SESSIONS=engine):
        firefox = browser(FIREFOX, "203.0.113.9")
        fields = redis_client.hgetall(f"sessions:{{{stored_id(cookie(firefox))}}}")
    assert b"#a" not in fields
    assert b"#p" not in fields


def test_a_read_only_request_saves_nothing_until_the_activity_interval_has_passed(
    site: None, redis_client: redis.Redis
) -> None:
    firefox = browser(FIREFOX, "203.0.113.9")
    key = f"sessions:{{{stored_id(cookie(firefox))}}}"
    saved = redis_client.hget(key, "#m") or redis_client.hget(key, "#c")

    firefox.get("/who/", REMOTE_ADDR="198.51.100.4")
    assert (redis_client.hget(key, "#m") or redis_client.hget(key, "#c")) == saved

    time.sleep(1.1)
    engine = {**settings.REDIS_SESSIONS, "ACTIVITY_INTERVAL": 1}
    with override_settings(REDIS_SESSIONS=engine):
        firefox.get("/who/", REMOTE_ADDR="198.51.100.4")
    assert int(redis_client.hget(key, "#m") or 0) > int(saved or 0)
    assert redis_client.hget(key, "#p") == b"198.51.100.4"


# The page.


def test_the_page_lists_both_browsers_the_current_one_first(site: None) -> None:
    browser(FIREFOX, "203.0.113.9")
    iphone = browser(SAFARI_ON_IPHONE, "198.51.100.4")

    page = iphone.get("/sessions/").content.decode()

    assert listed(page) == ["Safari 17 on iOS (this)", "Firefox 133 on Linux"]
    assert "203.0.113.9" in page
    assert "198.51.100.4" in page


def test_no_session_key_is_in_the_page(site: None) -> None:
    firefox = browser(FIREFOX, "203.0.113.9")
    iphone = browser(SAFARI_ON_IPHONE, "198.51.100.4")

    page = iphone.get("/sessions/").content.decode()

    assert cookie(firefox) not in page
    assert cookie(iphone) not in page
    assert stored_ids(page) == [stored_id(cookie(firefox))]


@pytest.fixture
def ended() -> Iterator[list[dict[str, Any]]]:
    """The arguments of every ``ended_session_presented`` sent."""
    with heard(ended_session_presented) as sent:
        yield sent


def test_ending_a_session_asks_first_then_logs_that_browser_out(
    site: None, ended: list[dict[str, Any]]
) -> None:
    firefox = browser(FIREFOX, "203.0.113.9")
    iphone = browser(SAFARI_ON_IPHONE, "198.51.100.4")
    (other,) = stored_ids(iphone.get("/sessions/").content.decode())

    asked = iphone.post("/sessions/", {"action": "end", "session": other})
    assert asked.status_code == 200
    assert "Yes, end this session" in asked.content.decode()
    assert firefox.get("/who/").content == b"ada"  # not yet

    done = iphone.post("/sessions/", {"action": "end", "session": other, "confirmed": "yes"})
    assert done.status_code == 302
    assert firefox.get("/who/").content == b"anonymous"
    assert iphone.get("/who/").content == b"ada"
    assert listed(iphone.get("/sessions/").content.decode()) == ["Safari 17 on iOS (this)"]
    assert [(e["stored_id"], e["reason"]) for e in ended] == [(other, "device")]


def test_log_out_all_other_sessions_keeps_this_one(site: None) -> None:
    firefox = browser(FIREFOX, "203.0.113.9")
    edge = browser(EDGE, "192.0.2.7")
    iphone = browser(SAFARI_ON_IPHONE, "198.51.100.4")

    asked = iphone.post("/sessions/", {"action": "end-others"})
    assert "Sign out every other browser and device (2)?" in asked.content.decode()
    iphone.post("/sessions/", {"action": "end-others", "confirmed": "yes"})

    assert firefox.get("/who/").content == b"anonymous"
    assert edge.get("/who/").content == b"anonymous"
    assert iphone.get("/who/").content == b"ada"


def test_the_current_session_and_anothers_sessions_cannot_be_ended(site: None) -> None:
    iphone = browser(SAFARI_ON_IPHONE, "198.51.100.4")
    get_user_model().objects.create_user("eve", password="not-used")
    eve = Client()
    eve.force_login(get_user_model().objects.get(username="eve"))
    eves = stored_id(cookie(eve))

    for target in (stored_id(cookie(iphone)), eves, "NOT-A-STORED-ID", ""):
        response = iphone.post(
            "/sessions/", {"action": "end", "session": target, "confirmed": "yes"}
        )
        assert response.status_code == 302

    assert iphone.get("/who/").content == b"ada"
    assert eve.get("/who/").content == b"eve"


def test_a_post_without_the_csrf_token_is_refused(site: None) -> None:
    firefox = browser(FIREFOX, "203.0.113.9")
    iphone = Client(enforce_csrf_checks=True, HTTP_USER_AGENT=SAFARI_ON_IPHONE)
    iphone.get("/login/")
    other = stored_id(cookie(firefox))

    response = iphone.post("/sessions/", {"action": "end", "session": other, "confirmed": "yes"})

    assert response.status_code == 403
    assert firefox.get("/who/").content == b"ada"


def test_a_visitor_not_signed_in_is_sent_to_the_login_page(site: None) -> None:
    response = Client().get("/sessions/")
    assert response.status_code == 302
    assert response["Location"] == f"{settings.LOGIN_URL}?next=/sessions/"


def test_the_asyncio_view_lists_and_ends_sessions_too(site: None) -> None:
    firefox = browser(FIREFOX, "203.0.113.9")
    iphone = AsyncClient(HTTP_USER_AGENT=SAFARI_ON_IPHONE)
    iphone.cookies = browser(SAFARI_ON_IPHONE, "198.51.100.4").cookies

    async def scenario() -> tuple[str, int, str]:
        page = (await iphone.get("/async/sessions/")).content.decode()
        (other,) = stored_ids(page)
        done = await iphone.post(
            "/async/sessions/", {"action": "end", "session": other, "confirmed": "yes"}
        )
        after = (await iphone.get("/async/sessions/")).content.decode()
        return page, done.status_code, after

    page, status, after = asyncio.run(scenario())
    assert listed(page) == ["Safari 17 on iOS (this)", "Firefox 133 on Linux"]
    assert status == 302
    assert listed(after) == ["Safari 17 on iOS (this)"]
    assert firefox.get("/who/").content == b"anonymous"
    assert asyncio.run(AsyncClient().get("/async/sessions/")).status_code == 302


# The per-user limit.


@pytest.fixture
def limited(site: None) -> Iterator[None]:
    """At most two sessions per user."""
    with override_settings(REDIS_SESSIONS={**settings.REDIS_SESSIONS, "MAX_SESSIONS_PER_USER": 2}):
        yield


def test_a_login_over_the_limit_ends_the_least_recently_active_session(
    limited: None, ended: list[dict[str, Any]]
) -> None:
    firefox = browser(FIREFOX, "203.0.113.9")
    oldest = stored_id(cookie(firefox))
    time.sleep(1.1)  # sessions rank by their last save, to the second
    edge = browser(EDGE, "192.0.2.7")
    time.sleep(1.1)
    iphone = browser(SAFARI_ON_IPHONE, "198.51.100.4")

    assert firefox.get("/who/").content == b"anonymous"
    assert edge.get("/who/").content == b"ada"
    assert iphone.get("/who/").content == b"ada"
    assert [(e["stored_id"], e["reason"]) for e in ended] == [(oldest, "limit")]


def test_within_the_limit_nobody_is_logged_out(limited: None) -> None:
    firefox = browser(FIREFOX, "203.0.113.9")
    iphone = browser(SAFARI_ON_IPHONE, "198.51.100.4")

    assert firefox.get("/who/").content == b"ada"
    assert iphone.get("/who/").content == b"ada"


def log_in_at_once(count: int, run_in_threads: Any) -> list[object]:
    """``count`` sessions of user 7 that log in at the same moment, as a login does."""

    def log_in() -> str | None:
        session = SessionStore()
        session["_auth_user_id"] = "7"
        session.limit_after_save = True
        session.create()
        return session.session_key

    return list(run_in_threads(*([log_in] * count)))


@pytest.mark.parametrize("indexed", [False, True], ids=["scan", "user-index"])
def test_simultaneous_logins_never_leave_more_than_the_limit(
    redis_url: str, run_in_threads: Any, indexed: bool
) -> None:
    engine = {"URL": redis_url, "MAX_SESSIONS_PER_USER": 2, "USER_INDEX": indexed}
    with override_settings(REDIS_SESSIONS=engine):
        for _ in range(20):
            keys = log_in_at_once(6, run_in_threads)
            assert all(isinstance(key, str) for key in keys)
            assert len(get_store().user_sessions("7")) <= 2
        assert len(get_store().user_sessions("7")) == 2
