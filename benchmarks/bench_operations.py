"""Operations per second of four session operations, every store in one run.

Run from the repository root::

    python -m benchmarks.bench_operations [--ops N] [--rounds R] [--quick]

A throwaway ``redis-server`` is started on a free loopback port. Five stores do
the same logical operations on the same session dict:

* ``redis-py floor``: single redis-py commands on a client with the engine's
  options (SET EX, GET, GET + SET EX, DEL); no framework, nothing to decode;
* ``redis-py, same commands``: the engine's own commands (its Lua scripts by
  EVALSHA, HGETALL) sent raw through redis-py with arguments encoded before
  the clock starts, so that the ratio to it is the engine's own cost;
* ``redis_sessions``: this engine's ``SessionStore``;
* ``cache/django-redis``: Django's cache session engine on django-redis;
* ``cache/built-in``: Django's cache session engine on Django's own RedisCache.

Each round times N operations for every (store, operation) pair. The stores
take turns of 100 operations, the first turn rotating, so that drift and
bursts of load on a shared machine hit every store alike. The table gives the
median over the rounds; a ratio is the median of the per-round ratios (each
pairing measurements taken side by side), with the lowest and highest of them
in parentheses. The Redis commands each operation costs are then counted on
the server (``INFO commandstats``), with MONITOR telling apart the commands
that a Lua script ran.

The results are printed and written to ``benchmarks/results/operations.rst``.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import pickle
import queue
import secrets
import statistics
import threading
import time
import timeit
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.backends.cache import SessionStore as CacheSessionStore
from django.core.cache import caches
from redis.utils import HIREDIS_AVAILABLE

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

OPERATIONS = ("create", "load", "update", "delete")

#: A typical session of a logged-in user, as django.contrib.auth leaves it plus a
#: little application data. The hash is what ``get_session_auth_hash`` returns: a
#: SHA-256 HMAC in hex, 64 characters.
SESSION_DATA: dict[str, Any] = {
    "_auth_user_id": "42",
    "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
    "_auth_user_hash": hashlib.sha256(b"benchmark user").hexdigest(),
    "recent": [1, 2, 3],
    "theme": "dark",
}

#: The two cache aliases, one per Redis cache backend.
DJANGO_REDIS_ALIAS = "django_redis"
BUILTIN_ALIAS = "builtin"

ENGINE = "redis_sessions"
FLOOR = "redis-py floor"
SCRIPT_FLOOR = "redis-py, same commands"
CACHE_DJANGO_REDIS = "cache/django-redis"
CACHE_BUILTIN = "cache/built-in"

#: Operations a store runs before the next store takes its turn.
CHUNK = 100

#: Redis commands that the measuring itself sends; left out of the counts.
MEASURING_COMMANDS = {"info", "config", "echo", "monitor"}


def configure_django(url: str, database: str = ":memory:") -> None:
    """Configure Django for a server at ``url``: the engine and both caches on it.

    ``database`` names the SQLite file of the default database.
    """
    import django
    from django.conf import settings

    settings.configure(
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": database}},
        SECRET_KEY="benchmarks-only-not-secret",
        INSTALLED_APPS=[
            "redis_sessions",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
        ],
        CACHES={
            DJANGO_REDIS_ALIAS: {
                "BACKEND": "django_redis.cache.RedisCache",
                "LOCATION": url,
                "KEY_PREFIX": "dr",
            },
            BUILTIN_ALIAS: {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": url,
                "KEY_PREFIX": "dj",
            },
        },
        SESSION_ENGINE="redis_sessions.session",
        SESSION_CACHE_ALIAS=DJANGO_REDIS_ALIAS,
        REDIS_SESSIONS={"URL": url},
        USE_TZ=True,
    )
    django.setup()


class DjangoRedisCacheSessionStore(CacheSessionStore):
    """Django's cache session engine on the django-redis alias."""

    cache_alias = DJANGO_REDIS_ALIAS

    def __init__(self, session_key: str | None = None) -> None:
        super().__init__(session_key)
        # The parent picked settings.SESSION_CACHE_ALIAS; pin the alias instead,
        # so that both cache stores can live in one process.
        self._cache = caches[self.cache_alias]


