"""Requests per second of one Django site under uvicorn, with three session setups.

Run from the repository root::

    python -m benchmarks.bench_asgi [--users 64] [--duration 10] [--runs 5] [--quick]

The script starts a throwaway ``redis-server`` on a free loopback port, creates
a SQLite database with one user per virtual user, and starts one uvicorn
process (``--workers 1``, no access log) per configuration of
``benchmarks/asgi_site``, all serving the same URLs with the same flow:

* ``async engine``: this engine, ``redis_sessions.middleware.SessionMiddleware``
  and async views (``aget``/``aset``, ``alogin``, ``alogout``, ``auser()``);
* ``sync engine under ASGI``: this engine behind Django's own
  ``SessionMiddleware`` and sync views, so that Django runs the views and the
  session saves in threads;
* ``Django cache engine on django-redis``: Django's cache session engine on a
  django-redis cache on the same server, Django's middleware and the async
  views, whose session methods fall back to ``sync_to_async``.

A load generator (:mod:`benchmarks.asgi_load`, a process of its own) runs N
virtual users, each on one keep-alive connection with its own cookie jar,
through cycles of counter requests and a login/logout flow, and checks every
answer. After one warm-up run per server, each run measures every
configuration for D seconds after a short warm-up; the configurations take
turns within a run, the first one rotating, so that noise on a shared machine
hits them alike. The table gives the median over the runs; a ratio is the
median of the per-run ratios, with the lowest and highest in parentheses.

With two CPUs or more, uvicorn is pinned to one CPU and everything else (the
load generator, ``redis-server``, this script) to the others, so that the
generator does not take CPU from the server under test; ``--no-pin`` turns
that off. The idle servers of the other configurations stay up; they only
wake up a few times a second.

The results are printed and written to ``benchmarks/results/asgi.rst``. The
exit status is 1 when any request failed its checks.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import http.client
import importlib.util
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import redis

from benchmarks import asgi_load
from benchmarks.asgi_site.configs import (
    ASYNC_ENGINE,
    CACHE_ENGINE,
    CONFIG_VARIABLE,
    CONFIGS,
    DATABASE_VARIABLE,
    INFO_PATH,
    REDIS_URL_VARIABLE,
    SYNC_ENGINE,
    SiteConfig,
)
from benchmarks.report import (
    Facts,
    bullets,
    machine,
    plain_report,
    progress,
    publish,
    rst_report,
    run_facts,
    server_version,
    table,
    version,
)
from benchmarks.servers import RedisServer, free_port

REPO_ROOT = Path(__file__).resolve().parent.parent

#: Loopback only: the servers listen here and the generator connects here.
HOST = asgi_load.HOST

SETTINGS_MODULE = "benchmarks.asgi_site.settings"
APPLICATION = "benchmarks.asgi_site.asgi:application"

#: The names of the configurations that the ratios compare.
ASYNC, SYNC, CACHE = ASYNC_ENGINE.name, SYNC_ENGINE.name, CACHE_ENGINE.name

#: Seconds of the unrecorded run that warms up each server before the first run.
FIRST_WARMUP = 3.0

#: Seconds a uvicorn process may take to answer its first request.
START_TIMEOUT = 30.0

#: Linux prctl option: a signal for the child when its parent dies.
PR_SET_PDEATHSIG = 1


# Processes ------------------------------------------------------------------


@dataclass(frozen=True)
class CpuPlan:
    """Which CPUs uvicorn gets, and which everything else gets (None: no pinning)."""

    server: set[int] | None
    others: set[int] | None

    def describe(self) -> str:
        if self.server is None or self.others is None:
            return "none (uvicorn, the load generator and redis-server share all CPUs)"
        return (
            f"uvicorn on CPU {format_cpus(self.server)}; load generator, redis-server "
            f"and the benchmark script on CPU {format_cpus(self.others)}"
        )


def format_cpus(cpus: set[int]) -> str:
    return ",".join(str(cpu) for cpu in sorted(cpus))


def cpu_plan(pin: bool) -> CpuPlan:
    if not pin or not hasattr(os, "sched_getaffinity"):
        return CpuPlan(None, None)
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return CpuPlan(None, None)
    return CpuPlan({cpus[-1]}, set(cpus[:-1]))


def child_setup(cpus: set[int] | None) -> Callable[[], None]:
    """Return what a child runs before exec: its CPUs, and death with this process."""

    def setup() -> None:
        if cpus is not None:
            os.sched_setaffinity(0, cpus)
        if sys.platform.startswith("linux"):
            # If this script is killed outright (SIGKILL), no cleanup of ours
            # runs; the kernel then stops the server for us.
            with contextlib.suppress(OSError, AttributeError):
                ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    return setup


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Stop a child: politely, then for good."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cpu_seconds_of(pid: int) -> float:
    """User + system CPU seconds of a process and all its threads, past and present."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    # utime and stime, fields 14 and 15 of proc(5); the split left out the first two.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def redis_cpu_seconds(admin: redis.Redis) -> float:
    info = admin.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


