"""Switching engines without logging anyone out: sessions move from the old engine.

Each source's sessions are written by the real old engine: django-redis-sessions
itself (in a virtualenv of its own), Django's cache engine on django-redis, and
Django's db and cached_db engines. A user logged in before the switch must be
logged in after it, through Django's middleware, with the same data.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
import redis
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.core.cache import caches
from django.core.checks import run_checks
from django.core.management import CommandError, call_command
from django.test import Client, override_settings
from redis.sentinel import SentinelConnectionPool

from redis_sessions.migration import legacy_settings
from redis_sessions.migration.sources import DjangoRedisSessions
from redis_sessions.session import SessionStore
from redis_sessions.store import get_store
from tests.support.keys import redis_key
from tests.support.legacy_writers import write_sessions

pytestmark = pytest.mark.django_db

#: Databases of the test server the old engines write to (the engine uses 0).
LEGACY_DB = 3
CACHE_DB = 4
BACKEND = "django.contrib.auth.backends.ModelBackend"


@pytest.fixture
def ada() -> User:
    user: User = User.objects.create_user("ada", password="pw")
    return user


@pytest.fixture
def legacy_url(redis_url: str) -> str:
    """A database of the test server for django-redis-sessions, emptied first."""
    url = redis_url.rsplit("/", 1)[0] + f"/{LEGACY_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()
    return url


@pytest.fixture
def legacy_client(legacy_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(legacy_url)
    yield client
    client.close()


def engine_settings(**extra: Any) -> dict[str, Any]:
    return {**settings.REDIS_SESSIONS, **extra}


def login_of(user: User) -> dict[str, Any]:
    """What Django's login() puts in a session."""
    return {
        SESSION_KEY: str(user.pk),
        BACKEND_SESSION_KEY: BACKEND,
        HASH_SESSION_KEY: user.get_session_auth_hash(),
    }


def expiring(data: dict[str, Any], seconds: int) -> dict[str, Any]:
    """The data of a session that django-redis-sessions saved after set_expiry(seconds)."""
    return {**data, "_session_expiry": seconds}


def client_with(key: str) -> Client:
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = key
    return client


def assert_moved(key: str, data: dict[str, Any], ttl_at_most: int) -> None:
    """The session is stored here with its data and about the lifetime it had left."""
    stored = get_store().load(key)
    assert stored is not None
    assert stored.data == data
    ttl = get_store().client.ttl(redis_key(key))
    assert ttl_at_most - 5 <= ttl <= ttl_at_most


# django-redis-sessions, written by the real package


def test_a_user_logged_in_with_django_redis_sessions_stays_logged_in(
    ada: User, legacy_url: str, legacy_client: redis.Redis
) -> None:
    session_redis = {"url": legacy_url, "prefix": "session"}
    data = {**login_of(ada), "cart": ["book", 2]}
    (key,) = write_sessions(session_redis, [(data, 600)], settings.SECRET_KEY)
    assert legacy_client.exists(f"session:{key}")

    with override_settings(
        SESSION_REDIS=session_redis,
        REDIS_SESSIONS=engine_settings(MIGRATE_FROM=["django-redis-sessions"], USER_INDEX=True),
    ):
        client = client_with(key)
        assert client.get("/whoami/").json() == {"user": "ada"}
        after = {**expiring(data, 600), "seen": "yes"}
        assert client.get("/set/seen/yes/").json() == after
        assert_moved(key, after, 600)
        assert [s.stored_id for s in get_store().user_sessions(str(ada.pk))] == [
            get_store().load(key).stored_id  # type: ignore[union-attr]
        ]
    assert not legacy_client.exists(f"session:{key}")


def test_sessions_of_django_redis_sessions_without_a_prefix_move(
    ada: User, legacy_url: str, legacy_client: redis.Redis
) -> None:
    (key,) = write_sessions({"url": legacy_url}, [(login_of(ada), 300)], settings.SECRET_KEY)
    assert legacy_client.exists(key)

    with override_settings(
        SESSION_REDIS={"url": legacy_url},
        REDIS_SESSIONS=engine_settings(MIGRATE_FROM=["django-redis-sessions"]),
    ):
        assert client_with(key).get("/whoami/").json() == {"user": "ada"}
        assert_moved(key, expiring(login_of(ada), 300), 300)
    assert not legacy_client.exists(key)


