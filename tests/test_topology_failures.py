"""What a misconfigured or unreachable topology does: a clear error, never an empty session.

Every failure here surfaces as ``StoreUnavailable`` (which Django turns into a
server error, leaving the session in Redis as it was) or, under
``check --deploy``, as ``redis_sessions.E010``.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from django.test import override_settings

from benchmarks.servers import free_port
from benchmarks.topologies import ACLServer, Cluster, SentinelGroup, TLSServer
from redis_sessions import checks
from redis_sessions.exceptions import StoreUnavailable
from redis_sessions.session import SessionStore
from redis_sessions.store import get_store
from tests.support.stores_on_topologies import sentinel_settings


@pytest.fixture
def nowhere() -> str:
    """An address where nothing listens."""
    return f"127.0.0.1:{free_port()}"


def test_cluster_seeds_that_do_not_answer_make_the_first_use_fail(nowhere: str) -> None:
    with override_settings(REDIS_SESSIONS={"CLUSTER_NODES": [nowhere]}):
        expected = f"No node of the Redis Cluster {nowhere}"
        with pytest.raises(StoreUnavailable, match=expected):
            get_store()
        assert [message.id for message in checks.check_server()] == ["redis_sessions.E010"]


def test_sentinels_that_do_not_answer_make_each_operation_fail(nowhere: str) -> None:
    settings = {"SENTINELS": [nowhere], "SENTINEL_SERVICE": "sessions"}
    with override_settings(REDIS_SESSIONS=settings):
        session = SessionStore()
        session["cart"] = [1]
        with pytest.raises(StoreUnavailable, match="could not create a session"):
            session.save()
        with pytest.raises(StoreUnavailable):
            SessionStore("a" * 32).load()
        assert [message.id for message in checks.check_server()] == ["redis_sessions.E010"]


def fails_to_create(**settings: object) -> StoreUnavailable:
    """Create a session with ``REDIS_SESSIONS`` set so; return the error it must raise."""
    with override_settings(REDIS_SESSIONS=settings), pytest.raises(StoreUnavailable) as failure:
        SessionStore().create()
    return failure.value


@pytest.mark.sentinel
def test_a_service_the_sentinels_do_not_know_fails_with_its_name(
    sentinel_group: SentinelGroup,
) -> None:
    error = fails_to_create(
        SENTINELS=[f"{host}:{port}" for host, port in sentinel_group.sentinels],
        SENTINEL_SERVICE="nobody-monitors-this",
        SENTINEL_PASSWORD=sentinel_group.sentinel_password,
    )

    assert "No master found for 'nobody-monitors-this'). Check that" in str(error)
    # Without the description of each sentinel's client that redis-py adds.
    assert len(str(error)) < 300


@pytest.mark.sentinel
def test_sentinels_on_tls_ports_reached_without_sentinel_tls_fail_as_unreachable(
    tls_sentinel_group: SentinelGroup,
) -> None:
    error = fails_to_create(**sentinel_settings(tls_sentinel_group, SENTINEL_TLS=False))

    assert "could not create a session" in str(error)
    with override_settings(
        REDIS_SESSIONS=sentinel_settings(tls_sentinel_group, SENTINEL_TLS=False)
    ):
        assert [message.id for message in checks.check_server()] == ["redis_sessions.E010"]


@pytest.mark.sentinel
def test_data_nodes_on_tls_ports_reached_over_plain_tcp_fail(
    tls_sentinel_group: SentinelGroup,
) -> None:
    # The sentinels answer over TLS; the primary they name does not speak plain TCP.
    fails_to_create(**sentinel_settings(tls_sentinel_group, URL="redis:///0"))


@pytest.mark.sentinel
def test_sentinels_over_tls_without_the_ca_are_refused(
    tls_sentinel_group: SentinelGroup,
) -> None:
    error = fails_to_create(**sentinel_settings(tls_sentinel_group, TLS_CA_CERTS=None))

    # redis-py names no cause: every sentinel failed (here, to trust its certificate).
    assert "(MasterNotFoundError: No master found for 'tls-sessions'). Check" in str(error)


@pytest.mark.tls
def test_tls_without_the_servers_ca_is_refused(tls_server: TLSServer) -> None:
    # The system's CAs do not know the test CA: the certificate is not trusted.
    error = fails_to_create(
        URL=tls_server.url,
        TLS_CERTFILE=str(tls_server.client_cert),
        TLS_KEYFILE=str(tls_server.client_key),
    )

    assert "certificate verify failed" in str(error)


@pytest.mark.tls
def test_tls_without_a_client_certificate_is_refused_by_a_server_that_wants_one(
    tls_server: TLSServer,
) -> None:
    fails_to_create(URL=tls_server.url, TLS_CA_CERTS=str(tls_server.ca))


@pytest.mark.tls
def test_plain_tcp_to_a_tls_port_fails(tls_server: TLSServer) -> None:
    fails_to_create(URL=tls_server.url.replace("rediss://", "redis://"))


@pytest.mark.acl
def test_a_wrong_acl_password_fails_and_is_never_shown(acl_server: ACLServer) -> None:
    error = fails_to_create(URL=acl_server.url, PASSWORD="not-the-password")
    with override_settings(REDIS_SESSIONS={"URL": acl_server.url, "PASSWORD": "not-the-password"}):
        (message,) = checks.check_server()

    assert "not-the-password" not in str(error)
    assert message.id == "redis_sessions.E010"
    assert "not-the-password" not in message.msg


@pytest.mark.acl
def test_a_prefix_the_acl_user_may_not_touch_is_refused_and_nothing_is_written(
    acl_server: ACLServer,
) -> None:
    error = fails_to_create(URL=acl_server.url, PREFIX="other:")

    assert "refused the command" in str(error)
    with acl_server.admin_client() as admin:
        assert admin.keys("other:*") == []


@pytest.mark.cluster
def test_a_cluster_with_every_node_down_raises_store_unavailable_sync_and_async() -> None:
    # redis-py gives up with RedisClusterUnreachableError (a RedisClusterException
    # before 8.x), which is not one of its RedisErrors, once a topology refresh
    # reached no node.
    with Cluster() as cluster:
        seeds = [f"{host}:{port}" for host, port in cluster.startup_nodes]
        engine = {"CLUSTER_NODES": seeds, "SOCKET_TIMEOUT": 0.3, "BREAKER_FAILURES": 0}
        with override_settings(REDIS_SESSIONS=engine):
            session = SessionStore()
            session["a"] = 1
            session.create()
            key = session.session_key
            for node in cluster.nodes:
                node.stop()

            async def aload() -> list[str]:
                seen = []
                for _ in range(3):
                    await asyncio.sleep(0.4)  # past redis-py's refresh interval
                    with pytest.raises(StoreUnavailable) as raised:
                        await SessionStore(key).aload()
                    seen.append(str(raised.value))
                return seen

            seen = []
            for _ in range(3):
                time.sleep(0.4)
                with pytest.raises(StoreUnavailable) as raised:
                    SessionStore(key).load()
                seen.append(str(raised.value))
            seen += asyncio.run(aload())

    assert any("Redis Cluster cannot be connected" in message for message in seen), seen
    assert all(message.endswith("Check that the server is up and reachable.") for message in seen)