class BuiltinCacheSessionStore(DjangoRedisCacheSessionStore):
    """Django's cache session engine on Django's own RedisCache."""

    cache_alias = BUILTIN_ALIAS


def engine_store_class() -> type[SessionBase]:
    """Return this engine's ``SessionStore`` (imported once Django is configured)."""
    from redis_sessions.session import SessionStore

    return SessionStore


def session_store_classes() -> dict[str, type[SessionBase]]:
    """Return the three Django session stores compared, by name."""
    return {
        ENGINE: engine_store_class(),
        CACHE_DJANGO_REDIS: DjangoRedisCacheSessionStore,
        CACHE_BUILTIN: BuiltinCacheSessionStore,
    }


def redis_key_of(name: str, session_key: str) -> str:
    """Return the Redis key under which store ``name`` keeps ``session_key``."""
    if name == ENGINE:
        from redis_sessions.store import get_store

        return get_store().redis_key(session_key)
    alias = DJANGO_REDIS_ALIAS if name == CACHE_DJANGO_REDIS else BUILTIN_ALIAS
    return caches[alias].make_key(CacheSessionStore.cache_key_prefix + session_key)


class Bench:
    """One store under test: four operations, each on one item.

    ``create`` takes an item from :meth:`new_items` and returns the session key;
    ``load`` and ``delete`` take a session key; ``update`` takes ``(key, n)``.
    """

    name: str

    def new_items(self, count: int) -> list[Any]:
        return [None] * count

    def create(self, item: Any) -> str:
        raise NotImplementedError

    def load(self, key: str) -> Any:
        raise NotImplementedError

    def update(self, item: tuple[str, int]) -> None:
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError


class FloorBench(Bench):
    """Raw redis-py commands: the least any store can do over the same socket."""

    name = FLOOR

    def __init__(self, client: redis.Redis, ttl: int, value: bytes) -> None:
        self.client = client
        self.ttl = ttl
        self.value = value

    def new_items(self, count: int) -> list[Any]:
        # Keys are drawn before the clock starts: the floor does nothing but I/O.
        return [f"floor:{secrets.token_hex(16)}" for _ in range(count)]

    def create(self, item: Any) -> str:
        self.client.set(item, self.value, ex=self.ttl)
        return str(item)

    def load(self, key: str) -> Any:
        return self.client.get(key)

    def update(self, item: tuple[str, int]) -> None:
        key = item[0]
        self.client.get(key)
        self.client.set(key, self.value, ex=self.ttl)

    def delete(self, key: str) -> None:
        self.client.delete(key)


class ScriptFloorBench(Bench):
    """The engine's own commands, sent raw: its scripts and HGETALL through redis-py.

    The same commands, arguments and replies as the engine, encoded before the
    clock starts: what the engine costs beyond it is its own Python work (Django's
    ``SessionBase``, the codec, the plans and the driver), not the server's.
    """

    name = SCRIPT_FLOOR

    def __init__(self, client: redis.Redis, ttl: int) -> None:
        from redis_sessions.store import get_store, scripts

        self.client = client
        self.ttl = ttl
        self.scripts = scripts
        codec = get_store().codec
        self.changed = codec.encode({"n": 1})
        self.fields = [part for pair in codec.encode(SESSION_DATA).items() for part in pair]

    def new_items(self, count: int) -> list[Any]:
        return [f"sessions:{{{secrets.token_hex(16)}}}" for _ in range(count)]

    def create(self, item: Any) -> str:
        now = int(time.time())
        self.client.evalsha(self.scripts.CREATE.sha, 1, item, self.ttl, now, now, *self.fields)
        return str(item)

    def load(self, key: str) -> Any:
        return self.client.hgetall(key)

    def update(self, item: tuple[str, int]) -> None:
        key = item[0]
        self.client.hgetall(key)
        ((name, value),) = self.changed.items()
        now = int(time.time())
        self.client.evalsha(self.scripts.UPDATE.sha, 1, key, self.ttl, "0", now, 0, 1, name, value)

    def delete(self, key: str) -> None:
        self.client.evalsha(self.scripts.DESTROY.sha, 1, key, 300, int(time.time()), "", "logout")


