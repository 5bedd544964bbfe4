"""A primary dies while sessions are being written: what survives, and when writes resume.

Each test starts a topology of its own (the shared ones of the other tests are
left alone), runs :class:`~benchmarks.failover_load.SessionLoad` on it, kills the
primary, and waits for the failover. The seconds it took are printed; the
benchmark ``benchmarks/bench_failover.py`` repeats this to give the figures in
docs/topologies.rst.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from benchmarks.failover_load import SessionLoad
from benchmarks.topologies import Certificates, Cluster, SentinelGroup, Unsupported
from redis_sessions.exceptions import StoreUnavailable
from redis_sessions.session import SessionStore
from redis_sessions.store import get_store
from tests.support.stores_on_topologies import sentinel_settings

pytestmark = pytest.mark.failover

PASSWORD = "failover-secret"


@pytest.fixture
def group() -> Iterator[SentinelGroup]:
    try:
        with SentinelGroup("failover", password=PASSWORD) as started:
            yield started
    except Unsupported as exc:
        pytest.skip(str(exc))


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    try:
        with Cluster() as started:
            yield started
    except Unsupported as exc:
        pytest.skip(str(exc))


def created(count: int) -> list[str]:
    keys = []
    for number in range(count):
        session = SessionStore()
        session["number"] = number
        session.create()
        assert session.session_key is not None
        keys.append(session.session_key)
    return keys


def seconds_until_found(keys: list[str], within: float) -> float:
    """Seconds until every session of *keys* is found, retrying those that fail."""
    started = time.monotonic()
    missing = list(keys)
    while missing and time.monotonic() - started < within:
        still_missing = []
        for key in missing:
            try:
                found = SessionStore(key).exists(key)
            except StoreUnavailable:
                found = False
            if not found:
                still_missing.append(key)
        missing = still_missing
        if missing:
            time.sleep(0.05)
    assert missing == [], f"{len(missing)} sessions not found within {within} s"
    return time.monotonic() - started


def report(what: str, seconds: float, load: SessionLoad, killed_at: float) -> None:
    print(
        f"\n{what}: failed over in {seconds:.2f} s; requests failed "
        f"{load.failures_after(killed_at)} times, then succeeded {load.successes_after(killed_at)}"
    )


@pytest.fixture
def tls_group() -> Iterator[SentinelGroup]:
    """A group whose data nodes and sentinels listen on TLS ports only."""
    try:
        with (
            Certificates() as certificates,
            SentinelGroup("failover", password=PASSWORD, certificates=certificates) as started,
        ):
            yield started
    except Unsupported as exc:
        pytest.skip(str(exc))


@pytest.mark.sentinel
def test_through_sentinel_writes_resume_after_the_primary_dies(group: SentinelGroup) -> None:
    writes_resume_after_the_primary_dies(group, sentinel_settings(group), "Sentinel")


#: A TLS socket of redis-py's that a failover leaves to the garbage collector,
#: which warns whenever it next runs; the engine closes every client it makes.
UNCLOSED_TLS_SOCKET = "ignore:unclosed <ssl.SSLSocket:ResourceWarning"


@pytest.mark.sentinel
@pytest.mark.filterwarnings(UNCLOSED_TLS_SOCKET)
def test_through_sentinels_over_tls_writes_resume_after_the_primary_dies(
    tls_group: SentinelGroup,
) -> None:
    settings = sentinel_settings(tls_group)
    writes_resume_after_the_primary_dies(tls_group, settings, "Sentinel over TLS")


def writes_resume_after_the_primary_dies(
    group: SentinelGroup, settings: dict[str, Any], what: str
) -> None:
    with override_settings(REDIS_SESSIONS=settings):
        before = created(50)
        with group.primary.probe() as primary:
            assert primary.wait(1, 5000) == 1  # they have reached the replica
        load = SessionLoad().start()
        time.sleep(0.5)

        killed_at = time.monotonic()
        group.kill_primary()
        failover = group.wait_for_failover()
        deadline = time.monotonic() + 20
        while (
            load.successes_in_a_row_after(killed_at + failover) < 20 and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        load.stop()

        recovery = load.recovery(killed_at)
        report(what, recovery, load, killed_at)
        assert load.successes_in_a_row_after(killed_at + failover) >= 20
        assert all(SessionStore(key).exists(key) for key in before)
        assert all(SessionStore(key).exists(key) for key in load.saved[-20:])


@pytest.mark.sentinel
def test_with_min_replicas_ack_every_acknowledged_session_survives_the_kill(
    group: SentinelGroup,
) -> None:
    settings = sentinel_settings(group, MIN_REPLICAS_ACK=1, REPLICAS_ACK_TIMEOUT=2.0)
    with override_settings(REDIS_SESSIONS=settings):
        load = SessionLoad().start()
        time.sleep(0.5)
        group.kill_primary()
        load.stop()  # the sessions saved up to the kill are the ones to find again
        acknowledged = list(load.saved)
        failover = group.wait_for_failover()

        assert len(acknowledged) > 10
        missing = [key for key in acknowledged if not SessionStore(key).exists(key)]
        assert missing == []
        print(
            f"\nSentinel, MIN_REPLICAS_ACK=1: failed over in {failover:.2f} s; all "
            f"{len(acknowledged)} sessions acknowledged before the kill are there"
        )


@pytest.mark.sentinel
def test_a_write_no_replica_acknowledges_fails_and_says_why(group: SentinelGroup) -> None:
    settings = sentinel_settings(group, MIN_REPLICAS_ACK=2, REPLICAS_ACK_TIMEOUT=0.1)
    with override_settings(REDIS_SESSIONS=settings):
        session = SessionStore()
        session["a"] = 1
        with pytest.raises(StoreUnavailable, match="only 1 of the 2 replicas"):
            session.create()


@pytest.mark.cluster
def test_on_a_cluster_operations_resume_after_a_primary_dies(cluster: Cluster) -> None:
    seeds = [f"{host}:{port}" for host, port in cluster.startup_nodes]
    with override_settings(REDIS_SESSIONS={"CLUSTER_NODES": seeds, "USER_INDEX": True}):
        before = created(60)
        admin = cluster.client()
        for primary in admin.get_primaries():  # type: ignore[no-untyped-call]
            assert admin.execute_command("WAIT", 1, 5000, target_nodes=primary) == 1  # type: ignore[no-untyped-call]
        admin.close()
        store = get_store()
        load = SessionLoad().start()
        time.sleep(0.5)

        victim = cluster.primaries()[0]
        killed_at = time.monotonic()
        cluster.kill_primary(victim)
        failover = cluster.wait_for_failover(victim)
        deadline = time.monotonic() + 20
        while (
            load.successes_in_a_row_after(killed_at + failover) < 20 and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        load.stop()

        recovery = load.recovery(killed_at)
        report("Cluster", recovery, load, killed_at)
        assert load.successes_in_a_row_after(killed_at + failover) >= 20
        # The replica had the victim's sessions. The client learns the new owner
        # of the victim's slots at its next topology refresh, which redis-py runs
        # at most once a second after a connection error; until then a read of
        # one of those slots fails fast with StoreUnavailable.
        assert seconds_until_found(before, within=10) < 10
        assert store.count() >= len(before) + 20
        cluster.restart(victim)
        assert store.count() >= len(before) + 20
