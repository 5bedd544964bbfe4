"""The "Failure behaviour" table: what requests get while Redis fails, and after.

Run from the repository root::

    python -m benchmarks.bench_faults [--duration SECONDS] [--rounds R]

Each fault of :data:`benchmarks.faults.FAULTS` is injected into a throwaway
``redis-server`` (through a loopback proxy for the faults of the network)
while four request loops run, in threads and then in asyncio tasks, with the
default circuit breaker and ``SOCKET_TIMEOUT`` 0.5 s. For each: what a failed
request raised, the median and worst time a failed request took (from the
fault's start), the time from the fault's end to the first success, and the
counters read wrong or lost. Medians over R rounds (default 3); failed
requests, wrong and lost are summed. Written to ``benchmarks/results/faults.rst``.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence

from benchmarks.bench_operations import configure_django
from benchmarks.faults import FAULTS, TIMEOUT, WORKERS, Outcome, run
from benchmarks.report import (
    heading,
    machine,
    plain_report,
    progress,
    publish,
    rst_report,
    run_facts,
    table,
)

MODES = {"threads": "threads", "tasks": "asyncio"}


def row(what: str, mode: str, outcomes: list[Outcome]) -> list[str]:
    errors = sorted({error for outcome in outcomes for error in outcome.errors()})
    failed = sum(len(outcome.failed()) for outcome in outcomes)
    return [
        what,
        MODES[mode],
        f"{failed:,}",
        ", ".join(errors) or "none",
        f"{statistics.median(o.median_failed_ms() for o in outcomes):.2f}" if failed else "-",
        f"{max(o.worst_failed_ms() for o in outcomes):.0f}" if failed else "-",
        f"{statistics.median(o.recovery() for o in outcomes) * 1000:.0f}",
        str(sum(o.wrong for o in outcomes)),
        str(sum(o.lost for o in outcomes)),
    ]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=1.5)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args(argv)
    configure_django("redis://127.0.0.1:6379/0")  # each run names its own server
    rows = []
    for fault in FAULTS:
        for mode in MODES:
            outcomes = []
            for number in range(options.rounds):
                progress(f"{fault.name}, {mode}, round {number + 1} of {options.rounds}...")
                outcomes.append(run(fault, mode, options.duration))
            rows.append(row(fault.what, mode, outcomes))
    header = [
        "Fault",
        "Run in",
        "Failed requests",
        "Errors",
        "Median failed (ms)",
        "Worst failed (ms)",
        "First success after the end (ms)",
        "Wrong",
        "Lost",
    ]
    facts = [
        *run_facts(),
        ("Machine", machine()),
        ("Load", f"{WORKERS} request loops; SOCKET_TIMEOUT {TIMEOUT} s; default breaker"),
        ("Rounds", f"{options.rounds} of {options.duration} s faults (medians; counts summed)"),
    ]
    parts = table(header, rows)
    publish(
        "faults.rst",
        plain_report(facts, parts),
        rst_report(heading("Failure behaviour"), "benchmarks.bench_faults", facts, parts),
    )


if __name__ == "__main__":
    main()
