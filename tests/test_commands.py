"""The management commands: clearsessions, session_stats and sessions.

Most tests call the command in this process with ``call_command`` and compare
its stdout and stderr with the exact text. The tests at the end of each part
run it as ``python -m django ... --settings=tests.settings`` in a subprocess,
for what only a real command line shows: exit codes and what lands on stderr.
"""

from __future__ import annotations

import datetime
import json
import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO
from pathlib import Path
from typing import Any, TextIO

import pytest
import redis
from django.contrib.auth.models import User
from django.core.management import call_command, get_commands
from django.core.management.base import CommandError
from django.test import override_settings

from benchmarks.servers import free_port
from redis_sessions.management.base import duration, size
from redis_sessions.store import Store, get_store
from redis_sessions.store.clients import describe
from redis_sessions.store.keys import abbreviated, new_session_key, stored_id
from tests.support.keys import redis_key

REPOSITORY = Path(__file__).resolve().parent.parent

HOUR = 3600
DAY = 24 * HOUR

#: Times written into the sessions' metadata, so that the output is known.
CREATED = 1_795_000_000  # 2026-11-18 11:06:40 UTC
SAVED = CREATED + HOUR + 125  # 2026-11-18 12:08:45 UTC
#: A TTL shown as "2d 5h" for the half hour after it is set.
TTL = 2 * DAY + 5 * HOUR + 1800


def sid(session_key: str) -> str:
    """The stored id a session key's session is listed by."""
    return stored_id(session_key)


#: The header of the stored ids' column, as wide as a stored id.
ID = "STORED ID".ljust(32)


@pytest.fixture
def store() -> Store:
    return get_store()


@pytest.fixture
def where(store: Store) -> str:
    """What the commands say they work on: the prefix and the test server."""
    return f"'sessions:' on {describe(store.client)}"


def make(
    store: Store,
    redis_client: redis.Redis,
    key: str,
    *,
    ttl: int = TTL,
    created: int = CREATED,
    saved: int = SAVED,
    **data: Any,
) -> str:
    store.create(key, data, ttl)
    redis_client.hset(store.redis_key(key), mapping={"#c": created, "#m": saved})
    return key


def run(*args: str, stdin: TextIO | None = None, **options: Any) -> tuple[str, str]:
    """Run a command in this process; return its stdout and stderr."""
    stdout, stderr = StringIO(), StringIO()
    if stdin is not None:
        options["stdin"] = stdin
    call_command(*args, stdout=stdout, stderr=stderr, **options)
    return stdout.getvalue(), stderr.getvalue()


@contextmanager
def terminal(answer: str) -> Iterator[TextIO]:
    """A real terminal (a pseudo-terminal) on which ``answer`` has been typed."""
    controller, device = pty.openpty()
    os.write(controller, answer.encode())
    try:
        with open(device, encoding="utf-8") as stdin:
            yield stdin
    finally:
        os.close(controller)