class UvicornServer:
    """One uvicorn process serving the benchmark site in one configuration."""

    def __init__(self, config: SiteConfig, env: dict[str, str], log_path: Path) -> None:
        self.config = config
        self.port = free_port()
        self.env = {**env, CONFIG_VARIABLE: config.name}
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}

    def command(self, loop: str, http: str) -> list[str]:
        return [
            sys.executable, "-m", "uvicorn", APPLICATION,
            "--host", HOST,
            "--port", str(self.port),
            "--workers", "1",
            "--no-access-log",
            "--log-level", "warning",
            # Django speaks no lifespan protocol; uvicorn would say so at startup.
            "--lifespan", "off",
            "--loop", loop,
            "--http", http,
        ]  # fmt: skip

    def start(self, loop: str, http: str, cpus: set[int] | None) -> None:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command(loop, http),
                cwd=REPO_ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=child_setup(cpus),
            )

    def wait_ready(self) -> None:
        """Wait for the first answer, and check that it is the configuration asked for."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"uvicorn ({self.config.label}) exited:\n{self.log_tail()}")
            try:
                self.info = self.get_info()
                break
            except (OSError, http.client.HTTPException):
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"uvicorn ({self.config.label}) did not answer:\n{self.log_tail()}"
                    ) from None
                time.sleep(0.1)
        expected = {
            "config": self.config.name,
            "session_engine": self.config.session_engine,
            "middleware": [
                self.config.session_middleware,
                "django.contrib.auth.middleware.AuthenticationMiddleware",
            ],
        }
        found = {name: self.info.get(name) for name in expected}
        if found != expected:
            raise RuntimeError(f"uvicorn on port {self.port} runs {found}, not {expected}")

    def get_info(self) -> dict[str, Any]:
        connection = http.client.HTTPConnection(HOST, self.port, timeout=2)
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
            raise RuntimeError(f"uvicorn ({self.config.label}) died:\n{self.log_tail()}")

    def cpu_seconds(self) -> float:
        return float("nan") if self.process is None else cpu_seconds_of(self.process.pid)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)


def prepare_database(env: dict[str, str], users: int) -> None:
    """Migrate the site's SQLite database and create its users, in a child process."""
    subprocess.run(
        [sys.executable, "-m", "benchmarks.asgi_site.prepare", str(users)],
        cwd=REPO_ROOT,
        env={**env, CONFIG_VARIABLE: ASYNC},
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=300,
    )


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt, so that cleanup runs for it as for Ctrl-C."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# Measuring ------------------------------------------------------------------


