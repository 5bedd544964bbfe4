"""Django's own session test suite, run against the engine on each topology.

The same ``SessionTestsMixin`` as ``test_django_session_mixin.py``, once per
topology of ``tests.support.stores_on_topologies``, each class marked with its
topology's marker.
"""

from __future__ import annotations

import pytest
from django.test import SimpleTestCase

from redis_sessions.session import SessionStore
from tests.support.django_suite import SessionTestsMixin


class OnTopology(SessionTestsMixin, SimpleTestCase):  # type: ignore[misc]
    backend = SessionStore


@pytest.mark.tls
@pytest.mark.usefixtures("on_tls")
class DjangoSuiteOnTLS(OnTopology):
    pass


@pytest.mark.unix
@pytest.mark.usefixtures("on_unix")
class DjangoSuiteOnUnixSocket(OnTopology):
    pass


@pytest.mark.acl
@pytest.mark.usefixtures("on_acl")
class DjangoSuiteWithAnACLUser(OnTopology):
    pass


@pytest.mark.sentinel
@pytest.mark.usefixtures("on_sentinel")
class DjangoSuiteThroughSentinel(OnTopology):
    pass


@pytest.mark.sentinel
@pytest.mark.usefixtures("on_sentinel_tls")
# An asyncio TLS connection of redis-py's to a sentinel, left to the garbage
# collector when a slow machine makes its connect time out.
@pytest.mark.filterwarnings("ignore:unclosed <ssl.SSLSocket:ResourceWarning")
class DjangoSuiteThroughSentinelOverTLS(OnTopology):
    pass


@pytest.mark.sentinel
@pytest.mark.usefixtures("on_sentinel_cache_alias")
class DjangoSuiteThroughADjangoRedisSentinelClient(OnTopology):
    pass


@pytest.mark.cluster
@pytest.mark.usefixtures("on_cluster")
class DjangoSuiteOnCluster(OnTopology):
    pass


@pytest.mark.cluster
@pytest.mark.usefixtures("on_cluster_indexed")
class DjangoSuiteOnClusterWithTheUserIndex(OnTopology):
    pass


@pytest.mark.valkey
@pytest.mark.usefixtures("on_valkey")
class DjangoSuiteOnValkey(OnTopology):
    pass


@pytest.mark.cluster
@pytest.mark.usefixtures("on_valkey_cluster")
class DjangoSuiteOnAValkeyCluster(OnTopology):
    pass
