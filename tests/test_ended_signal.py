"""ended_session_presented: a request that brings back the cookie of an ended session.

Each test ends a session the way a site does (logout, the ``sessions revoke``
command, a password change, the admin, a new login), then sends the old
cookie with a later request through the engine's middleware and Django's test
client, and looks at the signals sent.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from io import StringIO
from typing import Any

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.test import Client, TestCase, override_settings

from redis_sessions.session import SessionStore
from redis_sessions.signals import ended_session_presented
from redis_sessions.store import get_store
from redis_sessions.store.keys import stored_id
from tests.testapp import strict_async

pytestmark = pytest.mark.django_db

COOKIE = settings.SESSION_COOKIE_NAME
DJANGO_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"
ENGINE_MIDDLEWARE = [
    "redis_sessions.middleware.SessionMiddleware",
    *(name for name in settings.MIDDLEWARE if name != DJANGO_MIDDLEWARE),
]
ADMIN_LIST = "/admin/redis_sessions/session/"


@pytest.fixture(autouse=True)
def engine(redis_url: str) -> Iterator[None]:
    """The engine's middleware, indexed users, and sessions ended on a password change."""
    options = {"URL": redis_url, "USER_INDEX": True, "REVOKE_ON_PASSWORD_CHANGE": True}
    with override_settings(MIDDLEWARE=ENGINE_MIDDLEWARE, REDIS_SESSIONS=options):
        yield


@pytest.fixture
def presented() -> Iterator[list[dict[str, Any]]]:
    """The arguments of every ended_session_presented sent during the test."""
    sent: list[dict[str, Any]] = []

    def receive(**kwargs: Any) -> None:
        sent.append(kwargs)

    ended_session_presented.connect(receive)
    yield sent
    ended_session_presented.disconnect(receive)


@pytest.fixture
def ada() -> User:
    user: User = User.objects.create_user("ada", password="pw")
    return user


def logged_in() -> tuple[Client, str]:
    client = Client()
    assert client.post("/login/", {"username": "ada", "password": "pw"}).status_code == 200
    return client, client.cookies[COOKIE].value


def present(session_key: str, path: str = "/whoami/") -> Any:
    """A request from another client, with ``session_key`` as its cookie."""
    thief = Client()
    thief.cookies[COOKIE] = session_key
    return thief.get(path)


def check_sent(
    sent: list[dict[str, Any]], session_key: str, user: User, reason: str, path: str = "/whoami/"
) -> None:
    (arguments,) = sent
    request = arguments.pop("request")
    ended = arguments.pop("ended")
    assert arguments == {
        "signal": ended_session_presented,
        "sender": SessionStore,
        "stored_id": stored_id(session_key),
        "user_id": str(user.pk),
        "reason": reason,
    }
    assert request.path == path
    assert request.COOKIES[COOKIE] == session_key
    assert ended.tzinfo is timezone.utc
    assert datetime.now(timezone.utc) - ended < timedelta(seconds=30)


def test_the_cookie_of_a_session_that_logged_out_sends_the_signal(
    ada: User, presented: list[dict[str, Any]]
) -> None:
    client, key = logged_in()
    assert client.post("/logout/").content == b"bye"
    assert presented == []

    response = present(key)

    assert response.json() == {"user": None}
    check_sent(presented, key, ada, "logout")
    # The stale cookie is deleted, as for any key that names no session.
    assert response.cookies[COOKIE].value == ""


def test_the_cookie_of_a_revoked_session_sends_the_signal(
    ada: User, presented: list[dict[str, Any]]
) -> None:
    _, key = logged_in()
    call_command("sessions", "revoke", key, "--no-input", stdout=StringIO())

    present(key)

    check_sent(presented, key, ada, "revoke")


def test_the_cookies_of_a_user_whose_sessions_were_revoked_send_the_signal(
    ada: User, presented: list[dict[str, Any]]
) -> None:
    _, laptop_key = logged_in()
    _, phone_key = logged_in()
    call_command("sessions", "revoke", "--user-id", str(ada.pk), "--no-input", stdout=StringIO())

    present(laptop_key)
    check_sent(presented, laptop_key, ada, "revoke")
    presented.clear()
    present(phone_key)
    check_sent(presented, phone_key, ada, "revoke")


