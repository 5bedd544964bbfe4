"""Drivers run plans (see :mod:`redis_sessions.store.steps`) on redis-py's clients.

:class:`SyncDriver` runs them on a sync client, :class:`AsyncDriver` on the
``redis.asyncio`` client of the running event loop. Each owns the I/O and
nothing else: single commands and pipelines, script loading on ``NOSCRIPT``,
``WAIT`` for ``MIN_REPLICAS_ACK``, routing on Redis Cluster, SCAN walks over
every primary, turning every Redis failure into
:class:`~redis_sessions.exceptions.StoreUnavailable`, and failing at once
while the store's :class:`~redis_sessions.store.breaker.Breaker` is open. The two differ only in
their ``await`` s; what they decide is written once, in the functions below.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeVar

from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.exceptions import (
    AuthenticationError,
    AuthenticationWrongNumberOfArgsError,
    ConnectionError,
    NoScriptError,
    RedisClusterException,
    RedisError,
    ResponseError,
    TimeoutError,
)
from redis.sentinel import MasterNotFoundError

from redis_sessions.exceptions import StoreUnavailable
from redis_sessions.store.async_clients import AsyncClient, ClientPerLoop
from redis_sessions.store.breaker import Breaker
from redis_sessions.store.clients import Client, is_cluster
from redis_sessions.store.steps import START, Command, Plan, Round, Scan, Scanned, ScriptCall, Step

T = TypeVar("T")

__all__ = [
    "AsyncDriver",
    "Position",
    "Replicas",
    "ReplicasNotAcknowledged",
    "SyncDriver",
    "advice",
    "authentication_advice",
]


class ReplicasNotAcknowledged(RedisError):
    """Fewer replicas than ``MIN_REPLICAS_ACK`` acknowledged a write in time."""


class Replicas(NamedTuple):
    """How many replicas must acknowledge each acked write, and how long to wait."""

    needed: int = 0
    timeout: float = 1.0

    def wait_args(self) -> tuple[int, int]:
        """The arguments of ``WAIT``."""
        return self.needed, max(1, round(self.timeout * 1000))

    def check(self, acks: Any) -> None:
        """Raise :class:`ReplicasNotAcknowledged` when ``acks`` is too few."""
        if int(acks) < self.needed:
            raise ReplicasNotAcknowledged(
                f"only {acks} of the {self.needed} replicas asked for (MIN_REPLICAS_ACK) "
                f"acknowledged the write within {self.timeout} s; it is on the primary and "
                "may not survive a failover"
            )


#: What to do when the server wants credentials that were not given.
PASSWORD_WANTED = "The server wants a password: give it in URL or PASSWORD."

#: What to do when the server refused the credentials that were given.
PASSWORD_REFUSED = (
    "The server refused the user name or password given: check URL, USERNAME and PASSWORD."
)

#: How servers answer the SELECT of a database they do not have.
NO_SUCH_DATABASE = "DB index is out of range"

#: What to do about it.
DATABASE_ADVICE = (
    "The server has no database of that number: name one below its 'databases' "
    "setting (16 by default) in URL."
)

# How servers say that a connection must log in first (Redis 6 and later
# answer HELLO so; older ones, and RESP2 without HELLO, answer NOAUTH).
_WANTED = ("NOAUTH", "Authentication required", "HELLO must be called with the client already")
# How they say that the credentials given are wrong.
_REFUSED = ("WRONGPASS", "invalid username-password pair", "invalid password")


def authentication_advice(exc: BaseException) -> str | None:
    """What to do about ``exc`` if it is an authentication failure; None otherwise."""
    text = str(exc)
    if any(words in text for words in _WANTED):
        return PASSWORD_WANTED
    if isinstance(exc, (AuthenticationError, AuthenticationWrongNumberOfArgsError)) or any(
        words in text for words in _REFUSED
    ):
        return PASSWORD_REFUSED
    return None


#: What redis-py raises when an operation fails: its errors, and on Redis Cluster
#: the ones that do not derive from them, such as ``RedisClusterUnreachableError``
#: when no node of the cluster answers.
FAILURES = (RedisError, RedisClusterException)


def advice(exc: RedisError | RedisClusterException) -> str:
    """The sentence that ends the message of :func:`unavailable`: what to do."""
    if isinstance(exc, ReplicasNotAcknowledged):
        return "Check the replicas and their link to the primary."
    authentication = authentication_advice(exc)
    if authentication is not None:
        return authentication
    if isinstance(exc, (ConnectionError, TimeoutError, RedisClusterException)):
        return "Check that the server is up and reachable."
    if NO_SUCH_DATABASE in str(exc):
        return DATABASE_ADVICE
    return "The server refused the command; nothing was changed."


def unavailable(
    exc: RedisError | RedisClusterException, action: str, where: str
) -> StoreUnavailable:
    """The :class:`StoreUnavailable` for ``exc``: what failed, where, and what to do."""
    text = str(exc)
    if isinstance(exc, MasterNotFoundError):
        # redis-py follows "No master found for 'name'" with the description of
        # the client of every sentinel it asked.
        text = text.partition(" : ")[0]
    return StoreUnavailable(
        f"Redis at {where} could not {action} ({type(exc).__name__}: {text}). {advice(exc)}"
    )


def evalsha(call: ScriptCall) -> tuple[Any, ...]:
    """The ``EVALSHA`` command of a script call."""
    return ("EVALSHA", call.script.sha, len(call.keys), *call.keys, *call.args)


def command_of(step: Step) -> tuple[Any, ...]:
    """The command a step sends."""
    return step.args if isinstance(step, Command) else evalsha(step)


def first_key(step: Step) -> Any:
    """The key a step is routed by on Redis Cluster."""
    return step.keys[0] if isinstance(step, ScriptCall) else step.args[1]


def wrong_type(reply: Any) -> bool:
    """Whether a reply is the error of a command on a key of another type."""
    return isinstance(reply, ResponseError) and str(reply).startswith("WRONGTYPE")


def checked(replies: list[Any], tolerant: bool) -> list[Any]:
    """``replies`` of a pipeline, or the first error among them raised.

    A tolerant round keeps ``WRONGTYPE`` errors as their commands' replies.
    """
    for reply in replies:
        if isinstance(reply, RedisError) and not (tolerant and wrong_type(reply)):
            raise reply
    return replies


def refused(exc: ResponseError, tolerant: bool) -> ResponseError:
    """``exc`` as the reply of a tolerant round if it is ``WRONGTYPE``; raise it otherwise."""
    if tolerant and wrong_type(exc):
        return exc
    raise exc


class Position(NamedTuple):
    """Where a SCAN walk is: on Redis Cluster the primary, and SCAN's cursor there."""

    node: int
    cursor: int

    @classmethod
    def parse(cls, text: str) -> Position:
        """Read a cursor that :meth:`__str__` wrote; ``ValueError`` for anything else."""
        node, dot, cursor = text.rpartition(".")
        if not dot:
            node = "0"
        for part in (node, cursor):
            if not part.isascii() or not part.isdigit():
                raise ValueError(f"{text!r} is not a cursor of this listing")
        return cls(int(node), int(cursor))

    def __str__(self) -> str:
        # One server: SCAN's cursor as it is. A cluster: "<primary>.<cursor>",
        # the primaries taken in the order of their names.
        return str(self.cursor) if self.node == 0 else f"{self.node}.{self.cursor}"

    def on(self, nodes: Sequence[Any]) -> Any:
        """The node of ``nodes`` this position is on."""
        if self.node >= len(nodes):
            # Made up, or the cluster lost primaries since the walk began.
            raise ValueError(f"{str(self)!r} is not a cursor of this listing")
        return nodes[self.node]

    def after(self, cursor: Any, nodes: int) -> str:
        """The cursor that follows a SCAN that answered ``cursor``."""
        if int(cursor) != 0:
            return str(Position(self.node, int(cursor)))
        if self.node + 1 < nodes:
            return str(Position(self.node + 1, 0))
        return START


