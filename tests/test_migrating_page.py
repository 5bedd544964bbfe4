"""docs/migrating.rst, followed to the letter for each source.

The settings blocks of the page are run as they are written (with the test's
servers in ``REDIS_URL`` and ``OLD_REDIS_URL``), and its ``manage.py``
commands are run as they are written. Two users log in with the old engine
before the switch: one comes back while sessions migrate, the other's session
is moved by the page's bulk step (when it has one). Both are logged in after
the last step, with their data.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import caches
from django.core.management import call_command
from django.test import Client, override_settings

from tests.support.legacy_writers import write_sessions
from tests.test_migration import client_with, login_of

pytestmark = pytest.mark.django_db

PAGE = Path(__file__).resolve().parents[1] / "docs" / "migrating.rst"
WHILE = "# settings.py, while sessions migrate"
ONCE = "# settings.py, once they have moved"


def sections() -> dict[str, str]:
    """The page's sections by title."""
    parts = re.split(r"^(.+)\n=+\n", PAGE.read_text(), flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def settings_block(section: str, first_line: str) -> dict[str, Any]:
    """The settings a python block of the section makes, run as written."""
    match = re.search(
        rf"\.\. code-block:: python\n\n((?:       .*\n|\n)*?       {re.escape(first_line)}\n"
        r"(?:       .*\n|\n)*)",
        section,
    )
    assert match is not None, f"no block starting with {first_line!r}"
    code = "\n".join(line[7:] for line in match.group(1).splitlines())
    namespace: dict[str, Any] = {"os": os}
    exec(code, namespace)
    return {name: value for name, value in namespace.items() if name.isupper()}


def commands(section: str) -> list[list[str]]:
    """The manage.py commands of the section, as argument lists."""
    found = re.findall(r"^\s+\$ python manage\.py (.+)$", section, re.M)
    return [shlex.split(line) for line in found]


@pytest.fixture
def users() -> tuple[User, User]:
    return (
        User.objects.create_user("ada", password="pw"),
        User.objects.create_user("bob", password="pw"),
    )


@pytest.fixture
def environment(redis_url: str) -> Iterator[str]:
    """REDIS_URL and OLD_REDIS_URL, as the page's settings read them; the old one emptied."""
    old = redis_url.rsplit("/", 1)[0] + "/5"
    client = redis.Redis.from_url(old)
    client.flushdb()
    client.close()
    saved = {name: os.environ.get(name) for name in ("REDIS_URL", "OLD_REDIS_URL")}
    os.environ.update(REDIS_URL=redis_url, OLD_REDIS_URL=old)
    yield old
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def logged_in_with_django(engine: str) -> Callable[[User], str]:
    def log_in(user: User) -> str:
        with override_settings(SESSION_ENGINE=f"django.contrib.sessions.backends.{engine}"):
            client = Client()
            client.post("/login/", {"username": user.username, "password": "pw"})
            client.get(f"/set/owner/{user.username}/")
            return client.cookies[settings.SESSION_COOKIE_NAME].value

    return log_in


def follow(title: str, log_in: Callable[[User], str], users: tuple[User, User]) -> None:
    section = sections()[title]
    keys = [log_in(user) for user in users]
    with override_settings(**settings_block(section, WHILE)):
        # The first user comes back while sessions migrate.
        assert client_with(keys[0]).get("/whoami/").json() == {"user": users[0].username}
        for command in commands(section):
            call_command(*command, stdout=StringIO(), stderr=StringIO())
    with override_settings(**settings_block(section, ONCE)):
        # The second user's session moved only if the page has a bulk step.
        came_back = [True, bool(commands(section))]
        for user, key, moved in zip(users, keys, came_back, strict=True):
            expected = user.username if moved else None
            assert client_with(key).get("/whoami/").json() == {"user": expected}
            if expected is not None:
                data = client_with(key).get("/set/seen/yes/").json()
                assert data["owner"] == user.username


@pytest.mark.usefixtures("environment")
@pytest.mark.parametrize("engine", ["db", "cached_db"])
def test_from_the_db_and_cached_db_engines(users: tuple[User, User], engine: str) -> None:
    follow("From the db and cached_db engines", logged_in_with_django(engine), users)


def test_from_django_redis_sessions(environment: str, users: tuple[User, User]) -> None:
    def log_in(user: User) -> str:
        data = {**login_of(user), "owner": user.username}
        session_redis = {"url": environment, "prefix": "session"}
        (key,) = write_sessions(session_redis, [(data, 600)], settings.SECRET_KEY)
        return key

    follow("From django-redis-sessions", log_in, users)


def test_from_djangos_cache_engine(environment: str, users: tuple[User, User]) -> None:
    cache_settings = {
        "default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": environment}
    }
    with override_settings(CACHES=cache_settings):
        caches["default"].clear()
        # The page has no bulk step here: the second user, who does not come
        # back before the source is taken out, logs in again.
        follow("From Django's cache engine", logged_in_with_django("cache"), users)
