"""The engine on every topology: TLS, a unix socket, an ACL user, Sentinel, Cluster.

Each test runs once per topology of ``tests.support.stores_on_topologies`` (the cluster
twice: without and with the user index, which there lives on other nodes than
the sessions). Django's own session suite runs on each of them too, in
``test_django_suite_on_topologies.py``; the failovers are in
``test_failover.py``.
"""

from __future__ import annotations

import asyncio
import json
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.backends.base import UpdateError
from django.core.checks import Error
from django.core.management import call_command
from django.test import Client

from redis_sessions import checks
from redis_sessions.session import SessionStore
from redis_sessions.store.keys import stored_id
from tests.support.keys import redis_key
from tests.support.stores_on_topologies import Store


def command(*args: str) -> str:
    stdout = StringIO()
    call_command(*args, stdout=stdout, stderr=StringIO())
    return stdout.getvalue()


def stored(store: Store, session_key: str) -> dict[bytes, bytes]:
    fields: dict[bytes, bytes] = store.look("HGETALL", redis_key(session_key))
    return fields


def make(user_id: str | None = None, **data: Any) -> str:
    session = SessionStore()
    session.update(data)
    if user_id is not None:
        session["_auth_user_id"] = user_id
    session.create()
    assert session.session_key is not None
    return session.session_key


@pytest.mark.django_db
def test_a_visitor_counts_logs_in_and_logs_out(on_topology: Store) -> None:
    User.objects.create_user("ada", password="pw")
    client = Client()
    assert client.get("/counter/").json() == {"count": 1}
    assert client.get("/counter/").json() == {"count": 2}

    assert client.post("/login/", {"username": "ada", "password": "pw"}).status_code == 200
    assert client.get("/whoami/").json() == {"user": "ada"}
    logged_in = client.cookies["sessionid"].value
    client.post("/logout/")

    assert client.get("/whoami/").json() == {"user": None}
    assert set(stored(on_topology, logged_in)) == {b"#x", b"#r", b"#u"}  # a tombstone


def test_saves_of_different_keys_both_keep_their_change(on_topology: Store) -> None:
    key = make(cart="[]")
    first, second = SessionStore(key), SessionStore(key)
    assert first["cart"] == second["cart"] == "[]"  # both requests load it

    first["cart"] = "[7]"
    second["flash"] = "saved"
    first.save()
    second.save()

    assert SessionStore(key).load() == {"cart": "[7]", "flash": "saved"}


def test_a_destroyed_session_is_never_saved_back(on_topology: Store) -> None:
    key = make("7", cart="[]")
    late = SessionStore(key)
    assert late["cart"] == "[]"  # this request loads it, then another logs out
    SessionStore(key).delete()

    late["cart"] = "[7]"
    with pytest.raises(UpdateError):
        late.save()

    assert SessionStore(key).load() == {}
    assert set(stored(on_topology, key)) == {b"#x", b"#r", b"#u"}


def test_cycle_key_moves_the_data_and_tombstones_the_old_key(on_topology: Store) -> None:
    key = make("7", theme="dark")
    session = SessionStore(key)
    assert session["theme"] == "dark"

    session.cycle_key()

    assert session.session_key != key
    assert SessionStore(session.session_key).load() == {"_auth_user_id": "7", "theme": "dark"}
    assert set(stored(on_topology, key)) == {b"#x", b"#r", b"#u"}


def test_the_async_methods_do_the_same(on_topology: Store) -> None:
    async def walk() -> tuple[Any, bool, bool, bool]:
        session = SessionStore()
        await session.aset("theme", "dark")
        await session.asave()
        key = session.session_key
        assert key is not None
        again = SessionStore(key)
        theme = await again.aget("theme")
        await again.acycle_key()
        cycled = again.session_key
        assert cycled is not None
        old_exists, new_exists = await again.aexists(key), await again.aexists(cycled)
        await again.aflush()
        return theme, old_exists, new_exists, await SessionStore().aexists(cycled)

    assert asyncio.run(walk()) == ("dark", False, True, False)


def test_the_store_api_sync(on_topology: Store) -> None:
    store = on_topology.store
    sevens = [make("7", n=number) for number in range(3)]
    others = [make("8"), *(make(n=number) for number in range(40))]
    store.set("set0000001", {"a": 1}, 600)

    assert store.get("set0000001") is not None
    assert store.touch("set0000001", 900) is True
    assert 800 < (store.ttls([stored_id("set0000001")])[0] or 0) <= 900
    assert store.count() == 45
    assert sorted(stored.stored_id for stored in store.iter_sessions()) == sorted(
        map(stored_id, [*sevens, *others, "set0000001"])
    )
    assert sorted(stored.stored_id for stored in store.user_sessions("7")) == sorted(
        map(stored_id, sevens)
    )
    stats = store.stats()
    assert (stats.live, stats.authenticated) == (45, 4)

    assert store.destroy_user_sessions("7", keep=sevens[0]) == 2
    assert [stored.stored_id for stored in store.user_sessions("7")] == [stored_id(sevens[0])]
    assert store.destroy("set0000001") is True
    assert store.exists("set0000001") is False
    assert store.clear() >= 45
    assert store.count() == 0


def test_the_store_api_async(on_topology: Store) -> None:
    store = on_topology.store
    sevens = [make("7", n=number) for number in range(3)]
    for number in range(30):
        make(n=number)

    async def walk() -> tuple[int, int, list[str], int, int]:
        live = await store.acount()
        stats = await store.astats()
        mine = [stored.stored_id for stored in await store.auser_sessions("7")]
        destroyed = await store.adestroy_user_sessions("7")
        cleared = await store.aclear()
        return live, stats.live, sorted(mine), destroyed, cleared

    # Cleared: 30 sessions and the 3 tombstones; the index of user 7 went
    # with its last entry.
    assert asyncio.run(walk()) == (33, 33, sorted(map(stored_id, sevens)), 3, 33)


def test_the_management_commands(on_topology: Store) -> None:
    sevens = [make("7") for _ in range(2)]
    for _ in range(5):
        make()

    assert command("sessions", "count") == "7 live sessions.\n"
    listed = command("sessions", "list", "--user-id", "7")
    assert all(stored_id(key) in listed for key in sevens)
    stats = json.loads(command("session_stats", "--json", "--sample", "5"))
    assert (stats["live"], stats["authenticated"], stats["memory"]["sampled"]) == (7, 2, 5)
    command("sessions", "revoke", "--user-id", "7", "--no-input")
    assert command("sessions", "count") == "5 live sessions.\n"
    command("clearsessions")
    command("sessions", "clear", "--no-input")
    assert command("sessions", "count") == "0 live sessions.\n"


def test_the_deploy_check_reaches_the_server(on_topology: Store) -> None:
    messages = checks.check_server()

    assert not [message for message in messages if isinstance(message, Error)]


def test_a_user_over_the_limit_keeps_the_most_recently_active(
    on_topology: Store, run_in_threads: Any
) -> None:
    store = on_topology.store
    sevens = [make("7", n=number) for number in range(4)]
    make("8")

    ended = store.limit_user_sessions("7", 2)
    ended_at_once = run_in_threads(*[lambda: store.limit_user_sessions("7", 1)] * 3)
    left = asyncio.run(store.auser_sessions("7"))

    assert len(ended) == 2
    assert set(ended) <= set(map(stored_id, sevens))
    assert sum(len(result) for result in ended_at_once) == 1
    assert len(left) == 1
    assert asyncio.run(store.alimit_user_sessions("7", 1)) == []
    assert len(store.user_sessions("8")) == 1