def django(
    *args: str, url: str, settings: str = "tests.settings"
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m django ARGS --settings=SETTINGS`` on the server at ``url``.

    Its database is an empty one in memory, without tables.
    """
    env = dict(os.environ, REDIS_SESSIONS_TEST_URL=url, PYTHONWARNINGS="error")
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, "-m", "django", *args, f"--settings={settings}"],
        env=env,
        cwd=REPOSITORY,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def nowhere() -> str:
    """The URL of a port where no server listens."""
    return f"redis://127.0.0.1:{free_port()}/0"


def assert_unreachable(result: subprocess.CompletedProcess[str], url: str, action: str) -> None:
    """Exit status 1 and one line on stderr that names the server and the remedy."""
    server = url.removeprefix("redis://")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"CommandError: Redis at {server} could not {action} (")
    assert result.stderr.endswith(". Check that the server is up and reachable.\n")
    assert result.stderr.count("\n") == 1


# the helpers' formats


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, "never"),
        (0, "0s"),
        (59, "59s"),
        (61, "1m 1s"),
        (HOUR + 61, "1h 1m"),
        (TTL, "2d 5h"),
        (14 * DAY, "14d 0h"),
    ],
)
def test_times_to_live_are_shown_in_their_two_largest_units(
    seconds: int | None, shown: str
) -> None:
    assert duration(seconds) == shown


@pytest.mark.parametrize(
    ("count", "shown"),
    [(0, "0 B"), (406, "406 B"), (1023, "1,023 B"), (1536, "1.5 KiB"), (3 * 2**30, "3.0 GiB")],
)
def test_sizes_are_shown_in_binary_units(count: int, shown: str) -> None:
    assert size(count) == shown


# clearsessions


def test_clearsessions_is_this_apps_when_it_is_listed_before_contrib_sessions() -> None:
    assert get_commands()["clearsessions"] == "redis_sessions"


def test_clearsessions_reports_the_index_entries_it_pruned(redis_client: redis.Redis) -> None:
    redis_client.zadd("sessions:user:{7}", {"gone000001": 1, "gone000002": 2})

    assert run("clearsessions") == ("Pruned 2 index entries of expired sessions.\n", "")
    assert redis_client.exists("sessions:user:{7}") == 0


def test_clearsessions_says_entry_for_one(redis_client: redis.Redis) -> None:
    redis_client.zadd("sessions:user:{7}", {"gone000001": 1})

    assert run("clearsessions") == ("Pruned 1 index entry of expired sessions.\n", "")


def test_clearsessions_is_quiet_at_verbosity_zero(redis_client: redis.Redis) -> None:
    redis_client.zadd("sessions:user:{7}", {"gone000001": 1})

    assert run("clearsessions", verbosity=0) == ("", "")
    assert redis_client.exists("sessions:user:{7}") == 0


def test_clearsessions_with_another_engine_is_djangos(redis_client: redis.Redis) -> None:
    redis_client.zadd("sessions:user:{7}", {"gone000001": 1})

    with override_settings(SESSION_ENGINE="django.contrib.sessions.backends.cache"):
        assert run("clearsessions") == ("", "")

    assert redis_client.exists("sessions:user:{7}") == 1


def test_clearsessions_with_an_engine_that_cannot_clear_fails_as_djangos_does() -> None:
    engine = "tests.testapp.engine_without_clear"

    with (
        override_settings(SESSION_ENGINE=engine),
        pytest.raises(CommandError) as raised,
    ):
        run("clearsessions")

    assert (
        str(raised.value) == f"Session engine '{engine}' doesn't support clearing expired sessions."
    )


def test_clearsessions_turns_an_unreachable_redis_into_a_command_error(nowhere: str) -> None:
    with (
        override_settings(REDIS_SESSIONS={"URL": nowhere}),
        pytest.raises(CommandError, match=r"^Redis at .* could not scan the sessions"),
    ):
        run("clearsessions")


def test_clearsessions_from_the_command_line(redis_url: str, redis_client: redis.Redis) -> None:
    redis_client.zadd("sessions:user:{7}", {"gone000001": 1})

    result = django("clearsessions", url=redis_url)

    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "Pruned 1 index entry of expired sessions.\n"


def test_clearsessions_exits_1_with_one_line_when_redis_is_unreachable(nowhere: str) -> None:
    assert_unreachable(django("clearsessions", url=nowhere), nowhere, "scan the sessions")


# session_stats


@pytest.fixture
def stocked(indexed: None, store: Store, redis_client: redis.Redis) -> None:
    """Five sessions: three of user 7, one of user 8, one anonymous; a tombstone.

    Sessions are indexed by user, so that the statistics count users.
    """
    for number in range(3):
        make(store, redis_client, f"seven{number:05d}", _auth_user_id="7")
    make(store, redis_client, "eight00000", ttl=HOUR, _auth_user_id="8")
    make(store, redis_client, "anonymous0", ttl=30 * DAY, theme="dark")
    make(store, redis_client, "doomed0000")
    store.destroy("doomed0000")


def test_session_stats_shows_counts_users_and_times_to_live(stocked: None, where: str) -> None:
    stdout, stderr = run("session_stats", "--sample", "0")

    assert stdout == (
        f"Sessions under {where}\n"
        "  live                             5\n"
        "    authenticated                  4  80.0%\n"
        "    anonymous                      1  20.0%\n"
        "  tombstones                       1\n"
        "  users with sessions              2\n"
        "\n"
        "Users with the most sessions (top 10)\n"
        "  7                                3\n"
        "  8                                1\n"
        "\n"
        "Time to live of live sessions\n"
        "  up to 1h                         1\n"
        "  1h to 1d                         0\n"
        "  1d to 1w                         3\n"
        "  1w to 2w                         0\n"
        "  over 2w                          1\n"
        "  no expiry                        0\n"
    )
    assert stderr == ""


def test_session_stats_lists_only_the_top_users_asked_for(stocked: None) -> None:
    stdout, _ = run("session_stats", "--top", "1", "--sample", "0")

    assert (
        "Users with the most sessions (top 1)\n  7                                3\n\n" in stdout
    )


def test_session_stats_with_top_zero_lists_no_user(stocked: None) -> None:
    stdout, _ = run("session_stats", "--top", "0", "--sample", "0")

    assert "most sessions" not in stdout
    assert "  users with sessions              2\n\nTime to live" in stdout


def test_session_stats_mentions_keys_it_did_not_write(
    stocked: None, redis_client: redis.Redis
) -> None:
    redis_client.set(redis_key("foreign000"), "not a session")

    stdout, _ = run("session_stats", "--sample", "0")

    assert "  other keys                       1  not written by this engine\n" in stdout


def test_session_stats_estimates_memory_from_the_sample(
    store: Store, redis_client: redis.Redis
) -> None:
    keys = [make(store, redis_client, f"alike{number:05d}", theme="dark") for number in range(4)]
    # Sizes depend on the server's allocator, and with some allocators on each
    # key's history too: the expected mean is read off the server.
    usages = [redis_client.memory_usage(store.redis_key(key), samples=0) for key in keys]
    mean = sum(usage or 0 for usage in usages) / len(usages)

    stdout, _ = run("session_stats", "--sample", "4")

    assert stdout.endswith(
        "\n"
        "Memory (MEMORY USAGE of 4 live sessions)\n"
        f"  mean                  {size(mean):>12}  per session\n"
        f"  estimated total       {size(4 * mean):>12}  for 4 live sessions\n"
    )


def test_session_stats_of_an_empty_store(where: str) -> None:
    stdout, _ = run("session_stats", "--top", "3")

    assert stdout == (
        f"Sessions under {where}\n"
        "  live                             0\n"
        "    authenticated                  0\n"
        "    anonymous                      0\n"
        "  tombstones                       0\n"
        "  users with sessions    not counted  USER_INDEX is off\n"
        "\n"
        "Time to live of live sessions\n"
        "  up to 1h                         0\n"
        "  1h to 1d                         0\n"
        "  1d to 1w                         0\n"
        "  1w to 2w                         0\n"
        "  over 2w                          0\n"
        "  no expiry                        0\n"
        "\n"
        "Memory: no live session to measure\n"
    )


def test_session_stats_json_has_stable_keys(
    stocked: None, redis_client: redis.Redis, store: Store
) -> None:
    sampled = sum(
        redis_client.memory_usage(store.redis_key(key)) or 0
        for key in ["seven00000", "seven00001", "seven00002", "eight00000", "anonymous0"]
    )

    stdout, _ = run("session_stats", "--json", "--top", "1")

    assert json.loads(stdout) == {
        "prefix": "sessions:",
        "live": 5,
        "authenticated": 4,
        "anonymous": 1,
        "tombstones": 1,
        "other": 0,
        "users": 2,
        "top_users": [{"user_id": "7", "sessions": 3}],
        "ttl": {
            "up_to_1h": 1,
            "1h_to_1d": 0,
            "1d_to_1w": 3,
            "1w_to_2w": 0,
            "over_2w": 1,
            "no_expiry": 0,
        },
        "memory": {
            "sampled": 5,
            "sampled_bytes": sampled,
            "mean_bytes": sampled / 5,
            "estimated_bytes": sampled,
        },
    }


@pytest.fixture
def many(store: Store, redis_url: str) -> Iterator[None]:
    """250 anonymous sessions, scanned one key a batch: 250 batches."""
    for number in range(250):
        store.create(f"many{number:06d}", {"n": number}, 600)
    with override_settings(REDIS_SESSIONS={"URL": redis_url, "SCAN_COUNT": 1}):
        yield


def test_session_stats_reports_progress_every_100_batches_at_verbosity_2(many: None) -> None:
    _, stderr = run("session_stats", verbosity=2)

    assert stderr == ("Surveying: 100 keys scanned so far.\nSurveying: 200 keys scanned so far.\n")


def test_session_stats_keeps_stderr_quiet_when_it_is_no_terminal(many: None) -> None:
    assert run("session_stats")[1] == ""


def test_session_stats_refuses_a_negative_top() -> None:
    with pytest.raises(CommandError) as raised:
        run("session_stats", "--top", "-1")

    assert str(raised.value) == "Error: argument --top: '-1' is not a whole number, zero or more"


def test_session_stats_from_the_command_line(redis_url: str, store: Store) -> None:
    store.create("counted000", {"a": 1}, 600)

    result = django("session_stats", "--json", url=redis_url)

    assert (result.returncode, result.stderr) == (0, "")
    assert '  "live": 1,\n' in result.stdout


def test_session_stats_exits_1_with_one_line_when_redis_is_unreachable(nowhere: str) -> None:
    assert_unreachable(django("session_stats", url=nowhere), nowhere, "scan the sessions")


# sessions list


@pytest.fixture
def sevens(indexed: None, store: Store, redis_client: redis.Redis) -> list[str]:
    """Three sessions of user 7, oldest first, and one of user 8, indexed by user."""
    keys = [
        make(store, redis_client, f"seven{number:05d}", created=CREATED + number, _auth_user_id="7")
        for number in (2, 0, 1)
    ]
    make(store, redis_client, "eight00000", _auth_user_id="8")
    return sorted(keys)


def test_sessions_list_of_a_user_shows_their_sessions_oldest_first(sevens: list[str]) -> None:
    stdout, stderr = run("sessions", "list", "--user-id", "7")

    assert stdout == (
        f"{ID}  USER  CREATED (UTC)        SAVED (UTC)          EXPIRES IN\n"
        f"{sid('seven00000')}  7     2026-11-18 11:06:40  2026-11-18 12:08:45  2d 5h\n"
        f"{sid('seven00001')}  7     2026-11-18 11:06:41  2026-11-18 12:08:45  2d 5h\n"
        f"{sid('seven00002')}  7     2026-11-18 11:06:42  2026-11-18 12:08:45  2d 5h\n"
        "3 sessions.\n"
    )
    assert stderr == ""


def test_sessions_list_shows_anonymous_sessions_with_a_dash(
    store: Store, redis_client: redis.Redis
) -> None:
    make(store, redis_client, "anonymous0", theme="dark")

    assert run("sessions", "list")[0] == (
        f"{ID}  USER  CREATED (UTC)        SAVED (UTC)          EXPIRES IN\n"
        f"{sid('anonymous0')}  -     2026-11-18 11:06:40  2026-11-18 12:08:45  2d 5h\n"
        "1 session.\n"
    )


def test_sessions_list_leaves_tombstones_out(store: Store, redis_client: redis.Redis) -> None:
    make(store, redis_client, "doomed0000")
    store.destroy("doomed0000")

    assert run("sessions", "list") == ("No live sessions.\n", "")


def test_sessions_list_stops_at_the_limit_and_says_there_are_more(sevens: list[str]) -> None:
    stdout, _ = run("sessions", "list", "--user-id", "7", "--limit", "2")

    assert stdout.splitlines()[1:] == [
        f"{sid('seven00000')}  7     2026-11-18 11:06:40  2026-11-18 12:08:45  2d 5h",
        f"{sid('seven00001')}  7     2026-11-18 11:06:41  2026-11-18 12:08:45  2d 5h",
        "The first 2 sessions; there are more (--limit).",
    ]


def test_sessions_list_of_a_user_without_sessions() -> None:
    assert run("sessions", "list", "--user-id", "7") == ("User 7 has none.\n", "")


def test_sessions_list_json(sevens: list[str]) -> None:
    listed = json.loads(run("sessions", "list", "--user-id", "7", "--limit", "1", "--json")[0])

    ttl = listed["sessions"][0].pop("ttl")
    assert TTL - 60 < ttl <= TTL
    assert listed == {
        "sessions": [
            {"stored_id": sid("seven00000"), "user_id": "7", "created": CREATED, "saved": SAVED}
        ],
        "more": True,
    }


def test_sessions_list_refuses_a_limit_that_is_no_number() -> None:
    with pytest.raises(CommandError) as raised:
        run("sessions", "list", "--limit", "many")

    assert str(raised.value) == "Error: argument --limit: 'many' is not a whole number above zero"


def test_sessions_list_refuses_a_limit_of_zero() -> None:
    with pytest.raises(CommandError) as raised:
        run("sessions", "list", "--limit", "0")

    assert str(raised.value) == "Error: argument --limit: '0' is not a whole number above zero"


def test_sessions_list_from_the_command_line_with_options_after_the_action(
    redis_url: str, sevens: list[str]
) -> None:
    result = django("sessions", "list", "--user-id", "8", "--verbosity", "2", url=redis_url)

    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines()[1:] == [
        f"{sid('eight00000')}  8     2026-11-18 11:06:40  2026-11-18 12:08:45  2d 5h",
        "1 session.",
    ]


# sessions list and revoke: --user takes a user id or a username


@pytest.fixture
def admins(indexed: None, db: None, store: Store, redis_client: redis.Redis) -> list[str]:
    """The user admin (id 1) with two sessions, and the user bob (id 2) with one."""
    User.objects.create_user("admin", id=1)
    User.objects.create_user("bob", id=2)
    keys = [
        make(store, redis_client, f"admin{number:05d}", created=CREATED + number, _auth_user_id="1")
        for number in range(2)
    ]
    make(store, redis_client, "bob0000000", _auth_user_id="2")
    return keys


ADMINS_LISTED = [
    f"{ID}  USER  CREATED (UTC)        SAVED (UTC)          EXPIRES IN",
    f"{sid('admin00000')}  1     2026-11-18 11:06:40  2026-11-18 12:08:45  2d 5h",
    f"{sid('admin00001')}  1     2026-11-18 11:06:41  2026-11-18 12:08:45  2d 5h",
    "2 sessions.",
]


@pytest.mark.parametrize("user", ["admin", "ADMIN", "1"], ids=["username", "any-case", "id"])
def test_sessions_list_takes_a_username_or_a_user_id(admins: list[str], user: str) -> None:
    stdout, stderr = run("sessions", "list", "--user", user)

    assert stdout.splitlines() == ADMINS_LISTED
    assert stderr == ""


def test_sessions_list_names_the_user_it_found_when_they_have_no_session(
    admins: list[str], store: Store
) -> None:
    store.destroy_user_sessions("2")

    assert run("sessions", "list", "--user", "bob") == ("User 2 (bob) has none.\n", "")


def test_sessions_list_says_no_such_user_when_neither_id_nor_username_matches(
    admins: list[str],
) -> None:
    for user in ("carol", "3"):
        with pytest.raises(CommandError) as raised:
            run("sessions", "list", "--user", user)

        assert str(raised.value) == (
            f"No such user: {user!r} is neither the id nor the username of a user. "
            "For the sessions of a user id that has no user (a deleted user, say), "
            f"pass --user-id {user}."
        )


def test_sessions_of_a_deleted_user_are_reached_with_user_id(
    admins: list[str], store: Store, redis_client: redis.Redis
) -> None:
    make(store, redis_client, "gone000000", _auth_user_id="9")

    assert run("sessions", "list", "--user-id", "9")[0].splitlines()[1:] == [
        f"{sid('gone000000')}  9     2026-11-18 11:06:40  2026-11-18 12:08:45  2d 5h",
        "1 session.",
    ]
    assert run("sessions", "revoke", "--user-id", "9", "--no-input")[0] == (
        "Revoked 1 session of user 9.\n"
    )


def test_a_username_that_is_the_id_of_another_user_is_ambiguous(admins: list[str]) -> None:
    User.objects.create_user("1", id=3)

    with pytest.raises(CommandError) as raised:
        run("sessions", "list", "--user", "1")

    assert str(raised.value) == (
        "--user 1 is ambiguous: it is the id of user 'admin' and the username of user 3. "
        "Pass --user-id 1 for the first, or --user-id 3 for the second."
    )


def test_a_username_that_is_its_own_users_id_is_not_ambiguous(
    admins: list[str], store: Store, redis_client: redis.Redis
) -> None:
    User.objects.create_user("3", id=3)
    make(store, redis_client, "three00000", _auth_user_id="3")

    assert run("sessions", "list", "--user", "3")[0].splitlines()[-1] == "1 session."


def test_a_username_in_another_case_must_name_one_user(admins: list[str]) -> None:
    User.objects.create_user("Bob", id=3)

    assert run("sessions", "list", "--user", "Bob")[0] == "User 3 (Bob) has none.\n"
    with pytest.raises(CommandError) as raised:
        run("sessions", "list", "--user", "BOB")

    assert str(raised.value) == (
        "'BOB' is the username of several users in different cases; type it as it is stored."
    )


def test_user_and_user_id_do_not_go_together() -> None:
    with pytest.raises(CommandError) as raised:
        run("sessions", "list", "--user", "admin", "--user-id", "1")

    assert str(raised.value) == "Error: argument --user-id: not allowed with argument --user"


def test_sessions_revoke_user_takes_a_username(admins: list[str], store: Store) -> None:
    assert run("sessions", "revoke", "--user", "admin", "--dry-run") == (
        "Would revoke 2 sessions of user 1 (admin):\n"
        f"  {sid('admin00000')}\n  {sid('admin00001')}\n",
        "",
    )
    assert run("sessions", "revoke", "--user", "admin", "--no-input") == (
        "Revoked 2 sessions of user 1 (admin).\n",
        "",
    )
    assert store.user_sessions("1") == []
    assert store.exists("bob0000000")


def test_sessions_revoke_says_no_such_user_and_revokes_nothing(
    admins: list[str], store: Store
) -> None:
    with pytest.raises(CommandError) as raised:
        run("sessions", "revoke", "--user", "carol", "--no-input")

    assert str(raised.value).startswith("No such user: 'carol' is neither")
    assert store.count() == 3


def test_without_the_auth_app_user_is_taken_as_a_user_id(sevens: list[str]) -> None:
    with override_settings(INSTALLED_APPS=["redis_sessions"]):
        stdout, stderr = run("sessions", "list", "--user", "7")

    assert stdout.splitlines()[-1] == "3 sessions."
    assert stderr == ""


def test_when_the_database_cannot_be_read_user_is_taken_as_a_user_id(
    redis_url: str, sevens: list[str]
) -> None:
    # The subprocess's database has no tables.
    result = django("sessions", "list", "--user", "8", url=redis_url)

    assert result.returncode == 0
    assert result.stderr == (
        "Could not look '8' up in the database (OperationalError: no such table: auth_user); "
        "taking it as a user id.\n"
    )
    assert result.stdout.splitlines()[1:] == [
        f"{sid('eight00000')}  8     2026-11-18 11:06:40  2026-11-18 12:08:45  2d 5h",
        "1 session.",
    ]


# sessions count


def test_sessions_count_counts_live_sessions(sevens: list[str], store: Store) -> None:
    store.destroy("eight00000")

    assert run("sessions", "count") == ("3 live sessions.\n", "")


def test_sessions_count_says_session_for_one(store: Store, redis_client: redis.Redis) -> None:
    make(store, redis_client, "anonymous0")

    assert run("sessions", "count")[0] == "1 live session.\n"


def test_sessions_count_json(sevens: list[str]) -> None:
    assert run("sessions", "count", "--json") == ('{\n  "live": 4\n}\n', "")


def test_sessions_count_reports_progress_at_verbosity_2(many: None) -> None:
    assert run("sessions", "count", verbosity=2) == (
        "250 live sessions.\n",
        "Counting: 100 keys scanned so far.\nCounting: 200 keys scanned so far.\n",
    )


def test_sessions_count_reports_progress_when_stderr_is_a_terminal(many: None) -> None:
    controller, device = pty.openpty()
    try:
        with open(device, "w", encoding="utf-8") as stderr:
            call_command("sessions", "count", stdout=StringIO(), stderr=stderr)
        shown = os.read(controller, 4096).decode()
    finally:
        os.close(controller)

    # The terminal ends lines with CR LF.
    assert shown == ("Counting: 100 keys scanned so far.\r\nCounting: 200 keys scanned so far.\r\n")


def test_sessions_count_at_verbosity_0_keeps_a_terminal_quiet(many: None) -> None:
    controller, device = pty.openpty()
    try:
        with open(device, "w", encoding="utf-8") as stderr:
            call_command("sessions", "count", stdout=StringIO(), stderr=stderr, verbosity=0)
            stderr.write("end\n")
        shown = os.read(controller, 4096).decode()
    finally:
        os.close(controller)

    assert shown == "end\r\n"


def test_sessions_count_turns_an_unreachable_redis_into_a_command_error(nowhere: str) -> None:
    with (
        override_settings(REDIS_SESSIONS={"URL": nowhere}),
        pytest.raises(CommandError, match=r"^Redis at .* could not scan the sessions"),
    ):
        run("sessions", "count")


def test_sessions_count_from_the_command_line(redis_url: str, sevens: list[str]) -> None:
    result = django("sessions", "count", url=redis_url)

    assert (result.returncode, result.stdout, result.stderr) == (0, "4 live sessions.\n", "")


def test_sessions_count_exits_1_with_one_line_when_redis_is_unreachable(nowhere: str) -> None:
    assert_unreachable(django("sessions", "count", url=nowhere), nowhere, "scan the sessions")


# sessions show


def test_sessions_show_prints_metadata_and_data(store: Store, redis_client: redis.Redis) -> None:
    make(store, redis_client, "seven00000", _auth_user_id="7", cart=[3, 1], theme="dark")

    assert run("sessions", "show", "seven00000") == (
        f"Id       {sid('seven00000')}\n"
        "User     7\n"
        "Created  2026-11-18 11:06:40 UTC\n"
        "Saved    2026-11-18 12:08:45 UTC\n"
        "Expires  in 2d 5h\n"
        "Data\n"
        "{\n"
        '  "_auth_user_id": "7",\n'
        '  "cart": [\n'
        "    3,\n"
        "    1\n"
        "  ],\n"
        '  "theme": "dark"\n'
        "}\n",
        "",
    )


@override_settings(TIME_ZONE="Europe/Paris")
def test_sessions_list_and_show_print_times_in_the_sites_time_zone(
    store: Store, redis_client: redis.Redis
) -> None:
    make(store, redis_client, "seven00000", _auth_user_id="7")

    shown, _ = run("sessions", "show", "seven00000")
    listed, _ = run("sessions", "list")

    assert "Created  2026-11-18 12:06:40 Europe/Paris\n" in shown
    assert "Saved    2026-11-18 13:08:45 Europe/Paris\n" in shown
    assert listed == (
        f"{ID}  USER  CREATED (Europe/Paris)  SAVED (Europe/Paris)  EXPIRES IN\n"
        f"{sid('seven00000')}  7     2026-11-18 12:06:40     2026-11-18 13:08:45   2d 5h\n"
        "1 session.\n"
    )


def test_sessions_show_of_an_anonymous_session_without_expiry(
    store: Store, redis_client: redis.Redis
) -> None:
    make(store, redis_client, "anonymous0")
    redis_client.persist(redis_key("anonymous0"))

    lines = run("sessions", "show", "anonymous0")[0].splitlines()

    assert (lines[1], lines[4]) == ("User     anonymous", "Expires  never")


def test_sessions_show_json(store: Store, redis_client: redis.Redis) -> None:
    make(store, redis_client, "seven00000", _auth_user_id="7", cart=[3, 1])

    shown = json.loads(run("sessions", "show", "seven00000", "--json")[0])

    assert TTL - 60 < shown.pop("ttl") <= TTL
    assert shown == {
        "stored_id": sid("seven00000"),
        "user_id": "7",
        "created": CREATED,
        "saved": SAVED,
        "data": {"_auth_user_id": "7", "cart": [3, 1]},
    }


def test_sessions_show_prints_values_json_cannot_hold_as_their_repr(
    redis_url: str, redis_client: redis.Redis
) -> None:
    when = datetime.datetime(2026, 1, 2, 3, 4, 5)
    with override_settings(SESSION_SERIALIZER="tests.support.serializers.PickleSerializer"):
        store = get_store()
        make(store, redis_client, "pickled000", when=when)

        stdout, _ = run("sessions", "show", "pickled000")

    assert stdout.endswith('{\n  "when": "datetime.datetime(2026, 1, 2, 3, 4, 5)"\n}\n')


def test_sessions_show_of_a_missing_or_destroyed_session_fails(store: Store) -> None:
    store.create("doomed0000", {"a": 1}, 600)
    store.destroy("doomed0000")

    for key in ("doomed0000", "missing000"):
        with pytest.raises(CommandError) as raised:
            run("sessions", "show", key)
        assert str(raised.value) == (
            "No live session has this stored id: it is missing, expired or destroyed."
        )


def test_sessions_show_refuses_what_is_not_a_session_key() -> None:
    with pytest.raises(CommandError) as raised:
        run("sessions", "show", "Not-A-Key")

    assert str(raised.value) == (
        "Error: argument KEY: 'Not-A-Key' is neither a session key (8 to 64 of a-z and 0-9) "
        "nor a stored id or its start (A-Z and 2-7, such as HOR7L5 or HOR7L5..., as lists "
        "and the admin show them)"
    )


def test_sessions_show_from_the_command_line_exits_1_for_a_missing_session(
    redis_url: str,
) -> None:
    result = django("sessions", "show", "missing000", url=redis_url)

    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "CommandError: No live session has this stored id: it is missing, expired or destroyed.\n"
    )


# sessions show and revoke: a session by its stored id, or the start of it


def crowded_start(keys: list[str]) -> str:
    """The first character most of the keys' stored ids share (two or more of 33 keys)."""
    firsts = [sid(key)[0] for key in keys]
    return max(sorted(set(firsts)), key=firsts.count)


def test_sessions_show_takes_the_shortened_stored_id_lists_and_the_admin_show(
    store: Store, redis_client: redis.Redis
) -> None:
    key = make(store, redis_client, new_session_key(), _auth_user_id="7")
    make(store, redis_client, "other00000")
    shown = abbreviated(sid(key))  # "HOR7L5..."

    for typed in (shown, shown.removesuffix("..."), shown.lower(), sid(key), key):
        stdout, stderr = run("sessions", "show", typed)

        assert stdout.splitlines()[:2] == [f"Id       {sid(key)}", "User     7"]
        assert stderr == ""


def test_sessions_show_of_a_start_that_names_several_sessions_asks_for_more(
    store: Store, redis_client: redis.Redis
) -> None:
    keys = [make(store, redis_client, f"crowd{number:05d}") for number in range(33)]
    start = crowded_start(keys)
    sharing = sum(1 for key in keys if sid(key).startswith(start))

    with pytest.raises(CommandError) as raised:
        run("sessions", "show", f"{start}...")

    assert str(raised.value) == (
        f"{sharing} live sessions have a stored id that starts with {start!r}; "
        "type more of it (sessions list shows whole stored ids)."
    )


def test_sessions_show_of_a_start_that_names_no_live_session_fails(
    sevens: list[str], store: Store
) -> None:
    store.destroy("eight00000")
    start = sid("eight00000")[:12]

    for typed in (start, f"{start}..."):
        with pytest.raises(CommandError) as raised:
            run("sessions", "show", typed)

        assert str(raised.value) == (
            f"No live session has a stored id that starts with {start!r}: "
            "it is missing, expired or destroyed, or the characters are mistyped."
        )


def test_sessions_show_by_start_leaves_tombstones_and_other_keys_out(
    store: Store, redis_client: redis.Redis
) -> None:
    live = make(store, redis_client, "alike00002", theme="dark")
    start = sid(live)[:3]
    # A tombstone and a foreign value under stored ids that start the same way.
    redis_client.hset(f"sessions:{{{start}{'A' * 29}}}", "#x", "1")
    redis_client.set(f"sessions:{{{start}{'B' * 29}}}", "not a session")

    assert run("sessions", "show", start)[0].startswith(f"Id       {sid(live)}\n")


def test_sessions_show_by_start_works_without_the_admin(redis_url: str, sevens: list[str]) -> None:
    start = abbreviated(sid("eight00000"))
    result = django(
        "sessions", "show", start, url=redis_url, settings="tests.settings_without_admin"
    )

    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith(f"Id       {sid('eight00000')}\n")


def test_sessions_revoke_takes_the_shortened_stored_id_lists_and_the_admin_show(
    sevens: list[str], store: Store
) -> None:
    shown = abbreviated(sid("eight00000"))

    assert run("sessions", "revoke", shown, "--dry-run")[0] == (
        f"Would revoke session {sid('eight00000')} of user 8.\n"
    )
    assert run("sessions", "revoke", shown, "--no-input")[0] == (
        f"Revoked session {sid('eight00000')} of user 8.\n"
    )
    assert not store.exists("eight00000")


def test_sessions_revoke_by_a_start_that_names_several_or_none_revokes_nothing(
    store: Store, redis_client: redis.Redis
) -> None:
    keys = [make(store, redis_client, f"crowd{number:05d}") for number in range(33)]
    start = crowded_start(keys)
    sharing = sum(1 for key in keys if sid(key).startswith(start))
    unused = next(
        f"{first}{second}"
        for first in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
        for second in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
        if not any(sid(key).startswith(f"{first}{second}") for key in keys)
    )

    with pytest.raises(CommandError) as raised:
        run("sessions", "revoke", start, "--no-input")
    assert str(raised.value) == (
        f"{sharing} live sessions have a stored id that starts with {start!r}; "
        "type more of it (sessions list shows whole stored ids)."
    )

    with pytest.raises(CommandError) as raised:
        run("sessions", "revoke", unused, "--no-input")
    assert str(raised.value) == (
        f"No live session has a stored id that starts with {unused!r}: "
        "it is missing, expired or destroyed, or the characters are mistyped."
    )
    assert store.count() == 33


def test_sessions_revoke_user_except_takes_the_start_of_a_stored_id(
    sevens: list[str], store: Store
) -> None:
    kept = sid("seven00001")
    stdout, _ = run(
        "sessions", "revoke", "--user-id", "7", "--except", f"{kept[:10]}...", "--no-input"
    )

    assert stdout == f"Revoked 2 sessions of user 7, keeping {kept}.\n"
    assert [stored.stored_id for stored in store.user_sessions("7")] == [kept]


def test_sessions_revoke_user_except_must_name_one_of_their_sessions(
    sevens: list[str], store: Store
) -> None:
    other = sid("eight00000")[:10]
    with pytest.raises(CommandError) as raised:
        run("sessions", "revoke", "--user-id", "7", "--except", other, "--no-input")
    assert str(raised.value) == (
        f"--except {other}...: no live session of user 7 has a stored id that starts with "
        f"{other!r}; sessions list --user-id 7 shows theirs."
    )
    assert store.count() == 4


# sessions clear


def test_sessions_clear_dry_run_says_what_it_would_delete_and_deletes_nothing(
    sevens: list[str], where: str, redis_client: redis.Redis
) -> None:
    redis_client.set("unrelated", "x")

    stdout, _ = run("sessions", "clear", "--dry-run")

    # Four sessions and two user indexes.
    assert stdout == (
        f"Would delete 6 keys under {where} (sessions, tombstones and user indexes).\n"
    )
    assert redis_client.dbsize() == 7


def test_sessions_clear_with_no_input_deletes_every_key_of_the_prefix(
    sevens: list[str], where: str, redis_client: redis.Redis
) -> None:
    redis_client.set("unrelated", "x")

    stdout, stderr = run("sessions", "clear", "--no-input")

    assert stdout == f"Deleted 6 keys under {where} (sessions, tombstones and user indexes).\n"
    assert stderr == ""
    assert redis_client.keys("*") == [b"unrelated"]


def test_sessions_clear_refuses_to_go_on_without_a_terminal_to_ask(
    sevens: list[str], redis_client: redis.Redis
) -> None:
    with pytest.raises(CommandError) as raised:
        run("sessions", "clear", stdin=StringIO("yes\n"))

    assert str(raised.value) == (
        "Refusing to go on without confirmation: stdin is not a terminal. Pass --no-input to go on."
    )
    assert redis_client.dbsize() == 6


def test_sessions_clear_asks_on_the_terminal_and_goes_on_after_yes(
    sevens: list[str], where: str, redis_client: redis.Redis
) -> None:
    with terminal("yes\n") as stdin:
        stdout, stderr = run("sessions", "clear", stdin=stdin)

    assert stderr == (
        f"Delete every session under {where}? Every user will be logged out. "
        "Type 'yes' to continue, or 'no' to cancel: "
    )
    assert stdout == f"Deleted 6 keys under {where} (sessions, tombstones and user indexes).\n"
    assert redis_client.dbsize() == 0


def test_sessions_clear_cancelled_at_the_prompt_deletes_nothing(
    sevens: list[str], redis_client: redis.Redis
) -> None:
    with terminal("no\n") as stdin, pytest.raises(CommandError) as raised:
        run("sessions", "clear", stdin=stdin)

    assert str(raised.value) == "Cancelled; nothing was deleted."
    assert redis_client.dbsize() == 6


def test_sessions_clear_reports_progress_at_verbosity_2(many: None) -> None:
    _, stderr = run("sessions", "clear", "--no-input", verbosity=2)

    assert stderr == "Clearing: 100 keys scanned so far.\nClearing: 200 keys scanned so far.\n"


def test_sessions_clear_from_the_command_line_without_a_terminal_exits_1(
    redis_url: str, sevens: list[str], redis_client: redis.Redis
) -> None:
    result = django("sessions", "clear", url=redis_url)

    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "CommandError: Refusing to go on without confirmation: stdin is not a terminal. "
        "Pass --no-input to go on.\n"
    )
    assert redis_client.dbsize() == 6


