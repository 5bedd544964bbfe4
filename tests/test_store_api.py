"""The manager's store API: touch, set, iterate, count, clear, sync and async."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis
from django.test import override_settings

from redis_sessions.exceptions import SessionDestroyed
from redis_sessions.store import Store, get_store


@pytest.fixture
def manager() -> Store:
    return get_store()


def make(manager: Store, key: str, **data: Any) -> str:
    manager.create(key, data, 600)
    return key


# touch


def test_touch_gives_a_live_session_a_new_ttl_and_changes_nothing_else(
    manager: Store, redis_client: redis.Redis
) -> None:
    make(manager, "touched001", a=1)
    before = redis_client.hgetall("sessions:{touched001}")

    assert manager.touch("touched001", 5000) is True

    assert 4990 < redis_client.ttl("sessions:{touched001}") <= 5000
    assert redis_client.hgetall("sessions:{touched001}") == before


def test_touch_never_extends_a_tombstone_or_creates_a_session(
    manager: Store, redis_client: redis.Redis
) -> None:
    make(manager, "touched001", a=1)
    manager.destroy("touched001")
    tombstone_ttl = redis_client.ttl("sessions:{touched001}")

    assert manager.touch("touched001", 5000) is False
    assert manager.touch("missing001", 5000) is False

    assert redis_client.ttl("sessions:{touched001}") <= tombstone_ttl
    assert redis_client.exists("sessions:{missing001}") == 0


@pytest.mark.usefixtures("indexed")
def test_touch_beyond_the_index_bound_moves_the_index_entry(
    manager: Store, redis_client: redis.Redis
) -> None:
    make(manager, "touched001", _auth_user_id="7")

    manager.touch("touched001", 100_000)

    assert redis_client.zscore("sessions:user:{7}", "touched001") > 100_000  # type: ignore[operator]


def test_touch_with_no_ttl_left_is_refused(manager: Store) -> None:
    with pytest.raises(ValueError, match="TTL above zero"):
        manager.touch("touched001", 0)


# set


def test_set_creates_a_missing_session(manager: Store) -> None:
    manager.set("setkey0001", {"a": 1}, 600)

    stored = manager.get("setkey0001")
    assert stored is not None
    assert stored.data == {"a": 1}


def test_set_replaces_a_live_session_whole(manager: Store) -> None:
    make(manager, "setkey0001", a=1, b=2)

    manager.set("setkey0001", {"c": 3}, 600)

    stored = manager.get("setkey0001")
    assert stored is not None
    assert stored.data == {"c": 3}


def test_set_never_brings_back_a_destroyed_session(manager: Store) -> None:
    make(manager, "setkey0001", a=1)
    manager.destroy("setkey0001")

    with pytest.raises(SessionDestroyed):
        manager.set("setkey0001", {"a": 2}, 600)
    assert manager.get("setkey0001") is None


# iterate, count, clear


@pytest.fixture
def crowd(manager: Store, redis_client: redis.Redis) -> list[str]:
    """250 live sessions, 10 tombstones, and keys that are not sessions."""
    keys = [make(manager, f"crowd{number:05d}", n=number) for number in range(260)]
    for key in keys[250:]:
        manager.destroy(key)
    redis_client.set("sessions:{foreign0001}", "not ours")
    redis_client.set("other:{crowd00000}", "another prefix")
    redis_client.set("unrelated", "x")
    return keys[:250]


def test_iter_sessions_yields_every_live_session_once(manager: Store, crowd: list[str]) -> None:
    seen = [stored.session_key for stored in manager.iter_sessions()]

    assert sorted(seen) == crowd


def test_iter_sessions_scans_hashes_and_reads_each_once(
    manager: Store, crowd: list[str], command_log: Any
) -> None:
    with command_log() as log:
        for _ in manager.iter_sessions():
            pass

    scans = [command for command in log.commands if command.startswith("SCAN")]
    assert all(scan.endswith(" MATCH sessions:{*} COUNT 100 TYPE HASH") for scan in scans)
    assert len(scans) >= 3  # 260 hashes, 100 a batch
    assert log.names.count("HGETALL") == 260  # live sessions and tombstones


def test_count_counts_live_sessions_only(manager: Store, crowd: list[str]) -> None:
    assert manager.count() == 250


@pytest.mark.usefixtures("indexed")
def test_clear_deletes_only_this_prefix(
    manager: Store, crowd: list[str], redis_client: redis.Redis
) -> None:
    make(manager, "withuser01", _auth_user_id="7")

    deleted = manager.clear()

    assert deleted == 250 + 10 + 1 + 1 + 1  # live, tombstones, foreign, withuser01, its index
    assert sorted(redis_client.keys("*")) == [b"other:{crowd00000}", b"unrelated"]


def test_count_checks_each_batch_with_one_script_call(
    manager: Store, crowd: list[str], command_log: Any
) -> None:
    with command_log() as log:
        assert manager.count() == 250

    assert set(log.names) == {"SCAN", "EVALSHA"}
    assert log.names.count("EVALSHA") == 3  # 261 keys, 100 a batch


@pytest.mark.usefixtures("indexed")
def test_clear_walks_the_prefix_once_and_unlinks_a_batch_at_a_time(
    manager: Store, crowd: list[str], command_log: Any
) -> None:
    make(manager, "withuser01", _auth_user_id="7")

    with command_log() as log:
        manager.clear()

    scans = [command for command in log.commands if command.startswith("SCAN")]
    assert all(scan.endswith(" MATCH sessions:* COUNT 100") for scan in scans)
    # Each batch is deleted by one call of the unlink script.
    assert set(log.names) == {"SCAN", "EVALSHA"}
    assert log.names.count("EVALSHA") == 3  # 263 keys, 100 a batch


@pytest.mark.usefixtures("indexed")
def test_clear_leaves_keys_of_the_prefix_that_are_neither_sessions_nor_indexes(
    manager: Store, redis_client: redis.Redis
) -> None:
    make(manager, "withuser01", _auth_user_id="7")
    redis_client.set("sessions:stray", "someone else's")

    assert manager.clear() == 2

    assert redis_client.keys("*") == [b"sessions:stray"]


@pytest.mark.usefixtures("indexed")
def test_a_dry_run_of_clear_counts_what_it_would_delete_and_deletes_nothing(
    manager: Store, crowd: list[str], redis_client: redis.Redis
) -> None:
    make(manager, "withuser01", _auth_user_id="7")
    before = redis_client.dbsize()

    assert manager.clear(dry_run=True) == 250 + 10 + 1 + 1 + 1

    assert redis_client.dbsize() == before


def test_bulk_operations_report_progress_after_every_batch(
    manager: Store, crowd: list[str]
) -> None:
    counted: list[int] = []
    cleared: list[int] = []

    manager.count(progress=counted.append)
    manager.clear(progress=cleared.append)

    assert counted == [100, 200, 261]  # live, tombstones, the foreign key
    assert cleared == [100, 200, 261]


def test_ttls_tell_the_seconds_left_none_for_no_expiry_and_zero_for_gone(
    manager: Store, redis_client: redis.Redis
) -> None:
    make(manager, "expiring01", a=1)
    make(manager, "persisted1", a=1)
    redis_client.persist("sessions:{persisted1}")

    ttl, persisted, gone = manager.ttls(["expiring01", "persisted1", "missing001"])

    assert ttl is not None
    assert 590 < ttl <= 600
    assert (persisted, gone) == (None, 0)
    assert asyncio.run(manager.attls(["persisted1", "missing001"])) == [None, 0]


def test_a_prefix_with_wildcards_matches_only_itself(
    redis_url: str, redis_client: redis.Redis
) -> None:
    with override_settings(REDIS_SESSIONS={"URL": redis_url, "PREFIX": "s*[x]?:"}):
        manager = get_store()
        make(manager, "wildcard01", a=1)
        redis_client.set("sx:{wildcard02}", "not this prefix")

        assert manager.count() == 1
        assert manager.clear() == 1

    assert redis_client.keys("*") == [b"sx:{wildcard02}"]


def test_the_async_twins_agree(manager: Store, crowd: list[str]) -> None:
    async def scenario() -> tuple[list[str], int, bool, int]:
        seen = [stored.session_key async for stored in manager.aiter_sessions()]
        scanned: list[int] = []
        count = await manager.acount(progress=scanned.append)
        assert await manager.aclear(dry_run=True, progress=scanned.append) == 250 + 10 + 1
        assert scanned == [100, 200, 261] * 2
        touched = await manager.atouch(crowd[0], 900)
        await manager.aset("asyncset01", {"_auth_user_id": "9"}, 600)
        users = await manager.auser_sessions("9")
        assert [stored.session_key for stored in users] == ["asyncset01"]
        assert await manager.adestroy_user_sessions("9") == 1
        assert await manager.aprune_indexes() == 0
        return seen, count, touched, await manager.aclear()

    seen, count, touched, cleared = asyncio.run(scenario())

    assert sorted(seen) == crowd
    assert count == 250
    assert touched is True
    assert cleared == 250 + 10 + 1 + 1  # live, tombstones, foreign, the async tombstone


def test_get_is_load(manager: Store) -> None:
    assert Store.get is Store.load
    assert Store.aget is Store.aload
