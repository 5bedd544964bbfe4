"""System checks for the ``REDIS_SESSIONS`` setting and the server it names.

Each problem has a stable id, so it can be silenced with
``SILENCED_SYSTEM_CHECKS`` and looked up in the manual (``docs/checks.rst``).
The settings are checked by every ``manage.py check``; the server only by
``manage.py check --deploy``, which connects to it. All of them carry the tag ``redis_sessions``.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast
from urllib.parse import urlsplit

from django.apps import AppConfig, apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from redis import ConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.exceptions import RedisError, ResponseError
from redis.retry import Retry
from redis.sentinel import SentinelConnectionPool

from redis_sessions.conf import DEFAULTS
from redis_sessions.exceptions import StoreUnavailable
from redis_sessions.migration import legacy_settings
from redis_sessions.migration.sources import SOURCES
from redis_sessions.store import scripts
from redis_sessions.store.clients import Client, client_from_settings, describe, parse_address
from redis_sessions.store.drivers import NO_SUCH_DATABASE, authentication_advice

URL_SCHEMES = ("redis", "rediss", "unix")

#: The tag of every check of this app: ``manage.py check --tag redis_sessions``.
TAG = "redis_sessions"

#: Seconds the deploy check waits to connect and for each answer, at most.
SERVER_CHECK_TIMEOUT = 1.0

#: The script the deploy check runs to learn that the server runs scripts: it
#: touches no key.
PROBE_SCRIPT = "return 1"

#: The oldest release of each server that the engine supports.
MINIMUM_VERSIONS: dict[str, tuple[int, ...]] = {"Redis": (7, 0), "Valkey": (7, 2)}


def _is_positive_int(value: Any) -> bool:
    return type(value) is int and value > 0


def _is_timeout(value: Any) -> bool:
    return value is None or (type(value) in (int, float) and value > 0)


@register(Tags.compatibility, TAG)
def check_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    user = getattr(settings, "REDIS_SESSIONS", {})
    if not isinstance(user, dict):
        return [
            Error(
                f"REDIS_SESSIONS must be a dict, not {type(user).__name__}.",
                hint="Set REDIS_SESSIONS = {'URL': 'redis://host:6379/0'} or leave it out.",
                id="redis_sessions.E001",
            )
        ]
    errors: list[CheckMessage] = []
    unknown = sorted(str(name) for name in user if name not in DEFAULTS)
    if unknown:
        errors.append(
            Error(
                f"REDIS_SESSIONS has unknown keys: {', '.join(unknown)}.",
                hint=_unknown_keys_hint(unknown),
                id="redis_sessions.E002",
            )
        )
    values = {**DEFAULTS, **user}
    url = values["URL"]
    if not isinstance(url, str) or urlsplit(url).scheme not in URL_SCHEMES:
        errors.append(
            Error(
                f"REDIS_SESSIONS['URL'] must be a redis://, rediss:// or unix:// URL, not {url!r}.",
                hint=f"For example {DEFAULTS['URL']!r}.",
                id="redis_sessions.E003",
            )
        )
    if isinstance(url, str) and _password_breaks_url(url):
        errors.append(
            Error(
                "REDIS_SESSIONS['URL'] has a password with an '@', '/', '?' or '#' that is not "
                "percent-encoded: the URL cannot be read as user:password@host.",
                hint="Percent-encode the password in the URL (urllib.parse.quote(password, "
                "safe='')), or leave it out of URL and give it in PASSWORD.",
                id="redis_sessions.E020",
            )
        )
    alias = values["CACHE_ALIAS"]
    if alias is not None:
        caches = getattr(settings, "CACHES", {})
        backend = caches.get(alias, {}).get("BACKEND") if isinstance(alias, str) else None
        if backend is None:
            errors.append(
                Error(
                    f"REDIS_SESSIONS['CACHE_ALIAS'] is {alias!r}, which is not a cache in CACHES.",
                    hint="Name a cache of CACHES, or leave CACHE_ALIAS out and set URL.",
                    id="redis_sessions.E004",
                )
            )
        elif not backend.startswith("django_redis."):
            errors.append(
                Error(
                    f"The cache {alias!r} of REDIS_SESSIONS['CACHE_ALIAS'] uses {backend}, "
                    "not django-redis.",
                    hint="CACHE_ALIAS reuses the client of a django_redis.cache.RedisCache; "
                    "for any other cache set URL instead.",
                    id="redis_sessions.E005",
                )
            )
        elif "URL" in user:
            errors.append(
                Warning(
                    "REDIS_SESSIONS sets both URL and CACHE_ALIAS; URL is ignored.",
                    hint="Remove one of them.",
                    id="redis_sessions.W001",
                )
            )
    prefix = values["PREFIX"]
    if not isinstance(prefix, str) or "{" in prefix or "}" in prefix:
        errors.append(
            Error(
                f"REDIS_SESSIONS['PREFIX'] must be a string without braces, not {prefix!r}.",
                hint="Braces would change the hash slot of session keys on Redis Cluster.",
                id="redis_sessions.E006",
            )
        )
    for name, error_id in (("SCAN_COUNT", "E007"), ("TOMBSTONE_TTL", "E008")):
        if not _is_positive_int(values[name]):
            errors.append(
                Error(
                    f"REDIS_SESSIONS[{name!r}] must be a positive integer, not {values[name]!r}.",
                    hint=f"The default is {DEFAULTS[name]}.",
                    id=f"redis_sessions.{error_id}",
                )
            )
    for name, example, error_id in (
        ("ABSOLUTE_TTL", "28800 ends every session 8 hours after it began", "E023"),
        ("MAX_SESSION_BYTES", f"The default is {DEFAULTS['MAX_SESSION_BYTES']}", "E024"),
    ):
        if values[name] is not None and not _is_positive_int(values[name]):
            errors.append(
                Error(
                    f"REDIS_SESSIONS[{name!r}] must be a positive integer or None, "
                    f"not {values[name]!r}.",
                    hint=f"{example}; None turns it off.",
                    id=f"redis_sessions.{error_id}",
                )
            )
    for name in ("SOCKET_CONNECT_TIMEOUT", "SOCKET_TIMEOUT"):
        if not _is_timeout(values[name]):
            errors.append(
                Error(
                    f"REDIS_SESSIONS[{name!r}] must be a positive number of seconds or None, "
                    f"not {values[name]!r}.",
                    hint=f"The default is {DEFAULTS[name]}.",
                    id="redis_sessions.E009",
                )
            )
    for name in (
        "REVOKE_ON_PASSWORD_CHANGE",
        "USER_INDEX",
        "TLS_CHECK_HOSTNAME",
        "SENTINEL_TLS",
        "DEVICE_DETAILS",
        "ANONYMIZE_IP",
    ):
        if type(values[name]) is not bool:
            errors.append(
                Error(
                    f"REDIS_SESSIONS[{name!r}] must be True or False, not {values[name]!r}.",
                    hint=f"The default is {DEFAULTS[name]}.",
                    id="redis_sessions.E011",
                )
            )
    if values["REVOKE_ON_PASSWORD_CHANGE"] is True and values["USER_INDEX"] is not True:
        errors.append(
            Warning(
                "REDIS_SESSIONS['REVOKE_ON_PASSWORD_CHANGE'] is on without USER_INDEX: each "
                "password change walks every session to find the user's.",
                hint="Set USER_INDEX to True on a store of more than a few thousand sessions.",
                id="redis_sessions.W003",
            )
        )
    errors += _topology_messages(user, values)
    errors += _migration_messages(values["MIGRATE_FROM"])
    errors += _outage_messages(values)
    errors += _device_messages(values)
    errors += _app_order_messages()
    return errors


def _device_messages(values: Mapping[str, Any]) -> list[CheckMessage]:
    """What ``CLIENT_IP_HEADER``, ``MAX_SESSIONS_PER_USER`` and ``ACTIVITY_INTERVAL`` get wrong."""
    messages: list[CheckMessage] = []
    header = values["CLIENT_IP_HEADER"]
    if header is not None and (not isinstance(header, str) or not header.isupper()):
        messages.append(
            Error(
                f"REDIS_SESSIONS['CLIENT_IP_HEADER'] must be None or a key of request.META, "
                f"not {header!r}.",
                hint="For the X-Forwarded-For header of a proxy you trust, "
                "'HTTP_X_FORWARDED_FOR'; None reads REMOTE_ADDR.",
                id="redis_sessions.E028",
            )
        )
    limit = values["MAX_SESSIONS_PER_USER"]
    if limit is not None and not _is_positive_int(limit):
        messages.append(
            Error(
                f"REDIS_SESSIONS['MAX_SESSIONS_PER_USER'] must be a positive integer or None, "
                f"not {limit!r}.",
                hint="5 lets each user have five sessions at once; None (the default) sets no "
                "limit.",
                id="redis_sessions.E030",
            )
        )
    elif limit is not None and values["USER_INDEX"] is not True:
        messages.append(
            Warning(
                "REDIS_SESSIONS['MAX_SESSIONS_PER_USER'] is set without USER_INDEX: each login "
                "walks every session to find the user's.",
                hint="Set USER_INDEX to True on a store of more than a few thousand sessions.",
                id="redis_sessions.W014",
            )
        )
    if not _is_positive_int(values["ACTIVITY_INTERVAL"]):
        messages.append(
            Error(
                f"REDIS_SESSIONS['ACTIVITY_INTERVAL'] must be a positive integer of seconds, "
                f"not {values['ACTIVITY_INTERVAL']!r}.",
                hint=f"The default is {DEFAULTS['ACTIVITY_INTERVAL']}.",
                id="redis_sessions.E029",
            )
        )
    return messages


#: The values of ``ON_UNAVAILABLE``.
ON_UNAVAILABLE_CHOICES = ("raise", "anonymous")


def _outage_messages(values: Mapping[str, Any]) -> list[CheckMessage]:
    """What ``BREAKER_FAILURES``, ``BREAKER_RESET`` and ``ON_UNAVAILABLE`` get wrong."""
    messages: list[CheckMessage] = []
    failures = values["BREAKER_FAILURES"]
    if type(failures) is not int or failures < 0:
        messages.append(
            Error(
                f"REDIS_SESSIONS['BREAKER_FAILURES'] must be an integer of 0 or more, "
                f"not {failures!r}.",
                hint=f"The default is {DEFAULTS['BREAKER_FAILURES']}; 0 turns the circuit "
                "breaker off.",
                id="redis_sessions.E025",
            )
        )
    reset = values["BREAKER_RESET"]
    if type(reset) not in (int, float) or not reset > 0:
        messages.append(
            Error(
                f"REDIS_SESSIONS['BREAKER_RESET'] must be a positive number of seconds, "
                f"not {reset!r}.",
                hint=f"The default is {DEFAULTS['BREAKER_RESET']}: a probe every tenth of a second "
                "while the breaker is open.",
                id="redis_sessions.E026",
            )
        )
    mode = values["ON_UNAVAILABLE"]
    if mode not in ON_UNAVAILABLE_CHOICES:
        messages.append(
            Error(
                f"REDIS_SESSIONS['ON_UNAVAILABLE'] must be 'raise' or 'anonymous', not {mode!r}.",
                hint="'raise' (the default) fails the request; 'anonymous' serves it an empty "
                "session that is never saved.",
                id="redis_sessions.E027",
            )
        )
    elif mode == "anonymous" and getattr(settings, "CSRF_USE_SESSIONS", False):
        messages.append(
            Warning(
                "REDIS_SESSIONS['ON_UNAVAILABLE'] is 'anonymous' and CSRF_USE_SESSIONS is on: "
                "while Redis is down, every form post fails Django's CSRF check (403), since "
                "the token lives in a session that cannot be read.",
                hint="Keep the CSRF token in its cookie (CSRF_USE_SESSIONS = False), or accept "
                "that forms fail until Redis answers.",
                id="redis_sessions.W013",
            )
        )
    return messages


def _migration_messages(migrate_from: Any) -> list[CheckMessage]:
    """MIGRATE_FROM names known sources; each setting of django-redis-sessions has its successor."""
    names = ", ".join(repr(name) for name in SOURCES)
    if not isinstance(migrate_from, (list, tuple)) or any(
        name not in SOURCES for name in migrate_from
    ):
        return [
            Error(
                f"REDIS_SESSIONS['MIGRATE_FROM'] must be a list of session sources, "
                f"not {migrate_from!r}.",
                hint=f"The sources are {names}; [] (the default) migrates nothing.",
                id="redis_sessions.E035",
            )
        ]
    errors: list[CheckMessage] = []
    if "db" in migrate_from and not apps.is_installed("django.contrib.sessions"):
        errors.append(
            Error(
                "REDIS_SESSIONS['MIGRATE_FROM'] has 'db', but django.contrib.sessions, whose "
                "model reads the django_session table, is not in INSTALLED_APPS.",
                hint="Keep 'django.contrib.sessions' in INSTALLED_APPS while sessions migrate.",
                id="redis_sessions.E036",
            )
        )
    legacy = legacy_settings.present()
    if legacy and not hasattr(settings, "REDIS_SESSIONS"):
        moves = "; ".join(f"{old.where} -> {old.replacement}" for old in legacy)
        errors.append(
            Warning(
                "SESSION_REDIS is a setting of django-redis-sessions; this engine reads "
                "REDIS_SESSIONS.",
                hint="Move the connection into REDIS_SESSIONS, e.g. "
                "REDIS_SESSIONS = {'URL': 'redis://host:port/db', 'PREFIX': 'session:'}: "
                f"{moves}.",
                id="redis_sessions.W002",
            )
        )
    elif "django-redis-sessions" not in migrate_from:
        for old in legacy:
            errors.append(
                Warning(
                    f"{old.where} is a setting of django-redis-sessions, which this "
                    "engine does not read.",
                    hint=f"Write {old.replacement} in REDIS_SESSIONS instead, or, while "
                    "its sessions migrate, add 'django-redis-sessions' to "
                    "REDIS_SESSIONS['MIGRATE_FROM'], which reads it.",
                    id="redis_sessions.W012",
                )
            )
    return errors


def _unknown_keys_hint(unknown: Sequence[str]) -> str:
    """Did you mean the key closest to each unknown one; the keys there are if one has none."""
    guesses = []
    for name in unknown:
        close = difflib.get_close_matches(name.upper(), DEFAULTS, n=1)
        if close:
            guesses.append(close[0] if len(unknown) == 1 else f"{close[0]} for {name}")
    hint = f"Did you mean {', '.join(guesses)}?" if guesses else ""
    if len(guesses) < len(unknown):
        hint = f"{hint} The keys are: {', '.join(DEFAULTS)}.".lstrip()
    return hint


def _password_breaks_url(url: str) -> bool:
    """Whether a character of the password in ``url`` ends its user information early.

    An '@' in a password makes two of them in the URL's authority; a '/', '?' or
    '#' ends the authority inside the password, so the '@' after it lands in the
    path or the fragment, or what is left before it is no host:port.
    """
    parts = urlsplit(url)
    if parts.netloc.count("@") > 1:
        return True
    if "@" in parts.netloc or "@" not in url.partition("://")[2]:
        return False
    if "@" in parts.path or "@" in parts.fragment:
        return True
    try:
        parts.port  # noqa: B018 -- reading it raises for what is no port
    except ValueError:
        return True
    return False


def _app_order_messages() -> list[CheckMessage]:
    """This app after django.contrib.sessions: Django's clearsessions wins."""
    if getattr(settings, "SESSION_ENGINE", None) != "redis_sessions.session":
        return []
    names = [config.name for config in apps.get_app_configs()]
    if "django.contrib.sessions" not in names or "redis_sessions" not in names:
        return []
    if names.index("redis_sessions") < names.index("django.contrib.sessions"):
        return []
    return [
        Warning(
            "'redis_sessions' comes after 'django.contrib.sessions' in INSTALLED_APPS: "
            "'manage.py clearsessions' runs Django's command, which does nothing for this "
            "engine, instead of the engine's.",
            hint="Move 'redis_sessions' above 'django.contrib.sessions' in INSTALLED_APPS.",
            id="redis_sessions.W006",
        )
    ]