def test_sessions_clear_from_the_command_line_with_no_input(
    redis_url: str, sevens: list[str], redis_client: redis.Redis
) -> None:
    result = django("sessions", "clear", "--no-input", url=redis_url)

    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("Deleted 6 keys under 'sessions:' on 127.0.0.1:")
    assert redis_client.dbsize() == 0


# sessions revoke


def test_sessions_revoke_dry_run_names_the_session_and_revokes_nothing(
    sevens: list[str], store: Store
) -> None:
    assert run("sessions", "revoke", "seven00000", "--dry-run") == (
        f"Would revoke session {sid('seven00000')} of user 7.\n",
        "",
    )
    assert store.exists("seven00000")


def test_sessions_revoke_leaves_a_tombstone_and_takes_the_session_out_of_its_index(
    sevens: list[str], store: Store, redis_client: redis.Redis
) -> None:
    assert run("sessions", "revoke", "seven00000", "--no-input") == (
        f"Revoked session {sid('seven00000')} of user 7.\n",
        "",
    )
    assert redis_client.hgetall(redis_key("seven00000")) == {
        b"#x": redis_client.hget(redis_key("seven00000"), "#x"),
        b"#r": b"revoke",
        b"#u": b"7",
    }
    assert redis_client.zscore("sessions:user:{7}", "seven00000") is None