def test_without_migrate_from_the_old_sessions_are_not_read(
    ada: User, legacy_url: str, legacy_client: redis.Redis
) -> None:
    (key,) = write_sessions({"url": legacy_url}, [(login_of(ada), 300)], settings.SECRET_KEY)
    with override_settings(SESSION_REDIS={"url": legacy_url}):
        assert client_with(key).get("/whoami/").json() == {"user": None}
    assert legacy_client.exists(key)


def test_a_session_signed_with_another_secret_key_does_not_move(
    ada: User, legacy_url: str, legacy_client: redis.Redis
) -> None:
    (key,) = write_sessions({"url": legacy_url}, [(login_of(ada), 300)], "another-secret")
    with override_settings(
        SESSION_REDIS={"url": legacy_url},
        REDIS_SESSIONS=engine_settings(MIGRATE_FROM=["django-redis-sessions"]),
    ):
        assert client_with(key).get("/whoami/").json() == {"user": None}
        assert get_store().load(key) is None


def test_two_first_requests_with_one_key_share_one_session(
    ada: User, legacy_url: str, run_in_threads: Any
) -> None:
    (key,) = write_sessions(
        {"url": legacy_url}, [({**login_of(ada), "n": 0}, 300)], settings.SECRET_KEY
    )
    with override_settings(
        SESSION_REDIS={"url": legacy_url},
        REDIS_SESSIONS=engine_settings(MIGRATE_FROM=["django-redis-sessions"]),
    ):

        def first_request(name: str) -> dict[str, Any]:
            return client_with(key).get(f"/set/{name}/yes/").json()  # type: ignore[no-any-return]

        replies = run_in_threads(*(lambda n=n: first_request(f"r{n}") for n in range(8)))
        assert all(reply[SESSION_KEY] == str(ada.pk) for reply in replies)
        stored = get_store().load(key)
        assert stored is not None
        # One session took every request's field: none was lost to a fork.
        assert {f"r{n}" for n in range(8)} <= stored.data.keys()


def test_a_logged_out_migrated_session_does_not_come_back(
    ada: User, legacy_url: str, legacy_client: redis.Redis
) -> None:
    (key,) = write_sessions({"url": legacy_url}, [(login_of(ada), 300)], settings.SECRET_KEY)
    with override_settings(
        SESSION_REDIS={"url": legacy_url},
        REDIS_SESSIONS=engine_settings(MIGRATE_FROM=["django-redis-sessions"]),
    ):
        client = client_with(key)
        assert client.get("/whoami/").json() == {"user": "ada"}
        client.post("/logout/")
        assert client_with(key).get("/whoami/").json() == {"user": None}


# Django's cache engine on django-redis


@pytest.fixture
def redis_cache(redis_url: str) -> Iterator[None]:
    url = redis_url.rsplit("/", 1)[0] + f"/{CACHE_DB}"
    cache_settings = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": url}}
    with override_settings(CACHES=cache_settings):
        caches["default"].clear()
        yield
        caches["default"].clear()


@pytest.mark.usefixtures("redis_cache")
@pytest.mark.parametrize("old_engine", ["cache", "db", "cached_db"])
def test_a_user_logged_in_with_a_django_engine_stays_logged_in(ada: User, old_engine: str) -> None:
    source = "cache" if old_engine == "cache" else "db"
    with override_settings(SESSION_ENGINE=f"django.contrib.sessions.backends.{old_engine}"):
        before = Client()
        before.get("/set/cart/book/")
        before.post("/login/", {"username": "ada", "password": "pw"})
        before.get("/set/colour/blue/")
        assert before.get("/whoami/").json() == {"user": "ada"}
        key = before.cookies[settings.SESSION_COOKIE_NAME].value
        old_data = dict(before.session.items())

    with override_settings(REDIS_SESSIONS=engine_settings(MIGRATE_FROM=[source])):
        after = client_with(key)
        assert after.get("/whoami/").json() == {"user": "ada"}
        assert after.get("/set/seen/yes/").json() == {**old_data, "seen": "yes"}
        assert_moved(key, {**old_data, "seen": "yes"}, settings.SESSION_COOKIE_AGE)
    if source == "db":
        assert not Session.objects.filter(session_key=key).exists()
    else:
        assert caches["default"].get("django.contrib.sessions.cache" + key) is None


