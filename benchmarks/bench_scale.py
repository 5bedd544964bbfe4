"""The bulk commands on a million sessions, against the SCAN floor, in one run.

Run from the repository root::

    python -m benchmarks.bench_scale [--sessions N] [--users U] [--rounds R]

A throwaway ``redis-server`` is started on a free loopback port and filled, in
the engine's own layout, with N sessions (default 1,000,000): 70% logged in,
spread unevenly over U users (default 100,000) whose indexes hold them, 27%
anonymous and 3% tombstones. The fill streams the commands to
``redis-cli --pipe``.

Then each of these runs as a separate process, timed from the outside, with its
peak resident memory taken from ``/usr/bin/time -v`` (or, without it, from the
process's ``VmHWM``):

* the floor: ``redis-cli --scan --pattern 'sessions:{*}' | wc -l``, which walks
  the same keys and does nothing with them;
* ``python -m django sessions count``;
* ``python -m django session_stats``;
* Django's start-up alone (``python -m django help sessions``), for scale;
* last, once, ``python -m django sessions clear --no-input``.

The floor, count, stats and start-up are repeated R times (default 3),
interleaved; the table gives the medians. Targets: count at most twice the
floor, clear at most three times. The results are printed and written to
``benchmarks/results/scale.rst``.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.signing import JSONSerializer

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
from redis_sessions.store.codec import FieldCodec
from redis_sessions.store.keys import new_session_key, stored_id

REPOSITORY = Path(__file__).resolve().parent.parent
SETTINGS = "benchmarks.scale_settings"
PREFIX = "sessions:"

HOUR = 3600
DAY = 24 * HOUR
#: Django's default SESSION_COOKIE_AGE: what a save sets the TTL to.
COOKIE_AGE = 14 * DAY
#: Tombstones live 300 s by default; here an hour, so that none expires while the
#: steps run and every step sees the same keys.
TOMBSTONE_TTL = HOUR

LOGGED_IN = 0.70
TOMBSTONES = 0.03

#: Commands sent to redis-cli --pipe per write.
PIPE_CHUNK = 2000

FLOOR = "floor: redis-cli --scan | wc -l"
COUNT = "sessions count"
STATS = "session_stats"
STARTUP = "Django start-up (help sessions)"
CLEAR = "sessions clear --no-input"

TARGETS = {COUNT: 2.0, CLEAR: 3.0}


def resp(*parts: bytes) -> bytes:
    """One command in the Redis protocol, as ``redis-cli --pipe`` reads it."""
    pieces = [b"*%d\r\n" % len(parts)]
    for part in parts:
        pieces.append(b"$%d\r\n%s\r\n" % (len(part), part))
    return b"".join(pieces)


def number(value: int) -> bytes:
    return str(value).encode()


@dataclass
class Plan:
    """What the fill writes: how many sessions of each kind, and whose."""

    sessions: int
    users: int
    seed: int = 0
    #: Sessions per user id, for the users who have any.
    per_user: dict[int, int] = field(default_factory=dict)
    anonymous: int = 0
    tombstones: int = 0
    #: A few sessions as written, ``(key, data)``, to check that the engine reads them.
    samples: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def logged_in(self) -> int:
        return sum(self.per_user.values())

    @property
    def live(self) -> int:
        return self.logged_in + self.anonymous

    def draw(self) -> None:
        rng = random.Random(self.seed)
        self.tombstones = round(self.sessions * TOMBSTONES)
        logged_in = round(self.sessions * LOGGED_IN)
        self.anonymous = self.sessions - self.tombstones - logged_in
        # Uneven, as on a real site: user u is drawn with a density falling as
        # 1/sqrt(u), so a few users hold hundreds of sessions (shared accounts,
        # scripts that log in every time) and most hold a handful.
        drawn = Counter(int(self.users * rng.random() ** 2) for _ in range(logged_in))
        self.per_user = dict(sorted(drawn.items()))


def session_fields(
    codec: FieldCodec, data: dict[str, Any], saved: int, created: int
) -> list[bytes]:
    """The hash the engine's create and save scripts leave for ``data``."""
    fields = codec.encode(data)
    fields[b"#c"] = number(created)
    fields[b"#m"] = number(saved)
    if b"#u" in fields:
        # The index bound the engine records at a save: a tenth of the TTL past it.
        fields[b"#i"] = number(saved + COOKIE_AGE + COOKIE_AGE // 10)
    return [item for pair in fields.items() for item in pair]


def session_redis_key(session_key: str) -> bytes:
    """The key the engine keeps a session under: its stored id's, never the session key."""
    return f"{PREFIX}{{{stored_id(session_key)}}}".encode()


def fill_commands(plan: Plan, now: int) -> Iterator[bytes]:
    """Every command of the fill, in the Redis protocol."""
    rng = random.Random(plan.seed + 1)
    codec = FieldCodec(JSONSerializer)
    backend = "django.contrib.auth.backends.ModelBackend"

    def timing() -> tuple[int, int, int]:
        # Saved some time in the last two weeks, each save setting the TTL to
        # the cookie age: the TTL left follows from the last save.
        ttl = rng.randint(HOUR, COOKIE_AGE)
        saved = now - (COOKIE_AGE - ttl)
        return ttl, saved, saved - rng.randint(0, DAY)

    for user_id, count in plan.per_user.items():
        index: list[bytes] = []
        for _ in range(count):
            key = new_session_key()
            ttl, saved, created = timing()
            data: dict[str, Any] = {
                "_auth_user_id": str(user_id),
                "_auth_user_backend": backend,
                "_auth_user_hash": secrets.token_hex(32),
            }
            redis_key = session_redis_key(key)
            yield resp(b"HSET", redis_key, *session_fields(codec, data, saved, created))
            yield resp(b"EXPIRE", redis_key, number(ttl))
            index += [number(saved + COOKIE_AGE + COOKIE_AGE // 10), stored_id(key).encode()]
            if len(plan.samples) < 3:
                plan.samples.append((key, data))
        index_key = f"{PREFIX}user:{{{user_id}}}".encode()
        yield resp(b"ZADD", index_key, *index)
        last = max(int(score) for score in index[::2])
        yield resp(b"EXPIRE", index_key, number(last - now + 1))
    for visit in range(plan.anonymous):
        key = new_session_key()
        ttl, saved, created = timing()
        data = {"visits": visit % 40 + 1, "theme": "dark"}
        redis_key = session_redis_key(key)
        yield resp(b"HSET", redis_key, *session_fields(codec, data, saved, created))
        yield resp(b"EXPIRE", redis_key, number(ttl))
        if len(plan.samples) < 6:
            plan.samples.append((key, data))
    for _ in range(plan.tombstones):
        redis_key = session_redis_key(new_session_key())
        yield resp(b"HSET", redis_key, b"#x", number(now - rng.randint(0, 299)))
        yield resp(b"EXPIRE", redis_key, number(TOMBSTONE_TTL))


def fill(port: int, plan: Plan) -> float:
    """Write the plan into the server through ``redis-cli --pipe``; return the seconds taken."""
    cli = shutil.which("redis-cli")
    if cli is None:
        raise SystemExit("redis-cli is needed, for the fill and for the floor.")
    start = time.perf_counter()
    pipe = subprocess.Popen(
        [cli, "-p", str(port), "--pipe"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert pipe.stdin is not None
    assert pipe.stdout is not None
    # redis-cli prints only at the end, but read it on the side all the same:
    # a full pipe must never stall the writer.
    report: list[bytes] = []
    reader = threading.Thread(target=lambda: report.append(pipe.stdout.read()))  # type: ignore[union-attr]
    reader.start()
    chunk: list[bytes] = []
    for command in fill_commands(plan, int(time.time())):
        chunk.append(command)
        if len(chunk) == PIPE_CHUNK:
            pipe.stdin.write(b"".join(chunk))
            chunk = []
    pipe.stdin.write(b"".join(chunk))
    pipe.stdin.close()
    pipe.wait()
    reader.join()
    output = b"".join(report).decode()
    if pipe.returncode != 0 or "errors: 0," not in output:
        raise SystemExit(f"The fill failed:\n{output}")
    return time.perf_counter() - start


def check_fill(url: str, plan: Plan) -> None:
    """Fail unless the engine reads the sessions as written: a wrong layout proves nothing."""
    from django.conf import settings

    settings.configure(REDIS_SESSIONS={"URL": url}, USE_TZ=True)
    from redis_sessions.store import get_store

    store = get_store()
    for key, data in plan.samples:
        stored = store.load(key)
        if stored is None or stored.data != data:
            raise SystemExit(f"The engine reads session {key} as {stored!r}, not {data!r}.")
    user_id = next(iter(plan.per_user))
    found = len(store.user_sessions(str(user_id)))
    if found != plan.per_user[user_id]:
        raise SystemExit(f"User {user_id} has {found} sessions, not {plan.per_user[user_id]}.")


# Running the steps -----------------------------------------------------------


@dataclass
class Run:
    """One step, run once."""

    step: str
    seconds: float
    #: Peak resident memory in KiB: of the process (for a shell pipeline, of
    #: its largest process); None if it could not be measured.
    peak_kib: int | None
    stdout: str


TIME = "/usr/bin/time"


def run_step(step: str, argv: Sequence[str], env: dict[str, str]) -> Run:
    """Run ``argv``, timed from the outside; fail if it fails."""
    if os.access(TIME, os.X_OK):
        with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
            start = time.perf_counter()
            done = subprocess.run(
                [TIME, "-v", "-o", report.name, *argv],
                env=env,
                cwd=REPOSITORY,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
            )
            seconds = time.perf_counter() - start
            found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", report.read())
            peak = int(found[1]) if found else None
    else:
        seconds, peak, done = run_watched(argv, env)
    if done.returncode != 0:
        raise SystemExit(f"{step} failed ({done.returncode}):\n{done.stderr}")
    return Run(step, seconds, peak, done.stdout)


def run_watched(
    argv: Sequence[str], env: dict[str, str]
) -> tuple[float, int | None, subprocess.CompletedProcess[str]]:
    """Without GNU time: poll the process's high-water mark (``VmHWM``) as it runs."""
    start = time.perf_counter()
    process = subprocess.Popen(
        argv,
        env=env,
        cwd=REPOSITORY,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak: int | None = None
    status = Path(f"/proc/{process.pid}/status")
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.extend(process.communicate()))
    reader.start()
    while reader.is_alive():
        try:
            found = re.search(r"^VmHWM:\s+(\d+) kB", status.read_text(), re.M)
        except OSError:
            found = None
        if found:
            peak = max(peak or 0, int(found[1]))
        reader.join(0.01)
    seconds = time.perf_counter() - start
    stdout, stderr = out
    return seconds, peak, subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)


def django(*args: str) -> list[str]:
    return [sys.executable, "-m", "django", *args, f"--settings={SETTINGS}"]


def parse_count(text: str, pattern: str) -> int:
    found = re.search(pattern, text, re.M)
    if found is None:
        raise SystemExit(f"Unexpected output:\n{text}")
    return int(found[1].replace(",", ""))


# Reporting -------------------------------------------------------------------


def megabytes(kib: int | None) -> str:
    return "?" if kib is None else f"{kib / 1024:,.0f}"


def load_average() -> str:
    try:
        return " / ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def report(runs: dict[str, list[Run]], clear: Run, fact_list: Facts) -> tuple[str, str]:
    """Return the plain text report and the reStructuredText one."""
    floor = statistics.median(run.seconds for run in runs[FLOOR])
    rows = []
    for step, done in [*runs.items(), (CLEAR, [clear])]:
        seconds = statistics.median(run.seconds for run in done)
        peaks = [run.peak_kib for run in done if run.peak_kib is not None]
        rows.append(
            [
                step,
                f"{seconds:.2f}",
                f"{seconds / floor:.2f}",
                megabytes(max(peaks) if peaks else None),
                ", ".join(f"{run.seconds:.2f}" for run in done),
            ]
        )
    lines = table(["step", "wall s", "vs floor", "peak RSS MiB", "each run, s"], rows)
    verdicts = []
    for step, target in TARGETS.items():
        done = [clear] if step == CLEAR else runs[step]
        ratio = statistics.median(run.seconds for run in done) / floor
        met = "met" if ratio <= target else "MISSED"
        verdicts.append(f"{step} / floor: {ratio:.2f} (target <= {target:g}) {met}")
    rst = rst_report(
        heading("Bulk commands at scale"),
        "benchmarks.bench_scale",
        fact_list,
        [
            "Wall time of each step as a separate process (median of the runs), its",
            "ratio to the floor, and the peak resident memory of the process (for the",
            "floor, of the larger of ``redis-cli`` and ``wc``):",
        ],
        lines,
        bullets(verdicts),
    )
    return plain_report(fact_list, lines, verdicts), rst


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=1_000_000, help="sessions to fill")
    parser.add_argument("--users", type=int, default=100_000, help="users they belong to")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each repeated step")
    parser.add_argument(
        "--scan-count", type=int, default=100, help="REDIS_SESSIONS SCAN_COUNT of the commands"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    plan = Plan(args.sessions, args.users)
    plan.draw()
    with RedisServer() as server:
        admin = server.client()
        progress(f"Filling {plan.sessions:,} sessions of {len(plan.per_user):,} users...")
        fill_seconds = fill(server.port, plan)
        keys = admin.dbsize()
        used = admin.info("memory")["used_memory"]
        progress(f"  {keys:,} keys in {fill_seconds:.1f} s")
        check_fill(server.url, plan)
        env = dict(
            os.environ,
            BENCH_REDIS_URL=server.url,
            BENCH_SCAN_COUNT=str(args.scan_count),
            DJANGO_SETTINGS_MODULE=SETTINGS,
        )
        steps = {
            FLOOR: [
                "sh",
                "-c",
                f"redis-cli -p {server.port} --scan --pattern '{PREFIX}{{*}}' | wc -l",
            ],
            COUNT: django("sessions", "count"),
            STATS: django("session_stats"),
            STARTUP: django("help", "sessions"),
        }
        load_before = load_average()
        runs: dict[str, list[Run]] = {step: [] for step in steps}
        for round_number in range(args.rounds):
            for step, command in steps.items():
                done = run_step(step, command, env)
                runs[step].append(done)
                progress(f"  round {round_number + 1}: {step}: {done.seconds:.2f} s")
                check_output(step, done.stdout, plan)
        clear = run_step(CLEAR, django("sessions", "clear", "--no-input"), env)
        progress(f"  {CLEAR}: {clear.seconds:.2f} s")
        deleted = parse_count(clear.stdout, r"^Deleted ([\d,]+) keys")
        if deleted != keys or admin.dbsize() != 0:
            raise SystemExit(f"clear deleted {deleted:,} of {keys:,} keys.")
        fact_list = [
            *run_facts("Django", "redis-py", "hiredis"),
            ("Server", server_version(admin)),
            ("Machine", machine()),
            ("Load average before / after (1, 5, 15 min)", f"{load_before}; {load_average()}"),
            (
                "Sessions",
                f"{plan.sessions:,}: {plan.logged_in:,} logged in, {plan.anonymous:,} "
                f"anonymous, {plan.tombstones:,} tombstones",
            ),
            (
                "Users",
                f"{len(plan.per_user):,} with sessions, of {plan.users:,}; the most sessions "
                f"of one user: {max(plan.per_user.values()):,}",
            ),
            ("Keys in the database", f"{keys:,} (sessions, tombstones and user indexes)"),
            ("used_memory after the fill", f"{used / 2**20:,.0f} MiB"),
            ("Fill (redis-cli --pipe)", f"{fill_seconds:.1f} s"),
            ("SCAN_COUNT", str(args.scan_count)),
            ("Rounds", str(args.rounds)),
        ]
        admin.close()
    plain, rst = report(runs, clear, fact_list)
    publish("scale.rst", plain, rst)
    timed: dict[str, list[Run]] = {**runs, CLEAR: [clear]}
    bar_chart(
        "scale.png",
        "The management commands on a million sessions (lower is better)",
        ["wall-clock seconds"],
        {step: [statistics.median(run.seconds for run in done)] for step, done in timed.items()},
        "seconds (median of the runs)",
    )


def check_output(step: str, stdout: str, plan: Plan) -> None:
    """Fail unless a step found what the fill wrote."""
    if step == FLOOR:
        found, expected = int(stdout), plan.sessions
    elif step == COUNT:
        found, expected = parse_count(stdout, r"^([\d,]+) live sessions"), plan.live
    elif step == STATS:
        found, expected = parse_count(stdout, r"^  live\s+([\d,]+)$"), plan.live
        tombstones = parse_count(stdout, r"^  tombstones\s+([\d,]+)$")
        if tombstones != plan.tombstones:
            raise SystemExit(f"{step} found {tombstones:,} tombstones, not {plan.tombstones:,}.")
    else:
        return
    if found != expected:
        raise SystemExit(f"{step} found {found:,}, not {expected:,}.")


if __name__ == "__main__":
    main()