def test_sessions_revoke_of_an_anonymous_session(store: Store, redis_client: redis.Redis) -> None:
    make(store, redis_client, "anonymous0")

    assert run("sessions", "revoke", "anonymous0", "--no-input")[0] == (
        f"Revoked anonymous session {sid('anonymous0')}.\n"
    )


def test_sessions_revoke_of_a_missing_session_has_nothing_to_do() -> None:
    assert run("sessions", "revoke", "missing000", "--no-input") == (
        "No live session has this stored id; nothing to revoke.\n",
        "",
    )


def test_sessions_revoke_asks_on_the_terminal(sevens: list[str], store: Store) -> None:
    with terminal("yes\n") as stdin:
        stdout, stderr = run("sessions", "revoke", "seven00000", stdin=stdin)

    assert stderr == (
        f"Revoke session {sid('seven00000')} of user 7? Type 'yes' to continue, or 'no' to cancel: "
    )
    assert stdout == f"Revoked session {sid('seven00000')} of user 7.\n"
    assert not store.exists("seven00000")


def test_sessions_revoke_cancelled_at_the_prompt_revokes_nothing(
    sevens: list[str], store: Store
) -> None:
    with terminal("\n") as stdin, pytest.raises(CommandError) as raised:
        run("sessions", "revoke", "seven00000", stdin=stdin)

    assert str(raised.value) == "Cancelled; nothing was revoked."
    assert store.exists("seven00000")


