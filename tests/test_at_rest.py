"""No usable cookie at rest: a session key lives in its cookie and its request only.

Redis knows a session by its stored id, a digest of its key. Whatever can be
read there (every key and value, a dump, MONITOR, a replica), what the engine
logs and what the admin shows never hold a session key, so none of it can be
sent back as a cookie.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from redis_sessions.store.keys import is_valid_session_key, stored_id

pytestmark = pytest.mark.django_db

LIST = "/admin/redis_sessions/session/"


@contextmanager
def monitoring(redis_url: str) -> Iterator[list[str]]:
    """Every command the server runs meanwhile, those of scripts included, as MONITOR shows it."""
    seen: list[str] = []
    marker = redis.Redis.from_url(redis_url)
    watcher = redis.Redis.from_url(redis_url)
    with watcher.monitor() as monitor:  # type: ignore[no-untyped-call]
        marker.echo("at-rest-start")
        while "at-rest-start" not in monitor.next_command()["command"]:
            pass
        yield seen
        marker.echo("at-rest-end")
        while "at-rest-end" not in (command := monitor.next_command()["command"]):
            seen.append(command)
    marker.close()
    watcher.close()


def everything_in(client: redis.Redis) -> list[Any]:
    """Every key of the database, with its value as a dump and as its type reads it."""
    found: list[Any] = []
    reader: Any = client
    for key in reader.scan_iter("*"):
        found.append(key)
        found.append(reader.dump(key) or b"")
        kind = reader.type(key)
        if kind == b"hash":
            for name, value in reader.hgetall(key).items():
                found += [name, value]
        elif kind == b"zset":
            found += [member for member, _ in reader.zrange(key, 0, -1, withscores=True)]
        elif kind == b"string":
            found.append(reader.get(key) or b"")
    return found


def test_a_login_leaves_the_session_key_nowhere_but_in_its_cookie(
    redis_url: str, redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    User.objects.create_superuser("ada", password="pw")
    client = Client()
    keys: list[str] = []
    with caplog.at_level(logging.DEBUG), monitoring(redis_url) as commands:
        client.get("/counter/")
        keys.append(client.cookies[settings.SESSION_COOKIE_NAME].value)
        client.post("/login/", {"username": "ada", "password": "pw"})
        client.get("/counter/")
        key = client.cookies[settings.SESSION_COOKIE_NAME].value
        keys.append(key)
        pages = [
            client.get(LIST).content.decode(),
            client.get(LIST, {"user": "ada"}).content.decode(),
            client.get(f"{LIST}{stored_id(key)}/").content.decode(),
            client.get(f"{LIST}{stored_id(key)}/end/").content.decode(),
        ]
        # A request that presents the anonymous session's key after it ended.
        Client(cookies={settings.SESSION_COOKIE_NAME: keys[0]}).get("/whoami/")

    assert all(is_valid_session_key(session_key) for session_key in keys)
    assert keys[0] != keys[1]
    stored = b"\n".join(everything_in(redis_client))
    logged = "\n".join(
        f"{record.getMessage()} {record.args!r} {record.exc_text or ''}"
        for record in caplog.records
    )
    monitored = "\n".join(commands)
    for session_key in keys:
        assert session_key.encode() not in stored
        assert session_key not in monitored
        assert session_key not in logged
        assert not [page for page in pages if session_key in page]
    # What the server and the pages know it by instead: its stored id.
    assert stored_id(key).encode() in stored
    assert stored_id(key) in monitored
    assert all(stored_id(key)[:6] in page for page in pages)
    assert len(commands) > 10


def test_a_stored_id_read_from_redis_is_no_cookie(redis_client: redis.Redis) -> None:
    client = Client()
    client.get("/counter/")
    (found,) = redis_client.scan_iter("sessions:{*}")
    stored = found.decode()[len("sessions:{") : -1]

    thief = Client(cookies={settings.SESSION_COOKIE_NAME: stored})
    response: Any = thief.get("/counter/")

    # The stored id is refused as a key: the thief gets a session of their own.
    assert response.json() == {"count": 1}
    assert thief.cookies[settings.SESSION_COOKIE_NAME].value != stored
    assert client.get("/counter/").json() == {"count": 2}


def test_the_digest_is_the_same_in_every_thread_and_process() -> None:
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(stored_id("a" * 32))) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # A known digest: SHA-256 of 32 "a", first 160 bits, base32.
    assert set(results) == {stored_id("a" * 32)} == {"HOR7L5B3SJQCNA6BTLXGFIQDIKYIJXKZ"}
