"""One command on one pooled connection, without redis-py's per-command extras.

``Redis.execute_command`` wraps every command in work that a session engine does
not use: client-side metrics, the response callbacks that turn replies into
Python types, and the argument checks of deprecation decorators. For the
engine's single commands (the session scripts and ``HGETALL``), that work is a
fifth of a command's time on loopback. :func:`execute` takes a connection from
the client's own pool, sends the command (packed by hiredis when it is
installed), reads the reply and gives the connection back, with the
connection's own retry policy and health checks, as ``execute_command`` does.
Replies come back as the server sent them (a hash as a flat list under RESP2).
Clients it cannot serve so (a cluster client, a client pinned to one
connection) go through ``execute_command``.

On redis-py's stock ``ConnectionPool``, the sync path also borrows the
connection itself, with the steps of ``get_connection()`` and ``release()``
that keep the pool's books (fork check, lock, in-use set, the check that a
borrowed connection is connected and has nothing unread) and without their
client-side metrics, which took a quarter of a command's time with redis-py 8.
Any other pool (blocking, Sentinel, client-side caching, a credential provider
that re-authenticates on release) is asked through its own methods.
"""

from __future__ import annotations

import inspect
from typing import Any
from weakref import WeakKeyDictionary

import redis
import redis.asyncio.connection
import redis.connection
from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from redis.utils import HIREDIS_AVAILABLE


def _wants_command_name(pool_class: Any) -> bool:
    # redis-py 5.0 wants the command's name from get_connection(); later
    # releases warn when it is given.
    parameter = inspect.signature(pool_class.get_connection).parameters["command_name"]
    return parameter.default is inspect.Parameter.empty


_NAMED = _wants_command_name(redis.connection.ConnectionPool)
_ASYNC_NAMED = _wants_command_name(redis.asyncio.connection.ConnectionPool)

_hiredis_pack: Any = None
if HIREDIS_AVAILABLE:
    from hiredis import pack_command as _hiredis_pack


def _packed(connection: Any, args: tuple[Any, ...]) -> Any:
    """The command as the bytes to send: packed by hiredis in one call where
    redis-py packs with hiredis too, without looking at each argument first."""
    if _hiredis_pack is not None:
        return [_hiredis_pack(args)]
    return connection.pack_command(*args)


#: Whether each pool seen is a stock ``ConnectionPool`` that :func:`_borrow`
#: may serve (see :func:`_is_plain`).
_plain_pools: WeakKeyDictionary[Any, bool] = WeakKeyDictionary()

#: The pool's own parts that borrowing uses; a redis-py without them is served
#: by ``get_connection()`` and ``release()``.
_POOL_PARTS = (
    "_checkpid",
    "_lock",
    "_available_connections",
    "_in_use_connections",
    "_created_connections",
    "make_connection",
    "owns_connection",
)


def _is_plain(pool: Any) -> bool:
    """Tell whether :func:`_borrow` and :func:`_give_back` may serve ``pool``.

    Only redis-py's own ``ConnectionPool`` itself (not a subclass), with no
    client-side cache and no credential provider: a cache or a provider that
    re-authenticates does work of its own when a connection is borrowed or
    given back.
    """
    try:
        return _plain_pools[pool]
    except KeyError:
        pass
    plain = (
        type(pool) is redis.connection.ConnectionPool
        and all(hasattr(pool, part) for part in _POOL_PARTS)
        and getattr(pool, "cache", None) is None
        and pool.connection_kwargs.get("credential_provider") is None
    )
    _plain_pools[pool] = plain
    return plain


def _borrow(pool: Any) -> Any:
    """Take a connected connection with nothing unread from a plain pool."""
    pool._checkpid()
    with pool._lock:
        try:
            connection = pool._available_connections.pop()
        except IndexError:
            connection = pool.make_connection()
        pool._in_use_connections.add(connection)
    try:
        connection.connect()
        # As the pool does: a connection with a reply left unread, or one the
        # server closed, is connected again before it is used. With
        # maintenance notifications (redis-py 7 and later, RESP3), unread data
        # may be a notification, which the next read takes care of.
        notified = getattr(pool, "maint_notifications_enabled", None)
        tolerant = notified is not None and bool(notified())
        try:
            if connection.can_read() and not tolerant:
                raise redis.ConnectionError("Connection has data")
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            connection.disconnect()
            connection.connect()
            if connection.can_read() and not tolerant:
                raise redis.ConnectionError("Connection not ready") from None
    except BaseException:
        _give_back(pool, connection)
        raise
    return connection


def _give_back(pool: Any, connection: Any) -> None:
    """Return a connection taken by :func:`_borrow` to its pool."""
    # No fork check: a forked child runs only the thread that forked, never
    # one that was between a borrow and its give-back.
    with pool._lock:
        pool._in_use_connections.discard(connection)
        if pool.owns_connection(connection):
            # A maintenance notification can ask for a new connection.
            should_reconnect = getattr(connection, "should_reconnect", None)
            if should_reconnect is not None and should_reconnect():
                connection.disconnect()
            pool._available_connections.append(connection)
            return
        # Made in another process (the pool was reset after a fork): drop it.
        pool._created_connections -= 1
    connection.disconnect()


def execute(client: Any, *args: Any) -> Any:
    """Send one command through ``client``'s pool; return the server's reply."""
    if not isinstance(client, Redis) or client.connection is not None:
        return client.execute_command(*args)
    pool: Any = client.connection_pool
    plain = _is_plain(pool)
    if plain:
        connection = _borrow(pool)
    else:
        connection = pool.get_connection(args[0]) if _NAMED else pool.get_connection()
    try:

        def send() -> Any:
            connection.send_packed_command(_packed(connection, args))
            return connection.read_response()

        return connection.retry.call_with_retry(send, lambda _: connection.disconnect())
    finally:
        if plain:
            _give_back(pool, connection)
        else:
            pool.release(connection)


async def aexecute(client: Any, *args: Any) -> Any:
    """The asyncio twin of :func:`execute`."""
    if not isinstance(client, AsyncRedis) or client.connection is not None:
        return await client.execute_command(*args)
    pool: Any = client.connection_pool
    connection: Any = await (
        pool.get_connection(args[0]) if _ASYNC_NAMED else pool.get_connection()
    )
    try:

        async def send() -> Any:
            await connection.send_packed_command(_packed(connection, args))
            return await connection.read_response()

        async def disconnect(_: BaseException) -> None:
            await connection.disconnect()

        return await connection.retry.call_with_retry(send, disconnect)
    finally:
        await pool.release(connection)


def as_dict(reply: Any) -> dict[bytes, bytes]:
    """A hash reply as a dict: RESP3 sends one, RESP2 a flat list of pairs."""
    if isinstance(reply, dict):
        return reply
    values = iter(reply)
    return dict(zip(values, values, strict=True))