def ordered(primaries: Sequence[Any]) -> list[Any]:
    """A cluster's primaries in the order walks take them: by name."""
    return sorted(primaries, key=lambda node: str(node.name))


def scan_kwargs(scan: Scan, node: Any) -> dict[str, Any]:
    options: dict[str, Any] = {"match": scan.pattern, "count": scan.hint, "_type": scan.type}
    if node is not None:
        options["target_nodes"] = node
    return options


def scan_cursor(reply: Any, node: Any) -> Any:
    # A cluster client answers with a cursor per node it asked.
    return next(iter(reply.values())) if node is not None else reply


class SyncDriver:
    """Runs plans on a sync client (one server, Sentinel or Cluster)."""

    def __init__(
        self,
        client: Client,
        where: Callable[[], str],
        replicas: Replicas | None = None,
        breaker: Breaker | None = None,
    ) -> None:
        self.client = client
        self.cluster = is_cluster(client)
        self.where = where
        self.replicas = replicas or Replicas()
        self.breaker = breaker or Breaker(0, 0.0, where)

    def run(self, plan: Plan[T]) -> T:
        """Run ``plan`` to its end; return its result."""
        reply: Any = None
        try:
            while True:
                step = plan.send(reply)
                reply = self.scan(step) if isinstance(step, Scan) else self.round(step)
        except StopIteration as stop:
            result: T = stop.value
            return result

    def round(self, round_: Round) -> list[Any]:
        """Send a round's steps in one round trip; return their replies."""
        steps = round_.steps
        wait = round_.acked and self.replicas.needed > 0
        try:
            with self.breaker.call(round_.action):
                if len(steps) == 1 and not (wait and not self.cluster):
                    replies = [self.one(steps[0], round_.tolerant)]
                else:
                    replies = self.pipelined(steps, wait and not self.cluster, round_.tolerant)
                if wait:
                    acks = replies.pop() if not self.cluster else self.wait(steps[0])
                    self.replicas.check(acks)
        except FAILURES as exc:
            raise unavailable(exc, round_.action, self.where()) from exc
        return replies

    def one(self, step: Step, tolerant: bool) -> Any:
        try:
            if isinstance(step, Command):
                client: Any = self.client
                return client.execute_command(*step.args)
            return self.script(step)
        except ResponseError as exc:
            return refused(exc, tolerant)

    def script(self, call: ScriptCall) -> Any:
        client: Any = self.client
        target = {} if call.node is None else {"target_nodes": call.node}
        try:
            return client.execute_command(*evalsha(call), **target)
        except NoScriptError:
            # EVALSHA refused to run, so nothing ran twice.
            client.execute_command("SCRIPT LOAD", call.script.source, **target)
            return client.execute_command(*evalsha(call), **target)

    def pipelined(self, steps: Sequence[Step], wait: bool, tolerant: bool) -> list[Any]:
        pipe = self.client.pipeline(transaction=False)
        for step in steps:
            pipe.execute_command(*command_of(step))
        if wait:
            pipe.execute_command("WAIT", *self.replicas.wait_args())
        replies: list[Any] = pipe.execute(raise_on_error=False)
        for position, step in enumerate(steps):
            if isinstance(replies[position], NoScriptError) and isinstance(step, ScriptCall):
                replies[position] = self.script(step)
        return checked(replies, tolerant)

    def wait(self, step: Step) -> Any:
        # WAIT names no key: on a cluster it goes to the primary of the round's first key.
        cluster: Any = self.client
        node = cluster.get_node_from_key(first_key(step))
        return cluster.execute_command("WAIT", *self.replicas.wait_args(), target_nodes=node)

    def scan(self, scan: Scan) -> Scanned:
        """One SCAN call; on a cluster, on the primary the cursor names."""
        at = Position.parse(scan.cursor)
        client: Any = self.client
        try:
            with self.breaker.call("scan the sessions"):
                nodes = ordered(client.get_primaries()) if self.cluster else [None]
                node = at.on(nodes)
                cursor, keys = client.scan(at.cursor, **scan_kwargs(scan, node))
        except FAILURES as exc:
            raise unavailable(exc, "scan the sessions", self.where()) from exc
        return Scanned(keys, at.after(scan_cursor(cursor, node), len(nodes)), node)