class SessionBench(Bench):
    """A Django session store, used the way a request uses it."""

    def __init__(self, name: str, store_class: type[SessionBase]) -> None:
        self.name = name
        self.store_class = store_class

    def create(self, item: Any) -> str:
        session = self.store_class()
        session.update(SESSION_DATA)
        session.create()
        return session.session_key  # type: ignore[return-value]

    def load(self, key: str) -> Any:
        return self.store_class(key).load()

    def update(self, item: tuple[str, int]) -> None:
        # Setting an item loads the session first, as in a request.
        session = self.store_class(item[0])
        session["n"] = item[1]
        session.save()

    def delete(self, key: str) -> None:
        self.store_class(key).delete()


def make_benches(floor_client: redis.Redis, ttl: int) -> list[Bench]:
    """Return the four stores, the floor first."""
    # What the caches store: the pickled dict. The floor moves as many bytes.
    value = pickle.dumps(SESSION_DATA, pickle.HIGHEST_PROTOCOL)
    from redis_sessions.store import scripts

    benches: list[Bench] = [FloorBench(floor_client, ttl, value)]
    for script in scripts.ALL:
        floor_client.script_load(script.source)
    benches.append(ScriptFloorBench(floor_client, ttl))
    benches += [SessionBench(name, cls) for name, cls in session_store_classes().items()]
    return benches


def check_correctness(benches: Sequence[Bench]) -> None:
    """Fail unless every store round-trips the session: a fast wrong store proves nothing."""
    for bench in benches:
        if isinstance(bench, (FloorBench, ScriptFloorBench)):
            continue
        key = bench.create(bench.new_items(1)[0])
        loaded = bench.load(key)
        if loaded != SESSION_DATA:
            raise SystemExit(f"{bench.name}: loaded {loaded!r}, expected {SESSION_DATA!r}")
        bench.update((key, 7))
        if bench.load(key) != {**SESSION_DATA, "n": 7}:
            raise SystemExit(f"{bench.name}: the update was not saved")
        bench.delete(key)
        if bench.load(key) != {}:
            raise SystemExit(f"{bench.name}: the session survived its deletion")


def items_for(op: str, bench: Bench, keys: list[str], count: int, base: int) -> list[Any]:
    """Return the items that ``op`` is timed on."""
    if op == "create":
        return bench.new_items(count)
    if op == "update":
        return [(key, base + i) for i, key in enumerate(keys)]
    return keys


def timed(function: Callable[[Any], Any], items: Sequence[Any]) -> tuple[float, list[Any]]:
    """Run ``function`` on every item; return the seconds taken and the results."""
    start = time.perf_counter()
    results = [function(item) for item in items]
    return time.perf_counter() - start, results


def measure(
    benches: Sequence[Bench], ops: int, rounds: int, *, chunk: int = CHUNK, verbose: bool = True
) -> dict[tuple[str, str], list[float]]:
    """Return the ops/s of every round, by (store, operation).

    Within a round, each operation is timed on every store in turns of ``chunk``
    operations, the store that goes first rotating from turn to turn: a burst
    of load from elsewhere on the machine then lands on all stores alike
    instead of on whichever store happened to be running.
    """
    rates: dict[tuple[str, str], list[float]] = {
        (b.name, op): [] for b in benches for op in OPERATIONS
    }
    for round_number in range(rounds):
        keys: dict[str, list[str]] = {}
        round_start = time.perf_counter()
        for op in OPERATIONS:
            items = {
                b.name: items_for(op, b, keys.get(b.name, []), ops, round_number * ops)
                for b in benches
            }
            elapsed = dict.fromkeys(items, 0.0)
            results: dict[str, list[Any]] = {name: [] for name in items}
            # Start each operation with no garbage left over from the last one.
            gc.collect()
            for turn, first in enumerate(range(0, ops, chunk)):
                shift = (round_number + turn) % len(benches)
                for bench in [*benches[shift:], *benches[:shift]]:
                    took, done = timed(getattr(bench, op), items[bench.name][first : first + chunk])
                    elapsed[bench.name] += took
                    results[bench.name] += done
            for bench in benches:
                rates[bench.name, op].append(ops / elapsed[bench.name])
                if op == "create":
                    keys[bench.name] = results[bench.name]
        if verbose:
            took = time.perf_counter() - round_start
            progress(f"  round {round_number + 1}/{rounds} done in {took:.1f} s")
    return rates


