"""Bytes of Redis memory per logged-in session, for each session store.

Run from the repository root::

    python -m benchmarks.bench_memory [--sessions N]

A throwaway ``redis-server`` is started on a free loopback port. For each store
the server is emptied (``FLUSHALL SYNC``), then N sessions holding the typical
logged-in session of :mod:`benchmarks.bench_operations` are created through the
store's ``SessionStore`` (the engine twice: as configured by default, and with
``USER_INDEX``, which adds an index key per user), and the growth of
``used_memory`` is divided by N. The figure therefore includes everything a
session costs the server: the key, the value with whatever the store adds to
it, the expiry entry and a share of the keyspace's hash tables.

The results are printed and written to ``benchmarks/results/memory.rst``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import redis
from django.contrib.sessions.backends.base import SessionBase
from django.test import override_settings

from benchmarks.bench_operations import (
    CACHE_DJANGO_REDIS,
    ENGINE,
    SESSION_DATA,
    configure_django,
    redis_key_of,
    session_store_classes,
)
from benchmarks.report import (
    Facts,
    bar_chart,
    bullets,
    heading,
    machine,
    plain_report,
    progress,
    publish,
    rst_report,
    run_facts,
    server_version,
    table,
)
from benchmarks.servers import RedisServer

#: The engine with ``USER_INDEX`` on, as the report names it.
INDEXED = f"{ENGINE} + USER_INDEX"
#: The engine with the device details of ``DEVICE_DETAILS``, as a login records them.
DEVICES = f"{ENGINE} + DEVICE_DETAILS"
DEVICE_DATA = {"_device_agent": "Firefox 133 on Linux", "_device_ip": "203.0.113.9"}

#: Redis 7 keeps a hash in a listpack while every field and value fits in this
#: many bytes (``hash-max-listpack-value``), with the default configuration.
LISTPACK_VALUE_LIMIT = 64


@dataclass
class Footprint:
    """What N sessions of one store cost the server."""

    store: str
    sessions: int
    used_memory_delta: int
    #: ``MEMORY USAGE`` of one session's key: its own allocations only.
    sample_usage: int
    sample_key_length: int
    sample_type: str
    sample_encoding: str

    @property
    def per_session(self) -> float:
        return self.used_memory_delta / self.sessions


def settle(admin: redis.Redis, timeout: float = 10.0) -> None:
    """Wait until the keyspace tables have finished rehashing.

    While a table grows Redis holds both the old and the new one; measuring then
    would charge the store with a transient. Idle, the server finishes the
    rehash by itself within a few cron ticks.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = admin.execute_command("DEBUG", "HTSTATS", "0")  # type: ignore[no-untyped-call]
        if b"rehashing" not in stats:
            return
        time.sleep(0.1)
    print("warning: the keyspace was still rehashing; the figures include it", file=sys.stderr)


def text(reply: bytes | str) -> str:
    return reply.decode() if isinstance(reply, bytes) else reply


def used_memory(admin: redis.Redis) -> int:
    return int(admin.info("memory")["used_memory"])


