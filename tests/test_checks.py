"""System checks: every bad value of REDIS_SESSIONS has a stable id."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import run_checks
from django.test import override_settings


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
    ],
)
def test_good_values_pass(value: Any) -> None:
    assert check_ids(REDIS_SESSIONS=value) == []


def test_the_old_packages_setting_alone_gets_a_warning() -> None:
    with override_settings(SESSION_REDIS={"host": "localhost"}):
        from django.conf import settings

        del settings.REDIS_SESSIONS
        assert check_ids() == ["redis_sessions.W002"]
