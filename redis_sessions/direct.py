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
"""

from __future__ import annotations

import inspect
from typing import Any

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


def execute(client: Any, *args: Any) -> Any:
    """Send one command through ``client``'s pool; return the server's reply."""
    if not isinstance(client, Redis) or client.connection is not None:
        return client.execute_command(*args)
    pool: Any = client.connection_pool
    connection: Any = pool.get_connection(args[0]) if _NAMED else pool.get_connection()
    try:

        def send() -> Any:
            connection.send_packed_command(_packed(connection, args))
            return connection.read_response()

        return connection.retry.call_with_retry(send, lambda _: connection.disconnect())
    finally:
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
