"""What a plan asks a driver to do: the steps of the store's operations.

An operation of the store (load a session, save one, count them all...) is
written once, as a *plan*: a generator that yields steps and receives what
each step gave back, then returns the operation's result. A plan does no I/O;
:mod:`redis_sessions.store.drivers` runs plans on redis-py's sync or asyncio
clients. Two kinds of steps:

:class:`Round`
    Commands sent together, in one round trip (one command alone, or a
    pipeline). The plan receives their replies, in order.
:class:`Scan`
    One ``SCAN`` call from a cursor. The plan receives a :class:`Scanned`: the
    keys, the cursor to go on from, and where the keys live. On Redis Cluster
    a walk goes over every primary in turn; the cursor says where it is, and
    plans pass it along without looking inside.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any, NamedTuple, TypeAlias, TypeVar

from redis_sessions.store.scripts import LuaScript

T = TypeVar("T")

#: A Redis key as the store passes it: built as text, or as SCAN returned it.
Key: TypeAlias = str | bytes

#: The cursor that starts a walk, and that the last :class:`Scanned` of a walk gives.
START = "0"


class Command(NamedTuple):
    """One Redis command, its name first: ``Command(("HGETALL", key))``."""

    args: tuple[Any, ...]


class ScriptCall(NamedTuple):
    """One call of a Lua script of ``lua/`` (``EVALSHA``, loaded again on ``NOSCRIPT``)."""

    script: LuaScript
    keys: list[Key]
    args: list[Any]
    #: Where the keys live, as a :class:`Scanned` gave it: on Redis Cluster a
    #: bulk script runs on the node its SCAN batch came from. None: routed by
    #: the first key.
    node: Any = None


Step: TypeAlias = Command | ScriptCall


class Round(NamedTuple):
    """Steps sent in one round trip; the plan receives their replies, in order."""

    steps: Sequence[Step]
    #: What the round does, as an error message says it: "save a session".
    action: str
    #: Whether the writes wait for ``MIN_REPLICAS_ACK`` replicas.
    acked: bool = False
    #: Whether a command on a key of another type gives its ``WRONGTYPE``
    #: ``ResponseError`` as its reply instead of failing the round.
    tolerant: bool = False


class Scan(NamedTuple):
    """One ``SCAN`` call from ``cursor``."""

    pattern: str
    cursor: str
    #: SCAN's ``COUNT`` hint.
    hint: int
    #: Only keys of this Redis type (``SCAN ... TYPE``); None for every type.
    type: str | None = None


class Scanned(NamedTuple):
    """The answer to a :class:`Scan`."""

    keys: list[bytes]
    #: Where the walk goes on from; :data:`START` once it has seen every key.
    cursor: str
    #: The node the keys live on, for :attr:`ScriptCall.node` (None on one server).
    node: Any = None


#: An operation written once: it yields steps, receives what they gave, and
#: returns its result.
Plan: TypeAlias = Generator[Round | Scan, Any, T]
