"""Pages of sessions walked with SCAN's cursor (redis_sessions.admin.paging), on a real server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
import redis
from django.test import override_settings

from benchmarks.servers import free_port
from redis_sessions.admin import paging
from redis_sessions.exceptions import StoreUnavailable
from redis_sessions.store import Store, get_store
from redis_sessions.store.keys import stored_id
from tests.conftest import CommandLog


@pytest.fixture
def store() -> Store:
    return get_store()


#: The session keys the tests made, by stored id: pages name sessions by stored id.
KEYS: dict[str, str] = {}


def key(name: str) -> str:
    """A session key that starts with ``name``."""
    session_key = name.ljust(32, "0")
    KEYS[stored_id(session_key)] = session_key
    return session_key


def walk(
    store: Store,
    size: int,
    cursor: str = "0",
    *,
    id_prefix: str = "",
    authenticated: bool | None = None,
    max_scans: int = 32,
) -> list[paging.Page]:
    """Every page of a walk, from ``cursor`` to the last."""
    pages: list[paging.Page] = []
    while not pages or pages[-1].cursor != "0":
        assert len(pages) < 1000, "the walk does not end"
        start = pages[-1].cursor if pages else cursor
        pages.append(
            paging.scan_page(
                store,
                start,
                size,
                id_prefix=id_prefix,
                authenticated=authenticated,
                max_scans=max_scans,
            )
        )
    return pages


def keys_of(pages: list[paging.Page]) -> list[str]:
    """The session keys of the sessions the pages list, by the stored ids they show."""
    return [KEYS[listed.session.stored_id] for page in pages for listed in page.sessions]


def test_a_walk_of_small_pages_lists_every_live_session_once(store: Store) -> None:
    created = {key(f"s{number:02d}") for number in range(60)}
    for session_key in created:
        store.create(session_key, {"n": 1}, 3600)

    pages = walk(store, 3)

    assert sorted(keys_of(pages)) == sorted(created)
    assert len(pages) >= 4
    assert pages[-1].cursor == "0"
    assert all(page.cursor.isdigit() for page in pages)


def test_a_page_has_about_its_size(store: Store) -> None:
    for number in range(50):
        store.create(key(f"s{number:02d}"), {}, 3600)

    page = paging.scan_page(store, "0", 10)

    # SCAN hands keys out a bucket at a time: a few more than asked, never fewer
    # while there are more.
    assert 10 <= len(page.sessions) < 20
    assert page.cursor != "0"


def test_a_single_page_holds_everything_when_it_is_large_enough(store: Store) -> None:
    for number in range(5):
        store.create(key(f"s{number}"), {}, 3600)

    page = paging.scan_page(store)

    assert len(page.sessions) == 5
    assert page.cursor == "0"


def test_an_empty_store_is_one_empty_page(store: Store) -> None:
    assert paging.scan_page(store) == paging.Page([], "0")


def test_each_session_comes_with_its_time_to_live_and_size(
    store: Store, redis_client: redis.Redis
) -> None:
    store.create(key("s"), {"_auth_user_id": "7", "cart": [1, 2]}, 3600)
    stored_fields = redis_client.hgetall(store.redis_key(key("s")))

    (listed,) = paging.scan_page(store).sessions

    assert listed.session.user_id == "7"
    assert listed.session.data == {"_auth_user_id": "7", "cart": [1, 2]}
    assert 3590 <= (listed.ttl or 0) <= 3600
    assert listed.size == sum(len(name) + len(value) for name, value in stored_fields.items())


def test_a_session_without_expiry_has_no_time_to_live(
    store: Store, redis_client: redis.Redis
) -> None:
    store.create(key("s"), {}, 3600)
    redis_client.persist(store.redis_key(key("s")))

    (listed,) = paging.scan_page(store).sessions

    assert listed.ttl is None


def test_tombstones_user_indexes_and_foreign_keys_are_left_out(
    store: Store, redis_client: redis.Redis
) -> None:
    store.create(key("live"), {"_auth_user_id": "7"}, 3600)
    store.create(key("gone"), {}, 3600)
    store.destroy(key("gone"))
    redis_client.set(store.redis_key(key("string")), "not a session")
    redis_client.hset(store.redis_key(key("hash")), "x", "no metadata")
    redis_client.set("unrelated", "1")

    pages = walk(store, 2)

    assert keys_of(pages) == [key("live")]


def test_an_id_prefix_keeps_the_sessions_whose_stored_id_starts_with_it(
    store: Store,
) -> None:
    made = [key(f"s{number:02d}") for number in range(40)]
    for session_key in made:
        store.create(session_key, {}, 3600)
    start = stored_id(made[0])[:1]

    pages = walk(store, 1, id_prefix=start)

    expected = [session_key for session_key in made if stored_id(session_key).startswith(start)]
    assert sorted(keys_of(pages)) == sorted(expected)
    assert 0 < len(expected) < len(made)


def test_a_whole_stored_id_as_prefix_finds_that_session(store: Store) -> None:
    store.create(key("abc1"), {}, 3600)
    store.create(key("abc2"), {}, 3600)

    assert keys_of(walk(store, 10, id_prefix=stored_id(key("abc1")))) == [key("abc1")]


def test_glob_characters_of_the_prefix_are_matched_literally(redis_url: str) -> None:
    with override_settings(REDIS_SESSIONS={"URL": redis_url, "PREFIX": "s*[x]:"}):
        store = get_store()
        store.create(key("abc"), {}, 3600)
        # What the prefix would match as a pattern: a session of another prefix.
        store.client.hset("sabcx:{" + key("abd") + "}", mapping={"#c": 1, "#m": 1})

        assert keys_of(walk(store, 10)) == [key("abc")]
        start = stored_id(key("abc"))[:2]
        assert keys_of(walk(store, 10, id_prefix=start)) == [key("abc")]


@pytest.mark.parametrize(("authenticated", "expected"), [(True, ["user"]), (False, ["anon"])])
def test_the_login_filter_keeps_one_kind_of_session(
    store: Store, authenticated: bool, expected: list[str]
) -> None:
    for number in range(10):
        store.create(key(f"user{number}"), {"_auth_user_id": "7"}, 3600)
    for number in range(10):
        store.create(key(f"anon{number}"), {}, 3600)

    pages = walk(store, 3, authenticated=authenticated)

    assert {session_key[:4] for session_key in keys_of(pages)} == set(expected)
    assert len(keys_of(pages)) == 10


def test_a_filtered_page_reads_on_until_it_is_full(store: Store) -> None:
    for number in range(30):
        store.create(key(f"anon{number:02d}"), {}, 3600)
    for number in range(3):
        store.create(key(f"user{number}"), {"_auth_user_id": "7"}, 3600)

    page = paging.scan_page(store, "0", 3, authenticated=True)

    assert sorted(KEYS[listed.session.stored_id] for listed in page.sessions) == [
        key(f"user{number}") for number in range(3)
    ]


def test_a_page_stops_after_its_scans_and_says_where_to_go_on(store: Store) -> None:
    for number in range(200):
        store.create(key(f"anon{number:03d}"), {}, 3600)
    store.create(key("user"), {"_auth_user_id": "7"}, 3600)

    page = paging.scan_page(store, "0", 1, authenticated=True, max_scans=1)
    pages = [page, *walk(store, 1, page.cursor, authenticated=True, max_scans=1)]

    assert page.cursor != "0"
    assert keys_of(pages) == [key("user")]


@pytest.mark.parametrize("cursor", ["", "-1", "1.5", "abc", "٣", "1 2"])
def test_a_cursor_this_function_did_not_return_is_refused(store: Store, cursor: str) -> None:
    with pytest.raises(ValueError, match="is not a cursor of this listing"):
        paging.scan_page(store, cursor)


@pytest.mark.parametrize("prefix", ["abc", "A*", "A?", "A]", "A{", "A1", "A" * 33])
def test_an_id_prefix_no_stored_id_can_have_is_refused(store: Store, prefix: str) -> None:
    with pytest.raises(ValueError, match="No stored id starts with"):
        paging.scan_page(store, id_prefix=prefix)


@pytest.mark.parametrize(("size", "max_scans"), [(0, 1), (1, 0)])
def test_a_page_needs_a_size_and_scans(store: Store, size: int, max_scans: int) -> None:
    with pytest.raises(ValueError, match="above zero"):
        paging.scan_page(store, "0", size, max_scans=max_scans)


def test_read_sessions_reads_live_sessions_in_one_round_trip(
    store: Store, command_log: Callable[[], AbstractContextManager[CommandLog]]
) -> None:
    store.create(key("one"), {"a": 1}, 3600)
    store.create(key("two"), {"b": 2}, 3600)
    store.create(key("gone"), {}, 3600)
    store.destroy(key("gone"))

    with command_log() as log:
        names = ("one", "gone", "missing", "two")
        found = paging.read_sessions(store, [stored_id(key(name)) for name in names])

    assert [KEYS[listed.session.stored_id] for listed in found] == [key("one"), key("two")]
    assert [listed.session.data for listed in found] == [{"a": 1}, {"b": 2}]
    assert log.names == ["HGETALL", "TTL"] * 4


def test_read_sessions_never_sends_what_is_not_a_stored_id(
    store: Store, command_log: Callable[[], AbstractContextManager[CommandLog]]
) -> None:
    with command_log() as log:
        found = paging.read_sessions(store, ["SHORT", key("sessionkey"), "A*B*C", ""])

    assert found == []
    assert len(log) == 0


def test_read_sessions_skips_a_key_of_another_type(store: Store, redis_client: redis.Redis) -> None:
    redis_client.set(store.redis_key(key("string")), "x")

    assert paging.read_sessions(store, [stored_id(key("string"))]) == []


def test_with_details_adds_times_to_live_and_sizes(store: Store) -> None:
    store.create(key("s"), {"_auth_user_id": "7"}, 600)
    sessions = store.user_sessions("7")

    (listed,) = paging.with_details(store, sessions)

    assert listed.session == sessions[0]
    assert 590 <= (listed.ttl or 0) <= 600
    assert listed.size > 0
    assert paging.with_details(store, []) == []


@pytest.mark.parametrize(
    "read",
    [
        lambda store: paging.scan_page(store),
        lambda store: paging.read_sessions(store, [stored_id(key("s"))]),
    ],
    ids=["scan_page", "read_sessions"],
)
def test_an_unreachable_server_raises_store_unavailable(
    read: Callable[[Store], object],
) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    with (
        override_settings(REDIS_SESSIONS={"URL": nowhere}),
        pytest.raises(StoreUnavailable, match="Check that the server is up"),
    ):
        read(get_store())


# The asyncio twins run the same plans on the store's asyncio driver.


def test_an_asyncio_walk_lists_what_the_sync_walk_lists(store: Store) -> None:
    for number in range(30):
        store.create(key(f"a{number:02d}"), {"_auth_user_id": str(number % 3)}, 3600)

    async def walk_asyncio() -> list[paging.Page]:
        pages = [await paging.ascan_page(store, "0", 7)]
        while pages[-1].cursor != "0":
            pages.append(await paging.ascan_page(store, pages[-1].cursor, 7))
        return pages

    assert sorted(keys_of(asyncio.run(walk_asyncio()))) == sorted(keys_of(walk(store, 7)))


def test_asyncio_reads_give_what_sync_reads_give(store: Store) -> None:
    store.create(key("one"), {"_auth_user_id": "7"}, 600)
    store.create(key("two"), {"_auth_user_id": "7"}, 600)
    sessions = store.user_sessions("7")

    async def read() -> tuple[list[paging.Listed], list[paging.Listed]]:
        found = await paging.aread_sessions(
            store, [stored_id(key(name)) for name in ("one", "nope", "two")]
        )
        detailed = await paging.awith_details(store, sessions)
        return found, detailed

    found, detailed = asyncio.run(read())

    assert sorted(listed.session for listed in found) == sorted(sessions)
    assert [listed.session for listed in detailed] == sessions
    assert all(590 <= (listed.ttl or 0) <= 600 for listed in found + detailed)


def test_an_asyncio_page_of_an_unreachable_server_raises_store_unavailable() -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    with (
        override_settings(REDIS_SESSIONS={"URL": nowhere}),
        pytest.raises(StoreUnavailable, match="could not scan the sessions"),
    ):
        asyncio.run(paging.ascan_page(get_store()))
