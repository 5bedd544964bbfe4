"""The store is a public API: usable on its own, outside Django's SessionBase."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import redis
from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.test import override_settings

from redis_sessions.store import Store, get_store
from redis_sessions.store.keys import stored_id
from tests.support.keys import redis_key
from tests.support.serializers import TaggingSerializer


@pytest.fixture
def store(redis_url: str) -> Iterator[Store]:
    store = Store(
        redis.Redis.from_url(redis_url), prefix="app:", tombstone_ttl=60, owns_client=True
    )
    yield store
    store.close()


def test_a_manager_built_by_hand_uses_its_own_prefix(
    store: Store, redis_client: redis.Redis
) -> None:
    store.create("handmade01", {"a": 1}, 100)

    assert store.redis_key("handmade01") == f"app:{{{stored_id('handmade01')}}}"
    assert redis_client.keys("*") == [f"app:{{{stored_id('handmade01')}}}".encode()]


def test_load_returns_a_stored_session_with_metadata(store: Store) -> None:
    store.create("handmade01", {"_auth_user_id": 9, "a": [1]}, 100)

    stored = store.load("handmade01")

    assert stored is not None
    assert stored.stored_id == stored_id("handmade01")
    assert stored.data == {"_auth_user_id": 9, "a": [1]}
    assert stored.user_id == "9"
    assert stored.created == stored.saved
    assert store.load("unknown001") is None


def test_save_with_the_loaded_fields_merges_with_other_writers(store: Store) -> None:
    store.create("handmade01", {"a": 1, "b": 2}, 100)
    first = store.load("handmade01")
    second = store.load("handmade01")
    assert first is not None
    assert second is not None

    store.save("handmade01", {**first.data, "a": 10}, 100, snapshot=first.fields)
    store.save("handmade01", {"b": 2}, 100, snapshot=second.fields)

    stored = store.load("handmade01")
    assert stored is not None
    assert stored.data == {"b": 2}  # the second writer removed a, which it had loaded


def test_save_without_a_snapshot_sets_every_field_and_deletes_none(
    store: Store,
) -> None:
    store.create("handmade01", {"a": 1}, 100)

    store.save("handmade01", {"b": 2}, 100)

    stored = store.load("handmade01")
    assert stored is not None
    assert stored.data == {"a": 1, "b": 2}


def test_save_with_replace_keeps_only_the_given_data(store: Store) -> None:
    store.create("handmade01", {"a": 1}, 100)

    store.save("handmade01", {"b": 2}, 100, replace=True)

    stored = store.load("handmade01")
    assert stored is not None
    assert stored.data == {"b": 2}


def test_write_errors_follow_djangos_contract(store: Store) -> None:
    store.create("handmade01", {}, 100)

    with pytest.raises(CreateError):
        store.create("handmade01", {}, 100)
    with pytest.raises(UpdateError, match="expired or was never created"):
        store.save("missing001", {}, 100)
    assert store.destroy("handmade01") is True
    assert store.destroy("handmade01") is False
    with pytest.raises(UpdateError, match="destroyed"):
        store.save("handmade01", {}, 100)


def test_cycle_moves_a_session_in_one_call(store: Store) -> None:
    store.create("oldkey0001", {"a": 1}, 100)

    store.cycle("oldkey0001", "newkey0001", {"a": 1, "b": 2}, 100)

    assert store.exists("oldkey0001") is False
    stored = store.load("newkey0001")
    assert stored is not None
    assert stored.data == {"a": 1, "b": 2}


def test_cycle_onto_a_taken_key_raises_create_error_and_still_ends_the_old(
    store: Store,
) -> None:
    store.create("oldkey0001", {"a": 1}, 100)
    store.create("taken00001", {"other": True}, 100)

    with pytest.raises(CreateError):
        store.cycle("oldkey0001", "taken00001", {"a": 1}, 100)

    assert store.exists("oldkey0001") is False
    stored = store.load("taken00001")
    assert stored is not None
    assert stored.data == {"other": True}


def test_a_manager_takes_any_serializer(redis_url: str) -> None:
    store = Store(redis.Redis.from_url(redis_url), serializer_class=TaggingSerializer)
    store.create("handmade01", {"a": "b"}, 100)

    assert store.client.hget(redis_key("handmade01"), "a") == b'\x00tagged:"b"'
    store.client.close()


def test_the_configured_manager_is_made_once_and_remade_when_settings_change(
    redis_url: str,
) -> None:
    first = get_store()
    assert get_store() is first

    with override_settings(REDIS_SESSIONS={"URL": redis_url, "PREFIX": "other:"}):
        assert get_store().prefix == "other:"

    assert get_store() is not first
    assert get_store().prefix == "sessions:"


def test_a_manager_describes_its_server_without_credentials() -> None:
    store = Store(redis.Redis.from_url("redis://user:s3cret@example.invalid:7000/3"))

    assert repr(store) == "<Store example.invalid:7000/3 prefix='sessions:'>"
    assert "s3cret" not in repr(store)


def test_a_manager_on_a_unix_socket_describes_the_path() -> None:
    store = Store(redis.Redis(unix_socket_path="/run/redis/redis.sock"))

    assert repr(store) == "<Store unix:/run/redis/redis.sock prefix='sessions:'>"


async def asynchronously(store: Store, key: str) -> tuple[dict[str, object] | None, bool, bool]:
    await store.acreate(key, {"a": [2]}, 100)
    stored = await store.aload(key)
    return (
        None if stored is None else stored.data,
        await store.aexists(key),
        await store.adestroy(key),
    )


@pytest.mark.parametrize("protocol", [2, 3])
def test_a_manager_works_over_either_protocol_and_a_single_connection_client(
    redis_url: str, protocol: int
) -> None:
    # The engine sends its single commands on a pooled connection of its own;
    # a client pinned to one connection, or speaking RESP3, is served as well.
    for single in (False, True):
        client = redis.Redis.from_url(redis_url, protocol=protocol, single_connection_client=single)
        store = Store(client, owns_client=True)
        key = f"handmade0{int(single)}"
        store.create(key, {"a": [1], "b": "x"}, 100)
        stored = store.load(key)
        assert stored is not None
        assert stored.data == {"a": [1], "b": "x"}
        assert store.exists(key)
        assert store.destroy(key)

        assert asyncio.run(asynchronously(store, f"{key}a")) == ({"a": [2]}, True, True)
        store.close()