def measure(
    admin: redis.Redis,
    name: str,
    store_class: type[SessionBase],
    count: int,
    per_user: int = 1,
    extra: dict[str, str] | None = None,
) -> Footprint:
    """Create ``count`` sessions, ``per_user`` of each user, on an emptied server."""
    # SYNC: the memory must be freed before the baseline is read, whatever lazyfree says.
    admin.execute_command("FLUSHALL", "SYNC")  # type: ignore[no-untyped-call]
    settle(admin)
    before = used_memory(admin)
    keys = []
    for number in range(count):
        session = store_class()
        # This engine keeps one index key per user: one session per user is
        # its worst case.
        user_id = str(100_000 + number // per_user)
        session.update({**SESSION_DATA, "_auth_user_id": user_id, **(extra or {})})
        session.create()
        keys.append(session.session_key)
    settle(admin)
    after = used_memory(admin)
    stored = admin.dbsize()
    if stored not in (count, count + -(-count // per_user)):
        raise SystemExit(f"{name}: {stored} keys on the server after creating {count} sessions")
    sample = redis_key_of(ENGINE if name in (INDEXED, DEVICES) else name, keys[0])  # type: ignore[arg-type]
    return Footprint(
        store=name,
        sessions=count,
        used_memory_delta=after - before,
        # SAMPLES 0: look at every element instead of estimating.
        sample_usage=int(admin.memory_usage(sample, samples=0) or 0),
        sample_key_length=len(sample.encode()),
        sample_type=text(admin.type(sample)),
        sample_encoding=text(admin.object("encoding", sample)),
    )


def facts(admin: redis.Redis, count: int, per_user: int) -> Facts:
    """Return versions, server settings that decide encodings, the size and the date."""
    config = admin.config_get("hash-max-listpack-*")
    return [
        *run_facts("Django", "redis-py", "django-redis"),
        ("Server", server_version(admin)),
        ("Allocator", str(admin.info("memory")["mem_allocator"])),
        ("Server hash limits", ", ".join(f"{k} {v}" for k, v in sorted(config.items()))),
        ("Machine", machine(cpus=False)),
        ("Sessions per store (N)", str(count)),
        ("Logged-in sessions per user", str(per_user)),
    ]


def encoding_warning(footprint: Footprint) -> str | None:
    """Say loudly if the engine's hash left the compact encoding."""
    if footprint.sample_encoding == "listpack":
        return None
    return (
        f"WARNING: {ENGINE} keeps its session in a {footprint.sample_encoding!r}, not a "
        f"'listpack': some field or value is longer than {LISTPACK_VALUE_LIMIT} bytes "
        "(or there are too many fields), which costs several times the memory."
    )


def report(footprints: Sequence[Footprint], fact_list: Facts) -> tuple[str, str]:
    """Return the plain text report and the reStructuredText one."""
    by_name = {f.store: f for f in footprints}
    engine, django_redis = by_name[ENGINE], by_name[CACHE_DJANGO_REDIS]
    rows = [
        [
            f.store,
            f"{f.per_session:,.0f}",
            f"{f.sample_usage:,}",
            str(f.sample_key_length),
            f"{f.sample_type} ({f.sample_encoding})",
            f"{f.per_session / django_redis.per_session:.2f}",
        ]
        for f in footprints
    ]
    lines = table(
        [
            "store",
            "bytes/session",
            "MEMORY USAGE of a key",
            "key length",
            "type (encoding)",
            f"vs {CACHE_DJANGO_REDIS}",
        ],
        rows,
    )
    met = engine.per_session <= django_redis.per_session
    verdict = (
        f"{ENGINE}: {engine.per_session:,.0f} bytes/session, {CACHE_DJANGO_REDIS}: "
        f"{django_redis.per_session:,.0f} (target: no more) {'met' if met else 'MISSED'}"
    )
    warning = encoding_warning(engine)
    notes = [verdict, f"Encoding of a {ENGINE} key: {engine.sample_encoding}"]
    if warning:
        notes.append(warning)
    rst = rst_report(
        heading("Redis memory per session"),
        "benchmarks.bench_memory",
        fact_list,
        [
            "Growth of ``used_memory`` divided by the number of sessions created on an",
            "emptied server (key, value, expiry and hash table share), next to the",
            "``MEMORY USAGE`` of one key (the key's own allocations only):",
        ],
        lines,
        bullets(notes),
    )
    return plain_report(fact_list, lines, notes), rst


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20_000, help="sessions created per store")
    parser.add_argument(
        "--sessions-per-user", type=int, default=1, help="logged-in sessions of each user"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    with RedisServer() as server:
        configure_django(server.url)
        admin = server.client()
        stores = session_store_classes()
        # One session each first: opens connections and loads the Lua scripts, whose
        # memory is then in the baseline rather than charged to the first store.
        for store_class in stores.values():
            store_class().create()
        footprints = []
        for name, store_class in stores.items():
            progress(f"Creating {args.sessions} sessions with {name}...")
            footprints.append(
                measure(admin, name, store_class, args.sessions, args.sessions_per_user)
            )
        # The engine again with the opt-in index of each user's sessions.
        progress(f"Creating {args.sessions} sessions with {INDEXED}...")
        with override_settings(REDIS_SESSIONS={"URL": server.url, "USER_INDEX": True}):
            footprints.append(
                measure(admin, INDEXED, stores[ENGINE], args.sessions, args.sessions_per_user)
            )
        # And with the device details a login records with DEVICE_DETAILS.
        progress(f"Creating {args.sessions} sessions with {DEVICES}...")
        footprints.append(
            measure(
                admin, DEVICES, stores[ENGINE], args.sessions, args.sessions_per_user, DEVICE_DATA
            )
        )
        plain, rst = report(footprints, facts(admin, args.sessions, args.sessions_per_user))
        publish("memory.rst", plain, rst)
        bar_chart(
            "memory.png",
            "Redis memory per logged-in session (lower is better)",
            ["bytes per session"],
            {f.store: [f.per_session] for f in footprints},
            "bytes",
        )
        admin.close()


if __name__ == "__main__":
    main()
