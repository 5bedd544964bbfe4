"""Making the Redis clients the engine talks through, from the settings.

Four ways to reach the sessions' server, chosen by ``REDIS_SESSIONS``:

- one server, by ``URL`` (``redis://``, ``rediss://`` for TLS, ``unix://``);
- a Sentinel group, by ``SENTINELS`` and ``SENTINEL_SERVICE``;
- a Redis Cluster, by ``CLUSTER_NODES``;
- the client of a django-redis cache, by ``CACHE_ALIAS`` (a plain or a
  Sentinel-backed one).

Each gives a sync client and a factory of asyncio clients for the same server,
database and credentials; :mod:`redis_sessions.store.async_clients` makes one asyncio client
per event loop with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeAlias
from urllib.parse import unquote, urlsplit, urlunsplit

import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.sentinel
import redis.cluster
import redis.sentinel
from django.core.exceptions import ImproperlyConfigured
from redis import Redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException, RedisError
from redis.retry import Retry

from redis_sessions.conf import conf
from redis_sessions.exceptions import StoreUnavailable
from redis_sessions.store.async_clients import (
    ASYNC_MAX_CONNECTIONS,
    AsyncClient,
    async_quick_retry,
    async_twin,
)

#: A sync client: one server (plain or through Sentinel) or a cluster.
Client: TypeAlias = Redis | RedisCluster

#: ``(host, port)``, or ``"host:port"`` as the settings may give it.
Address = str | tuple[str, int] | list[Any]


class Connection(NamedTuple):
    """The clients of the configured store."""

    #: The sync client.
    client: Client
    #: False when the client belongs to a django-redis cache (``CACHE_ALIAS``):
    #: the engine must not close it.
    owned: bool
    #: Makes an asyncio client of the same server; called once per event loop.
    async_factory: Callable[[], AsyncClient]


def parse_address(address: Address) -> tuple[str, int]:
    """Return ``(host, port)`` from ``"host:port"`` or a pair; raise ValueError if neither."""
    if isinstance(address, str):
        name, separator, number = address.rpartition(":")
        if not separator or not name:
            raise ValueError(f"{address!r} is not 'host:port'")
        return name.strip("[]"), int(number)
    if isinstance(address, (tuple, list)) and len(address) == 2:
        host, port = address
        if isinstance(host, str) and type(port) is int:
            return host, port
    raise ValueError(f"{address!r} is not 'host:port' nor (host, port)")


def _url_options() -> dict[str, Any]:
    """What the data nodes' connections take from ``URL`` and the credential and TLS keys."""
    parts = urlsplit(conf.URL)
    options: dict[str, Any] = {
        "socket_connect_timeout": conf.SOCKET_CONNECT_TIMEOUT,
        "socket_timeout": conf.SOCKET_TIMEOUT,
    }
    if parts.username:
        options["username"] = unquote(parts.username)
    if parts.password:
        options["password"] = unquote(parts.password)
    if conf.USERNAME is not None:
        options["username"] = conf.USERNAME
    if conf.PASSWORD is not None:
        options["password"] = conf.PASSWORD
    path = parts.path.strip("/")
    if path.isdigit():
        options["db"] = int(path)
    if parts.scheme == "rediss":
        options.update(tls_options())
    return options


def quick_retry() -> Retry:
    """One more try at once, then the error: what the engine's own clients do.

    redis-py's clients made from a URL do not retry a refused connection, while
    those made by ``Sentinel`` and ``RedisCluster`` back off for seconds by
    default: a request would then wait that long for an error. One immediate
    retry rides over a dropped connection and keeps failures quick, so that a
    server that is down fails a request within the socket timeouts.
    """
    return Retry(NoBackoff(), 1)


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def tls_options() -> dict[str, Any]:
    """redis-py's ``ssl_*`` arguments from the ``TLS_*`` keys."""
    options: dict[str, Any] = {
        "ssl": True,
        "ssl_check_hostname": conf.TLS_CHECK_HOSTNAME,
        "ssl_cert_reqs": "required",
    }
    if conf.TLS_CA_CERTS is not None:
        options["ssl_ca_certs"] = conf.TLS_CA_CERTS
    if conf.TLS_CERTFILE is not None:
        options["ssl_certfile"] = conf.TLS_CERTFILE
    if conf.TLS_KEYFILE is not None:
        options["ssl_keyfile"] = conf.TLS_KEYFILE
    return options


def connection_from_settings() -> Connection:
    """Make the clients that ``REDIS_SESSIONS`` describes."""
    alias = conf.CACHE_ALIAS
    if alias:
        from django_redis import get_redis_connection

        client = get_redis_connection(alias, write=True)
        return Connection(client, False, lambda: async_twin(client))
    if conf.CLUSTER_NODES:
        return _cluster(conf.CLUSTER_NODES)
    if conf.SENTINELS:
        return _sentinel(conf.SENTINELS)
    options = _url_options()
    # The scheme already says TLS (rediss://); the ssl_* keys ride along.
    options.pop("ssl", None)
    # redis-py lets the URL's own user and password win over keyword
    # arguments: take them out of it, they are in the options already.
    client = Redis.from_url(_without_credentials(conf.URL), **options)
    return Connection(client, True, lambda: async_twin(client))