@dataclass
class RunResult:
    """One configuration's share of one run, as the generator and /proc saw it."""

    #: What the load generator printed.
    load: dict[str, Any]
    #: CPU seconds that uvicorn, the generator and Redis used over the whole
    #: generator run, its warm-up included.
    server_cpu: float
    generator_cpu: float
    redis_cpu: float
    #: Wall-clock seconds of the generator run.
    seconds: float

    @property
    def rps(self) -> float:
        return float(self.load["requests_per_second"])

    @property
    def errors(self) -> int:
        return int(self.load["errors"])

    def latency(self, name: str, kind: str | None = None) -> float:
        source = self.load if kind is None else self.load["by_kind"][kind]
        return float(source[name])

    def per_request(self, seconds: float) -> float:
        """Spread CPU seconds of the whole run over the requests it completed."""
        completed = int(self.load["completed"])
        return seconds / completed if completed else float("nan")


def run_load(
    server: UvicornServer,
    admin: redis.Redis,
    args: argparse.Namespace,
    warmup: float,
    duration: float,
) -> RunResult:
    """Run the load generator against one server and return what it measured."""
    command = [
        sys.executable, "-m", "benchmarks.asgi_load",
        "--port", str(server.port),
        "--users", str(args.users),
        "--warmup", str(warmup),
        "--duration", str(duration),
        "--cycle", str(args.cycle),
        "--max-requests", str(args.max_requests),
        "--request-timeout", str(args.request_timeout),
    ]  # fmt: skip
    server_before = server.cpu_seconds()
    redis_before = redis_cpu_seconds(admin)
    started = time.monotonic()
    # The generator inherits this process's CPUs; run() kills it on any
    # exception, Ctrl-C included.
    completed = subprocess.run(
        command,
        cwd=REPO_ROOT,
        capture_output=True,
        timeout=warmup + duration + 2 * args.request_timeout + 60,
        check=False,
    )
    seconds = time.monotonic() - started
    server_cpu = server.cpu_seconds() - server_before
    redis_cpu = redis_cpu_seconds(admin) - redis_before
    server.check_alive()
    if completed.returncode != 0:
        raise RuntimeError(
            f"the load generator failed ({completed.returncode}):\n"
            + completed.stderr.decode(errors="replace")
        )
    load: dict[str, Any] = json.loads(completed.stdout)
    return RunResult(
        load=load,
        server_cpu=server_cpu,
        generator_cpu=float(load["cpu_seconds"]),
        redis_cpu=redis_cpu,
        seconds=seconds,
    )


def describe_run(label: str, result: RunResult) -> str:
    text = (
        f"{label}: {result.rps:,.0f} req/s, p50 {result.latency('p50'):.1f} ms, "
        f"p99 {result.latency('p99'):.1f} ms, errors {result.errors}"
    )
    if result.errors:
        text += f" {result.load['error_kinds']} {result.load['error_samples']}"
    return text


def measure(
    servers: dict[str, UvicornServer], admin: redis.Redis, args: argparse.Namespace
) -> tuple[dict[str, list[RunResult]], dict[str, RunResult]]:
    """Warm every server up, then take R turns; return the runs and the warm-ups."""
    names = list(servers)
    warmups: dict[str, RunResult] = {}
    for name in names:
        admin.flushdb()
        warmups[name] = run_load(servers[name], admin, args, 0.0, FIRST_WARMUP)
        progress("  warm-up " + describe_run(servers[name].config.label, warmups[name]))
    runs: dict[str, list[RunResult]] = {name: [] for name in names}
    for number in range(args.runs):
        shift = number % len(names)
        for name in [*names[shift:], *names[:shift]]:
            # Every configuration starts from an empty server.
            admin.flushdb()
            result = run_load(servers[name], admin, args, args.warmup, args.duration)
            runs[name].append(result)
            label = servers[name].config.label
            progress(f"  run {number + 1}/{args.runs} " + describe_run(label, result))
    return runs, warmups


# Reporting ------------------------------------------------------------------


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def http_implementation(choice: str) -> str:
    """Name what uvicorn's ``--http`` choice resolves to (``auto`` prefers httptools)."""
    resolved = choice
    if choice == "auto":
        resolved = "httptools" if installed("httptools") else "h11"
    httptools = (
        f"httptools {version('httptools')}" if installed("httptools") else "httptools not installed"
    )
    return f"{resolved} {version(resolved)} (--http {choice}; {httptools})"


