"""REVOKE_ON_PASSWORD_CHANGE: a new password ends the user's other sessions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client, override_settings

from redis_sessions.session import SessionStore

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("indexed")]


def logged_in_client() -> tuple[Client, str]:
    client = Client()
    assert client.post("/login/", {"username": "ada", "password": "pw"}).status_code == 200
    return client, client.cookies[settings.SESSION_COOKIE_NAME].value


@pytest.fixture
def ada() -> User:
    user: User = User.objects.create_user("ada", password="pw")
    return user


@pytest.fixture
def revoking(redis_url: str) -> Iterator[None]:
    with override_settings(REDIS_SESSIONS={"URL": redis_url, "REVOKE_ON_PASSWORD_CHANGE": True}):
        yield


@pytest.mark.usefixtures("ada", "revoking")
def test_a_password_change_ends_the_other_sessions_and_keeps_this_one() -> None:
    laptop, laptop_key = logged_in_client()
    phone, phone_key = logged_in_client()

    assert laptop.post("/password/", {"new_password": "new"}).content == b"changed"

    assert SessionStore().exists(phone_key) is False
    assert phone.get("/whoami/").json() == {"user": None}
    assert laptop.get("/whoami/").json() == {"user": "ada"}
    assert laptop.cookies[settings.SESSION_COOKIE_NAME].value != laptop_key


@pytest.mark.usefixtures("ada", "revoking")
def test_saving_a_user_without_a_new_password_ends_nothing(ada: User) -> None:
    _, key = logged_in_client()

    ada.first_name = "Ada"
    ada.save()

    assert SessionStore().exists(key) is True


@pytest.mark.usefixtures("ada")
def test_without_the_setting_other_sessions_stay_in_redis() -> None:
    laptop, _ = logged_in_client()
    _, phone_key = logged_in_client()

    laptop.post("/password/", {"new_password": "new"})

    # Django itself refuses the phone's session at its next request (its
    # password hash no longer matches), but it stays in Redis until then.
    assert SessionStore().exists(phone_key) is True


@pytest.mark.usefixtures("ada", "revoking")
def test_a_save_of_named_fields_without_the_password_asks_the_database_nothing_more(
    ada: User, django_assert_num_queries: Any
) -> None:
    _, key = logged_in_client()

    with django_assert_num_queries(1):  # the UPDATE itself
        ada.save(update_fields=["last_login"])

    assert SessionStore().exists(key) is True


@pytest.mark.usefixtures("ada", "revoking")
def test_a_password_set_outside_a_request_ends_every_session(ada: User) -> None:
    _, laptop_key = logged_in_client()
    _, phone_key = logged_in_client()

    ada.set_password("new")
    ada.save()

    assert SessionStore().exists(laptop_key) is False
    assert SessionStore().exists(phone_key) is False