def test_a_password_change_ends_the_other_sessions_for_the_reason_password(
    ada: User, presented: list[dict[str, Any]]
) -> None:
    laptop, laptop_key = logged_in()
    _, phone_key = logged_in()
    assert laptop.post("/password/", {"new_password": "new"}).content == b"changed"

    present(phone_key)
    check_sent(presented, phone_key, ada, "password")
    presented.clear()
    # The save of the user ended the laptop's session too, before
    # update_session_auth_hash() moved its data to a new key: a tombstone
    # keeps the first reason its session ended for.
    present(laptop_key)
    check_sent(presented, laptop_key, ada, "password")


def test_the_old_key_of_a_session_that_moved_to_a_new_one_sends_the_signal_for_the_reason_cycle(
    ada: User, presented: list[dict[str, Any]], redis_url: str
) -> None:
    # Without REVOKE_ON_PASSWORD_CHANGE, update_session_auth_hash() cycles the key.
    with override_settings(REDIS_SESSIONS={"URL": redis_url, "USER_INDEX": True}):
        client, key = logged_in()
        assert client.post("/password/", {"new_password": "new"}).content == b"changed"
        assert client.cookies[COOKIE].value != key

        present(key)

    check_sent(presented, key, ada, "cycle")


def test_the_key_of_an_anonymous_session_that_logged_in_sends_the_signal_for_the_reason_cycle(
    ada: User, presented: list[dict[str, Any]]
) -> None:
    client = Client()
    client.get("/counter/")
    anonymous_key = client.cookies[COOKIE].value
    assert client.post("/login/", {"username": "ada", "password": "pw"}).status_code == 200
    assert client.cookies[COOKIE].value != anonymous_key

    present(anonymous_key)

    ((user_id, reason),) = [(sent["user_id"], sent["reason"]) for sent in presented]
    assert (user_id, reason) == (None, "cycle")


@pytest.fixture
def staff() -> Client:
    user = User.objects.create_user("staff", password="pw", is_staff=True)
    for codename in ("view_session", "end_session"):
        user.user_permissions.add(
            Permission.objects.get(codename=codename, content_type__app_label="redis_sessions")
        )
    client = Client()
    client.force_login(user)
    return client


def test_the_cookie_of_a_session_ended_in_the_admin_sends_the_signal(
    ada: User, staff: Client, presented: list[dict[str, Any]]
) -> None:
    _, key = logged_in()
    assert staff.post(f"{ADMIN_LIST}{stored_id(key)}/end/").status_code == 302

    present(key)

    check_sent(presented, key, ada, "admin")


def test_the_cookies_of_a_user_whose_sessions_the_admin_ended_send_the_signal(
    ada: User, staff: Client, presented: list[dict[str, Any]]
) -> None:
    _, key = logged_in()
    assert staff.post(f"{ADMIN_LIST}users/{ada.pk}/end/").status_code == 302

    present(key)

    check_sent(presented, key, ada, "admin")


def test_the_signal_is_sent_once_per_request_however_often_the_session_is_read(
    ada: User, presented: list[dict[str, Any]]
) -> None:
    client, key = logged_in()
    client.post("/logout/")

    # The counter view reads the session, writes it, and the middleware saves
    # it as a new session.
    response = present(key, "/counter/")

    assert response.json() == {"count": 1}
    assert response.cookies[COOKIE].value not in ("", key)
    check_sent(presented, key, ada, "logout", "/counter/")
    presented.clear()
    present(key)
    assert len(presented) == 1


def test_an_anonymous_session_has_no_user_id(presented: list[dict[str, Any]]) -> None:
    client = Client()
    client.get("/counter/")
    key = client.cookies[COOKIE].value
    get_store().destroy(key)

    present(key)

    ((stored, user_id, reason),) = [
        (sent["stored_id"], sent["user_id"], sent["reason"]) for sent in presented
    ]
    assert (stored, user_id, reason) == (stored_id(key), None, "revoke")


def test_after_the_tombstone_expired_the_cookie_sends_nothing(
    ada: User, presented: list[dict[str, Any]], redis_url: str
) -> None:
    options = {"URL": redis_url, "USER_INDEX": True, "TOMBSTONE_TTL": 1}
    with override_settings(REDIS_SESSIONS=options):
        client, key = logged_in()
        client.post("/logout/")
        time.sleep(1.5)

        assert present(key).json() == {"user": None}

    assert presented == []


