"""The topologies of ``benchmarks.topologies``, checked with plain redis-py.

Besides showing that the harness builds what it says, these tests pin down
what the servers allow that the engine's design depends on: which keys a Lua
script may reach on a Redis Cluster, and which commands an ACL user keeps.
They print how long start-ups and failovers took (``pytest -rP`` shows it) and
assert nothing about it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode as RedisClusterNode
from redis.cluster import RedisCluster
from redis.crc import key_slot
from redis.exceptions import ClusterCrossSlotError, NoPermissionError
from redis.retry import Retry
from redis.sentinel import Sentinel

from benchmarks.topologies import (
    HOST,
    ACLServer,
    Certificates,
    Cluster,
    ClusterServer,
    SentinelGroup,
    TLSServer,
    UnixSocketServer,
    Unsupported,
    command,
    wait_until,
)
from tests.support.topology_fixtures import SENTINEL_GROUP_PASSWORD, SENTINEL_PASSWORD

NO_RETRY = Retry(NoBackoff(), 0)


def report(what: str, seconds: float) -> None:
    print(f"{what}: {seconds:.2f} s")


def first_success(action: Callable[[], object], timeout: float = 30) -> float:
    """Try ``action`` until it does not raise a Redis error; return the seconds it took."""

    def succeeds() -> bool:
        action()
        return True

    return wait_until(succeeds, timeout, "succeeded")


# Cluster ###############################################################################


@pytest.fixture
def cluster_client(redis_cluster: Cluster) -> Iterator[RedisCluster]:
    redis_cluster.flush()
    client = redis_cluster.client(decode_responses=True)
    yield client
    client.close()


def target_of(client: RedisCluster, node: ClusterServer) -> RedisClusterNode:
    """The node of ``client`` that stands for ``node``, for ``target_nodes``."""
    target = client.get_node(HOST, node.port)  # type: ignore[no-untyped-call, unused-ignore]
    assert target is not None
    return target  # type: ignore[no-any-return]


def keys_of_distinct_slots(cluster: Cluster, node: ClusterServer, count: int) -> list[str]:
    """``count`` keys in as many slots, all of them served by ``node``."""
    ranges = cluster.slot_map()[node]
    keys: list[str] = []
    slots: set[int] = set()
    for number in range(100_000):
        key = f"test:{number}"
        slot = key_slot(key.encode())
        if slot not in slots and any(first <= slot <= last for first, last in ranges):
            keys.append(key)
            slots.add(slot)
            if len(keys) == count:
                return keys
    raise LookupError(f"Fewer than {count} keys on {node!r}")


def key_elsewhere(cluster: Cluster, node: ClusterServer) -> str:
    """A key that a primary other than ``node`` serves."""
    return next(
        f"test:{number}"
        for number in range(100_000)
        if cluster.node_for_key(f"test:{number}") is not node
    )


@pytest.mark.cluster
def test_cluster_spreads_keys_over_all_three_primaries(
    redis_cluster: Cluster, cluster_client: RedisCluster
) -> None:
    report("cluster start-up", redis_cluster.started_in)
    keys = [f"test:{number}" for number in range(1000)]
    pipe = cluster_client.pipeline()  # type: ignore[no-untyped-call, unused-ignore]
    for key in keys:
        pipe.set(key, key)
    pipe.execute()

    assert cluster_client.mget_nonatomic(keys) == keys
    primaries = redis_cluster.primaries()
    assert len(primaries) == 3
    sizes = []
    for primary in primaries:
        with primary.probe() as client:
            sizes.append(client.dbsize())
    assert all(size > 0 for size in sizes)
    assert sum(sizes) == len(keys)


@pytest.mark.cluster
def test_cluster_has_one_replica_in_sync_for_each_primary(redis_cluster: Cluster) -> None:
    for primary in redis_cluster.primaries():
        replicas = redis_cluster.replicas_of(primary)
        assert len(replicas) == 1
        with replicas[0].probe() as client:
            assert client.info("replication")["master_link_status"] == "up"


#: Sets KEYS, then the keys named in ARGV[2], ARGV[3]..., to ARGV[1]; returns how many.
SET_ALL = """
for _, key in ipairs(KEYS) do redis.call('SET', key, ARGV[1]) end
for i = 2, #ARGV do redis.call('SET', ARGV[i], ARGV[1]) end
return #KEYS + #ARGV - 1
"""
CROSS_SLOT_SCRIPT = "#!lua flags=allow-cross-slot-keys\n" + SET_ALL
FLAGLESS_SCRIPT = "#!lua\n" + SET_ALL


@pytest.mark.cluster
def test_cluster_refuses_a_script_whose_declared_keys_lie_in_two_slots_even_with_the_flag(
    redis_cluster: Cluster, cluster_client: RedisCluster
) -> None:
    node = redis_cluster.primaries()[0]
    keys = keys_of_distinct_slots(redis_cluster, node, 2)
    sha = cluster_client.script_load(CROSS_SLOT_SCRIPT)
    target = target_of(cluster_client, node)

    with pytest.raises(ClusterCrossSlotError):
        command(cluster_client, "EVALSHA", sha, 2, *keys, "v", target_nodes=target)


@pytest.mark.cluster
@pytest.mark.parametrize("evaluate", ["EVAL", "EVALSHA"])
def test_cluster_script_with_the_flag_reaches_keys_of_other_slots_on_its_node(
    evaluate: str, redis_cluster: Cluster, cluster_client: RedisCluster
) -> None:
    node = redis_cluster.primaries()[0]
    keys = keys_of_distinct_slots(redis_cluster, node, 3)
    script = cluster_client.script_load(CROSS_SLOT_SCRIPT) if evaluate == "EVALSHA" else None
    target = target_of(cluster_client, node)

    written = command(
        cluster_client,
        evaluate,
        script or CROSS_SLOT_SCRIPT,
        1,
        keys[0],
        "v",
        *keys[1:],
        target_nodes=target,
    )

    assert written == 3
    assert cluster_client.mget_nonatomic(keys) == ["v", "v", "v"]


@pytest.mark.cluster
def test_cluster_script_without_the_flag_cannot_reach_keys_of_other_slots(
    redis_cluster: Cluster, cluster_client: RedisCluster
) -> None:
    node = redis_cluster.primaries()[0]
    keys = keys_of_distinct_slots(redis_cluster, node, 2)
    target = target_of(cluster_client, node)

    with pytest.raises(redis.ResponseError, match="do not hash to the same slot"):
        command(
            cluster_client, "EVAL", FLAGLESS_SCRIPT, 1, keys[0], "v", keys[1], target_nodes=target
        )


@pytest.mark.cluster
def test_cluster_script_with_the_flag_cannot_reach_a_key_on_another_node(
    redis_cluster: Cluster, cluster_client: RedisCluster
) -> None:
    node = redis_cluster.primaries()[0]
    [key] = keys_of_distinct_slots(redis_cluster, node, 1)
    target = target_of(cluster_client, node)

    with pytest.raises(redis.ResponseError, match="non local key"):
        command(
            cluster_client,
            "EVAL",
            CROSS_SLOT_SCRIPT,
            1,
            key,
            "v",
            key_elsewhere(redis_cluster, node),
            target_nodes=target,
        )


# The failover tests kill primaries of topologies of their own: a failover that
# went wrong must not leave the shared ones broken for the tests after.


@pytest.fixture
def own_cluster() -> Iterator[Cluster]:
    try:
        with Cluster() as cluster:
            yield cluster
    except Unsupported as exc:
        pytest.skip(str(exc))


@pytest.fixture
def own_sentinel_group() -> Iterator[SentinelGroup]:
    group = SentinelGroup(
        "sessions", password=SENTINEL_GROUP_PASSWORD, sentinel_password=SENTINEL_PASSWORD
    )
    try:
        with group:
            yield group
    except Unsupported as exc:
        pytest.skip(str(exc))


@pytest.mark.cluster
@pytest.mark.failover
def test_cluster_failover_promotes_the_replica_and_keeps_acknowledged_writes(
    own_cluster: Cluster,
) -> None:
    redis_cluster = own_cluster
    # Two keys of one slot (one hash tag), so of the primary that is killed.
    kept, written = "test:{failover}:kept", "test:{failover}:written"
    primary = redis_cluster.node_for_key(kept)
    with primary.probe() as client:
        client.set(kept, "before")
        assert client.wait(1, 5000) == 1
    cluster_client = redis_cluster.client(decode_responses=True, retry=NO_RETRY)
    try:
        killed = redis_cluster.kill_primary(primary)
        writable = first_success(lambda: cluster_client.set(written, "after"))
        taken_over = redis_cluster.wait_for_failover(killed)
        assert cluster_client.get(kept) == "before"
        assert redis_cluster.node_for_key(written) is not killed
    finally:
        cluster_client.close()
        restarted = redis_cluster.restart(primary)
    report("cluster: failover done (every node agrees)", taken_over)
    report("cluster: client writes again", writable)
    report("cluster: old primary back as a replica", restarted)
    assert primary in redis_cluster.replicas()


# Sentinel ##############################################################################


@pytest.fixture
def sentinel(sentinel_group: SentinelGroup) -> Iterator[Sentinel]:
    client = sentinel_group.sentinel(decode_responses=True, retry=NO_RETRY)
    yield client
    # Sentinel.close() is newer than the oldest redis-py the engine supports.
    for sentinel_client in client.sentinels:
        sentinel_client.close()


@pytest.mark.sentinel
def test_sentinel_names_the_primary_whose_writes_reach_the_replica(
    sentinel_group: SentinelGroup, sentinel: Sentinel
) -> None:
    report("sentinel group start-up", sentinel_group.started_in)
    named = sentinel.discover_master("sessions")  # type: ignore[no-untyped-call, unused-ignore]
    assert named == (HOST, sentinel_group.primary.port)
    with sentinel.master_for("sessions") as primary:  # type: ignore[no-untyped-call, unused-ignore]
        primary.set("test:sentinel", "written")
        assert primary.wait(1, 5000) == 1
    with sentinel_group.replica.client(decode_responses=True) as replica:
        assert replica.get("test:sentinel") == "written"


@pytest.mark.sentinel
def test_sentinel_data_nodes_and_sentinels_ask_for_their_passwords(
    sentinel_group: SentinelGroup,
) -> None:
    for port in [sentinel_group.primary.port, sentinel_group.sentinels[0][1]]:
        with (
            redis.Redis(HOST, port, retry=NO_RETRY) as client,
            pytest.raises(redis.AuthenticationError),
        ):
            client.ping()


@pytest.mark.sentinel
@pytest.mark.failover
def test_sentinel_failover_promotes_the_replica_and_keeps_acknowledged_writes(
    own_sentinel_group: SentinelGroup,
) -> None:
    sentinel_group = own_sentinel_group
    sentinel = sentinel_group.sentinel(decode_responses=True, retry=NO_RETRY)
    try:
        promoted_and_restarted(sentinel_group, sentinel)
    finally:
        for sentinel_client in sentinel.sentinels:
            sentinel_client.close()


def promoted_and_restarted(sentinel_group: SentinelGroup, sentinel: Sentinel) -> None:
    old_primary = sentinel_group.primary
    with sentinel.master_for("sessions") as primary:  # type: ignore[no-untyped-call, unused-ignore]
        primary.set("test:sentinel", "before")
        assert primary.wait(1, 5000) == 1
        try:
            sentinel_group.kill_primary()
            writable = first_success(lambda: primary.set("test:other", "after"))
            taken_over = sentinel_group.wait_for_failover()
            assert primary.get("test:sentinel") == "before"
        finally:
            restarted = sentinel_group.restart(old_primary)
    named = sentinel.discover_master("sessions")  # type: ignore[no-untyped-call, unused-ignore]
    assert named == (HOST, sentinel_group.primary.port)
    assert sentinel_group.primary is not old_primary
    assert sentinel_group.replica is old_primary
    report("sentinel: failover done (every sentinel agrees, new primary writable)", taken_over)
    report("sentinel: client writes again", writable)
    report("sentinel: old primary back as a replica", restarted)


# TLS ###################################################################################


@pytest.mark.tls
def test_tls_client_with_the_ca_and_a_client_certificate_connects(
    tls_server: TLSServer,
) -> None:
    with tls_server.client() as client:
        assert client.ping()
    with redis.Redis.from_url(tls_server.url_with_certificates) as client:
        assert client.ping()


@pytest.mark.tls
def test_tls_client_that_does_not_trust_the_ca_is_refused(tls_server: TLSServer) -> None:
    client = redis.Redis.from_url(
        tls_server.url,
        ssl_certfile=str(tls_server.client_cert),
        ssl_keyfile=str(tls_server.client_key),
        retry=NO_RETRY,
    )
    with client, pytest.raises(redis.ConnectionError, match="certificate verify failed"):
        client.ping()


@pytest.mark.tls
def test_tls_client_without_a_certificate_is_refused_when_the_server_requires_one(
    tls_server: TLSServer,
) -> None:
    client = redis.Redis.from_url(tls_server.url, ssl_ca_certs=str(tls_server.ca), retry=NO_RETRY)
    with client, pytest.raises(redis.ConnectionError):
        client.ping()


@pytest.mark.tls
def test_tls_server_with_optional_client_certificates_accepts_a_client_without_one(
    tls_server: TLSServer, tls_certificates: Certificates
) -> None:
    with TLSServer(tls_certificates, auth_clients="optional") as server:
        client = redis.Redis.from_url(server.url, ssl_ca_certs=str(server.ca), retry=NO_RETRY)
        with client:
            assert client.ping()


# Unix socket ###########################################################################


@pytest.mark.unix
def test_unix_socket_server_answers_at_its_url_and_only_to_its_owner(
    unix_server: UnixSocketServer,
) -> None:
    with redis.Redis.from_url(unix_server.url, decode_responses=True) as client:
        client.set("test:unix", "here")
        assert client.get("test:unix") == "here"
        client.delete("test:unix")
    assert stat.S_IMODE(os.stat(unix_server.socket_path).st_mode) == 0o700


# ACL ###################################################################################


@pytest.fixture
def engine_client(acl_server: ACLServer) -> Iterator[redis.Redis]:
    with acl_server.admin_client() as admin:
        admin.flushall()
    with redis.Redis.from_url(acl_server.url, decode_responses=True, retry=NO_RETRY) as client:
        yield client


#: Sets field ARGV[1] of hash KEYS[1] to ARGV[2]; returns the hash's length.
HSET_SCRIPT = "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return redis.call('HLEN', KEYS[1])"


@pytest.mark.acl
def test_acl_engine_user_runs_scripts_and_hash_commands_on_session_keys(
    engine_client: redis.Redis,
) -> None:
    sha = engine_client.script_load(HSET_SCRIPT)

    assert engine_client.evalsha(sha, 1, "sessions:{abc}", "a", "1") == 1
    assert engine_client.hset("sessions:{abc}", "b", "2") == 1
    assert engine_client.hgetall("sessions:{abc}") == {"a": "1", "b": "2"}
    assert list(engine_client.scan_iter(match="sessions:*")) == ["sessions:{abc}"]
    assert engine_client.memory_usage("sessions:{abc}")
    assert engine_client.unlink("sessions:{abc}") == 1


@pytest.mark.acl
def test_acl_engine_user_is_refused_keys_outside_its_patterns(
    engine_client: redis.Redis,
) -> None:
    sha = engine_client.script_load(HSET_SCRIPT)

    with pytest.raises(NoPermissionError):
        engine_client.hset("other:{abc}", "a", "1")
    with pytest.raises(NoPermissionError):
        engine_client.evalsha(sha, 1, "other:{abc}", "a", "1")


@pytest.mark.acl
@pytest.mark.parametrize(
    "refused", [("FLUSHALL",), ("FLUSHDB",), ("KEYS", "*"), ("CONFIG", "GET", "requirepass")]
)
def test_acl_engine_user_is_refused_dangerous_commands(
    refused: tuple[str, ...], engine_client: redis.Redis
) -> None:
    with pytest.raises(NoPermissionError):
        command(engine_client, *refused)


@pytest.mark.acl
def test_acl_engine_user_may_read_info(engine_client: redis.Redis) -> None:
    assert engine_client.info("server")["redis_version"]


@pytest.mark.acl
def test_acl_default_user_is_off(acl_server: ACLServer) -> None:
    with (
        redis.Redis(HOST, acl_server.port, retry=NO_RETRY) as client,
        pytest.raises(redis.AuthenticationError),
    ):
        client.ping()
