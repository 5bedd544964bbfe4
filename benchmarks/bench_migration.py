"""What migrating sessions costs: the lazy lookup, and a bulk run on a million.

Run from the repository root::

    python -m benchmarks.bench_migration [--sessions N] [--batch-size B] [--rounds R]

A throwaway ``redis-server`` is started on a free loopback port; the engine
uses its database 0 and django-redis-sessions' sessions (prefix ``session``)
live in database 1, each Django's encoded string of a typical logged-in
session, as django-redis-sessions writes it.

**Lazy lookup.** Four loads are timed, ``--rounds`` times (default 15),
interleaved so that drift in the machine's speed falls on all of them alike:
a key the engine holds, with ``MIGRATE_FROM`` off and on; a key held nowhere,
with it off and on. Each figure is the median over the rounds of the mean of
``--loads`` loads (default 2000) through ``SessionStore.load()``. The ratios
say what turning migration on costs each kind of key.

**Bulk.** N legacy sessions (default 1,000,000) are written through pipelines,
then ``sessions migrate --from django-redis-sessions``'s work
(:func:`redis_sessions.migration.bulk.migrate`) moves them in this process,
which samples its resident memory (``VmRSS``) every tenth of the run.

The results are printed and written to ``benchmarks/results/migration.rst``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import redis
from django.core.management import call_command
from django.utils import timezone

from benchmarks.bench_operations import SESSION_DATA, configure_django
from benchmarks.report import (
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

if TYPE_CHECKING:
    from redis_sessions.migration.sources import Source

PREFIX = "session"

#: What each source is called in the report, and the file its report goes to.
SOURCE_NAMES = {"django-redis-sessions": "django-redis-sessions", "db": "the db engine (SQLite)"}
RESULTS = {"django-redis-sessions": "migration.rst", "db": "migration-db.rst"}
FILL_PIPELINE = 10_000


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--source", choices=["django-redis-sessions", "db"], default="django-redis-sessions"
    )
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--loads", type=int, default=2000)
    return parser.parse_args(argv)


def rss_mib() -> float:
    """This process's resident memory now, in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def timed(function: Callable[[], object], times: int) -> float:
    """Mean microseconds of one call of ``function`` over ``times`` calls."""
    start = time.perf_counter()
    for _ in range(times):
        function()
    return (time.perf_counter() - start) / times * 1e6


def load(session_key: str) -> object:
    from redis_sessions.session import SessionStore

    return SessionStore(session_key).load()


def lazy_costs(source: str, url: str, legacy_url: str, rounds: int, loads: int) -> dict[str, float]:
    from django.test import override_settings

    from redis_sessions.session import SessionStore
    from redis_sessions.store.keys import new_session_key

    store = SessionStore()
    store.update(SESSION_DATA)
    store.create()
    known = store.session_key
    assert known is not None
    unknown = new_session_key()
    base = {"URL": url}
    migrating = {**base, "MIGRATE_FROM": [source]}
    cases = {
        "known key, migration off": (base, known),
        "known key, migration on": (migrating, known),
        "unknown key, migration off": (base, unknown),
        "unknown key, migration on": (migrating, unknown),
    }
    samples: dict[str, list[float]] = {name: [] for name in cases}
    session_redis = {"url": legacy_url, "prefix": PREFIX}
    for number in range(rounds):
        progress(f"Lazy lookup: round {number + 1} of {rounds}...")
        for name, (engine, key) in cases.items():
            with override_settings(REDIS_SESSIONS=engine, SESSION_REDIS=session_redis):
                SessionStore(key).load()  # connections open, sources made
                samples[name].append(timed(partial(load, key), loads))
    return {name: statistics.median(values) for name, values in samples.items()}


def fill(legacy: redis.Redis, count: int) -> None:
    """Write ``count`` sessions as django-redis-sessions does: SETEX prefix:key.

    They share one encoded string (a signature does not cover the key).
    """
    from redis_sessions.migration.sources import SessionStore
    from redis_sessions.store.keys import new_session_key

    encoded = SessionStore().encode(SESSION_DATA)
    done = 0
    while done < count:
        pipe = legacy.pipeline(transaction=False)
        for _ in range(min(FILL_PIPELINE, count - done)):
            pipe.setex(f"{PREFIX}:{new_session_key()}", 14 * 24 * 3600, encoded)
        pipe.execute()
        done += FILL_PIPELINE


def fill_database(count: int) -> None:
    """Write ``count`` rows to ``django_session`` as the ``db`` engine does."""
    from django.contrib.sessions.models import Session

    from redis_sessions.migration.sources import SessionStore
    from redis_sessions.store.keys import new_session_key

    encoded = SessionStore().encode(SESSION_DATA)
    expire = timezone.now() + timedelta(days=14)
    done = 0
    while done < count:
        rows = [
            Session(session_key=new_session_key(), session_data=encoded, expire_date=expire)
            for _ in range(min(FILL_PIPELINE, count - done))
        ]
        Session.objects.bulk_create(rows)
        done += FILL_PIPELINE


