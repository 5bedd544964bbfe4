"""The HTTP benchmark's site, servers and load generator, in a short run.

``benchmarks/bench_http.py`` gives figures only if every answer it counted was
right: these tests run it for a moment under real gunicorn and uvicorn
processes and say that this engine passes every check of every flow and loses
no change, and that the checks do catch a server that answers wrong.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks import bench_http
from benchmarks.http_site.engines import ASGI, CONFIGS, WSGI
from benchmarks.servers import RedisServer


def test_this_engine_passes_every_check_of_every_flow_and_loses_no_change() -> None:
    args = bench_http.parse_args(
        ["--quick", "--no-report", "--connections", "4", "--configs", "engine,engine-async"]
    )

    measured = bench_http.run(args)

    assert measured.served == [
        (WSGI, "none"),
        (WSGI, "engine"),
        (ASGI, "none"),
        (ASGI, "none-async"),
        (ASGI, "engine"),
        (ASGI, "engine-async"),
    ]
    assert len(measured.results) == len(measured.served) * 4
    for (cell, name), runs in measured.results.items():
        (result,) = runs
        assert result["errors"] == 0, (cell, name, result["error_samples"])
        assert result["completed"] > 0, (cell, name)
        assert result["server_cpu"] > 0, (cell, name)
        if cell.flow == "d" and not CONFIGS[name].is_floor:
            assert result["changes"] > 0
            assert result["lost"] == 0, (cell, name)


@pytest.fixture
def floor_server() -> Iterator[bench_http.HttpServer]:
    """gunicorn serving the site without sessions, whose pages answer ``-``."""
    with bench_http.site_directory() as site, RedisServer() as redis_server:
        env = bench_http.site_env(f"redis://127.0.0.1:{redis_server.port}", site / "db", None)
        bench_http.prepare(site, env, "db")
        server = bench_http.HttpServer(WSGI, CONFIGS["none"], Path(sys.executable), env, site)
        server.start(site, None)
        try:
            server.wait_ready()
            yield server
        finally:
            server.stop()


@pytest.mark.parametrize(
    ("flow", "category"), [("a", "read"), ("b", "write"), ("c", "login"), ("d", "lost")]
)
def test_the_checks_catch_a_server_whose_sessions_keep_nothing(
    floor_server: bench_http.HttpServer, flow: str, category: str
) -> None:
    generator = bench_http.Generator(None)
    try:
        job = bench_http.job_for(floor_server, bench_http.Cell(WSGI, flow, 2), 0.0, 0.3, "t")
        job["check"] = True

        result = generator.run(job)
    finally:
        generator.stop()

    if category == "lost":
        # Every change was acknowledged and none was kept.
        assert result["lost"] == result["changes"] > 0
    else:
        assert result["error_kinds"].get(category, 0) > 0, result["error_kinds"]
