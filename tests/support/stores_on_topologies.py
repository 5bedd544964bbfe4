"""Fixtures that point the engine at each topology of ``benchmarks.topologies``.

``on_<name>`` empties the topology, sets ``REDIS_SESSIONS`` to reach it for the
length of one test, and yields a :class:`Store`; ``on_topology`` is the same,
parametrized over every name of :data:`TOPOLOGIES`, each with its marker (so
``-m cluster`` runs the cluster's share alone).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from django.conf import settings
from django.test import override_settings

from benchmarks.servers import RedisServer
from benchmarks.topologies import ACLServer, Cluster, SentinelGroup, TLSServer, UnixSocketServer
from redis_sessions.store import Store as EngineStore
from redis_sessions.store import get_store

#: Each topology the engine's suite runs on, and its pytest marker.
TOPOLOGIES = {
    "tls": "tls",
    "unix": "unix",
    "acl": "acl",
    "sentinel": "sentinel",
    "sentinel_cache_alias": "sentinel",
    "sentinel_tls": "sentinel",
    "cluster": "cluster",
    "cluster_indexed": "cluster",
    "valkey": "valkey",
    "valkey_cluster": "cluster",
}


@dataclass
class Store:
    """The engine's store on one topology, for the length of a test."""

    name: str
    #: ``REDIS_SESSIONS`` as the test runs.
    settings: dict[str, Any]
    #: Runs one command where the engine's keys are, with rights to look at
    #: anything: ``look("HGETALL", key)``.
    look: Callable[..., Any]

    @property
    def store(self) -> EngineStore:
        return get_store()


def _store(name: str, settings: dict[str, Any], look: Callable[..., Any]) -> Iterator[Store]:
    with override_settings(REDIS_SESSIONS=settings):
        yield Store(name, settings, look)


def _flushed(client: redis.Redis | redis.cluster.RedisCluster) -> Callable[..., Any]:
    if isinstance(client, redis.cluster.RedisCluster):
        client.flushall(target_nodes=redis.cluster.RedisCluster.PRIMARIES)
    else:
        client.flushall()
    return client.execute_command


@pytest.fixture
def on_tls(tls_server: TLSServer) -> Iterator[Store]:
    """TLS with a client certificate, verified against the test CA."""
    look = _flushed(tls_server.client())
    settings = {
        "URL": tls_server.url,
        "TLS_CA_CERTS": str(tls_server.ca),
        "TLS_CERTFILE": str(tls_server.client_cert),
        "TLS_KEYFILE": str(tls_server.client_key),
    }
    yield from _store("tls", settings, look)


@pytest.fixture
def on_unix(unix_server: UnixSocketServer) -> Iterator[Store]:
    """A unix socket."""
    yield from _store("unix", {"URL": unix_server.url}, _flushed(unix_server.client()))


@pytest.fixture
def on_acl(acl_server: ACLServer) -> Iterator[Store]:
    """An ACL user that may touch only ``sessions:*`` keys and no dangerous command."""
    look = _flushed(acl_server.admin_client())
    yield from _store("acl", {"URL": acl_server.url}, look)


def sentinel_settings(group: SentinelGroup, **changes: Any) -> dict[str, Any]:
    """``REDIS_SESSIONS`` that reach ``group``, over TLS if it has certificates,
    with ``changes``."""
    settings: dict[str, Any] = {
        "URL": "redis:///0",
        "PASSWORD": group.password,
        "SENTINELS": [f"{host}:{port}" for host, port in group.sentinels],
        "SENTINEL_SERVICE": group.service_name,
        "SENTINEL_PASSWORD": group.sentinel_password,
    }
    if group.certificates is not None:
        settings.update(
            {
                "URL": "rediss:///0",
                "SENTINEL_TLS": True,
                "TLS_CA_CERTS": str(group.certificates.ca),
                "TLS_CERTFILE": str(group.certificates.client_cert),
                "TLS_KEYFILE": str(group.certificates.client_key),
            }
        )
    return {**settings, **changes}