# Counting commands ----------------------------------------------------------


class CommandLog:
    """MONITOR read by a thread: every command the server runs, and who ran it."""

    def __init__(self, server: RedisServer, admin: redis.Redis) -> None:
        self.admin = admin
        self.commands: queue.Queue[dict[str, Any]] = queue.Queue()
        self.monitor = server.client().monitor()  # type: ignore[no-untyped-call]
        self.monitor.__enter__()
        self.stop_token = f"stop-{uuid.uuid4().hex}"
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        self.segment()

    def _read(self) -> None:
        while True:
            command = self.monitor.next_command()
            self.commands.put(command)
            if command["command"] == f"ECHO {self.stop_token}":
                return

    def segment(self) -> list[dict[str, Any]]:
        """Return the commands seen since the last call, up to a marker sent now."""
        token = f"mark-{uuid.uuid4().hex}"
        self.admin.echo(token)
        seen: list[dict[str, Any]] = []
        while True:
            command = self.commands.get(timeout=30)
            if command["command"] == f"ECHO {token}":
                return seen
            seen.append(command)

    def close(self) -> None:
        self.admin.echo(self.stop_token)
        self.thread.join(timeout=30)
        self.monitor.__exit__(None, None, None)


def command_calls(admin: redis.Redis) -> Counter[str]:
    """Return ``calls`` of every command in ``INFO commandstats``."""
    stats = admin.info("commandstats")
    return Counter(
        {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}
    )


@dataclass
class CommandCount:
    """Commands per operation: sent by the client, and run inside Lua scripts."""

    top_level: dict[str, float]
    in_scripts: dict[str, float]
    #: False when commandstats and MONITOR disagree (they should not).
    consistent: bool

    @property
    def round_trips(self) -> float:
        return sum(self.top_level.values())

    def describe(self) -> str:
        def counts(calls: dict[str, float]) -> str:
            return ", ".join(f"{name} {number:g}" for name, number in sorted(calls.items()))

        text = counts(self.top_level)
        if self.in_scripts:
            text += f" (+ {counts(self.in_scripts)} inside the script)"
        if not self.consistent:
            text += " [commandstats and MONITOR disagree]"
        return text


def count_commands(
    server: RedisServer, admin: redis.Redis, benches: Sequence[Bench], ops: int
) -> dict[tuple[str, str], CommandCount]:
    """Count the Redis commands of each (store, operation) over ``ops`` operations."""
    log = CommandLog(server, admin)
    found: dict[tuple[str, str], CommandCount] = {}
    try:
        for bench in benches:
            keys: list[str] = []
            for op in OPERATIONS:
                items = items_for(op, bench, keys, ops, 0)
                before = command_calls(admin)
                log.segment()
                results = [getattr(bench, op)(item) for item in items]
                seen = log.segment()
                after = command_calls(admin)
                if op == "create":
                    keys = results
                stats = {
                    name: calls - before[name]
                    for name, calls in after.items()
                    if calls != before[name] and name not in MEASURING_COMMANDS
                }
                top_level: Counter[str] = Counter()
                in_scripts: Counter[str] = Counter()
                for command in seen:
                    name = command["command"].split(" ", 1)[0].lower()
                    if name in MEASURING_COMMANDS:
                        continue
                    (in_scripts if command["client_type"] == "lua" else top_level)[name] += 1
                # commandstats names subcommands "client|setinfo"; MONITOR shows "CLIENT".
                monitored = {
                    name: top_level[name] + in_scripts[name] for name in top_level | in_scripts
                }
                consistent = {name.split("|")[0]: n for name, n in stats.items()} == monitored
                found[bench.name, op] = CommandCount(
                    top_level={name: n / ops for name, n in top_level.items()},
                    in_scripts={name: n / ops for name, n in in_scripts.items()},
                    consistent=consistent,
                )
    finally:
        log.close()
    return found