def _topology_messages(user: Mapping[str, Any], values: Mapping[str, Any]) -> list[CheckMessage]:
    """Credentials, TLS, Sentinel, Cluster and replica acknowledgement."""
    errors: list[CheckMessage] = []
    for name in (
        "USERNAME",
        "PASSWORD",
        "SENTINEL_SERVICE",
        "SENTINEL_USERNAME",
        "SENTINEL_PASSWORD",
    ):
        if values[name] is not None and not isinstance(values[name], str):
            errors.append(
                Error(
                    f"REDIS_SESSIONS[{name!r}] must be a string or None, not "
                    f"{type(values[name]).__name__}.",
                    hint="Read secrets from the environment, e.g. os.environ['REDIS_PASSWORD'].",
                    id="redis_sessions.E012",
                )
            )
    for name in ("TLS_CA_CERTS", "TLS_CERTFILE", "TLS_KEYFILE"):
        path = values[name]
        if path is not None and (not isinstance(path, str) or not os.path.isfile(path)):
            errors.append(
                Error(
                    f"REDIS_SESSIONS[{name!r}] must name a readable file, not {path!r}.",
                    hint="Give the absolute path of a PEM file.",
                    id="redis_sessions.E013",
                )
            )
    url = values["URL"]
    tls_files = [name for name in ("TLS_CA_CERTS", "TLS_CERTFILE", "TLS_KEYFILE") if user.get(name)]
    sentinels_over_tls = bool(values["SENTINELS"]) and values["SENTINEL_TLS"] is True
    if (
        tls_files
        and not sentinels_over_tls
        and isinstance(url, str)
        and urlsplit(url).scheme != "rediss"
    ):
        errors.append(
            Warning(
                f"REDIS_SESSIONS sets {', '.join(tls_files)} but URL is not rediss://: "
                "the connection is not encrypted and they are ignored.",
                hint="Use a rediss:// URL to connect over TLS.",
                id="redis_sessions.W004",
            )
        )
    modes = [name for name in ("CACHE_ALIAS", "SENTINELS", "CLUSTER_NODES") if values[name]]
    if len(modes) > 1:
        errors.append(
            Error(
                f"REDIS_SESSIONS sets {' and '.join(modes)}; choose one way to reach Redis.",
                hint="CACHE_ALIAS reuses a django-redis client; SENTINELS and CLUSTER_NODES "
                "make the engine's own.",
                id="redis_sessions.E014",
            )
        )
    for name in ("SENTINELS", "CLUSTER_NODES"):
        addresses = values[name]
        if addresses is None:
            continue
        if not isinstance(addresses, (list, tuple)) or not addresses:
            problem = "must be a non-empty list"
        else:
            problem = ""
            for address in addresses:
                try:
                    parse_address(address)
                except ValueError as exc:
                    problem = f"has an address that is not 'host:port': {exc}"
                    break
        if problem:
            errors.append(
                Error(
                    f"REDIS_SESSIONS[{name!r}] {problem}.",
                    hint="For example ['10.0.0.1:26379', '10.0.0.2:26379'].",
                    id="redis_sessions.E015",
                )
            )
    if values["SENTINEL_TLS"] is True and not values["SENTINELS"]:
        errors.append(
            Warning(
                "REDIS_SESSIONS['SENTINEL_TLS'] is on but SENTINELS is not set: it has no effect.",
                hint="SENTINEL_TLS is for sentinels that listen on TLS ports; use a rediss:// "
                "URL to reach one server over TLS.",
                id="redis_sessions.W005",
            )
        )
    if values["SENTINELS"] and not values["SENTINEL_SERVICE"]:
        errors.append(
            Error(
                "REDIS_SESSIONS['SENTINELS'] is set without SENTINEL_SERVICE.",
                hint="Give the name the sentinels monitor the primary under (sentinel monitor "
                "<name> ...).",
                id="redis_sessions.E016",
            )
        )
    if (
        values["CLUSTER_NODES"]
        and isinstance(url, str)
        and urlsplit(url).path.strip("/")
        not in (
            "",
            "0",
        )
    ):
        errors.append(
            Error(
                "REDIS_SESSIONS['CLUSTER_NODES'] is set and URL names a database other than 0.",
                hint="Redis Cluster has database 0 only; use PREFIX to keep sites apart.",
                id="redis_sessions.E017",
            )
        )
    acks, timeout = values["MIN_REPLICAS_ACK"], values["REPLICAS_ACK_TIMEOUT"]
    if type(acks) is not int or acks < 0:
        errors.append(
            Error(
                "REDIS_SESSIONS['MIN_REPLICAS_ACK'] must be an integer of 0 or more, "
                f"not {acks!r}.",
                hint=f"{DEFAULTS['MIN_REPLICAS_ACK']}, the default, waits for no replica.",
                id="redis_sessions.E018",
            )
        )
    if type(timeout) not in (int, float) or timeout <= 0:
        errors.append(
            Error(
                "REDIS_SESSIONS['REPLICAS_ACK_TIMEOUT'] must be a positive number of seconds, "
                f"not {timeout!r}.",
                hint=f"The default is {DEFAULTS['REPLICAS_ACK_TIMEOUT']}.",
                id="redis_sessions.E019",
            )
        )
    return errors