def test_sessions_revoke_user_dry_run_lists_the_sessions_it_would_revoke(
    sevens: list[str], store: Store
) -> None:
    assert run("sessions", "revoke", "--user-id", "7", "--dry-run")[0] == (
        "Would revoke 3 sessions of user 7:\n"
        f"  {sid('seven00000')}\n  {sid('seven00001')}\n  {sid('seven00002')}\n"
    )
    assert store.count() == 4


def test_sessions_revoke_user_logs_them_out_everywhere_but_the_session_kept(
    sevens: list[str], store: Store
) -> None:
    stdout, _ = run("sessions", "revoke", "--user-id", "7", "--except", "seven00001", "--no-input")

    assert stdout == f"Revoked 2 sessions of user 7, keeping {sid('seven00001')}.\n"
    assert [stored.stored_id for stored in store.user_sessions("7")] == [stored_id("seven00001")]
    assert store.exists("eight00000")


def test_sessions_revoke_user_asks_on_the_terminal(sevens: list[str]) -> None:
    with terminal("yes\n") as stdin:
        stdout, stderr = run("sessions", "revoke", "--user-id", "7", stdin=stdin)

    assert stderr == "Revoke 3 sessions of user 7? Type 'yes' to continue, or 'no' to cancel: "
    assert stdout == "Revoked 3 sessions of user 7.\n"


