"""References to sessions in the admin's addresses, which do not give the key away."""

from __future__ import annotations

import base64

import pytest
from django.test import override_settings

from redis_sessions.admin.references import open_reference, reference


@pytest.mark.parametrize("session_key", ["a" * 8, "abcdefgh12345678" * 2, "z9" * 32])
def test_a_reference_opens_to_its_key(session_key: str) -> None:
    assert open_reference(reference(session_key)) == session_key


def test_a_reference_is_fit_for_a_url_and_does_not_contain_the_key() -> None:
    session_key = "k3y7a9b2c4d6e8f0g1h3i5j7k9l1m3n5"

    made = reference(session_key)

    assert made.replace("-", "").replace("_", "").isalnum()
    assert session_key not in made
    assert session_key.encode() not in base64.urlsafe_b64decode(made + "=" * (-len(made) % 4))


def test_a_key_always_has_the_same_reference() -> None:
    assert reference("a" * 32) == reference("a" * 32)
    assert reference("a" * 32) != reference("b" * 32)


def test_references_depend_on_the_secret_key() -> None:
    made = reference("a" * 32)

    with override_settings(SECRET_KEY="another-secret-key-for-this-test-only"):
        assert reference("a" * 32) != made
        assert open_reference(made) is None


@pytest.mark.parametrize("session_key", ["short", "UPPER" * 4, "a" * 65, ""])
def test_only_session_keys_have_references(session_key: str) -> None:
    with pytest.raises(ValueError, match="Only a session key has a reference"):
        reference(session_key)


def _flipped(made: str, position: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(made + "=" * (-len(made) % 4)))
    raw[position] ^= 1
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


@pytest.mark.parametrize("position", [0, 15, 16, 47])
def test_an_altered_reference_opens_to_nothing(position: int) -> None:
    assert open_reference(_flipped(reference("a" * 32), position)) is None


@pytest.mark.parametrize(
    "value",
    ["", "short", "a" * 200, "not base64!" * 4, "a" * 33, reference("a" * 32) + "AAAA"],
)
def test_a_value_that_is_no_reference_opens_to_nothing(value: str) -> None:
    assert open_reference(value) is None
