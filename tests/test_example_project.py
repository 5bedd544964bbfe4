"""The example project under ``example_project/`` and its ``run_demo.py`` work.

Each test runs the project in a subprocess: its settings module would clash with
the suite's ``tests.settings`` in this process.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import redis

from benchmarks.servers import free_port

REPOSITORY = Path(__file__).resolve().parent.parent
PROJECT = REPOSITORY / "example_project"
MANAGE = PROJECT / "manage.py"

# Run by ``manage.py shell`` in the project: the pages a visitor would go through,
# with Django's test client. Every line it prints is compared by the test.
WALK = """
from django.core.management import call_command
from django.test import Client
from django.test.utils import setup_test_environment

from redis_sessions.store.keys import abbreviated
from redis_sessions.store import get_store

setup_test_environment()
call_command("migrate", verbosity=0)
call_command("demo_user", verbosity=0)
store = get_store()
client = Client()


def hash_fields(session_key):
    return sorted(name.decode() for name in store.client.hgetall(store.redis_key(session_key)))


def shown_fields(response):
    return [field.name for field in response.context["fields"]]


for _ in range(2):
    response = client.get("/")
    print("home", response.status_code, "visits", response.context["visits"])
anonymous_key = client.cookies["sessionid"].value
print("anonymous page", shown_fields(response))

response = client.post("/login/", {"username": "demo", "password": "demo"})
print("login", response.status_code, response["Location"])
session_key = client.cookies["sessionid"].value
print("new key on login", session_key != anonymous_key)
print("anonymous hash after login", hash_fields(anonymous_key))

response = client.post("/set/", {"key": "colour", "value": "green"})
print("set", response.status_code, response["Location"])
response = client.post("/set/", {"key": "_auth_user_id", "value": "2"})
print("set _auth_user_id", response.status_code, response["Location"])

response = client.get("/")
html = response.content.decode()
print("home", response.status_code, "visits", response.context["visits"])
print("user", response.context["user"].get_username())
print("messages", [str(message) for message in response.context["messages"]])
print("key abbreviated", abbreviated(session_key) in html, session_key in html)
print("page", shown_fields(response))
print("hash", hash_fields(session_key))
print("colour", store.client.hget(store.redis_key(session_key), "colour").decode())

response = client.post("/logout/")
print("logout", response.status_code, response["Location"])
print("cookie cleared", client.cookies["sessionid"].value == "")
print("hash after logout", hash_fields(session_key))
print(store.redis_key(session_key))
"""

LOGGED_IN_FIELDS = ["#b", "#c", "#h", "#m", "#u", "colour", "visits"]

WALK_OUTPUT = [
    "home 200 visits 1",
    "home 200 visits 2",
    "anonymous page ['#c', '#m', 'visits']",
    "login 302 /",
    "new key on login True",
    "anonymous hash after login ['#x']",
    "set 302 /",
    "set _auth_user_id 302 /",
    "home 200 visits 3",
    "user demo",
    "messages [\"Stored 'colour' in the session.\", \"Keys starting with '_' belong to Django.\"]",
    "key abbreviated True False",
    f"page {LOGGED_IN_FIELDS}",
    f"hash {LOGGED_IN_FIELDS}",
    "colour green",
    "logout 302 /",
    "cookie cleared True",
    "hash after logout ['#x']",
]


def project_env(redis_url: str, database: str) -> dict[str, str]:
    env = dict(os.environ)
    # pytest-django exported the suite's settings; the project has its own.
    env["DJANGO_SETTINGS_MODULE"] = "demo.settings"
    env["REDIS_URL"] = redis_url
    env["DEMO_DATABASE"] = database
    env["PYTHONWARNINGS"] = "error"
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(MANAGE), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_passes(redis_url: str, tmp_path: Path) -> None:
    result = manage("check", env=project_env(redis_url, str(tmp_path / "db.sqlite3")))

    assert result.returncode == 0, result.stderr
    assert result.stdout == "System check identified no issues (0 silenced).\n"
    assert result.stderr == ""


def test_walk_through_the_pages(redis_url: str, redis_client: redis.Redis) -> None:
    result = manage("shell", "--no-imports", "-c", WALK, env=project_env(redis_url, ":memory:"))

    assert result.returncode == 0, result.stderr
    *lines, logged_out_key = result.stdout.splitlines()
    assert lines == WALK_OUTPUT
    assert result.stderr == ""
    # Seen from outside the project too: only the tombstone is left, and it expires.
    assert list(redis_client.hgetall(logged_out_key)) == [b"#x"]
    assert 0 < redis_client.ttl(logged_out_key) <= 300


def wait_for_page(url: str, process: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read().decode()  # type: ignore[no-any-return]
        except (urllib.error.URLError, ConnectionError):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"The demo did not serve {url}:\n{log.read_text()}")
            time.sleep(0.1)


def is_listening(port: int) -> bool:
    # A bare socket: a Redis client would retry a refused connection, with backoff.
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_run_demo_serves_and_stops_redis_on_interrupt(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "demo.log"
    env = dict(
        os.environ,
        DEMO_PORT=str(port),
        DEMO_DATABASE=str(tmp_path / "db.sqlite3"),
        PYTHONWARNINGS="error",
    )
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, str(PROJECT / "run_demo.py")],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=REPOSITORY,
        )
    try:
        page = wait_for_page(f"http://127.0.0.1:{port}/", process, log)
        found = re.search(r"^  Redis +redis://127\.0\.0\.1:(\d+)/0 ", log.read_text(), re.M)
        assert found is not None, log.read_text()
        redis_port = int(found[1])
        assert is_listening(redis_port)
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=30)

    assert code == 0, log.read_text()
    assert "<strong>1</strong> time in this session." in page
    text = log.read_text()
    assert f"  Open      http://127.0.0.1:{port}/\n" in text
    assert "  Log in    demo / demo\n" in text
    assert not is_listening(redis_port)
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
