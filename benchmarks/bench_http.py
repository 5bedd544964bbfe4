"""What a session engine costs a site per request, under gunicorn and uvicorn, against every peer.

Run from the repository root::

    python -m benchmarks.bench_http [--runs 5] [--duration 0.6] [--connections 1,16,64]
        [--flows abcd] [--servers gunicorn,uvicorn] [--configs NAME,...] [--quick]

One Django site (``benchmarks/http_site``) is served once per configuration
of :data:`benchmarks.http_site.engines.CONFIGS`: this engine (sync views, and
async views under uvicorn), Django's cache engine on django-redis and on
Django's own ``RedisCache``, ``cached_db``, ``db`` on SQLite and on PostgreSQL,
``signed_cookies``, django-redis-sessions (the engine this one succeeds, from a
virtualenv of its own, as it has the same import name), and no session at all,
the floor. The script starts what they need on loopback: one ``redis-server``
(each configuration in a database of its own), a PostgreSQL cluster of
Debian's package when one can be made (``initdb`` as the ``postgres`` user when
run as root), and one server per configuration: gunicorn with sync workers
(``--workers 4``) and uvicorn (``--workers 1``). The load generator,
:mod:`benchmarks.http_load`, runs the flows (a) to (d) at each number of
connections.

With two CPUs or more, the HTTP servers are pinned to one CPU and everything
else (the generator, the stores, this script) to the others, so that the
server CPU per request is the server's alone.

Every cell (server, flow, connections) is measured for every configuration in
turn, the first one rotating, and the whole is repeated ``--runs`` times, so
that noise hits the configurations alike. A configuration's **overhead** in a
run is its server CPU per request minus the floor's in the same run and cell
(and the same for p50 latency); an overhead ratio is the median over runs of
the per-run ratio to the cache engine on django-redis, with the lowest and
highest in parentheses.

The report is printed and written to ``benchmarks/results/http.rst``, the
charts to ``docs/charts/``. The exit status is 1 when a request failed its
checks.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import pwd
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import redis

from benchmarks import http_load
from benchmarks.http_site.engines import (
    ASGI,
    CONFIG_VARIABLE,
    CONFIGS,
    INFO_PATH,
    POSTGRES_VARIABLE,
    REDIS_URL_VARIABLE,
    REFERENCE,
    SERVER_VARIABLE,
    SQLITE_VARIABLE,
    WSGI,
    Config,
)
from benchmarks.legacy import legacy_python as make_legacy_python
from benchmarks.processes import (
    CpuPlan,
    child_setup,
    children_of,
    cpu_plan,
    stop_process,
    terminate_as_interrupt,
)
from benchmarks.report import (
    RESULTS_DIR,
    Facts,
    bar_chart,
    bullets,
    line_chart,
    machine,
    plain_report,
    progress,
    publish,
    rst_report,
    run_facts,
    server_version,
    spread,
    table,
    version,
)
from benchmarks.servers import RedisServer, free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
SITE_PACKAGE = REPO_ROOT / "benchmarks" / "http_site"

HOST = http_load.HOST
#: Every figure of the last run, which ``--replot`` reads.
RAW = RESULTS_DIR / "http.json"
SERVERS = (WSGI, ASGI)
GUNICORN_WORKERS = 4

#: Users in the database: one per virtual user at the most connections.
USERS = 64

#: Seconds a server may take to answer its first request.
START_TIMEOUT = 60.0

#: The packages, besides django-redis-sessions and Django, of its virtualenv.
LEGACY_EXTRAS = ("gunicorn", "uvicorn")


# Stores ---------------------------------------------------------------------


class PostgresServer:
    """A throwaway PostgreSQL cluster of Debian's package, on a free loopback port."""

    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="http-bench-postgres-"))
        self.process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def find() -> Path | None:
        """The newest ``/usr/lib/postgresql/N/bin`` with initdb, or None."""
        found = sorted(
            Path("/usr/lib/postgresql").glob("*/bin/initdb"),
            key=lambda path: (
                int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0
            ),
        )
        return found[-1].parent if found else None

    def as_owner(self, command: list[str]) -> list[str]:
        """PostgreSQL refuses to run as root: run as ``postgres`` then."""
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *command]
        return command

    def start(self, cpus: set[int] | None) -> None:
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.directory, owner.pw_uid, owner.pw_gid)
        data = self.directory / "data"
        subprocess.run(
            self.as_owner(
                [str(self.binaries / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]
            ),
            check=True,
            capture_output=True,
        )
        command = [
            str(self.binaries / "postgres"),
            "-D", str(data),
            "-p", str(self.port),
            "-k", str(self.directory),
            "-c", "listen_addresses=127.0.0.1",
            # The Redis server here keeps nothing on disk either: a commit does
            # not wait for its write-ahead log to reach the disk.
            "-c", "synchronous_commit=off",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            self.as_owner(command),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=child_setup(cpus),
        )
        deadline = time.monotonic() + 30
        while subprocess.run(
            self.as_owner(
                [str(self.binaries / "pg_isready"), "-h", HOST, "-p", str(self.port), "-q"]
            ),
            check=False,
        ).returncode:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("PostgreSQL did not start")
            time.sleep(0.2)
        subprocess.run(
            self.as_owner(
                [
                    str(self.binaries / "createdb"),
                    "-h",
                    HOST,
                    "-p",
                    str(self.port),
                    "-U",
                    "postgres",
                    "sessions",
                ]
            ),
            check=True,
        )

    def version(self) -> str:
        completed = subprocess.run(
            [str(self.binaries / "postgres"), "--version"],
            capture_output=True,
            text=True,
            check=False,
        )
        return completed.stdout.strip()

    def close(self) -> None:
        if self.process is not None:
            stop_process(self.process)
        shutil.rmtree(self.directory, ignore_errors=True)


def legacy_python() -> Path:
    """The Python of django-redis-sessions' virtualenv, with the servers at our versions."""
    return make_legacy_python(*(f"{name}=={version(name)}" for name in LEGACY_EXTRAS))


# HTTP servers ---------------------------------------------------------------


class HttpServer:
    """One gunicorn or uvicorn serving the site in one configuration."""

    def __init__(self, kind: str, config: Config, python: Path, env: dict[str, str], logs: Path):
        self.kind = kind
        self.config = config
        self.python = python
        self.port = free_port()
        self.env = {**env, CONFIG_VARIABLE: config.name, SERVER_VARIABLE: kind}
        self.log_path = logs / f"{kind}-{config.name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.pids: list[int] = []
        self.info: dict[str, Any] = {}

    @property
    def label(self) -> str:
        return f"{self.kind} {self.config.label}"

    def command(self) -> list[str]:
        if self.kind == WSGI:
            return [
                str(self.python), "-m", "gunicorn", "http_site.wsgi:application",
                "--bind", f"{HOST}:{self.port}",
                "--workers", str(GUNICORN_WORKERS),
                "--worker-class", "sync",
                "--log-level", "warning",
            ]  # fmt: skip
        return [
            str(self.python), "-m", "uvicorn", "http_site.asgi:application",
            "--host", HOST,
            "--port", str(self.port),
            "--workers", "1",
            "--no-access-log",
            "--log-level", "warning",
            # Django speaks no lifespan protocol; uvicorn would say so at startup.
            "--lifespan", "off",
        ]  # fmt: skip

    def start(self, site: Path, cpus: set[int] | None) -> None:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command(),
                cwd=site,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=child_setup(cpus),
            )

    def wait_ready(self) -> None:
        """Wait for the first answer and every worker; check that it runs what was asked."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            self.check_alive()
            try:
                self.info = self.get_info()
                if self.kind == ASGI:
                    break
                workers = children_of(self.pid)
                if len(workers) == GUNICORN_WORKERS:
                    break
            except (OSError, http.client.HTTPException):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.label} did not answer:\n{self.log_tail()}")
            time.sleep(0.1)
        self.pids = [self.pid, *(children_of(self.pid) if self.kind == WSGI else [])]
        expected_engine = self.config.session_engine or "django.contrib.sessions.backends.db"
        legacy_file = "/site-packages/redis_sessions/" in self.info.get("redis_sessions_file", "")
        if (
            self.info.get("config") != self.config.name
            or self.info.get("session_engine") != expected_engine
            or (
                self.config.session_engine == "redis_sessions.session"
                and legacy_file != self.config.legacy
            )
        ):
            raise RuntimeError(f"{self.label} on port {self.port} runs {self.info}")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def get_info(self) -> dict[str, Any]:
        connection = http.client.HTTPConnection(HOST, self.port, timeout=5)
        try:
            connection.request("GET", INFO_PATH)
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        if response.status != 200:
            raise http.client.HTTPException(f"status {response.status}: {body[:200]!r}")
        info: dict[str, Any] = json.loads(body)
        return info

    def check_alive(self) -> None:
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError(f"{self.label} exited:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)


class Generator:
    """The load generator, one process for the whole run, fed one job per line."""

    def __init__(self, cpus: set[int] | None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.http_load"],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            preexec_fn=child_setup(cpus),
        )

    def run(self, job: dict[str, Any]) -> dict[str, Any]:
        stdin: IO[bytes] | None = self.process.stdin
        stdout: IO[bytes] | None = self.process.stdout
        assert stdin is not None
        assert stdout is not None
        stdin.write(json.dumps(job).encode() + b"\n")
        stdin.flush()
        line = stdout.readline()
        if not line:
            raise RuntimeError(f"the load generator stopped ({self.process.wait()})")
        result: dict[str, Any] = json.loads(line)
        return result

    def stop(self) -> None:
        # The end of its input ends the generator; then its output is closed too.
        if self.process.stdin is not None:
            self.process.stdin.close()
        stop_process(self.process)
        if self.process.stdout is not None:
            self.process.stdout.close()


# Measuring ------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    server: str
    flow: str
    connections: int


def cells(args: argparse.Namespace) -> list[Cell]:
    return [
        Cell(server, flow, connections)
        for server in args.servers
        for flow in args.flows
        for connections in args.connections
    ]


def rotated(items: Sequence[str], shift: int) -> list[str]:
    shift %= len(items)
    return [*items[shift:], *items[:shift]]


Results = dict[tuple[Cell, str], list[dict[str, Any]]]


def measure(
    servers: dict[tuple[str, str], HttpServer], generator: Generator, args: argparse.Namespace
) -> Results:
    """Warm every server up on every flow, then take the turns of ``--runs`` runs."""
    for (kind, _), server in servers.items():
        for flow in args.flows:
            job = job_for(server, Cell(kind, flow, 4), 0.0, 0.3, "warm")
            result = generator.run(job)
            if result["errors"]:
                progress(f"  warm-up {server.label} {flow}: {describe(result)}")
    results: Results = {}
    all_cells = cells(args)
    for number in range(args.runs):
        for index, cell in enumerate(all_cells):
            names = [name for (kind, name) in servers if kind == cell.server]
            for name in rotated(names, number + index):
                server = servers[(cell.server, name)]
                tag = f"r{number}c{index}{name}"
                result = generator.run(job_for(server, cell, args.warmup, args.duration, tag))
                server.check_alive()
                results.setdefault((cell, name), []).append(result)
                if result["errors"]:
                    progress(f"  {server.label} {cell}: {describe(result)}")
            progress(
                f"run {number + 1}/{args.runs}: {cell.server} flow {cell.flow} x{cell.connections}"
            )
    return results


def job_for(
    server: HttpServer, cell: Cell, warmup: float, duration: float, tag: str
) -> dict[str, Any]:
    return {
        "port": server.port,
        "flow": cell.flow,
        "connections": cell.connections,
        "warmup": warmup,
        "duration": duration,
        "pids": server.pids,
        "check": not server.config.is_floor,
        "tag": tag,
    }


def describe(result: dict[str, Any]) -> str:
    return (
        f"{result['requests_per_second']:,.0f} req/s, p50 {result['p50']:.2f} ms, "
        f"errors {result['errors']} {result['error_kinds']} {result['error_samples']}"
    )


# Figures --------------------------------------------------------------------


def cpu_per_request(result: dict[str, Any]) -> float:
    """Server CPU microseconds per completed request."""
    completed = result["completed"]
    return result["server_cpu"] / completed * 1e6 if completed else float("nan")


@dataclass(frozen=True)
class Summary:
    """One configuration in one cell, over the runs."""

    rps: float
    p50: float
    p99: float
    cpu: float
    #: The p50 overhead (ms) over the floor, and its ratio to the reference
    #: engine's: median, lowest, highest over the runs.
    p50_overhead: tuple[float, float, float]
    p50_ratio: tuple[float, float, float]
    errors: int
    lost: int
    changes: int


def median_spread(values: Sequence[float]) -> tuple[float, float, float]:
    usable = [value for value in values if value == value]
    if not usable:
        return (float("nan"),) * 3
    return statistics.median(usable), min(usable), max(usable)


def overheads(results: Results, cell: Cell, name: str, value: str) -> list[float]:
    """Per run: a configuration's figure (``cpu`` or ``p50``) minus its floor's in the same cell."""
    return [
        measure_of(run, value) - measure_of(floor, value)
        for run, floor in zip(
            results[(cell, name)], results[(cell, CONFIGS[name].floor)], strict=True
        )
    ]


def ratios(results: Results, cell: Cell, name: str, value: str) -> list[float]:
    """Per run: a configuration's overhead over the reference engine's (none without it)."""
    if (cell, REFERENCE) not in results:
        return []
    mine = overheads(results, cell, name, value)
    theirs = overheads(results, cell, REFERENCE, value)
    return [a / b if b > 0 else float("nan") for a, b in zip(mine, theirs, strict=True)]


def summarise(results: Results, cell: Cell, name: str) -> Summary:
    runs = results[(cell, name)]
    return Summary(
        rps=statistics.median(run["requests_per_second"] for run in runs),
        p50=statistics.median(run["p50"] for run in runs),
        p99=statistics.median(run["p99"] for run in runs),
        cpu=statistics.median(cpu_per_request(run) for run in runs),
        p50_overhead=median_spread(overheads(results, cell, name, "p50")),
        p50_ratio=median_spread(ratios(results, cell, name, "p50")),
        errors=sum(run["errors"] for run in runs),
        lost=sum(run["lost"] for run in runs),
        changes=sum(run["changes"] for run in runs),
    )


def measure_of(run: dict[str, Any], value: str) -> float:
    return cpu_per_request(run) if value == "cpu" else float(run["p50"])


# Reporting ------------------------------------------------------------------


FLOW_TITLES = {
    "a": "(a) anonymous page that reads the session",
    "b": "(b) logged-in page that reads and writes one key",
    "c": "(c) a login then a logout",
    "d": "(d) two concurrent requests that change different keys",
}


def report(
    results: Results,
    servers: Sequence[tuple[str, str]],
    args: argparse.Namespace,
    facts: Facts,
) -> tuple[str, str, int]:
    """Return the plain text report, the reStructuredText one, and the count of errors."""
    parts: list[list[str]] = []
    names_of = {kind: [name for (k, name) in servers if k == kind] for kind in args.servers}
    summaries = {
        (cell, name): summarise(results, cell, name)
        for cell in cells(args)
        for name in names_of[cell.server]
    }
    errors = sum(summary.errors for summary in summaries.values())

    # The headline: overhead per request, CPU and p50, as ratios to the cache engine.
    for kind in args.servers:

        def cpu(name: str, flow: str, kind: str = kind) -> tuple[str, str]:
            overhead, ratio = pooled_overhead(results, kind, flow, name, args)
            return f"{overhead[0]:.0f}", spread(*ratio, digits=2)

        parts.append(
            [
                f"**{kind}: session CPU overhead per request** (engine minus no session, "
                f"server CPU microseconds; ratio to the cache engine on django-redis, median "
                f"over runs and connection counts, lowest and highest in parentheses):",
            ]
        )
        parts.append(overhead_table(names_of[kind], args.flows, "CPU us", cpu))

    fewest = min(args.connections)
    for kind in args.servers:

        def p50(name: str, flow: str, kind: str = kind) -> tuple[str, str]:
            summary = summaries[(Cell(kind, flow, fewest), name)]
            return f"{summary.p50_overhead[0]:.3f}", spread(*summary.p50_ratio, digits=2)

        parts.append(
            [
                f"**{kind}: session latency overhead** (p50 minus no session's, at "
                f"{fewest} connection(s), where no queue hides it):",
            ]
        )
        parts.append(overhead_table(names_of[kind], args.flows, "p50 ms", p50))

    # Every figure of every cell.
    for kind in args.servers:
        for flow in args.flows:
            header = ["engine"]
            for connections in args.connections:
                header += [f"x{connections} req/s", "p50 ms", "p99 ms", "CPU us/req"]
            if flow == "d":
                header += ["lost changes"]
            rows = []
            for name in names_of[kind]:
                row = [CONFIGS[name].label]
                lost = changes = 0
                for connections in args.connections:
                    summary = summaries[(Cell(kind, flow, connections), name)]
                    row += [
                        f"{summary.rps:,.0f}",
                        f"{summary.p50:.2f}",
                        f"{summary.p99:.2f}",
                        f"{summary.cpu:.0f}",
                    ]
                    lost += summary.lost
                    changes += summary.changes
                if flow == "d":
                    row.append("-" if CONFIGS[name].is_floor else f"{lost} of {changes}")
                rows.append(row)
            parts.append([f"**{kind}, flow {FLOW_TITLES[flow]}**, medians over the runs:"])
            parts.append(table(header, rows))

    parts.append(["**Targets** (this engine against its peers, in this run):"])
    parts.append(bullets(verdicts(results, summaries, names_of, args)))
    if errors:
        parts.append([f"{errors} requests failed their checks; see the progress output."])

    title = "HTTP requests: what each session engine costs a site"
    plain = plain_report(facts, *parts)
    rst = rst_report([title, "=" * len(title)], "benchmarks.bench_http", facts, *parts)
    return plain, rst, errors


def overhead_table(
    names: Sequence[str],
    flows: Sequence[str],
    unit: str,
    figures: Callable[[str, str], tuple[str, str]],
) -> list[str]:
    """One row per engine (floors left out), two columns per flow: ``figures(name, flow)``."""
    header = ["engine"]
    for flow in flows:
        header += [f"({flow}) {unit}", f"({flow}) vs cache"]
    rows = [
        [CONFIGS[name].label, *(cell for flow in flows for cell in figures(name, flow))]
        for name in names
        if not CONFIGS[name].is_floor
    ]
    return table(header, rows)


def pooled_overhead(
    results: Results, kind: str, flow: str, name: str, args: argparse.Namespace
) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """Overhead CPU and its ratio to the cache engine, pooled over the connection counts."""
    cells_of_flow = [Cell(kind, flow, connections) for connections in args.connections]
    overhead = [x for cell in cells_of_flow for x in overheads(results, cell, name, "cpu")]
    ratio = [x for cell in cells_of_flow for x in ratios(results, cell, name, "cpu")]
    return median_spread(overhead), median_spread(ratio)


def verdicts(
    results: Results,
    summaries: dict[tuple[Cell, str], Summary],
    names_of: dict[str, list[str]],
    args: argparse.Namespace,
) -> list[str]:
    lines = []
    engines = [
        name
        for name in ("engine", "engine-async")
        if any(name in names for names in names_of.values())
    ]
    worst_ratio = max(
        (
            (pooled_overhead(results, kind, flow, name, args)[1][0], kind, flow, name)
            for kind in args.servers
            for flow in args.flows
            for name in engines
            if name in names_of[kind]
            and (Cell(kind, flow, args.connections[0]), REFERENCE) in results
        ),
        default=None,
    )
    if worst_ratio is not None:
        value, kind, flow, name = worst_ratio
        lines.append(
            f"CPU overhead at most 0.5x the cache engine's: highest median ratio {value:.2f} "
            f"({kind}, flow {flow}, {CONFIGS[name].label}): {'met' if value <= 0.5 else 'missed'}"
        )
    peers = [
        name
        for name, config in CONFIGS.items()
        if config.store == "redis" and config.peer and name not in engines
    ]
    slower = []
    for (cell, name), summary in summaries.items():
        if name not in engines:
            continue
        for peer in peers:
            other = summaries.get((cell, peer))
            if other is not None and summary.rps < other.rps:
                slower.append(
                    f"{cell.server} ({cell.flow}) x{cell.connections}: {CONFIGS[name].label} "
                    f"{summary.rps:,.0f} < {CONFIGS[peer].label} {other.rps:,.0f}"
                )
    lines.append(
        "req/s no lower than any Redis-backed peer at any concurrency: "
        + ("met" if not slower else f"missed in {len(slower)} cells: " + "; ".join(slower))
    )
    if "d" in args.flows:
        lost = {
            name: sum(
                summaries[(cell, name)].lost
                for cell in cells(args)
                if cell.flow == "d" and (cell, name) in summaries
            )
            for name in CONFIGS
            if not CONFIGS[name].is_floor and any((cell, name) in summaries for cell in cells(args))
        }
        mine = sum(lost.get(name, 0) for name in engines)
        losing = [
            CONFIGS[name].label
            for name, count in lost.items()
            if count and name not in engines and CONFIGS[name].peer
        ]
        lines.append(
            f"lost changes in flow (d): this engine {mine}; peers that lost changes: "
            f"{', '.join(losing) or 'none'}: {'met' if mine == 0 else 'missed'}"
        )
    return lines


def charts(results: Results, servers: Sequence[tuple[str, str]], args: argparse.Namespace) -> None:
    """Draw the overhead bars and the req/s lines."""
    names_of = {kind: [name for (k, name) in servers if k == kind] for kind in args.servers}
    for kind in args.servers:
        engines = [name for name in names_of[kind] if not CONFIGS[name].is_floor]
        series = {
            CONFIGS[name].label: [
                pooled_overhead(results, kind, flow, name, args)[0][0] for flow in args.flows
            ]
            for name in engines
        }
        bar_chart(
            f"http-overhead-{kind}.png",
            f"{kind}: session CPU overhead per request (lower is better)",
            [FLOW_TITLES[flow] for flow in args.flows],
            series,
            "server CPU microseconds over no session",
        )
        panels = {}
        for flow in args.flows:
            panels[FLOW_TITLES[flow]] = {
                CONFIGS[name].label: [
                    summarise(results, Cell(kind, flow, connections), name).rps
                    for connections in args.connections
                ]
                for name in names_of[kind]
            }
        line_chart(
            f"http-throughput-{kind}.png",
            f"{kind}: requests per second by connections (higher is better)",
            args.connections,
            panels,
            "connections",
            "requests per second",
        )


# Main -----------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--duration", type=float, default=0.6, help="measured seconds per job")
    parser.add_argument("--warmup", type=float, default=0.2, help="unmeasured seconds per job")
    parser.add_argument("--connections", default="1,16,64")
    parser.add_argument("--flows", default="abcd")
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--configs", default=",".join(CONFIGS), help="names of configurations")
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    parser.add_argument("--quick", action="store_true", help="1 run, shorter jobs: a smoke test")
    parser.add_argument(
        "--no-report", action="store_true", help="print the report; write no file or chart"
    )
    parser.add_argument(
        "--replot",
        action="store_true",
        help=f"measure nothing: write the report and charts again from {RAW.name}",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.duration, args.warmup = 1, 0.3, 0.1
    args.connections = [int(part) for part in args.connections.split(",")]
    args.flows = list(args.flows)
    args.servers = args.servers.split(",")
    args.configs = args.configs.split(",")
    unknown = [name for name in args.configs if name not in CONFIGS]
    unknown += [flow for flow in args.flows if flow not in http_load.FLOWS]
    unknown += [kind for kind in args.servers if kind not in SERVERS]
    if unknown:
        parser.error(f"unknown: {', '.join(unknown)}")
    # Every configuration needs its floor, and the ratios need the reference and its floor.
    wanted = set(args.configs)
    wanted |= {CONFIGS[name].floor for name in args.configs}
    args.configs = [name for name in CONFIGS if name in wanted]
    return args


@contextlib.contextmanager
def site_directory() -> Iterator[Path]:
    """A directory that holds the site package alone, for every server's working directory."""
    directory = Path(tempfile.mkdtemp(prefix="http-bench-"))
    try:
        (directory / "http_site").symlink_to(SITE_PACKAGE, target_is_directory=True)
        (directory / "logs").mkdir()
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def site_env(redis_url: str, database: Path, postgres: PostgresServer | None) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        {
            REDIS_URL_VARIABLE: redis_url,
            SQLITE_VARIABLE: str(database),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    if postgres is not None:
        env[POSTGRES_VARIABLE] = f"{HOST}:{postgres.port}"
    return env


def prepare(site: Path, env: dict[str, str], config: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "http_site.prepare", str(USERS)],
        cwd=site,
        env={**env, CONFIG_VARIABLE: config},
        check=True,
        timeout=300,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.replot:
        raw = json.loads(RAW.read_text())
        for name in ("runs", "connections", "flows", "servers"):
            setattr(args, name, raw["args"][name])
        served = [(kind, name) for kind, name in raw["served"]]
        results: Results = {
            (Cell(e["server"], e["flow"], e["connections"]), e["config"]): e["runs"]
            for e in raw["results"]
        }
        return publish_all(results, served, args, raw["facts"], raw["notes"])
    measured = run(args)
    if not args.no_report:
        save_raw(measured.results, measured.served, args, measured.facts, measured.notes)
    return publish_all(measured.results, measured.served, args, measured.facts, measured.notes)


@dataclass(frozen=True)
class Measured:
    """What one run of the benchmark measured, and what it says about the run."""

    results: Results
    #: The (server, configuration) pairs that were measured, in order.
    served: list[tuple[str, str]]
    facts: Facts
    notes: list[str]


def run(args: argparse.Namespace) -> Measured:
    """Start every store and server that ``args`` asks for, measure, and stop them all."""
    plan = cpu_plan(not args.no_pin)
    notes: list[str] = []
    with contextlib.ExitStack() as stack, terminate_as_interrupt():
        site = stack.enter_context(site_directory())
        redis_server = stack.enter_context(RedisServer())
        if plan.others is not None and redis_server.process is not None:
            os.sched_setaffinity(redis_server.process.pid, plan.others)
        postgres = None
        if "db-postgres" in args.configs:
            binaries = PostgresServer.find()
            if binaries is None:
                notes.append("db on PostgreSQL: left out, no /usr/lib/postgresql/*/bin/initdb here")
            else:
                postgres = PostgresServer(binaries)
                stack.callback(postgres.close)
                try:
                    postgres.start(plan.others)
                except (OSError, RuntimeError, subprocess.CalledProcessError, KeyError) as error:
                    notes.append(f"db on PostgreSQL: left out, the server did not start ({error})")
                    postgres = None
            if postgres is None:
                args.configs.remove("db-postgres")
        base = f"redis://{HOST}:{redis_server.port}"
        env = site_env(base, site / "site.sqlite3", postgres)
        progress("Preparing the databases...")
        prepare(site, env, "db")
        if postgres is not None:
            prepare(site, env, "db-postgres")
        pythons = {name: Path(sys.executable) for name in args.configs}
        if "legacy" in args.configs:
            progress("Preparing the virtualenv of django-redis-sessions...")
            pythons["legacy"] = legacy_python()
        servers: dict[tuple[str, str], HttpServer] = {}
        for kind in args.servers:
            for name in args.configs:
                if kind in CONFIGS[name].servers:
                    server = HttpServer(kind, CONFIGS[name], pythons[name], env, site / "logs")
                    stack.callback(server.stop)
                    server.start(site, plan.server)
                    servers[(kind, name)] = server
        for server in servers.values():
            server.wait_ready()
        progress(f"{len(servers)} servers up.")
        generator = Generator(plan.others)
        stack.callback(generator.stop)
        load_before = os.getloadavg()[0]
        started = time.monotonic()
        results = measure(servers, generator, args)
        elapsed = time.monotonic() - started
        admin = redis.Redis.from_url(base)
        facts = describe_setup(
            servers, admin, postgres, args, plan, (load_before, os.getloadavg()[0]), elapsed
        )
        admin.close()
    return Measured(results, list(servers), facts, notes)


def save_raw(
    results: Results,
    served: list[tuple[str, str]],
    args: argparse.Namespace,
    facts: Facts,
    notes: list[str],
) -> None:
    """Keep every figure measured, for ``--replot``."""
    RAW.write_text(
        json.dumps(
            {
                "args": {
                    name: getattr(args, name)
                    for name in ("runs", "connections", "flows", "servers")
                },
                "served": served,
                "facts": facts,
                "notes": notes,
                "results": [
                    {
                        "server": cell.server,
                        "flow": cell.flow,
                        "connections": cell.connections,
                        "config": name,
                        "runs": runs,
                    }
                    for (cell, name), runs in results.items()
                ],
            },
            indent=1,
        )
    )


def publish_all(
    results: Results,
    served: list[tuple[str, str]],
    args: argparse.Namespace,
    facts: Facts,
    notes: list[str],
) -> int:
    """Print the report and, unless ``--no-report``, write it and draw the charts."""
    facts = [(label, value) for label, value in facts]
    plain, rst, errors = report(results, served, args, facts)
    if notes:
        plain += "\n\n" + "\n".join(notes)
        rst = rst.rstrip("\n") + "\n\n" + "\n".join(bullets(notes)) + "\n"
    if args.no_report:
        print(plain)
    else:
        publish("http.rst", plain, rst)
        charts(results, served, args)
    return 1 if errors else 0


def describe_setup(
    servers: dict[tuple[str, str], HttpServer],
    admin: redis.Redis,
    postgres: PostgresServer | None,
    args: argparse.Namespace,
    plan: CpuPlan,
    load: tuple[float, float],
    elapsed: float,
) -> Facts:
    legacy = next((server.info for server in servers.values() if server.config.legacy), None)
    return [
        *run_facts("Django", "asgiref", "redis-py", "hiredis", "django-redis"),
        ("gunicorn", f"{version('gunicorn')}, --workers {GUNICORN_WORKERS}, sync workers"),
        ("uvicorn", f"{version('uvicorn')}, --workers 1, no access log"),
        ("Redis", f"{server_version(admin)} on loopback TCP, no persistence"),
        (
            "PostgreSQL",
            f"{postgres.version()}, synchronous_commit off" if postgres else "not measured",
        ),
        ("django-redis-sessions", legacy["redis_sessions"] if legacy else "not measured"),
        ("Database", "SQLite file in WAL mode (users, and the db engine's sessions)"),
        ("Machine", f"{machine()}, {cpu_model()}"),
        ("CPU pinning", plan.describe("the HTTP servers")),
        ("Load average (1 min)", f"{load[0]:.2f} at the start, {load[1]:.2f} at the end"),
        ("Connections", ", ".join(str(count) for count in args.connections)),
        ("Job", f"{args.duration:g} s measured after {args.warmup:g} s of warm-up"),
        ("Runs", f"{args.runs}, configurations interleaved, {elapsed / 60:.0f} min in all"),
    ]


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "CPU model unknown"


if __name__ == "__main__":
    sys.exit(main())
