"""Making the Redis client the engine talks through, from the settings."""

from __future__ import annotations

from redis import Redis

from redis_sessions.conf import conf


def client_from_settings() -> tuple[Redis, bool]:
    """Return ``(client, owned)`` for the current ``REDIS_SESSIONS``.

    ``owned`` is False when the client belongs to a django-redis cache
    (``CACHE_ALIAS``): the engine must not close it.
    """
    alias = conf.CACHE_ALIAS
    if alias:
        from django_redis import get_redis_connection

        return get_redis_connection(alias, write=True), False
    client = Redis.from_url(
        conf.URL,
        socket_connect_timeout=conf.SOCKET_CONNECT_TIMEOUT,
        socket_timeout=conf.SOCKET_TIMEOUT,
    )
    return client, True


def describe(client: Redis) -> str:
    """Say which server a client talks to, without credentials."""
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"unix:{kwargs['path']}"
    return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"
