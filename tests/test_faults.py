"""Faults injected into a real Redis while request cycles run: what each request gets.

For each fault of :data:`benchmarks.faults.FAULTS`, four request loops run
(load a session, check its counter, add one, save) in threads and then in
asyncio tasks; the fault lasts a second and then ends (see
:mod:`benchmarks.faults`). Whatever the fault: no counter is read wrong or
lost, every failed request gets ``StoreUnavailable`` (or its ``CircuitOpen``),
and requests succeed again within a second of the fault's end. Where Redis
stops answering, the breaker makes the failures fast. The table of
docs/failures.rst comes from the same runs, by ``benchmarks/bench_faults.py``.
"""

from __future__ import annotations

import pytest

from benchmarks.faults import FAULTS, Fault, Outcome, run

#: Faults where the server or the network stops answering: once the breaker is
#: open, requests fail at once.
SILENT = {"hang", "blackhole", "pause", "kill", "cut"}

#: Faults the engine rides through without a failed request.
HARMLESS = {"slow", "flush"}


def describe(fault: Fault, mode: str, outcome: Outcome) -> str:
    return (
        f"\n{fault.name} ({mode}): {len(outcome.failed())} failed, errors {outcome.errors()}, "
        f"median {outcome.median_failed_ms():.2f} ms, worst {outcome.worst_failed_ms():.0f} ms, "
        f"first success {outcome.recovery() * 1000:.0f} ms after the end"
    )


@pytest.mark.parametrize("mode", ["threads", "tasks"])
@pytest.mark.parametrize("fault", FAULTS, ids=[fault.name for fault in FAULTS])
def test_a_fault_loses_nothing_and_requests_succeed_again(fault: Fault, mode: str) -> None:
    outcome = run(fault, mode, duration=1.0)
    print(describe(fault, mode, outcome))

    assert outcome.wrong == 0
    assert outcome.lost == 0
    assert set(outcome.errors()) <= {"StoreUnavailable", "CircuitOpen"}
    assert outcome.recovery() < 1.0
    if fault.name in HARMLESS:
        assert outcome.failed() == []
    if fault.name in SILENT:
        assert outcome.median_failed_ms() < 10
    if fault.name == "oom":
        # The server answers (it refuses writes): the breaker stays closed.
        assert outcome.errors() == ["StoreUnavailable"]