def loop_implementation(servers: dict[str, UvicornServer], choice: str) -> str:
    loops = sorted({str(server.info.get("loop")) for server in servers.values()})
    uvloop = "uvloop not installed" if not installed("uvloop") else f"uvloop {version('uvloop')}"
    return f"{', '.join(loops)} (--loop {choice}; {uvloop})"


def facts(
    servers: dict[str, UvicornServer],
    admin: redis.Redis,
    args: argparse.Namespace,
    plan: CpuPlan,
    load_averages: tuple[float, float],
) -> Facts:
    """Return what a reader needs to judge the numbers: versions, setup, date."""
    anonymous = args.cycle - asgi_load.COUNTERS_WHILE_LOGGED_IN - 2
    return [
        *run_facts("Django", "asgiref", "redis-py", "hiredis", "django-redis"),
        ("uvicorn", f"{version('uvicorn')}, --workers 1, no access log"),
        ("Event loop", loop_implementation(servers, args.loop)),
        ("HTTP parser", http_implementation(args.http)),
        ("Server", f"{server_version(admin)} on loopback TCP"),
        ("Database", "SQLite file in WAL mode (users only), MD5PasswordHasher"),
        ("Machine", machine()),
        ("CPU pinning", plan.describe()),
        (
            "Load average (1 min)",
            f"{load_averages[0]:.2f} at the start, {load_averages[1]:.2f} at the end",
        ),
        (
            "Concurrency",
            f"{args.users} virtual users, one keep-alive connection and cookie jar each",
        ),
        (
            "Cycle per user",
            f"{args.cycle} requests: {anonymous} counter, login, "
            f"{asgi_load.COUNTERS_WHILE_LOGGED_IN} counter as the user, logout",
        ),
        ("Duration per run", f"{args.duration:g} s measured after {args.warmup:g} s of warm-up"),
        (
            "Runs (R)",
            f"{args.runs}, configurations interleaved, after a {FIRST_WARMUP:g} s warm-up",
        ),
    ]


@dataclass(frozen=True)
class Ratio:
    label: str
    value: Callable[[RunResult, RunResult], float]
    numerator: str
    denominator: str
    #: (target, True when the ratio must be at least the target, False: at most).
    target: tuple[float, bool] | None


RATIOS = (
    Ratio(
        "req/s: async engine / cache engine", lambda a, b: a.rps / b.rps, ASYNC, CACHE, (2.0, True)
    ),
    Ratio(
        "p99: async engine / cache engine",
        lambda a, b: a.latency("p99") / b.latency("p99"),
        ASYNC,
        CACHE,
        (1.0, False),
    ),
    Ratio("req/s: async engine / sync engine", lambda a, b: a.rps / b.rps, ASYNC, SYNC, None),
    Ratio(
        "p99: async engine / sync engine",
        lambda a, b: a.latency("p99") / b.latency("p99"),
        ASYNC,
        SYNC,
        None,
    ),
    Ratio(
        "server CPU per request: async / cache",
        lambda a, b: a.per_request(a.server_cpu) / b.per_request(b.server_cpu),
        ASYNC,
        CACHE,
        None,
    ),
)


def median_of(results: Sequence[RunResult], value: Callable[[RunResult], float]) -> float:
    return statistics.median(value(result) for result in results)


def generator_share(result: RunResult) -> float:
    """The share of one CPU that the load generator used over a run."""
    return result.generator_cpu / result.seconds


def latency_of(name: str, kind: str) -> Callable[[RunResult], float]:
    return lambda result: result.latency(name, kind)


