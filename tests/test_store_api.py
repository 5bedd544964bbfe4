"""The store's many-session API: touch, set, iterate, count, clear, sync and async."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis
from django.test import override_settings

from redis_sessions.exceptions import SessionDestroyed
from redis_sessions.store import Store, get_store
from redis_sessions.store.keys import stored_id
from tests.support.keys import redis_key


@pytest.fixture
def store() -> Store:
    return get_store()


def make(store: Store, key: str, **data: Any) -> str:
    store.create(key, data, 600)
    return key


# touch


def test_touch_gives_a_live_session_a_new_ttl_and_changes_nothing_else(
    store: Store, redis_client: redis.Redis
) -> None:
    make(store, "touched001", a=1)
    before = redis_client.hgetall(redis_key("touched001"))

    assert store.touch("touched001", 5000) is True

    assert 4990 < redis_client.ttl(redis_key("touched001")) <= 5000
    assert redis_client.hgetall(redis_key("touched001")) == before


def test_touch_never_extends_a_tombstone_or_creates_a_session(
    store: Store, redis_client: redis.Redis
) -> None:
    make(store, "touched001", a=1)
    store.destroy("touched001")
    tombstone_ttl = redis_client.ttl(redis_key("touched001"))

    assert store.touch("touched001", 5000) is False
    assert store.touch("missing001", 5000) is False

    assert redis_client.ttl(redis_key("touched001")) <= tombstone_ttl
    assert redis_client.exists(redis_key("missing001")) == 0


@pytest.mark.usefixtures("indexed")
def test_touch_beyond_the_index_bound_moves_the_index_entry(
    store: Store, redis_client: redis.Redis
) -> None:
    make(store, "touched001", _auth_user_id="7")

    store.touch("touched001", 100_000)

    score = redis_client.zscore("sessions:user:{7}", stored_id("touched001"))
    assert score is not None
    assert score > 100_000


def test_touch_with_no_ttl_left_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="TTL above zero"):
        store.touch("touched001", 0)


# set


def test_set_creates_a_missing_session(store: Store) -> None:
    store.set("setkey0001", {"a": 1}, 600)

    stored = store.get("setkey0001")
    assert stored is not None
    assert stored.data == {"a": 1}


def test_set_replaces_a_live_session_whole(store: Store) -> None:
    make(store, "setkey0001", a=1, b=2)

    store.set("setkey0001", {"c": 3}, 600)

    stored = store.get("setkey0001")
    assert stored is not None
    assert stored.data == {"c": 3}


def test_set_never_brings_back_a_destroyed_session(store: Store) -> None:
    make(store, "setkey0001", a=1)
    store.destroy("setkey0001")

    with pytest.raises(SessionDestroyed):
        store.set("setkey0001", {"a": 2}, 600)
    assert store.get("setkey0001") is None


# iterate, count, clear


@pytest.fixture
def crowd(store: Store, redis_client: redis.Redis) -> list[str]:
    """250 live sessions, 10 tombstones, and keys that are not sessions."""
    keys = [make(store, f"crowd{number:05d}", n=number) for number in range(260)]
    for key in keys[250:]:
        store.destroy(key)
    redis_client.set(redis_key("foreign0001"), "not ours")
    redis_client.set("other:{crowd00000}", "another prefix")
    redis_client.set("unrelated", "x")
    return keys[:250]


def test_iter_sessions_yields_every_live_session_once(store: Store, crowd: list[str]) -> None:
    seen = [stored.stored_id for stored in store.iter_sessions()]

    assert sorted(seen) == sorted(map(stored_id, crowd))


def test_iter_sessions_scans_hashes_and_reads_each_once(
    store: Store, crowd: list[str], command_log: Any
) -> None:
    with command_log() as log:
        for _ in store.iter_sessions():
            pass

    scans = [command for command in log.commands if command.startswith("SCAN")]
    assert all(scan.endswith(" MATCH sessions:{*} COUNT 100 TYPE HASH") for scan in scans)
    assert len(scans) >= 3  # 260 hashes, 100 a batch
    assert log.names.count("HGETALL") == 260  # live sessions and tombstones


def test_count_counts_live_sessions_only(store: Store, crowd: list[str]) -> None:
    assert store.count() == 250


@pytest.mark.usefixtures("indexed")
def test_clear_deletes_only_this_prefix(
    store: Store, crowd: list[str], redis_client: redis.Redis
) -> None:
    make(store, "withuser01", _auth_user_id="7")

    deleted = store.clear()

    assert deleted == 250 + 10 + 1 + 1 + 1  # live, tombstones, foreign, withuser01, its index
    assert sorted(redis_client.keys("*")) == [b"other:{crowd00000}", b"unrelated"]


def test_count_checks_each_batch_with_one_script_call(
    store: Store, crowd: list[str], command_log: Any
) -> None:
    with command_log() as log:
        assert store.count() == 250

    assert set(log.names) == {"SCAN", "EVALSHA"}
    assert log.names.count("EVALSHA") == 3  # 261 keys, 100 a batch


@pytest.mark.usefixtures("indexed")
def test_clear_walks_the_prefix_once_and_unlinks_a_batch_at_a_time(
    store: Store, crowd: list[str], command_log: Any
) -> None:
    make(store, "withuser01", _auth_user_id="7")

    with command_log() as log:
        store.clear()

    scans = [command for command in log.commands if command.startswith("SCAN")]
    assert all(scan.endswith(" MATCH sessions:* COUNT 100") for scan in scans)
    # Each batch is deleted by one call of the unlink script.
    assert set(log.names) == {"SCAN", "EVALSHA"}
    assert log.names.count("EVALSHA") == 3  # 263 keys, 100 a batch


@pytest.mark.usefixtures("indexed")
def test_clear_leaves_keys_of_the_prefix_that_are_neither_sessions_nor_indexes(
    store: Store, redis_client: redis.Redis
) -> None:
    make(store, "withuser01", _auth_user_id="7")
    redis_client.set("sessions:stray", "someone else's")

    assert store.clear() == 2

    assert redis_client.keys("*") == [b"sessions:stray"]


@pytest.mark.usefixtures("indexed")
def test_a_dry_run_of_clear_counts_what_it_would_delete_and_deletes_nothing(
    store: Store, crowd: list[str], redis_client: redis.Redis
) -> None:
    make(store, "withuser01", _auth_user_id="7")
    before = redis_client.dbsize()

    assert store.clear(dry_run=True) == 250 + 10 + 1 + 1 + 1

    assert redis_client.dbsize() == before


def test_bulk_operations_report_progress_after_every_batch(store: Store, crowd: list[str]) -> None:
    counted: list[int] = []
    cleared: list[int] = []

    store.count(progress=counted.append)
    store.clear(progress=cleared.append)

    assert counted == [100, 200, 261]  # live, tombstones, the foreign key
    assert cleared == [100, 200, 261]


def test_ttls_tell_the_seconds_left_none_for_no_expiry_and_zero_for_gone(
    store: Store, redis_client: redis.Redis
) -> None:
    make(store, "expiring01", a=1)
    make(store, "persisted1", a=1)
    redis_client.persist(redis_key("persisted1"))

    ttl, persisted, gone = store.ttls(
        [stored_id(key) for key in ("expiring01", "persisted1", "missing001")]
    )

    assert ttl is not None
    assert 590 < ttl <= 600
    assert (persisted, gone) == (None, 0)
    assert asyncio.run(store.attls([stored_id("persisted1"), stored_id("missing001")])) == [
        None,
        0,
    ]


def test_a_prefix_with_wildcards_matches_only_itself(
    redis_url: str, redis_client: redis.Redis
) -> None:
    with override_settings(REDIS_SESSIONS={"URL": redis_url, "PREFIX": "s*[x]?:"}):
        store = get_store()
        make(store, "wildcard01", a=1)
        redis_client.set("sx:{wildcard02}", "not this prefix")

        assert store.count() == 1
        assert store.clear() == 1

    assert redis_client.keys("*") == [b"sx:{wildcard02}"]


def test_the_async_twins_agree(store: Store, crowd: list[str]) -> None:
    async def scenario() -> tuple[list[str], int, bool, int]:
        seen = [stored.stored_id async for stored in store.aiter_sessions()]
        scanned: list[int] = []
        count = await store.acount(progress=scanned.append)
        assert await store.aclear(dry_run=True, progress=scanned.append) == 250 + 10 + 1
        assert scanned == [100, 200, 261] * 2
        touched = await store.atouch(crowd[0], 900)
        await store.aset("asyncset01", {"_auth_user_id": "9"}, 600)
        users = await store.auser_sessions("9")
        assert [stored.stored_id for stored in users] == [stored_id("asyncset01")]
        assert await store.adestroy_user_sessions("9") == 1
        assert await store.aprune_indexes() == 0
        return seen, count, touched, await store.aclear()

    seen, count, touched, cleared = asyncio.run(scenario())

    assert sorted(seen) == sorted(map(stored_id, crowd))
    assert count == 250
    assert touched is True
    assert cleared == 250 + 10 + 1 + 1  # live, tombstones, foreign, the async tombstone


def test_get_is_load(store: Store) -> None:
    assert Store.get is Store.load
    assert Store.aget is Store.aload