class AsyncDriver:
    """Runs plans on the ``redis.asyncio`` client of the running event loop."""

    def __init__(
        self,
        clients: ClientPerLoop,
        where: Callable[[], str],
        replicas: Replicas | None = None,
        breaker: Breaker | None = None,
    ) -> None:
        self.clients = clients
        self.where = where
        self.replicas = replicas or Replicas()
        self.breaker = breaker or Breaker(0, 0.0, where)

    @property
    def client(self) -> AsyncClient:
        """The asyncio client of the running event loop."""
        return self.clients.get()

    async def run(self, plan: Plan[T]) -> T:
        """Run ``plan`` to its end; return its result."""
        client = self.clients.get()
        reply: Any = None
        try:
            while True:
                step = plan.send(reply)
                if isinstance(step, Scan):
                    reply = await self.scan(client, step)
                else:
                    reply = await self.round(client, step)
        except StopIteration as stop:
            result: T = stop.value
            return result

    async def round(self, client: AsyncClient, round_: Round) -> list[Any]:
        steps = round_.steps
        cluster = isinstance(client, AsyncRedisCluster)
        wait = round_.acked and self.replicas.needed > 0
        try:
            with self.breaker.call(round_.action):
                if len(steps) == 1 and not (wait and not cluster):
                    replies = [await self.one(client, steps[0], round_.tolerant)]
                else:
                    replies = await self.pipelined(
                        client, steps, wait and not cluster, round_.tolerant
                    )
                if wait:
                    acks = replies.pop() if not cluster else await self.wait(client, steps[0])
                    self.replicas.check(acks)
        except FAILURES as exc:
            raise unavailable(exc, round_.action, self.where()) from exc
        return replies

    async def one(self, client: AsyncClient, step: Step, tolerant: bool) -> Any:
        try:
            if isinstance(step, Command):
                return await client.execute_command(*step.args)
            return await self.script(client, step)
        except ResponseError as exc:
            return refused(exc, tolerant)

    async def script(self, client: AsyncClient, call: ScriptCall) -> Any:
        target = {} if call.node is None else {"target_nodes": call.node}
        anyclient: Any = client
        try:
            return await anyclient.execute_command(*evalsha(call), **target)
        except NoScriptError:
            await anyclient.execute_command("SCRIPT LOAD", call.script.source, **target)
            return await anyclient.execute_command(*evalsha(call), **target)

    async def pipelined(
        self, client: AsyncClient, steps: Sequence[Step], wait: bool, tolerant: bool
    ) -> list[Any]:
        pipe: Any = client.pipeline(transaction=False)
        for step in steps:
            pipe.execute_command(*command_of(step))
        if wait:
            pipe.execute_command("WAIT", *self.replicas.wait_args())
        replies: list[Any] = await pipe.execute(raise_on_error=False)
        for position, step in enumerate(steps):
            if isinstance(replies[position], NoScriptError) and isinstance(step, ScriptCall):
                replies[position] = await self.script(client, step)
        return checked(replies, tolerant)

    async def wait(self, client: AsyncClient, step: Step) -> Any:
        cluster: Any = client
        node = cluster.get_node_from_key(first_key(step))
        return await cluster.execute_command("WAIT", *self.replicas.wait_args(), target_nodes=node)

    async def scan(self, client: AsyncClient, scan: Scan) -> Scanned:
        at = Position.parse(scan.cursor)
        anyclient: Any = client
        try:
            with self.breaker.call("scan the sessions"):
                if isinstance(client, AsyncRedisCluster):
                    # An asyncio cluster client learns the nodes on its first command.
                    await client.initialize()
                    nodes = ordered(client.get_primaries())
                else:
                    nodes = [None]
                node = at.on(nodes)
                cursor, keys = await anyclient.scan(at.cursor, **scan_kwargs(scan, node))
        except FAILURES as exc:
            raise unavailable(exc, "scan the sessions", self.where()) from exc
        return Scanned(keys, at.after(scan_cursor(cursor, node), len(nodes)), node)