def test_an_unknown_key_and_a_live_session_send_nothing(
    ada: User, presented: list[dict[str, Any]]
) -> None:
    client, _ = logged_in()

    assert present("unknown0" * 4).json() == {"user": None}
    assert client.get("/whoami/").json() == {"user": "ada"}
    assert presented == []


def test_with_djangos_session_middleware_the_signal_carries_no_request(
    ada: User, presented: list[dict[str, Any]]
) -> None:
    client, key = logged_in()
    client.post("/logout/")

    with override_settings(
        MIDDLEWARE=[
            DJANGO_MIDDLEWARE,
            *ENGINE_MIDDLEWARE[1:],
        ]
    ):
        present(key)

    ((request, reason),) = [(sent["request"], sent["reason"]) for sent in presented]
    assert (request, reason) == (None, "logout")


def test_the_log_line_names_the_stored_id_and_never_the_key(
    ada: User, caplog: pytest.LogCaptureFixture
) -> None:
    client, key = logged_in()
    client.post("/logout/")

    with caplog.at_level("INFO", logger="redis_sessions"):
        present(key)

    assert f"Session {stored_id(key)[:6]}... was presented after it was destroyed" in caplog.text
    assert key[:6] not in caplog.text


def test_a_tombstone_holds_three_short_fields(ada: User, redis_client: redis.Redis) -> None:
    client, key = logged_in()
    client.post("/logout/")

    tombstone = redis_client.hgetall(get_store().redis_key(key))

    assert set(tombstone) == {b"#x", b"#r", b"#u"}
    assert (tombstone[b"#r"], tombstone[b"#u"]) == (b"logout", str(ada.pk).encode())
    assert redis_client.object("encoding", get_store().redis_key(key)) == b"listpack"


@pytest.mark.parametrize("reason", ["logout", "password"])
def test_a_tombstone_takes_at_most_160_bytes(reason: str, redis_client: redis.Redis) -> None:
    store = get_store()
    key = "tomb" * 8
    store.create(key, {"_auth_user_id": "1234567890", "_auth_user_hash": "h" * 64}, 3600)
    store.destroy(key, user_id="1234567890", reason=reason)

    usage = redis_client.memory_usage(store.redis_key(key))

    assert usage is not None
    assert usage <= 160


# The async path: async views on Django's AsyncClient, with an engine that
# fails any sync session I/O.


@override_settings(
    SESSION_ENGINE="tests.testapp.strict_async",
    MIDDLEWARE=[
        "redis_sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ],
)
class AsyncEndedSessionPresented(TestCase):
    ada: User

    @classmethod
    def setUpTestData(cls) -> None:
        cls.ada = User.objects.create_user("ada", password="pw")

    def setUp(self) -> None:
        strict_async.SessionStore.forbid_sync = True
        self.addCleanup(setattr, strict_async.SessionStore, "forbid_sync", False)
        self.sent: list[dict[str, Any]] = []

        # An async receiver: a sync send() from inside the event loop would fail it.
        async def receive(**kwargs: Any) -> None:
            self.sent.append(kwargs)

        ended_session_presented.connect(receive)
        self.addCleanup(ended_session_presented.disconnect, receive)

    async def test_the_cookie_of_a_session_that_logged_out_sends_the_signal(self) -> None:
        await self.async_client.post("/async/login/", {"username": "ada", "password": "pw"})
        key = self.async_client.cookies[COOKIE].value
        await self.async_client.post("/async/logout/")
        assert self.sent == []

        self.async_client.cookies[COOKIE] = key
        response = await self.async_client.get("/async/whoami/")

        assert response.json() == {"user": None}
        ((sender, stored, user_id, reason, request),) = [
            (s["sender"], s["stored_id"], s["user_id"], s["reason"], s["request"])
            for s in self.sent
        ]
        assert (sender, stored, user_id, reason) == (
            strict_async.SessionStore,
            stored_id(key),
            str(self.ada.pk),
            "logout",
        )
        assert request.path == "/async/whoami/"