def report(
    servers: dict[str, UvicornServer],
    runs: dict[str, list[RunResult]],
    warmups: dict[str, RunResult],
    fact_list: Facts,
) -> tuple[str, str, int]:
    """Return the plain text report, the reStructuredText one and the error count."""
    names = list(servers)
    labels = {name: servers[name].config.label for name in names}

    main_rows = []
    for name in names:
        results = runs[name]
        errors = sum(result.errors for result in [*results, warmups[name]])
        main_rows.append(
            [
                labels[name],
                f"{median_of(results, lambda r: r.rps):,.0f}",
                f"{median_of(results, lambda r: r.latency('p50')):.1f}",
                f"{median_of(results, lambda r: r.latency('p99')):.1f}",
                f"{median_of(results, lambda r: r.per_request(r.server_cpu)) * 1e3:.2f}",
                f"{median_of(results, lambda r: r.per_request(r.redis_cpu)) * 1e6:.0f}",
                f"{sum(int(r.load['completed']) for r in [*results, warmups[name]]):,}",
                str(errors),
            ]
        )
    main = table(
        [
            "configuration",
            "req/s",
            "p50 ms",
            "p99 ms",
            "server CPU ms/req",
            "Redis CPU us/req",
            "requests checked",
            "errors",
        ],
        main_rows,
    )

    kind_rows = []
    for name in names:
        cells = [labels[name]]
        for kind in asgi_load.KINDS:
            p50 = median_of(runs[name], latency_of("p50", kind))
            p99 = median_of(runs[name], latency_of("p99", kind))
            cells.append(f"{p50:.1f} / {p99:.1f}")
        kind_rows.append(cells)
    kinds = table(["p50 / p99 ms by request", *(f"{kind}" for kind in asgi_load.KINDS)], kind_rows)

    run_rows = []
    for number in range(len(runs[names[0]])):
        run_rows.append(
            [
                str(number + 1),
                *(f"{runs[name][number].rps:,.0f}" for name in names),
                *(f"{runs[name][number].latency('p99'):.0f}" for name in names),
                f"{max(generator_share(runs[name][number]) for name in names):.0%}",
            ]
        )
    per_run = table(
        [
            "run",
            *(f"{name} req/s" for name in names),
            *(f"{name} p99" for name in names),
            "generator CPU (max)",
        ],
        run_rows,
    )

    ratio_rows = []
    verdicts = []
    for ratio in RATIOS:
        if ratio.numerator not in runs or ratio.denominator not in runs:
            continue
        pairs = zip(runs[ratio.numerator], runs[ratio.denominator], strict=True)
        per_run_values = [ratio.value(a, b) for a, b in pairs]
        value = statistics.median(per_run_values)
        target = ""
        if ratio.target is not None:
            goal, at_least = ratio.target
            met = value >= goal if at_least else value <= goal
            target = f"{'>=' if at_least else '<='} {goal:g}"
            verdicts.append(
                f"{ratio.label}: {value:.2f} (target {target}) {'met' if met else 'MISSED'}"
            )
            target += "" if met else " missed"
        ratio_rows.append(
            [
                ratio.label,
                f"{value:.2f} ({min(per_run_values):.2f}-{max(per_run_values):.2f})",
                target or "-",
            ]
        )
    # No ratio without both of its configurations (see --configs).
    ratios = (
        table(["ratio", "median (min-max) per run", "target"], ratio_rows) if ratio_rows else []
    )

    errors = sum(result.errors for name in names for result in [*runs[name], warmups[name]])
    error_lines = []
    for name in names:
        for result in [warmups[name], *runs[name]]:
            if result.errors:
                error_lines.append(
                    f"{labels[name]}: {result.load['error_kinds']} {result.load['error_samples']}"
                )
    verdicts.append(
        "errors: 0 (every status, counter, login and logout checked)"
        if errors == 0
        else f"errors: {errors} -- THE RESULTS ARE INVALID"
    )

    plain = plain_report(fact_list, main, kinds, per_run, ratios, [*verdicts, *error_lines])
    rst = rst_report(
        # Not heading(): this title's rule has always been one character longer.
        ["Django under uvicorn: requests per second", "=========================================="],
        "benchmarks.bench_asgi",
        fact_list,
        [
            "Medians over the runs. Latency runs from writing a request to reading its",
            "last byte, at the load generator. CPU per request is the CPU the uvicorn",
            "process (all its threads) and the Redis server used over a whole run,",
            "divided by the requests that run completed:",
        ],
        main,
        ["Latency by request, medians over the runs:"],
        kinds,
        [
            "Every run; the configurations took turns within a run, and the generator",
            "column gives the largest share of a CPU the load generator used:",
        ],
        per_run,
        [
            "Ratios; each is the median over the runs of the ratio within a run, with",
            "the lowest and the highest of those ratios in parentheses:",
        ],
        ratios,
        [*bullets(verdicts), *bullets(error_lines)],
    )
    return plain, rst, errors


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=64, help="virtual users (connections)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per run")
    parser.add_argument("--runs", type=int, default=5, help="runs; the median is reported")
    parser.add_argument("--cycle", type=int, default=20, help="requests per login cycle")
    parser.add_argument(
        "--max-requests", type=int, default=2_000_000, help="requests per run at most"
    )
    parser.add_argument(
        "--request-timeout", type=float, default=10.0, help="seconds a response may take"
    )
    parser.add_argument("--loop", default="auto", help="uvicorn --loop (auto, asyncio, uvloop)")
    parser.add_argument("--http", default="auto", help="uvicorn --http (auto, h11, httptools)")
    parser.add_argument(
        "--no-pin", dest="pin", action="store_false", help="do not pin processes to CPUs"
    )
    parser.add_argument(
        "--configs",
        default=",".join(CONFIGS),
        help=f"configurations to run, comma-separated (default: {','.join(CONFIGS)})",
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 run of 3 s")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.warmup, args.runs = 3.0, 1.0, 1
    args.config_names = [name.strip() for name in args.configs.split(",") if name.strip()]
    unknown = [name for name in args.config_names if name not in CONFIGS]
    if unknown:
        parser.error(f"unknown configurations: {', '.join(unknown)}")
    if args.users < 1 or args.runs < 1 or args.duration <= 0:
        parser.error("--users, --runs and --duration must be positive")
    asgi_load.cycle_steps(args.cycle)  # fails early on a cycle too short
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not installed("uvicorn"):
        print("uvicorn is not installed: pip install uvicorn", file=sys.stderr)
        return 2
    plan = cpu_plan(args.pin)
    if plan.others is not None:
        # The script first: redis-server and the load generator inherit its CPUs.
        os.sched_setaffinity(0, plan.others)
    load_average = os.getloadavg()[0]
    with terminate_as_interrupt(), contextlib.ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="redis-sessions-asgi-bench-"))
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        redis_server = stack.enter_context(RedisServer())
        admin = redis_server.client()
        stack.callback(admin.close)
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
            "PYTHONUNBUFFERED": "1",
            REDIS_URL_VARIABLE: redis_server.url,
            DATABASE_VARIABLE: str(workdir / "site.sqlite3"),
        }
        progress(f"Preparing the database with {args.users} users...")
        prepare_database(env, args.users)
        servers: dict[str, UvicornServer] = {}
        for name in args.config_names:
            server = UvicornServer(CONFIGS[name], env, workdir / f"uvicorn-{name}.log")
            # Registered before it starts: whatever happens next, it is stopped.
            stack.callback(server.stop)
            server.start(args.loop, args.http, plan.server)
            servers[name] = server
        for server in servers.values():
            server.wait_ready()
        progress(
            f"Measuring {len(servers)} configurations, {args.runs} runs of "
            f"{args.warmup:g} + {args.duration:g} s, {args.users} users; "
            f"CPU pinning: {plan.describe()}"
        )
        runs, warmups = measure(servers, admin, args)
        load_averages = (load_average, os.getloadavg()[0])
        fact_list = facts(servers, admin, args, plan, load_averages)
        plain, rst, errors = report(servers, runs, warmups, fact_list)
        publish("asgi.rst", plain, rst)
        if errors:
            for server in servers.values():
                log = server.log_tail()
                if log:
                    print(f"\nLog of uvicorn ({server.config.label}):\n{log}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        # The servers are already stopped: main() unwinds its ExitStack first.
        print("Interrupted.", file=sys.stderr)
        sys.exit(130)
