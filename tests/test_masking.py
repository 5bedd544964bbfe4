"""Which values of a session count as secrets, and how they are hidden."""

from __future__ import annotations

import pytest

from redis_sessions.admin.masking import MASK, is_secret, masked


@pytest.mark.parametrize(
    "name",
    [
        "_auth_user_hash",
        "api_token",
        "csrfToken",
        "PASSWORD",
        "old_password",
        "client_secret",
        "stripe_key",
        "keys",
    ],
)
def test_keys_that_name_a_secret_are_secret(name: str) -> None:
    assert is_secret(name)


@pytest.mark.parametrize("name", ["_auth_user_id", "_auth_user_backend", "cart", "theme", "pass"])
def test_other_keys_are_not(name: str) -> None:
    assert not is_secret(name)


def test_keys_that_are_not_strings_are_not_secret() -> None:
    assert not is_secret(42)


def test_the_words_and_keys_can_be_chosen() -> None:
    assert is_secret("pin", words=("pin",))
    assert not is_secret("api_token", words=("pin",), keys=())
    assert is_secret("otp", words=(), keys={"otp"})


def test_masked_hides_secret_values_at_any_depth_and_counts_them() -> None:
    data = {
        "api_token": {"whole": "value"},
        "cart": [1, 2],
        "oauth": {"access_token": "a", "scopes": ["read"]},
        "history": [{"password": "p"}, ("tuple", {"secret": "s"})],
    }

    hidden, count = masked(data)

    assert hidden == {
        "api_token": MASK,
        "cart": [1, 2],
        "oauth": {"access_token": MASK, "scopes": ["read"]},
        "history": [{"password": MASK}, ["tuple", {"secret": MASK}]],
    }
    assert count == 4


def test_masked_leaves_its_argument_alone() -> None:
    data = {"nested": {"token": "t"}}

    masked(data)

    assert data == {"nested": {"token": "t"}}


def test_masked_passes_other_values_through() -> None:
    assert masked("plain") == ("plain", 0)
    assert masked(None) == (None, 0)