def _sentinel(addresses: Sequence[Address]) -> Connection:
    service = conf.SENTINEL_SERVICE
    if not service:
        raise ImproperlyConfigured("REDIS_SESSIONS['SENTINELS'] needs SENTINEL_SERVICE.")
    sentinels = [parse_address(address) for address in addresses]
    options = _url_options()
    sentinel_options: dict[str, Any] = {
        "socket_connect_timeout": conf.SOCKET_CONNECT_TIMEOUT,
        "socket_timeout": conf.SOCKET_TIMEOUT,
        "retry": quick_retry(),
    }
    options["retry"] = quick_retry()
    if conf.SENTINEL_USERNAME is not None:
        sentinel_options["username"] = conf.SENTINEL_USERNAME
    if conf.SENTINEL_PASSWORD is not None:
        sentinel_options["password"] = conf.SENTINEL_PASSWORD
    if conf.SENTINEL_TLS:
        sentinel_options.update(tls_options())
    sync = redis.sentinel.Sentinel(  # type: ignore[no-untyped-call, unused-ignore]
        sentinels, sentinel_kwargs=sentinel_options, **options
    )
    client: Redis = sync.master_for(service)  # type: ignore[no-untyped-call, unused-ignore]

    def asyncio_client() -> AsyncClient:
        group = redis.asyncio.sentinel.Sentinel(  # type: ignore[no-untyped-call, unused-ignore]
            sentinels,
            sentinel_kwargs={**sentinel_options, "retry": async_quick_retry()},
            **{**options, "retry": async_quick_retry()},
        )
        primary: AsyncClient = group.master_for(service, max_connections=ASYNC_MAX_CONNECTIONS)
        return primary

    return Connection(client, True, asyncio_client)


def _cluster(addresses: Sequence[Address]) -> Connection:
    seeds = [parse_address(address) for address in addresses]
    options = _url_options()
    if options.pop("db", 0):
        raise ImproperlyConfigured("Redis Cluster has database 0 only; remove it from the URL.")
    nodes = [redis.cluster.ClusterNode(host, port) for host, port in seeds]  # type: ignore[no-untyped-call, unused-ignore]
    try:
        # A cluster client asks a seed for the cluster's layout as it is made.
        client = RedisCluster(startup_nodes=nodes, retry=quick_retry(), **options)
    except (RedisError, RedisClusterException) as exc:
        raise StoreUnavailable(
            f"No node of the Redis Cluster {', '.join(f'{h}:{p}' for h, p in seeds)} "
            f"answered ({type(exc).__name__}: {exc}). Check CLUSTER_NODES."
        ) from exc

    def asyncio_client() -> AsyncClient:
        return redis.asyncio.cluster.RedisCluster(
            retry=async_quick_retry(),
            startup_nodes=[
                redis.asyncio.cluster.ClusterNode(host, port, max_connections=ASYNC_MAX_CONNECTIONS)
                for host, port in seeds
            ],
            **options,
        )

    return Connection(client, True, asyncio_client)


def client_from_settings() -> tuple[Client, bool]:
    """Return ``(client, owned)`` for the current ``REDIS_SESSIONS``."""
    connection = connection_from_settings()
    return connection.client, connection.owned


def close_client(client: Client) -> None:
    """Close a client the engine made, with every connection it opened.

    A client made on a pool it was given (``Sentinel.master_for`` makes one so)
    leaves that pool open when it closes: its connections, and those of the
    clients of the sentinels, are closed here too.
    """
    client.close()
    if isinstance(client, RedisCluster):
        return
    pool = client.connection_pool
    pool.disconnect()
    manager = getattr(pool, "sentinel_manager", None)
    for sentinel in getattr(manager, "sentinels", ()):
        sentinel.close()
        sentinel.connection_pool.disconnect()


def is_cluster(client: object) -> bool:
    """Whether ``client`` talks to a Redis Cluster (sync or asyncio)."""
    return isinstance(client, (RedisCluster, redis.asyncio.cluster.RedisCluster))


def describe(client: Client) -> str:
    """Say which server a client talks to, without credentials."""
    if isinstance(client, RedisCluster):
        primaries = client.get_primaries()  # type: ignore[no-untyped-call, unused-ignore]
        nodes = sorted(f"{node.host}:{node.port}" for node in primaries)
        return f"cluster {','.join(nodes) or '?'}"
    pool = client.connection_pool
    service = getattr(pool, "service_name", None)
    if service is not None:
        return f"sentinel service {service}/{pool.connection_kwargs.get('db', 0)}"
    kwargs = pool.connection_kwargs
    if "path" in kwargs:
        return f"unix:{kwargs['path']}"
    scheme = "rediss://" if pool.connection_class.__name__ == "SSLConnection" else ""
    host = f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"
    return f"{scheme}{host}/{kwargs.get('db', 0)}"