@register(TAG, deploy=True)
def check_server(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Connect to the configured server: is it there, recent, and keeping its keys?"""
    if any(message.is_serious() for message in check_settings()):
        # Settings that make no client are reported by check_settings already.
        return []
    try:
        client, owned = client_from_settings()
    except (ValueError, StoreUnavailable) as exc:
        return [_unreachable(f"Cannot make a client for the session store: {exc}")]
    try:
        probe = _probe_client(client)
    finally:
        if owned and probe is not client:
            client.close()
    where = describe(probe)
    try:
        return _server_messages(probe, where)
    except RedisError as exc:
        reason = str(exc) or type(exc).__name__
        password = probe.connection_pool.connection_kwargs.get("password")
        if password:
            reason = reason.replace(str(password), "***")
        return [
            _unreachable(
                f"Cannot reach the session store at {where}: {type(exc).__name__}: {reason}",
                hint=authentication_advice(exc),
            )
        ]
    finally:
        probe.close()


def _server_messages(client: Redis, where: str) -> list[CheckMessage]:
    try:
        # A connection selects the configured database as it opens: a server
        # without it answers the first command with an error.
        client.ping()
    except ResponseError as exc:
        if NO_SUCH_DATABASE not in str(exc):
            raise
        database = client.connection_pool.connection_kwargs.get("db", 0)
        return [
            Error(
                f"The session store at {where} has no database {database}: the server "
                f"answers its SELECT with '{exc}'.",
                hint="Name a database the server has in URL: 0 up to one less than its "
                "'databases' setting (16 by default).",
                id="redis_sessions.E021",
            )
        ]
    messages: list[CheckMessage] = _script_messages(client, where)
    # A command the server refuses (ACLs, or renamed away as on many managed
    # services) is skipped: the server answered, so it is reachable.
    info = _unless_refused(lambda: client.info("server"))
    if info is not None:
        messages += version_warnings(info, where)
    config = _unless_refused(lambda: client.config_get("maxmemory-policy"))
    policy = config.get("maxmemory-policy") if config is not None else None
    if isinstance(policy, str) and policy.startswith("allkeys-"):
        messages.append(
            Warning(
                f"The session store at {where} has maxmemory-policy {policy}: when it is "
                "full it evicts any key, so sessions disappear without an error and their "
                "users are logged out.",
                hint="Keep sessions on a server whose maxmemory-policy is noeviction (a "
                "full server then refuses saves instead of dropping sessions), not on one "
                "shared with a cache.",
                id="redis_sessions.W011",
            )
        )
    return messages


def _script_messages(client: Redis, where: str) -> list[CheckMessage]:
    """Whether the server loads the engine's scripts and runs one (a harmless probe)."""
    try:
        for script in scripts.ALL:
            client.script_load(script.source)
        client.evalsha(client.script_load(PROBE_SCRIPT), 0)
    except ResponseError as exc:
        return [
            Error(
                f"The session store at {where} does not run the engine's Lua scripts: the "
                f"server answers '{exc}'.",
                hint="The engine runs each session operation as a Lua script (SCRIPT LOAD, "
                "then EVALSHA): use a server that runs scripts, and allow its user the "
                "@scripting commands.",
                id="redis_sessions.E022",
            )
        ]
    return []


def _unless_refused(command: Callable[[], Any]) -> Any:
    try:
        return command()
    except ResponseError:
        return None


def _unreachable(message: str, hint: str | None = None) -> Error:
    return Error(
        message,
        hint=hint
        or "Check REDIS_SESSIONS['URL'] (or the cache that CACHE_ALIAS names): the "
        "server must be running, reachable from this host, and accept its credentials.",
        id="redis_sessions.E010",
    )


def _probe_client(client: Client) -> Redis:
    """A client of the same server as ``client`` that gives up quickly and never retries.

    On a cluster, a client of one of its nodes; through Sentinel, the client
    itself (its connections find the primary through the sentinels).
    """
    if isinstance(client, RedisCluster):
        node = client.get_random_node()  # type: ignore[no-untyped-call]
        client = cast("Redis", node.redis_connection)
    if isinstance(client.connection_pool, SentinelConnectionPool):
        return client
    pool = client.connection_pool
    kwargs = dict(pool.connection_kwargs)
    for name in ("socket_connect_timeout", "socket_timeout"):
        kwargs[name] = min(kwargs.get(name) or SERVER_CHECK_TIMEOUT, SERVER_CHECK_TIMEOUT)
    kwargs["retry"] = Retry(NoBackoff(), 0)
    probe_pool = ConnectionPool(connection_class=pool.connection_class, max_connections=1, **kwargs)
    return Redis(connection_pool=probe_pool)


def server_version(info: Mapping[str, Any]) -> tuple[str, tuple[int, ...]] | None:
    """Return the product and version of a server from its ``INFO server`` fields.

    Valkey also reports the Redis version it is compatible with, as
    ``redis_version``; its own release is ``valkey_version``. None when the
    version cannot be read.
    """
    for product, field in (("Valkey", "valkey_version"), ("Redis", "redis_version")):
        if field in info:
            found = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", str(info[field]))
            if found is None:
                return None
            return product, tuple(int(part) for part in found.groups() if part is not None)
    return None


def version_warnings(info: Mapping[str, Any], where: str) -> list[CheckMessage]:
    found = server_version(info)
    if found is None:
        return []
    product, version = found
    minimum = MINIMUM_VERSIONS[product]
    if version >= minimum:
        return []
    shown = ".".join(map(str, version))
    supported = " or ".join(
        f"{name} {'.'.join(map(str, oldest))}" for name, oldest in MINIMUM_VERSIONS.items()
    )
    return [
        Warning(
            f"The session store at {where} runs {product} {shown}, older than "
            f"{product} {'.'.join(map(str, minimum))}.",
            hint=f"The engine supports {supported} and later; upgrade the server.",
            id="redis_sessions.W010",
        )
    ]
