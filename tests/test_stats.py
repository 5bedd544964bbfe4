"""The store's statistics: one SCAN pass, one script call per batch, flat memory."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import redis
from django.test import override_settings

from redis_sessions.store import Store, get_store
from redis_sessions.store.stats import TTL_BUCKETS, SessionStats, StatsCollector, ttl_bucket
from tests.support.keys import redis_key

# Sessions are indexed by user in every test of this module.
pytestmark = pytest.mark.usefixtures("indexed")

HOUR = 3600
DAY = 24 * HOUR
WEEK = 7 * DAY


@pytest.fixture
def store() -> Store:
    return get_store()


def make(store: Store, key: str, ttl: int = 600, **data: Any) -> str:
    store.create(key, data, ttl)
    return key


def user(store: Store, user_id: str, number: int, ttl: int = 600) -> str:
    return make(store, f"user{user_id}s{number:04d}", ttl, _auth_user_id=user_id)


def buckets(**counts: int) -> dict[str, int]:
    return {name: counts.get(name, 0) for name in TTL_BUCKETS}


# what is counted


def test_an_empty_store_has_empty_statistics(store: Store) -> None:
    assert store.stats() == SessionStats()


def test_live_sessions_are_told_apart_from_tombstones_and_foreign_keys(
    store: Store, redis_client: redis.Redis
) -> None:
    for number in range(3):
        make(store, f"anon{number:06d}")
    user(store, "7", 1)
    make(store, "doomed0001")
    store.destroy("doomed0001")
    redis_client.set(redis_key("astring01"), "not a hash")
    redis_client.hset(redis_key("foreign01"), "a", "b")

    stats = store.stats()

    assert (stats.live, stats.authenticated, stats.anonymous) == (4, 1, 3)
    assert (stats.tombstones, stats.other) == (1, 2)


def test_keys_of_other_prefixes_are_left_out(store: Store, redis_client: redis.Redis) -> None:
    make(store, "counted001")
    redis_client.hset("other:{counted002}", "#c", "1")
    redis_client.set("sessions:stray", "neither a session nor an index")
    redis_client.zadd("other:user:{7}", {"counted002": time.time() + 600})

    stats = store.stats()

    assert (stats.live, stats.other, stats.users) == (1, 0, 0)


def test_live_sessions_are_bucketed_by_time_to_live(
    store: Store, redis_client: redis.Redis
) -> None:
    for number, ttl in enumerate([60, HOUR, 2 * HOUR, DAY, 2 * DAY, 10 * DAY, 2 * WEEK, 30 * DAY]):
        make(store, f"ttl{number:07d}", ttl)
    make(store, "persisted1")
    redis_client.persist(redis_key("persisted1"))

    stats = store.stats()

    assert stats.ttl == buckets(
        up_to_1h=2, **{"1h_to_1d": 2, "1d_to_1w": 1, "1w_to_2w": 2}, over_2w=1, no_expiry=1
    )


def test_a_tombstone_is_in_no_ttl_bucket(store: Store) -> None:
    make(store, "doomed0001")
    store.destroy("doomed0001")

    assert store.stats().ttl == buckets()


# users


def test_the_users_with_the_most_sessions_come_first(store: Store) -> None:
    for user_id, sessions in [("1", 2), ("2", 5), ("3", 1), ("4", 3)]:
        for number in range(sessions):
            user(store, user_id, number)

    stats = store.stats(top=3)

    assert stats.top_users == (("2", 5), ("4", 3), ("1", 2))
    assert stats.users == 4


def test_users_with_as_many_sessions_are_listed_in_order_of_id(store: Store) -> None:
    for user_id in ["10", "9", "b", "a", "100"]:
        user(store, user_id, 1)

    assert store.stats().top_users == (("9", 1), ("a", 1), ("b", 1), ("10", 1), ("100", 1))


def test_top_zero_lists_no_user_but_counts_them(store: Store) -> None:
    user(store, "7", 1)

    stats = store.stats(top=0)

    assert (stats.top_users, stats.users) == ((), 1)


def test_index_entries_of_expired_sessions_are_not_counted(
    store: Store, redis_client: redis.Redis
) -> None:
    user(store, "7", 1)
    redis_client.zadd("sessions:user:{7}", {"expired001": time.time() - 10})
    redis_client.zadd("sessions:user:{8}", {"expired002": time.time() - 10})

    stats = store.stats()

    assert stats.top_users == (("7", 1),)
    assert stats.users == 1


def test_a_key_of_the_index_shape_that_is_no_sorted_set_counts_for_nobody(
    store: Store, redis_client: redis.Redis
) -> None:
    redis_client.set("sessions:user:{7}", "not an index")

    assert store.stats() == SessionStats()


# memory


def test_memory_is_measured_on_a_sample_of_live_sessions(
    store: Store, redis_client: redis.Redis
) -> None:
    keys = [make(store, f"same{number:06d}", theme="dark") for number in range(5)]
    make(store, "doomed0001")
    store.destroy("doomed0001")
    # What each key takes depends on the allocator, and with some on the key's
    # history too: the expected figures are read off the server, key by key.
    usages = [redis_client.memory_usage(store.redis_key(key)) or 0 for key in keys]

    stats = store.stats(sample=5)

    assert (stats.sampled, stats.sampled_bytes) == (5, sum(usages))
    assert stats.mean_bytes == sum(usages) / 5
    assert stats.estimated_bytes == sum(usages)


def test_the_sample_never_exceeds_the_live_sessions(
    store: Store, redis_client: redis.Redis
) -> None:
    for number in range(3):
        make(store, f"same{number:06d}", theme="dark")

    stats = store.stats(sample=1000)

    assert stats.sampled == 3


def test_a_sample_of_zero_measures_nothing(store: Store) -> None:
    make(store, "counted001")

    stats = store.stats(sample=0)

    assert (stats.sampled, stats.mean_bytes, stats.estimated_bytes) == (0, None, None)


def test_a_negative_top_or_sample_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        store.stats(top=-1)
    with pytest.raises(ValueError, match="cannot be negative"):
        store.stats(sample=-1)


# how it reads


@pytest.fixture
def crowd(store: Store) -> None:
    """250 sessions of 50 users, and their 50 indexes: 300 keys of the prefix."""
    for number in range(250):
        user(store, str(number % 50), number)


def test_stats_walk_the_prefix_once_and_call_one_script_per_batch(
    store: Store, crowd: None, command_log: Any
) -> None:
    with command_log() as log:
        stats = store.stats()

    assert (stats.live, stats.users) == (250, 50)
    scans = [command for command in log.commands if command.startswith("SCAN")]
    assert all(scan.endswith(" MATCH sessions:* COUNT 100") for scan in scans)
    assert set(log.names) == {"SCAN", "EVALSHA"}
    assert log.names.count("EVALSHA") == 3  # 300 keys, 100 a batch


def test_progress_is_reported_after_every_batch(store: Store, crowd: None) -> None:
    seen: list[int] = []

    store.stats(progress=seen.append)

    assert seen == [100, 200, 300]


def test_with_another_prefix_only_its_keys_are_read(
    redis_url: str, redis_client: redis.Redis
) -> None:
    with override_settings(
        REDIS_SESSIONS={"URL": redis_url, "PREFIX": "s*[x]?:", "USER_INDEX": True}
    ):
        store = get_store()
        user(store, "7", 1)
        redis_client.hset("sx:{wildcard02}", "#c", "1")

        stats = store.stats()

    assert (stats.live, stats.authenticated, stats.other, stats.top_users) == (1, 1, 0, (("7", 1),))


def test_the_async_twin_agrees(store: Store, crowd: None) -> None:
    seen: list[int] = []

    stats = asyncio.run(store.astats(top=5, sample=10, progress=seen.append))

    assert stats == store.stats(top=5, sample=10)
    assert seen == [100, 200, 300]


# the pieces


@pytest.mark.parametrize(
    ("ttl", "bucket"),
    [
        (-1, "no_expiry"),
        (0, "up_to_1h"),
        (HOUR, "up_to_1h"),
        (HOUR + 1, "1h_to_1d"),
        (DAY, "1h_to_1d"),
        (WEEK, "1d_to_1w"),
        (2 * WEEK, "1w_to_2w"),
        (2 * WEEK + 1, "over_2w"),
    ],
)
def test_each_bucket_includes_its_upper_bound(ttl: int, bucket: str) -> None:
    assert ttl_bucket(ttl) == bucket


def test_only_users_with_more_sessions_than_the_last_listed_displace_it() -> None:
    collector = StatsCollector(top=2, sample=0)
    collector.add(0, ["1", "2", "3", "4"], [5, 3, 1, 4, 0, 0])

    assert collector.result().top_users == (("1", 5), ("4", 4))


def test_a_user_that_scan_returns_twice_is_listed_once() -> None:
    collector = StatsCollector(top=3, sample=0)
    for _ in range(2):
        collector.add(0, ["7"], [4, 0, 0])

    assert collector.result().top_users == (("7", 4),)