def test_sessions_revoke_user_without_sessions_has_nothing_to_do() -> None:
    assert run("sessions", "revoke", "--user-id", "7", "--no-input") == (
        "User 7 has no live session to revoke.\n",
        "",
    )


def test_sessions_revoke_needs_a_key_or_a_user_but_not_both() -> None:
    for args in [(), ("seven00000", "--user-id", "7")]:
        with pytest.raises(CommandError) as raised:
            run("sessions", "revoke", *args)
        assert str(raised.value) == (
            "Name one session KEY, or a user with --user USER or --user-id UID: one of the two."
        )


def test_sessions_revoke_except_goes_with_user_only() -> None:
    with pytest.raises(CommandError) as raised:
        run("sessions", "revoke", "seven00000", "--except", "seven00001")

    assert str(raised.value) == "--except goes with --user or --user-id."


def test_sessions_revoke_from_the_command_line(
    redis_url: str, sevens: list[str], store: Store
) -> None:
    result = django("sessions", "revoke", "--user-id", "7", "--noinput", url=redis_url)

    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == "Revoked 3 sessions of user 7.\n"
    assert store.user_sessions("7") == []


def test_sessions_revoke_exits_1_with_one_line_when_redis_is_unreachable(nowhere: str) -> None:
    result = django("sessions", "revoke", "seven00000", "--no-input", url=nowhere)

    assert_unreachable(result, nowhere, "load a session")


def test_sessions_without_an_action_is_refused() -> None:
    with pytest.raises(CommandError) as raised:
        run("sessions")

    assert str(raised.value) == "Error: the following arguments are required: ACTION"