def _through_sentinel(name: str, group: SentinelGroup) -> Iterator[Store]:
    sentinel = group.sentinel()
    primary: redis.Redis = sentinel.master_for(group.service_name)  # type: ignore[no-untyped-call, unused-ignore]
    try:
        yield from _store(name, sentinel_settings(group), _flushed(primary))
    finally:
        primary.close()
        for client in sentinel.sentinels:
            client.close()


@pytest.fixture
def on_sentinel(sentinel_group: SentinelGroup) -> Iterator[Store]:
    """A Sentinel group with passwords on the data nodes and on the sentinels."""
    yield from _through_sentinel("sentinel", sentinel_group)


@pytest.fixture
def on_sentinel_tls(tls_sentinel_group: SentinelGroup) -> Iterator[Store]:
    """A Sentinel group over TLS: the sentinels (SENTINEL_TLS) and the data nodes
    (rediss://), both with the client certificate."""
    yield from _through_sentinel("sentinel_tls", tls_sentinel_group)


@pytest.fixture
def on_sentinel_cache_alias(sentinel_group: SentinelGroup) -> Iterator[Store]:
    """The client of a django-redis cache made by django-redis' Sentinel factory."""
    assert sentinel_group.password is not None
    primary: redis.Redis = sentinel_group.sentinel().master_for(  # type: ignore[no-untyped-call, unused-ignore]
        sentinel_group.service_name, password=sentinel_group.password
    )
    cache = {
        "BACKEND": "django_redis.cache.RedisCache",
        # The host of the URL is the service the sentinels know the primary by.
        "LOCATION": f"redis://{sentinel_group.service_name}/0",
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.SentinelClient",
            "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
            "SENTINELS": sentinel_group.sentinels,
            "SENTINEL_KWARGS": {"password": sentinel_group.sentinel_password},
            "PASSWORD": sentinel_group.password,
        },
    }
    caches = {**settings.CACHES, "sessions": cache}
    with override_settings(CACHES=caches):
        yield from _store("sentinel_cache_alias", {"CACHE_ALIAS": "sessions"}, _flushed(primary))


def _cluster_settings(cluster: Cluster, **extra: Any) -> dict[str, Any]:
    seeds = [f"{host}:{port}" for host, port in cluster.startup_nodes[:2]]
    return {"CLUSTER_NODES": seeds, **extra}


def _on_cluster(name: str, cluster: Cluster, **extra: Any) -> Iterator[Store]:
    client = cluster.client()
    try:
        yield from _store(name, _cluster_settings(cluster, **extra), _flushed(client))
    finally:
        client.close()


@pytest.fixture
def on_cluster(redis_cluster: Cluster) -> Iterator[Store]:
    """A cluster of three primaries and three replicas."""
    yield from _on_cluster("cluster", redis_cluster)


@pytest.fixture
def on_cluster_indexed(redis_cluster: Cluster) -> Iterator[Store]:
    """The same cluster with the user index, which lives on other nodes than the sessions."""
    yield from _on_cluster("cluster_indexed", redis_cluster, USER_INDEX=True)


@pytest.fixture
def on_valkey(valkey_server: RedisServer) -> Iterator[Store]:
    """A standalone Valkey server."""
    yield from _store("valkey", {"URL": valkey_server.url}, _flushed(valkey_server.client()))


@pytest.fixture
def on_valkey_cluster(valkey_cluster: Cluster) -> Iterator[Store]:
    """A Valkey cluster of three primaries and three replicas, with the user index."""
    yield from _on_cluster("valkey_cluster", valkey_cluster, USER_INDEX=True)


@pytest.fixture(
    params=[
        pytest.param(name, marks=getattr(pytest.mark, mark)) for name, mark in TOPOLOGIES.items()
    ]
)
def on_topology(request: pytest.FixtureRequest) -> Store:
    """The engine on each topology in turn."""
    store: Store = request.getfixturevalue(f"on_{request.param}")
    return store
