"""Flame graphs of the benchmark site's server while it serves one flow, by py-spy.

Run from the repository root (py-spy comes with the ``bench`` extra)::

    python -m benchmarks.profile_http [--server gunicorn] [--config engine] [--flow a]
        [--seconds 10] [--connections 4]

It starts what :mod:`benchmarks.bench_http` starts for one configuration (a
throwaway ``redis-server``, the SQLite file, one gunicorn or uvicorn), runs
the flow with the load generator, and meanwhile samples the server's
processes (every gunicorn worker) with ``py-spy record``, CPU time only (a
process waiting on a socket is not sampled). The graph goes to
``docs/charts/flame-<server>-<config>-<flow>.svg``: each box is a function, its
width the share of the samples in which it was running or below.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import sysconfig
import threading
from collections.abc import Sequence
from pathlib import Path

from benchmarks.bench_http import (
    REPO_ROOT,
    SERVERS,
    Cell,
    Generator,
    HttpServer,
    job_for,
    prepare,
    site_directory,
    site_env,
)
from benchmarks.http_load import FLOWS
from benchmarks.http_site.engines import CONFIGS
from benchmarks.processes import cpu_plan
from benchmarks.report import CHARTS_DIR, progress
from benchmarks.servers import RedisServer

#: Samples per second: enough for a request of a millisecond to show its parts.
RATE = 500


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("py-spy is not installed: pip install -e '.[bench]'")
    return found


def strip_paths(svg: Path) -> None:
    """Name files in the graph from where Python finds them, not by where they lie here."""
    text = svg.read_text()
    prefixes = {
        sysconfig.get_paths()[name] for name in ("purelib", "platlib", "stdlib", "platstdlib")
    }
    for prefix in sorted(prefixes | {str(REPO_ROOT)}, key=len, reverse=True):
        text = text.replace(prefix + "/", "")
    svg.write_text(text)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", choices=SERVERS, default=SERVERS[0])
    parser.add_argument("--config", choices=list(CONFIGS), default="engine")
    parser.add_argument("--flow", choices=FLOWS, default="a")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args(argv)
    config = CONFIGS[args.config]
    if args.server not in config.servers:
        parser.error(f"{args.config} does not run under {args.server}")
    if config.legacy or config.store == "postgres":
        parser.error(f"{args.config} needs what bench_http sets up; profile it from there")
    plan = cpu_plan(True)
    output = CHARTS_DIR / f"flame-{args.server}-{args.config}-{args.flow}.svg"
    with contextlib.ExitStack() as stack:
        site = stack.enter_context(site_directory())
        redis_server = stack.enter_context(RedisServer())
        env = site_env(f"redis://127.0.0.1:{redis_server.port}", site / "site.sqlite3", None)
        prepare(site, env, "db")
        server = HttpServer(args.server, config, Path(sys.executable), env, site / "logs")
        stack.callback(server.stop)
        server.start(site, plan.server)
        server.wait_ready()
        generator = Generator(plan.others)
        stack.callback(generator.stop)
        # Warm up, then load the server for longer than py-spy samples it.
        generator.run(job_for(server, Cell(args.server, args.flow, args.connections), 0, 1, "w"))
        job = job_for(
            server, Cell(args.server, args.flow, args.connections), 0, args.seconds + 2, "p"
        )
        load = threading.Thread(target=generator.run, args=(job,))
        load.start()
        CHARTS_DIR.mkdir(parents=True, exist_ok=True)
        progress(f"Sampling {server.label}, flow {args.flow}, for {args.seconds:g} s...")
        command = [
            py_spy(), "record",
            "--pid", str(server.pid),
            "--subprocesses",
            "--duration", str(int(args.seconds)),
            "--rate", str(RATE),
            "--format", "flamegraph",
            "--output", str(output),
            "--nonblocking",
            # Only samples that hold the GIL: waits on a socket release it.
            "--gil",
        ]  # fmt: skip
        subprocess.run(command, check=True)
        load.join()
    strip_paths(output)
    print(f"Drawn {output.relative_to(CHARTS_DIR.parent.parent)}")


if __name__ == "__main__":
    main()
