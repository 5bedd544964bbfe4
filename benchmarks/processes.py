"""Child processes of the benchmarks: their CPUs, their CPU time, their end."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

#: Linux prctl option: a signal for the child when its parent dies.
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class CpuPlan:
    """Which CPUs the server under test gets, and which everything else gets (None: no pinning)."""

    server: set[int] | None
    others: set[int] | None

    def describe(self, server: str = "the HTTP server") -> str:
        if self.server is None or self.others is None:
            return f"none ({server}, the load generator and the stores share all CPUs)"
        return (
            f"{server} on CPU {format_cpus(self.server)}; the load generator, the stores "
            f"and the benchmark script on CPU {format_cpus(self.others)}"
        )


def format_cpus(cpus: set[int]) -> str:
    return ",".join(str(cpu) for cpu in sorted(cpus))


def cpu_plan(pin: bool) -> CpuPlan:
    """Give the last CPU to the server under test and the others to the rest, with two or more."""
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
            # If the benchmark is killed outright (SIGKILL), no cleanup of its
            # own runs; the kernel then stops the child.
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


def children_of(pid: int) -> list[int]:
    """The process ids of the children of ``pid`` (Linux: /proc/PID/task/*/children)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return sorted(found)


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