@pytest.mark.usefixtures("redis_cache")
def test_a_known_key_does_not_look_in_the_sources(ada: User, command_log: Any) -> None:
    store = SessionStore()
    store["a"] = 1
    store.create()
    with (
        override_settings(REDIS_SESSIONS=engine_settings(MIGRATE_FROM=["cache", "db"])),
        command_log() as log,
    ):
        assert SessionStore(store.session_key).load() == {"a": 1}
    assert log.names == ["HGETALL"]


def test_an_expired_database_session_does_not_move(ada: User) -> None:
    with override_settings(SESSION_ENGINE="django.contrib.sessions.backends.db"):
        before = Client()
        before.post("/login/", {"username": "ada", "password": "pw"})
        key = before.cookies[settings.SESSION_COOKIE_NAME].value
    Session.objects.filter(session_key=key).update(expire_date="2000-01-01T00:00:00Z")
    with override_settings(REDIS_SESSIONS=engine_settings(MIGRATE_FROM=["db"])):
        assert client_with(key).get("/whoami/").json() == {"user": None}


# Bulk migration: manage.py sessions migrate


def run_migrate(*args: str) -> str:
    out = StringIO()
    call_command("sessions", "migrate", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_sessions_migrate_moves_every_session_of_django_redis_sessions(
    ada: User, legacy_url: str, legacy_client: redis.Redis
) -> None:
    session_redis = {"url": legacy_url, "prefix": "session"}
    live = [({**login_of(ada), "n": n}, 600) for n in range(25)]
    keys = write_sessions(session_redis, live, settings.SECRET_KEY)
    legacy_client.set("session:corruptcorruptcorrupt", "not a session")
    legacy_client.set("session:notakey!", "other data")
    legacy_client.set("unrelated", "kept")

    with override_settings(
        SESSION_REDIS=session_redis, REDIS_SESSIONS=engine_settings(USER_INDEX=True)
    ):
        dry = run_migrate("--from", "django-redis-sessions", "--dry-run", "--batch-size", "7")
        assert "Would migrate 25 sessions" in dry
        assert "1 corrupt" in dry
        assert get_store().count() == 0

        # Two batches, then the cursor it printed takes it on.
        first = run_migrate(
            "--from", "django-redis-sessions", "--batch-size", "5", "--max-batches", "2"
        )
        cursor = first.rsplit("--cursor ", 1)[1].split(".")[0]
        rest = run_migrate("--from", "django-redis-sessions", "--cursor", cursor)
        assert "Migrated" in rest
        assert get_store().count() == 25
        for n, key in enumerate(keys):
            stored = get_store().load(key)
            assert stored is not None
            assert stored.data["n"] == n
        assert len(get_store().user_sessions(str(ada.pk))) == 25

        again = run_migrate("--from", "django-redis-sessions")
        assert "Migrated 0 sessions" in again
        assert "0 failed" in again
    assert legacy_client.exists("session:corruptcorruptcorrupt", "session:notakey!", "unrelated")
    assert not any(legacy_client.exists(f"session:{key}") for key in keys)
    assert client_with(keys[0]).get("/whoami/").json() == {"user": "ada"}


def test_sessions_migrate_moves_the_rows_of_django_session(ada: User) -> None:
    keys = []
    with override_settings(SESSION_ENGINE="django.contrib.sessions.backends.db"):
        for _ in range(12):
            client = Client()
            client.post("/login/", {"username": "ada", "password": "pw"})
            keys.append(client.cookies[settings.SESSION_COOKIE_NAME].value)
    Session.objects.filter(session_key=keys[0]).update(expire_date="2000-01-01T00:00:00Z")

    summary = run_migrate("--from", "db", "--batch-size", "5")

    assert "Migrated 11 sessions" in summary
    assert "1 expired" in summary
    assert Session.objects.count() == 0
    assert run_migrate("--from", "db").startswith("Migrated 0 sessions")
    assert client_with(keys[5]).get("/whoami/").json() == {"user": "ada"}


def test_sessions_migrate_refuses_the_cache_source() -> None:
    with pytest.raises(Exception, match="invalid choice: 'cache'"):
        run_migrate("--from", "cache")


# Settings of django-redis-sessions


def check_ids(**overrides: Any) -> list[tuple[str, str]]:
    with override_settings(**overrides):
        return [
            (message.id or "", message.hint or "")
            for message in run_checks()
            if (message.id or "").startswith("redis_sessions.")
        ]


def test_each_setting_of_django_redis_sessions_gets_its_replacement() -> None:
    found = check_ids(
        SESSION_REDIS={"host": "h", "port": 1, "db": 2, "prefix": "p", "password": "x"},
        SESSION_REDIS_SENTINEL_LIST=[("s", 26379)],
        SESSION_REDIS_SENTINEL_MASTER_ALIAS="mymaster",
    )
    hints = [hint for check_id, hint in found if check_id == "redis_sessions.W012"]
    assert len(hints) == 7
    assert any("'SENTINEL_SERVICE'" in hint for hint in hints)
    assert any("'PASSWORD'" in hint for hint in hints)


def test_flat_settings_of_older_versions_are_spotted_too() -> None:
    found = check_ids(SESSION_REDIS_HOST="h", SESSION_REDIS_UNIX_DOMAIN_SOCKET_PATH="/s")
    assert [check_id for check_id, _ in found].count("redis_sessions.W012") == 2


def test_the_legacy_settings_are_read_as_django_redis_sessions_read_them() -> None:
    with override_settings(SESSION_REDIS={"host": "h", "port": 7}, SESSION_REDIS_PREFIX="old"):
        client = legacy_settings.client()
        assert client.connection_pool.connection_kwargs["host"] == "h"
        assert client.connection_pool.connection_kwargs["port"] == 7
        assert DjangoRedisSessions(client).key("abcdefgh") == "old:abcdefgh"


@pytest.mark.parametrize("value", ["db", ["nowhere"], [1], None])
def test_a_wrong_migrate_from_is_an_error(value: object) -> None:
    found = check_ids(REDIS_SESSIONS=engine_settings(MIGRATE_FROM=value))
    assert "redis_sessions.E035" in [check_id for check_id, _ in found]


def test_migrate_from_is_quiet_when_right() -> None:
    found = check_ids(REDIS_SESSIONS=engine_settings(MIGRATE_FROM=["db", "cache"]))
    assert not [check_id for check_id, _ in found if check_id.startswith("redis_sessions.E03")]


def test_a_session_from_the_past_keeps_its_remaining_lifetime(ada: User, legacy_url: str) -> None:
    (key,) = write_sessions({"url": legacy_url}, [(login_of(ada), 40)], settings.SECRET_KEY)
    time.sleep(1)
    with override_settings(
        SESSION_REDIS={"url": legacy_url},
        REDIS_SESSIONS=engine_settings(MIGRATE_FROM=["django-redis-sessions"]),
    ):
        assert SessionStore(key).load() == expiring(login_of(ada), 40)
        assert_moved(key, expiring(login_of(ada), 40), 39)


def test_aload_moves_a_session_too(ada: User, legacy_url: str, legacy_client: redis.Redis) -> None:
    (key,) = write_sessions({"url": legacy_url}, [(login_of(ada), 300)], settings.SECRET_KEY)
    with override_settings(
        SESSION_REDIS={"url": legacy_url},
        REDIS_SESSIONS=engine_settings(MIGRATE_FROM=["django-redis-sessions"]),
    ):
        assert asyncio.run(SessionStore(key).aload()) == expiring(login_of(ada), 300)
        assert_moved(key, expiring(login_of(ada), 300), 300)
    assert not legacy_client.exists(key)


def test_an_unknown_key_is_not_made_up_from_nothing(legacy_url: str) -> None:
    with override_settings(
        SESSION_REDIS={"url": legacy_url},
        REDIS_SESSIONS=engine_settings(MIGRATE_FROM=["django-redis-sessions", "db"]),
    ):
        store = SessionStore("a" * 32)
        assert store.load() == {}
        assert store.session_key is None


def test_a_session_over_the_size_limit_fails_and_stays_in_the_source(
    ada: User, legacy_url: str, legacy_client: redis.Redis
) -> None:
    sessions = [(login_of(ada), 600), ({**login_of(ada), "big": "x" * 2000}, 600)]
    small, big = write_sessions({"url": legacy_url}, sessions, settings.SECRET_KEY)
    with override_settings(
        SESSION_REDIS={"url": legacy_url},
        REDIS_SESSIONS=engine_settings(MAX_SESSION_BYTES=1000),
    ):
        out = StringIO()
        with pytest.raises(CommandError, match="1 session could not be stored here"):
            call_command("sessions", "migrate", "--from", "django-redis-sessions", stdout=out)
        assert "Migrated 1 session " in out.getvalue()
        assert get_store().load(small) is not None
        assert get_store().load(big) is None
    assert legacy_client.exists(big)
    assert not legacy_client.exists(small)


def test_the_legacy_connection_follows_the_old_packages_order() -> None:
    sentinels = {"SESSION_REDIS_SENTINEL_LIST": [("s", 26379)]}
    with override_settings(SESSION_REDIS_SENTINEL_MASTER_ALIAS="mymaster", **sentinels):
        assert isinstance(legacy_settings.client().connection_pool, SentinelConnectionPool)
    with override_settings(SESSION_REDIS={"unix_domain_socket_path": "/run/r.sock", "db": 3}):
        kwargs = legacy_settings.client().connection_pool.connection_kwargs
        assert (kwargs["path"], kwargs["db"]) == ("/run/r.sock", 3)
    with override_settings(SESSION_REDIS={"url": "redis://u:8/2", "host": "ignored"}):
        kwargs = legacy_settings.client().connection_pool.connection_kwargs
        assert (kwargs["host"], kwargs["db"]) == ("u", 2)


def test_a_dry_run_of_the_db_source_changes_nothing(ada: User) -> None:
    with override_settings(SESSION_ENGINE="django.contrib.sessions.backends.db"):
        Client().post("/login/", {"username": "ada", "password": "pw"})
    assert run_migrate("--from", "db", "--dry-run").startswith("Would migrate 1 session ")
    assert Session.objects.count() == 1
    assert get_store().count() == 0


def test_a_source_that_is_down_is_passed_over(ada: User, caplog: pytest.LogCaptureFixture) -> None:
    # Port 1 refuses connections: the old Redis is gone.
    with override_settings(
        SESSION_REDIS={"url": "redis://127.0.0.1:1/0", "socket_timeout": 0.5},
        REDIS_SESSIONS=engine_settings(MIGRATE_FROM=["django-redis-sessions"]),
    ):
        assert client_with("b" * 32).get("/whoami/").json() == {"user": None}
    assert "the django-redis-sessions source failed" in caplog.text


@pytest.mark.usefixtures("redis_cache")
def test_the_cache_source_cannot_be_walked() -> None:
    from redis_sessions.migration import bulk
    from redis_sessions.migration.sources import source

    with pytest.raises(NotImplementedError, match="MIGRATE_FROM"):
        bulk.migrate(get_store(), source("cache"), batch_size=10)


def test_an_unknown_source_name_says_which_there_are() -> None:
    from redis_sessions.migration.sources import source

    with pytest.raises(ValueError, match="the sources are: django-redis-sessions, cache, db"):
        source("memcached")


def test_a_session_already_here_is_kept_and_its_old_copy_removed(
    ada: User, legacy_url: str, legacy_client: redis.Redis
) -> None:
    (key,) = write_sessions({"url": legacy_url}, [(login_of(ada), 600)], settings.SECRET_KEY)
    get_store().create(key, {"newer": True}, 600)
    with override_settings(SESSION_REDIS={"url": legacy_url}):
        summary = run_migrate("--from", "django-redis-sessions")
    assert "Migrated 0 sessions" in summary
    assert "skipped 1 already here" in summary
    assert get_store().load(key).data == {"newer": True}  # type: ignore[union-attr]
    assert not legacy_client.exists(key)


def test_when_the_engines_redis_is_down_every_session_stays_in_the_source(
    ada: User, legacy_url: str, legacy_client: redis.Redis
) -> None:
    keys = write_sessions({"url": legacy_url}, [(login_of(ada), 600)] * 3, settings.SECRET_KEY)
    with (
        override_settings(
            SESSION_REDIS={"url": legacy_url},
            REDIS_SESSIONS={"URL": "redis://127.0.0.1:1/0", "SOCKET_CONNECT_TIMEOUT": 0.5},
        ),
        pytest.raises(CommandError, match="3 sessions could not be stored here"),
    ):
        run_migrate("--from", "django-redis-sessions")
    assert legacy_client.exists(*keys) == 3