# Reporting ------------------------------------------------------------------


def facts(admin: redis.Redis, benches: Sequence[Bench], ops: int, rounds: int) -> Facts:
    """Return what a reader needs to judge the numbers: versions, sizes, date."""
    floor = next(b for b in benches if isinstance(b, FloorBench))
    # Every store's client is a redis-py client of this process: they parse
    # replies alike, with hiredis when redis-py finds it.
    parser = "hiredis" if HIREDIS_AVAILABLE else "redis-py's own (no hiredis)"
    return [
        *run_facts("Django", "redis-py", "hiredis", "django-redis"),
        ("Reply parser", parser),
        ("Server", f"{server_version(admin)} on loopback TCP"),
        ("Machine", machine()),
        ("Session", f"{len(SESSION_DATA)} keys, {len(floor.value)} bytes pickled"),
        ("Operations per round (N)", str(ops)),
        ("Rounds (R)", str(rounds)),
        ("Stored id of a key (one per operation)", f"{digest_cost():.2f} µs"),
    ]


def digest_cost(count: int = 100_000) -> float:
    """Microseconds the engine spends turning a session key into its stored id.

    Every operation on one session does it once, so the tables above include
    it; this is its share, the best of five runs.
    """
    from redis_sessions.store.keys import new_session_key, stored_id

    key = new_session_key()
    runs = [timeit.timeit(lambda: stored_id(key), number=count) / count * 1e6 for _ in range(5)]
    return min(runs)


@dataclass
class Ratio:
    label: str
    numerator: str
    denominator: str
    target: float
    target_ops: tuple[str, ...]


RATIOS = (
    Ratio(f"{ENGINE} / {FLOOR}", ENGINE, FLOOR, 0.85, OPERATIONS),
    Ratio(f"{ENGINE} / {SCRIPT_FLOOR}", ENGINE, SCRIPT_FLOOR, 0.85, OPERATIONS),
    Ratio(
        f"{ENGINE} / {CACHE_DJANGO_REDIS}", ENGINE, CACHE_DJANGO_REDIS, 1.5, ("create", "update")
    ),
    Ratio(f"{ENGINE} / {CACHE_BUILTIN}", ENGINE, CACHE_BUILTIN, 0.0, ()),
)


def paired_ratios(rates: dict[tuple[str, str], list[float]], ratio: Ratio, op: str) -> list[float]:
    """Return numerator / denominator of every round."""
    pairs = zip(rates[ratio.numerator, op], rates[ratio.denominator, op], strict=True)
    return [a / b for a, b in pairs]


