"""The engine under Django's middleware, auth and test client."""

from __future__ import annotations

import asyncio

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.exceptions import SessionInterrupted
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory, override_settings

from redis_sessions.session import SessionStore
from tests.support.keys import redis_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada() -> User:
    user: User = User.objects.create_user("ada", password="pw")
    return user


def test_login_keeps_the_anonymous_data_under_a_new_key(
    ada: User, redis_client: redis.Redis
) -> None:
    client = Client()
    client.get("/set/cart/book/")
    anonymous_key = client.cookies[settings.SESSION_COOKIE_NAME].value

    client.post("/login/", {"username": "ada", "password": "pw"})

    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert key != anonymous_key
    assert client.get("/whoami/").json() == {"user": "ada"}
    assert SessionStore(key).load()["cart"] == "book"
    assert redis_client.hget(redis_key(key), "#u") == str(ada.pk).encode()
    assert SessionStore().exists(anonymous_key) is False


def test_logout_tombstones_the_session_and_the_old_cookie_is_anonymous(
    ada: User, redis_client: redis.Redis
) -> None:
    client = Client()
    client.post("/login/", {"username": "ada", "password": "pw"})
    key = client.cookies[settings.SESSION_COOKIE_NAME].value

    client.post("/logout/")

    assert redis_client.hgetall(redis_key(key)).keys() == {b"#x", b"#r", b"#u"}
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = key
    assert replay.get("/whoami/").json() == {"user": None}


def test_a_request_that_loaded_before_a_logout_gets_session_interrupted(ada: User) -> None:
    client = Client()
    client.post("/login/", {"username": "ada", "password": "pw"})
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    request = RequestFactory().get("/")
    request.COOKIES[settings.SESSION_COOKIE_NAME] = key

    def slow_view(request: HttpRequest) -> HttpResponse:
        request.session["cart"] = ["late"]  # loaded while logged in ...
        client.post("/logout/")  # ... logged out meanwhile, by another request
        return HttpResponse("done")

    with pytest.raises(SessionInterrupted) as raised:
        SessionMiddleware(slow_view)(request)

    assert isinstance(raised.value.__context__, UpdateError)
    assert SessionStore().exists(key) is False


def test_a_session_survives_many_requests_and_counts_them() -> None:
    client = Client()
    counts = [client.get("/counter/").json()["count"] for _ in range(5)]

    assert counts == [1, 2, 3, 4, 5]


def test_cache_alias_uses_the_django_redis_client(
    redis_url: str, redis_client: redis.Redis
) -> None:
    caches = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "sessions": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": redis_url},
    }
    with override_settings(CACHES=caches, REDIS_SESSIONS={"CACHE_ALIAS": "sessions"}):
        from django_redis import get_redis_connection

        from redis_sessions.store import get_store

        assert get_store().client is get_redis_connection("sessions", write=True)
        response = Client().get("/counter/")
        session = SessionStore()
        session["a"] = 1
        session.create()
        assert SessionStore(session.session_key).load() == {"a": 1}

    assert response.json() == {"count": 1}
    assert redis_client.exists(redis_key(session.session_key)) == 1


def test_cache_alias_serves_the_async_path_on_the_same_server(
    redis_url: str, redis_client: redis.Redis
) -> None:
    caches = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "sessions": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": redis_url},
    }

    async def scenario() -> tuple[str | None, dict[str, object]]:
        session = SessionStore()
        await session.aset("a", 1)
        await session.acreate()
        return session.session_key, await SessionStore(session.session_key).aload()

    with override_settings(CACHES=caches, REDIS_SESSIONS={"CACHE_ALIAS": "sessions"}):
        key, loaded = asyncio.run(scenario())

    assert loaded == {"a": 1}
    assert redis_client.exists(redis_key(key)) == 1