def legacy_source(name: str, legacy_url: str, count: int) -> Source:
    """The source ``name`` with ``count`` sessions in it, and nothing else."""
    from redis_sessions.migration.sources import DatabaseEngine, DjangoRedisSessions

    progress(f"Writing {count:,} legacy sessions to {name}...")
    if name == DatabaseEngine.name:
        call_command("migrate", "sessions", verbosity=0)
        fill_database(count)
        return DatabaseEngine()
    legacy = redis.Redis.from_url(legacy_url)
    legacy.flushdb()
    fill(legacy, count)
    return DjangoRedisSessions(legacy)


def left_in(source: Source) -> int:
    """How many sessions ``source`` still holds."""
    from redis_sessions.migration.sources import DatabaseEngine, DjangoRedisSessions

    if isinstance(source, DatabaseEngine):
        left: int = source.model.objects.count()
        return left
    assert isinstance(source, DjangoRedisSessions)
    return int(source.client.dbsize())


def bulk_run(
    name: str, legacy_url: str, count: int, batch_size: int
) -> tuple[float, list[list[str]], int]:
    from django.test import override_settings

    from redis_sessions.migration import bulk
    from redis_sessions.store import get_store

    get_store().client.flushdb()
    with override_settings(SESSION_REDIS={"url": legacy_url, "prefix": PREFIX}):
        source = legacy_source(name, legacy_url, count)
    samples: list[list[str]] = []
    start = time.perf_counter()
    every = max(1, count // batch_size // 10)
    batches = 0

    def sample(summary: bulk.Summary) -> None:
        nonlocal batches
        batches += 1
        if batches % every == 0:
            elapsed = time.perf_counter() - start
            samples.append([f"{summary.seen:,}", f"{elapsed:.1f}", f"{rss_mib():.1f}"])
            progress(f"  {summary.seen:,} read, {elapsed:.1f} s, RSS {rss_mib():.1f} MiB")

    progress("Migrating...")
    samples.append(["0", "0.0", f"{rss_mib():.1f}"])
    summary = bulk.migrate(get_store(), source, batch_size=batch_size, on_batch=sample)
    duration = time.perf_counter() - start
    samples.append([f"{summary.seen:,}", f"{duration:.1f}", f"{rss_mib():.1f}"])
    assert summary.migrated == count, summary
    assert left_in(source) == 0
    return duration, samples, summary.migrated


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    with RedisServer() as server, tempfile.TemporaryDirectory() as scratch:
        legacy_url = server.url.rsplit("/", 1)[0] + "/1"
        configure_django(server.url, database=str(Path(scratch) / "sessions.sqlite3"))
        call_command("migrate", "sessions", verbosity=0)
        admin = server.client()
        costs = lazy_costs(args.source, server.url, legacy_url, args.rounds, args.loads)
        duration, samples, moved = bulk_run(args.source, legacy_url, args.sessions, args.batch_size)
        facts = [*run_facts(), ("Server", server_version(admin)), ("Machine", machine())]
    off_known = costs["known key, migration off"]
    off_unknown = costs["unknown key, migration off"]
    lazy_rows = [
        [name, f"{micros:.0f}", f"{micros / (off_unknown if 'unknown' in name else off_known):.2f}"]
        for name, micros in costs.items()
    ]
    lazy_part = [
        *table(["Load", "µs (median)", "Ratio to migration off"], lazy_rows),
    ]
    rss = [float(row[2]) for row in samples]
    what = SOURCE_NAMES[args.source]
    bulk_part = bullets(
        [
            f"{moved:,} sessions of {what} migrated in {duration:.0f} s "
            f"({moved / duration:,.0f} a second), batches of {args.batch_size}",
            f"Resident memory from {min(rss):.1f} to {max(rss):.1f} MiB over the run",
        ]
    )
    samples_part = table(["Sessions read", "Seconds", "RSS (MiB)"], samples)
    plain = plain_report(facts, lazy_part, bulk_part, samples_part)
    rst = rst_report(
        heading(f"Migration from {what}"),
        f"benchmarks.bench_migration --source {args.source}",
        facts,
        [f"Lazy lookup: one load through ``SessionStore.load()``, ``MIGRATE_FROM`` {what}."],
        lazy_part,
        [f"Bulk: ``sessions migrate --from {args.source}``."],
        bulk_part,
        samples_part,
    )
    publish(RESULTS[args.source], plain, rst)


if __name__ == "__main__":
    main()