def report(
    benches: Sequence[Bench],
    rates: dict[tuple[str, str], list[float]],
    commands: dict[tuple[str, str], CommandCount],
    fact_list: Facts,
) -> tuple[str, str]:
    """Return the plain text report and the reStructuredText one."""
    names = [b.name for b in benches]
    speed_rows = [
        [name, *(f"{statistics.median(rates[name, op]):,.0f}" for op in OPERATIONS)]
        for name in names
    ]
    spread_rows = []
    for name in names:
        cells = []
        for op in OPERATIONS:
            values = rates[name, op]
            cells.append(f"{(max(values) - min(values)) / statistics.median(values):.0%}")
        spread_rows.append([name, *cells])
    ratio_rows = []
    verdicts = []
    for ratio in RATIOS:
        cells = []
        for op in OPERATIONS:
            per_round = paired_ratios(rates, ratio, op)
            value = statistics.median(per_round)
            mark = ""
            if op in ratio.target_ops:
                met = value >= ratio.target
                mark = "" if met else " miss"
                verdict = "met" if met else "MISSED"
                verdicts.append(
                    f"{ratio.label}, {op}: {value:.2f} (target >= {ratio.target:g}) {verdict}"
                )
            cells.append(f"{value:.2f} ({min(per_round):.2f}-{max(per_round):.2f}){mark}")
        ratio_rows.append([ratio.label, *cells])
    round_trip_rows = [
        [name, *(f"{commands[name, op].round_trips:g}" for op in OPERATIONS)] for name in names
    ]
    command_rows = [
        [name, op, commands[name, op].describe()] for name in names for op in OPERATIONS
    ]

    speed = table(["ops/s (median)", *OPERATIONS], speed_rows)
    spread = table(["spread (max-min)/median", *OPERATIONS], spread_rows)
    ratios = table(["ratio: median (min-max) per round", *OPERATIONS], ratio_rows)
    round_trips = table(["round trips per operation", *OPERATIONS], round_trip_rows)
    command_table = table(
        ["store", "operation", "Redis commands per operation (INFO commandstats)"], command_rows
    )

    plain = plain_report(fact_list, speed, spread, ratios, verdicts, round_trips, command_table)
    rst = rst_report(
        heading("Session operations per second"),
        "benchmarks.bench_operations",
        fact_list,
        ["Operations per second, the median of R rounds of N operations:"],
        speed,
        ["How much the rounds differed:"],
        spread,
        [
            "Ratios; each is the median over the rounds of the ratio within a round,",
            "with the lowest and the highest of those ratios in parentheses:",
        ],
        ratios,
        bullets(verdicts),
        ["Round trips (commands the client sent) per operation:"],
        round_trips,
        [
            "Every command the server ran, per operation; commands that a Lua script ran",
            "are counted by Redis too and are shown in parentheses:",
        ],
        command_table,
    )
    return plain, rst


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--ops", type=int, default=3000, help="operations per (store, operation) per round"
    )
    parser.add_argument("--rounds", type=int, default=7, help="rounds; the median is reported")
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 200 operations, 3 rounds"
    )
    parser.add_argument(
        "--count-ops", type=int, default=100, help="operations over which commands are counted"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.ops, args.rounds = 200, 3
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    with RedisServer() as server:
        configure_django(server.url)
        from django.conf import settings

        from redis_sessions.conf import conf

        admin = server.client()
        # The engine's client options, so that the floor differs only in what it sends.
        floor_client = redis.Redis.from_url(
            server.url,
            socket_connect_timeout=conf.SOCKET_CONNECT_TIMEOUT,
            socket_timeout=conf.SOCKET_TIMEOUT,
        )
        benches = make_benches(floor_client, settings.SESSION_COOKIE_AGE)
        check_correctness(benches)
        # Warm up: connections, the Lua script cache, imports, the allocator.
        measure(benches, min(args.ops, 200), 1, verbose=False)
        progress(
            f"Timing {len(benches)} stores x {len(OPERATIONS)} operations, "
            f"{args.rounds} rounds of {args.ops} operations..."
        )
        rates = measure(benches, args.ops, args.rounds)
        commands = count_commands(server, admin, benches, args.count_ops)
        fact_list = facts(admin, benches, args.ops, args.rounds)
        plain, rst = report(benches, rates, commands, fact_list)
        publish("operations.rst", plain, rst)
        bar_chart(
            "operations.png",
            "Session operations per second, one client (higher is better)",
            list(OPERATIONS),
            {b.name: [statistics.median(rates[b.name, op]) for op in OPERATIONS] for b in benches},
            "operations per second (median of the rounds)",
        )
        floor_client.close()
        admin.close()


if __name__ == "__main__":
    main()
