"""Asyncio clients, one per event loop.

An asyncio connection belongs to the loop it was opened on. Django's test
runner, ``async_to_sync`` and ASGI servers each run their own loops, so the
engine keeps one client per running loop and closes it, with its connections,
just before that loop closes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any
from weakref import WeakKeyDictionary

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.connection
import redis.asyncio.sentinel
import redis.sentinel
from django.core.exceptions import ImproperlyConfigured
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff

AsyncRedis = redis.asyncio.Redis
#: An asyncio client: one server (plain or through Sentinel) or a cluster.
AsyncClient = redis.asyncio.Redis | redis.asyncio.cluster.RedisCluster

# Clients still open on each loop, closed by that loop's close().
_open_clients: WeakKeyDictionary[asyncio.AbstractEventLoop, list[AsyncClient]] = WeakKeyDictionary()

#: Connections per event loop; more concurrent operations wait for a free one.
ASYNC_MAX_CONNECTIONS = 100
#: Seconds to wait for a free connection when no connect timeout is set.
DEFAULT_POOL_WAIT = 5.0

# What an asyncio connection needs to reach the server a sync client reaches.
_COPIED_KWARGS = {
    "host",
    "port",
    "path",
    "db",
    "username",
    "password",
    "credential_provider",
    "socket_timeout",
    "socket_connect_timeout",
    "socket_keepalive",
    "socket_keepalive_options",
    "retry_on_timeout",
    "client_name",
    "health_check_interval",
    "protocol",
}

_ASYNC_CONNECTION_CLASSES: dict[str, type[redis.asyncio.connection.AbstractConnection]] = {
    "Connection": redis.asyncio.connection.Connection,
    "SSLConnection": redis.asyncio.connection.SSLConnection,
    "UnixDomainSocketConnection": redis.asyncio.connection.UnixDomainSocketConnection,
}


def async_quick_retry() -> AsyncRetry:
    """The asyncio twin of :func:`redis_sessions.store.clients.quick_retry`."""
    return AsyncRetry(NoBackoff(), 1)


def async_twin(client: redis.Redis) -> AsyncRedis:
    """Return an asyncio client for the server, database and credentials of ``client``.

    Works for clients made from a URL and for django-redis' clients alike,
    those of its Sentinel connection factory included.
    """
    pool = client.connection_pool
    if isinstance(pool, redis.sentinel.SentinelConnectionPool):
        return _sentinel_twin(pool)
    connection_class = _ASYNC_CONNECTION_CLASSES.get(pool.connection_class.__name__)
    if connection_class is None:
        raise ImproperlyConfigured(
            f"The engine has no asyncio equivalent of {pool.connection_class.__name__}; "
            "set REDIS_SESSIONS['URL'] rather than CACHE_ALIAS for this client."
        )
    kwargs: dict[str, Any] = {
        name: value
        for name, value in pool.connection_kwargs.items()
        if name in _COPIED_KWARGS or name.startswith("ssl_")
    }
    # A blocking pool: when every connection is busy, a request waits for one
    # (up to the connect timeout) instead of failing at once.
    async_pool = redis.asyncio.BlockingConnectionPool(
        connection_class=connection_class,
        max_connections=ASYNC_MAX_CONNECTIONS,
        timeout=kwargs.get("socket_connect_timeout") or DEFAULT_POOL_WAIT,
        **kwargs,
    )
    return redis.asyncio.Redis(connection_pool=async_pool)


def _sentinel_twin(pool: redis.sentinel.SentinelConnectionPool) -> AsyncRedis:
    manager = pool.sentinel_manager
    addresses = [node.connection_pool.connection_kwargs for node in manager.sentinels]
    sentinels = [(address["host"], address["port"]) for address in addresses]
    kwargs: dict[str, Any] = {
        name: value
        for name, value in pool.connection_kwargs.items()
        if name in _COPIED_KWARGS or name.startswith("ssl")
    }
    # The sentinels' own options, but an asyncio retry in place of the
    # synchronous one a django-redis factory may have given them.
    sentinel_kwargs = dict(manager.sentinel_kwargs)
    if "retry" in sentinel_kwargs:
        sentinel_kwargs["retry"] = async_quick_retry()
    group = redis.asyncio.sentinel.Sentinel(  # type: ignore[no-untyped-call, unused-ignore]
        sentinels, sentinel_kwargs=sentinel_kwargs, **kwargs
    )
    client: AsyncRedis = group.master_for(pool.service_name, max_connections=ASYNC_MAX_CONNECTIONS)
    return client


class ClientPerLoop:
    """Hands out the asyncio client of the running loop, making it on first use."""

    def __init__(self, factory: Callable[[], AsyncClient]) -> None:
        self._factory = factory
        self._clients: WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncClient] = (
            WeakKeyDictionary()
        )

    def get(self) -> AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = self._factory()
            close_with_loop(loop, client)
        return client


def close_with_loop(loop: asyncio.AbstractEventLoop, client: AsyncClient) -> None:
    """Close ``client`` and its connections when ``loop`` closes."""
    clients = _open_clients.get(loop)
    if clients is None:
        clients = _open_clients[loop] = []
        close = loop.close

        def close_clients_then_loop() -> None:
            pending = _open_clients.pop(loop, [])
            if pending and not loop.is_closed() and not loop.is_running():
                loop.run_until_complete(_close_all(pending))
            close()

        # A loop that takes no attributes (uvloop) lives as long as its server
        # process; its connections go with the process.
        with contextlib.suppress(AttributeError):
            loop.close = close_clients_then_loop  # type: ignore[method-assign]
    clients.append(client)


async def _close_all(clients: list[AsyncClient]) -> None:
    await asyncio.gather(*(_close(client) for client in clients), return_exceptions=True)


async def _close(client: AsyncClient) -> None:
    if isinstance(client, redis.asyncio.cluster.RedisCluster):
        await client.aclose()
        return
    await client.aclose(close_connection_pool=True)
    # Through Sentinel, the clients of the sentinels themselves too.
    manager = getattr(client.connection_pool, "sentinel_manager", None)
    if manager is not None:
        for sentinel in manager.sentinels:
            await sentinel.aclose(close_connection_pool=True)
