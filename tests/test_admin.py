"""The session viewer in the Django admin, through Django's test client.

Sessions are made with the store on the test server; the pages are read as
the admin serves them. The viewer's own session (``force_login``) lives in
Redis too, so lists leave it out where they count sessions.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeAlias

import pytest
import redis
from django.contrib import admin
from django.contrib.admin import AdminSite
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from benchmarks.servers import free_port
from redis_sessions.admin import SessionAdmin
from redis_sessions.admin.masking import MASK
from redis_sessions.models import Session
from redis_sessions.store import Store, get_store
from redis_sessions.store.keys import abbreviated, stored_id

#: What the test client returns: a response with the context and templates
#: added, whose type Django does not make public.
Response: TypeAlias = Any

pytestmark = pytest.mark.django_db

REPOSITORY = Path(__file__).resolve().parent.parent
LIST = "/admin/redis_sessions/session/"
BACKEND = "django.contrib.auth.backends.ModelBackend"
AUTH_HASH = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

MakeUser = Callable[..., User]


#: The session keys the tests made, by stored id: pages name sessions by stored id.
KEYS: dict[str, str] = {}


def key(name: str) -> str:
    """A session key that starts with ``name``."""
    session_key = name.ljust(32, "0")
    KEYS[stored_id(session_key)] = session_key
    return session_key


def short(session_key: str) -> str:
    """How pages show a session: the start of its stored id."""
    return abbreviated(stored_id(session_key))


def detail(session_key: str) -> str:
    return f"{LIST}{stored_id(session_key)}/"


@pytest.fixture
def store() -> Store:
    return get_store()


@pytest.fixture
def make_user() -> MakeUser:
    """A user with the permissions named (codenames of redis_sessions, or app.codename)."""

    def make(username: str, *perms: str, staff: bool = True, superuser: bool = False) -> User:
        user: User = User.objects.create_user(
            username, password="pw", is_staff=staff, is_superuser=superuser
        )
        for perm in perms:
            app_label, _, codename = perm.rpartition(".")
            user.user_permissions.add(
                Permission.objects.get(
                    codename=codename, content_type__app_label=app_label or "redis_sessions"
                )
            )
        return user

    return make


def client_for(user: User, **options: Any) -> Client:
    client = Client(**options)
    client.force_login(user)
    return client


@pytest.fixture
def viewer(make_user: MakeUser) -> Client:
    """Staff who may view sessions, and nothing else."""
    return client_for(make_user("viewer", "view_session"))


@pytest.fixture
def ender(make_user: MakeUser) -> Client:
    """Staff who may view and end sessions."""
    return client_for(make_user("ender", "view_session", "end_session"))


def log_in(store: Store, session_key: str, user: User | str, **data: Any) -> str:
    """Store a session of ``user`` (a user, or a bare id) as Django's login makes it."""
    user_id = user if isinstance(user, str) else str(user.pk)
    auth = {"_auth_user_id": user_id, "_auth_user_backend": BACKEND, "_auth_user_hash": AUTH_HASH}
    store.create(session_key, {**auth, **data}, 3600)
    return session_key


def anonymous(store: Store, session_key: str, **data: Any) -> str:
    store.create(session_key, data, 3600)
    return session_key


def listed(response: Response) -> list[str]:
    """The keys of the sessions a list shows (by their stored ids), but the viewer's own."""
    rows = response.context["rows"]
    return [KEYS.get(row.stored_id, row.stored_id) for row in rows if not row.current]


# Permissions


def test_the_model_is_named_by_its_key_and_has_no_table_to_manage() -> None:
    assert str(Session(session_key=key("a"))) == key("a")
    assert not Session._meta.managed
    assert Session._meta.default_permissions == ("view",)


def test_the_model_has_the_view_permission_and_two_of_its_own() -> None:
    codenames = set(
        Permission.objects.filter(content_type__app_label="redis_sessions").values_list(
            "codename", flat=True
        )
    )

    assert codenames == {"view_session", "view_secrets", "end_session"}


@pytest.mark.parametrize(
    "path", [LIST, detail(key("a")), f"{LIST}{stored_id(key('a'))}/end/", f"{LIST}users/1/end/"]
)
def test_anonymous_visitors_are_sent_to_the_login_page(path: str) -> None:
    response = Client().get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=")


@pytest.mark.parametrize(
    "path", [LIST, detail(key("a")), f"{LIST}{stored_id(key('a'))}/end/", f"{LIST}users/1/end/"]
)
def test_staff_without_the_view_permission_are_refused(
    store: Store, make_user: MakeUser, path: str
) -> None:
    log_in(store, key("a"), "1")
    client = client_for(make_user("staff"))

    assert client.get(path).status_code == 403
    assert client.post(path).status_code == 403


def test_users_who_are_not_staff_are_sent_to_the_login_page(make_user: MakeUser) -> None:
    client = client_for(make_user("member", "view_session", staff=False))

    assert client.get(LIST).status_code == 302


def test_the_admin_index_lists_sessions_for_viewers_only(
    viewer: Client, make_user: MakeUser
) -> None:
    shown = viewer.get("/admin/")
    hidden = client_for(make_user("staff")).get("/admin/")

    assert f'href="{LIST}"' in shown.content.decode()
    assert "Redis sessions" in shown.content.decode()
    assert f'href="{LIST}"' not in hidden.content.decode()


def test_the_view_permission_shows_the_list(viewer: Client) -> None:
    response = viewer.get(LIST)

    assert response.status_code == 200
    assert response.templates[0].name == "admin/redis_sessions/session/session_list.html"


def test_superusers_may_view_without_being_given_permissions(make_user: MakeUser) -> None:
    assert client_for(make_user("root", superuser=True)).get(LIST).status_code == 200


def test_nobody_may_add_change_or_delete_sessions(make_user: MakeUser) -> None:
    root = make_user("root", superuser=True)
    client = client_for(root)
    model_admin = admin.site.get_model_admin(Session)
    request = client.get(LIST).wsgi_request

    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    index = client.get("/admin/").content.decode()
    assert f'href="{LIST}add/"' not in index
    # Django's add, change, delete and history views are not served: these
    # addresses name no session.
    for path in ("add/", f"{key('a')}/change/", f"{key('a')}/delete/", f"{key('a')}/history/"):
        assert client.get(LIST + path).status_code == 404
        assert client.post(LIST + path).status_code == 404


def test_the_pages_never_query_the_database_for_sessions(store: Store, viewer: Client) -> None:
    log_in(store, key("a"), "1", cart=[1])

    with CaptureQueriesContext(connection) as queries:
        assert viewer.get(LIST).status_code == 200
        assert viewer.get(detail(key("a"))).status_code == 200

    assert not [query for query in queries if "redis_sessions" in query["sql"]]


# The list


def test_the_list_shows_every_column(store: Store, make_user: MakeUser, viewer: Client) -> None:
    alice = make_user("alice", staff=False)
    log_in(store, key("alice"), alice, cart=[1, 2])

    page = viewer.get(LIST, {"key": stored_id(key("alice"))}).content.decode()

    for header in ("Session", "User", "Created", "Last saved", "Expires in", "Size"):
        assert f"<span>{header}</span>" in page
    assert f'<a href="{detail(key("alice"))}" class="session-key">{short(key("alice"))}</a>' in page
    assert f"alice ({alice.pk})" in page
    assert re.search(r'<td class="field-expires"><time datetime="[^"]+">59\xa0minutes</time>', page)
    assert re.search(r'<td class="field-size session-size">\d+\xa0bytes</td>', page)
    assert page.count('<td class="field-created"><time datetime="') == 1


def test_the_list_links_a_user_to_their_admin_page_for_those_who_may_see_it(
    store: Store, make_user: MakeUser
) -> None:
    alice = make_user("alice", staff=False)
    log_in(store, key("alice"), alice)
    user_page = f'<a href="/admin/auth/user/{alice.pk}/change/">alice ({alice.pk})</a>'

    with_users = client_for(make_user("hr", "view_session", "auth.view_user"))
    without = client_for(make_user("support", "view_session"))

    assert user_page in with_users.get(LIST).content.decode()
    page = without.get(LIST).content.decode()
    assert user_page not in page
    assert f"alice ({alice.pk})" in page


def test_the_list_shows_user_ids_that_name_no_user_as_they_are(
    store: Store, viewer: Client
) -> None:
    log_in(store, key("gone"), "9999")
    log_in(store, key("odd"), "not-a-number")

    page = viewer.get(LIST, {"auth": "1"}).content.decode()

    assert '<td class="field-user">9999</td>' in page
    assert '<td class="field-user">not-a-number</td>' in page


def test_the_list_shows_anonymous_sessions(store: Store, viewer: Client) -> None:
    anonymous(store, key("anon"), theme="dark")

    page = viewer.get(LIST, {"auth": "0"}).content.decode()

    assert '<td class="field-user"><span class="quiet">anonymous</span></td>' in page


def test_the_list_marks_the_viewers_own_session(viewer: Client) -> None:
    response = viewer.get(LIST)

    (row,) = response.context["rows"]
    assert row.current
    assert row.stored_id == stored_id(str(viewer.session.session_key))
    assert "(yours)" in response.content.decode()


def test_the_list_never_shows_a_whole_session_key(store: Store, viewer: Client) -> None:
    secret_key = log_in(store, "k3y7a9b2c4d6e8f0g1h3i5j7k9l1m3n5", "1")

    page = viewer.get(LIST).content.decode()

    assert short(secret_key) in page
    assert secret_key not in page
    assert str(viewer.session.session_key) not in page


def test_the_list_says_when_there_are_no_sessions(store: Store, make_user: MakeUser) -> None:
    # A viewer whose own session is not in Redis.
    client = Client()
    with override_settings(SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies"):
        client.force_login(make_user("viewer", "view_session"))
        page = client.get(LIST).content.decode()

    assert "No live sessions." in page
    assert "0 sessions on this page" in page


# Paging


def test_the_list_pages_with_the_scan_cursor(
    store: Store, viewer: Client, page_size: Callable[[int], None]
) -> None:
    page_size(3)
    # Enough sessions that no server hands them all out in one SCAN call
    # (Valkey returns more keys a call than Redis on a small database).
    made = {anonymous(store, key(f"s{number:02d}")) for number in range(60)}

    seen: list[str] = []
    response = viewer.get(LIST)
    pages = 1
    assert response.context["first_url"] is None
    while response.context["next_url"]:
        assert "?cursor=" in response.context["next_url"]
        seen += listed(response)
        response = viewer.get(LIST + response.context["next_url"])
        pages += 1
        assert response.context["first_url"] == "?"
    seen += listed(response)

    assert sorted(seen) == sorted(made)
    assert pages >= 4


def test_a_page_link_keeps_the_search_and_the_filter(
    store: Store, viewer: Client, page_size: Callable[[int], None]
) -> None:
    page_size(1)
    made = [anonymous(store, key(f"ab{number:02d}")) for number in range(100)]
    # The first character most of their stored ids share: more than a page.
    firsts = [stored_id(session_key)[0] for session_key in made]
    start = max(set(firsts), key=firsts.count)

    response = viewer.get(LIST, {"key": start, "auth": "0"})

    next_url = response.context["next_url"]
    assert next_url.startswith(f"?key={start}&auth=0&cursor=")
    assert f'href="{next_url.replace("&", "&amp;")}"' in response.content.decode()


def test_a_cursor_the_list_did_not_make_is_a_bad_request(viewer: Client) -> None:
    assert viewer.get(LIST, {"cursor": "nope"}).status_code == 400


# Search and filter


@pytest.fixture
def people(store: Store, make_user: MakeUser) -> dict[str, User]:
    """Two sessions of alice, one of bob, two anonymous ones."""
    alice = make_user("Alice", staff=False)
    bob = make_user("bob", staff=False)
    log_in(store, key("alice1"), alice)
    log_in(store, key("alice2"), alice)
    log_in(store, key("bob1"), bob)
    anonymous(store, key("anon1"))
    anonymous(store, key("anon2"))
    return {"alice": alice, "bob": bob}


def test_searching_a_user_id_lists_that_users_sessions(
    people: dict[str, User], viewer: Client
) -> None:
    response = viewer.get(LIST, {"user": str(people["alice"].pk)})

    assert sorted(listed(response)) == [key("alice1"), key("alice2")]
    assert response.context["next_url"] is None


@pytest.mark.parametrize("username", ["Alice", "alice", " ALICE "])
def test_searching_a_username_lists_that_users_sessions(
    people: dict[str, User], viewer: Client, username: str
) -> None:
    assert sorted(listed(viewer.get(LIST, {"user": username}))) == [key("alice1"), key("alice2")]


def test_searching_a_user_id_that_names_no_user_still_finds_its_sessions(
    store: Store, viewer: Client
) -> None:
    log_in(store, key("ghost"), "4242")

    assert listed(viewer.get(LIST, {"user": "4242"})) == [key("ghost")]


def test_searching_a_user_without_sessions_finds_none(
    people: dict[str, User], viewer: Client
) -> None:
    response = viewer.get(LIST, {"user": "nobody"})

    assert listed(response) == []
    assert "No live session matches." in response.content.decode()


PEOPLE = ("alice1", "alice2", "anon1", "anon2", "bob1")


def starting_with(start: str) -> list[str]:
    """The keys of the people's sessions whose stored id starts with ``start``."""
    return sorted(key(name) for name in PEOPLE if stored_id(key(name)).startswith(start))


@pytest.mark.parametrize("name", PEOPLE)
@pytest.mark.parametrize("length", [1, 3])
def test_searching_the_beginning_of_a_stored_id_finds_the_sessions_it_starts(
    people: dict[str, User], viewer: Client, name: str, length: int
) -> None:
    start = stored_id(key(name))[:length]

    assert sorted(listed(viewer.get(LIST, {"key": start}))) == starting_with(start)


def test_a_stored_id_is_searched_in_either_case_with_or_without_its_dots(
    people: dict[str, User], viewer: Client
) -> None:
    start = stored_id(key("bob1"))[:4]

    for query in (start.lower(), f"{start}...", f" {start} "):
        assert sorted(listed(viewer.get(LIST, {"key": query}))) == starting_with(start)


def test_searching_a_whole_stored_id_finds_that_session(
    people: dict[str, User], viewer: Client
) -> None:
    assert listed(viewer.get(LIST, {"key": stored_id(key("bob1"))})) == [key("bob1")]


def test_a_session_key_is_not_a_search_by_stored_id(
    people: dict[str, User], viewer: Client
) -> None:
    # Stored ids are upper case and keys lower case: searched as a stored id,
    # a key finds nothing, and the page never tells whether a key exists.
    assert listed(viewer.get(LIST, {"key": key("bob1")})) == []


def test_a_stored_id_search_with_characters_no_stored_id_has_says_so(viewer: Client) -> None:
    response = viewer.get(LIST, {"key": "AB*"})

    assert response.context["rows"] == []
    assert "Stored ids are made of the letters A to Z and the digits 2 to 7." in (
        response.content.decode()
    )


def test_user_and_key_searches_combine(people: dict[str, User], viewer: Client) -> None:
    response = viewer.get(LIST, {"user": "alice", "key": stored_id(key("alice2"))[:8]})

    assert listed(response) == [key("alice2")]
    whole = stored_id(key("alice1"))
    assert listed(viewer.get(LIST, {"user": "alice", "key": whole})) == [key("alice1")]


@pytest.mark.parametrize(
    ("auth", "expected"),
    [("1", ["alice1", "alice2", "bob1"]), ("0", ["anon1", "anon2"]), ("", None)],
)
def test_the_login_filter_keeps_one_kind_of_session(
    people: dict[str, User], viewer: Client, auth: str, expected: list[str] | None
) -> None:
    everyone = ["alice1", "alice2", "anon1", "anon2", "bob1"]

    response = viewer.get(LIST, {"auth": auth})

    assert sorted(listed(response)) == [key(name) for name in expected or everyone]


def test_the_login_filter_shows_which_choice_is_on(viewer: Client) -> None:
    page = viewer.get(LIST, {"auth": "0"}).content.decode()

    assert '<li class="selected"><a href="?auth=0">Anonymous</a></li>' in page
    assert '<li><a href="?">All</a></li>' in page
    assert '<li><a href="?auth=1">Authenticated</a></li>' in page


def test_the_login_filter_applies_to_searches(people: dict[str, User], viewer: Client) -> None:
    assert listed(viewer.get(LIST, {"user": "alice", "auth": "0"})) == []
    assert len(listed(viewer.get(LIST, {"user": "alice", "auth": "1"}))) == 2
    assert listed(viewer.get(LIST, {"key": stored_id(key("bob1")), "auth": "0"})) == []
    anon = stored_id(key("anon1"))
    assert listed(viewer.get(LIST, {"key": anon, "auth": "0"})) == [key("anon1")]


# One session


@pytest.fixture
def secretive(store: Store) -> str:
    """A logged-in session with secrets at the top and deep down."""
    return log_in(
        store,
        key("secret"),
        "1",
        cart=[3, 1],
        api_token="tok-123",
        oauth={"provider": "example", "refresh_TOKEN": "ref-456", "scopes": ["read"]},
        history=[{"password": "hunter2"}, {"page": "/"}],
        theme="dark",
    )


def test_a_session_page_shows_its_metadata_and_data(
    store: Store, make_user: MakeUser, viewer: Client
) -> None:
    alice = make_user("alice", staff=False)
    log_in(store, key("alice"), alice, cart=[3, 1], theme="dark")

    response = viewer.get(detail(key("alice")))
    page = response.content.decode()

    assert response.status_code == 200
    assert f"<h1>Session {short(key('alice'))}</h1>" in page
    assert f"alice ({alice.pk})" in page
    for label in ("Stored id", "User", "Created", "Last saved", "Expires", "Size", "Keys"):
        assert f'<th scope="row">{label}</th>' in page
    assert re.search(r"in 59\xa0minutes \(<time", page)
    assert "<td>5</td>" in page  # keys of the session dict
    data = json.loads(response.context["data"])
    assert data == {
        "_auth_user_backend": BACKEND,
        "_auth_user_hash": MASK,
        "_auth_user_id": str(alice.pk),
        "cart": [3, 1],
        "theme": "dark",
    }
    assert response.context["data"].startswith('{\n  "_auth_user_backend"')
    assert '<a href="/admin/">Home</a>' in page
    assert f'<a href="{LIST}">Sessions</a>' in page


def test_a_session_page_masks_secrets_for_viewers_without_the_permission(
    secretive: str, viewer: Client
) -> None:
    response = viewer.get(detail(secretive))
    page = response.content.decode()

    assert json.loads(response.context["data"]) == {
        "_auth_user_backend": BACKEND,
        "_auth_user_hash": MASK,
        "_auth_user_id": "1",
        "api_token": MASK,
        "cart": [3, 1],
        "history": [{"password": MASK}, {"page": "/"}],
        "oauth": {"provider": "example", "refresh_TOKEN": MASK, "scopes": ["read"]},
        "theme": "dark",
    }
    for secret in ("tok-123", "ref-456", "hunter2", AUTH_HASH):
        assert secret not in page
    assert "4 secret values are masked." in page


def test_a_session_page_shows_secrets_to_holders_of_the_permission(
    secretive: str, make_user: MakeUser
) -> None:
    client = client_for(make_user("auditor", "view_session", "view_secrets"))

    response = client.get(detail(secretive))
    page = response.content.decode()

    assert json.loads(response.context["data"])["oauth"]["refresh_TOKEN"] == "ref-456"
    for secret in ("tok-123", "ref-456", "hunter2", AUTH_HASH):
        assert secret in page
    assert MASK not in page
    assert "masked" not in page


def test_superusers_see_secrets_unmasked_as_the_manual_says(
    secretive: str, make_user: MakeUser
) -> None:
    root = make_user("root", superuser=True)

    page = client_for(root).get(detail(secretive)).content.decode()

    for secret in ("tok-123", "ref-456", "hunter2", AUTH_HASH):
        assert secret in page
    assert MASK not in page
    manual = " ".join((REPOSITORY / "docs" / "admin.rst").read_text().split())
    assert "**Superusers see these values unmasked**: they hold every permission" in manual
    assert "a superuser sees secret values unmasked" in manual
    docstring = sys.modules[SessionAdmin.__module__].__doc__ or ""
    assert "Superusers hold every permission, these three included: they see secret values" in (
        " ".join(docstring.split())
    )


def test_a_session_page_never_shows_the_whole_key(secretive: str, make_user: MakeUser) -> None:
    client = client_for(make_user("auditor", "view_session", "view_secrets", "end_session"))

    page = client.get(detail(secretive)).content.decode()

    assert secretive not in page
    assert stored_id(secretive) in page


def test_a_destroyed_session_is_not_found(store: Store, viewer: Client) -> None:
    log_in(store, key("gone"), "1")
    store.destroy(key("gone"))

    assert viewer.get(detail(key("gone"))).status_code == 404


def test_a_missing_session_is_not_found(viewer: Client) -> None:
    assert viewer.get(detail(key("never"))).status_code == 404


@pytest.mark.parametrize("ref", ["x", "a" * 43, stored_id(key("a"))[:-2] + "zz", "..."])
def test_an_address_this_site_did_not_make_is_not_found(
    store: Store, viewer: Client, ref: str
) -> None:
    log_in(store, key("a"), "1")

    assert viewer.get(f"{LIST}{ref}/").status_code == 404


def test_a_session_page_offers_to_end_sessions_only_with_the_permission(
    store: Store, viewer: Client, ender: Client
) -> None:
    log_in(store, key("a"), "7")
    end = f'href="{LIST}{stored_id(key("a"))}/end/"'
    end_user = f'href="{LIST}users/7/end/"'

    page = ender.get(detail(key("a"))).content.decode()
    assert end in page
    assert end_user in page
    page = viewer.get(detail(key("a"))).content.decode()
    assert end not in page
    assert end_user not in page


def test_an_anonymous_session_page_offers_no_user_wide_end(store: Store, ender: Client) -> None:
    anonymous(store, key("anon"))

    page = ender.get(detail(key("anon"))).content.decode()

    assert "End this session" in page
    assert "End all sessions of this user" not in page


@override_settings(SESSION_SERIALIZER="tests.support.serializers.PickleSerializer")
def test_data_that_json_cannot_hold_is_shown_as_python(store: Store, make_user: MakeUser) -> None:
    # Signed cookies: the viewer's own session is not stored with pickle.
    with override_settings(SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies"):
        client = client_for(make_user("viewer", "view_session"))
        anonymous(get_store(), key("pickled"), counts={1: "one", "b": {2, 3}})

        response = client.get(detail(key("pickled")))

    assert response.status_code == 200
    assert response.context["data"] == "{'counts': {1: 'one', 'b': {2, 3}}}"


# Ending sessions


def end_url(session_key: str) -> str:
    return f"{LIST}{stored_id(session_key)}/end/"


def csrf_post(client: Client, path: str) -> Response:
    """POST as the confirmation page's form does: with its CSRF token."""
    page = client.get(path)
    assert page.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert token is not None
    return client.post(path, {"csrfmiddlewaretoken": token[1]})


@pytest.fixture
def strict_ender(make_user: MakeUser) -> Client:
    """Staff who may end sessions, on a client that checks CSRF tokens as browsers see it."""
    return client_for(make_user("ender", "view_session", "end_session"), enforce_csrf_checks=True)


def test_ending_a_session_asks_first(store: Store, ender: Client) -> None:
    log_in(store, key("a"), "7", cart=[1])

    response = ender.get(end_url(key("a")))
    page = response.content.decode()

    assert response.status_code == 200
    assert f"<h1>End session {short(key('a'))}?</h1>" in page
    assert "Are you sure you want to end this session?" in page
    assert '<form method="post"><input type="hidden" name="csrfmiddlewaretoken"' in page
    assert f'<a href="{detail(key("a"))}" class="button cancel-link">' in page
    assert store.exists(key("a"))


def test_ending_a_session_without_the_csrf_token_is_refused(
    store: Store, strict_ender: Client
) -> None:
    log_in(store, key("a"), "7")

    assert strict_ender.post(end_url(key("a"))).status_code == 403
    assert store.exists(key("a"))


def test_ending_a_session_leaves_a_tombstone_and_a_log_line_without_data(
    store: Store,
    redis_client: redis.Redis,
    strict_ender: Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    log_in(store, key("a"), "7", cart=["secret-item"])

    with caplog.at_level(logging.INFO, logger="redis_sessions"):
        response = csrf_post(strict_ender, end_url(key("a")))

    assert response.status_code == 302
    assert response["Location"] == LIST
    assert not store.exists(key("a"))
    assert redis_client.hexists(store.redis_key(key("a")), "#x")
    assert redis_client.zscore(store.index_key("7"), key("a")) is None
    (record,) = [record for record in caplog.records if "admin" in record.getMessage()]
    assert record.name == "redis_sessions"
    assert record.levelno == logging.INFO
    assert re.fullmatch(
        rf"ender \(id \d+\) ended session {re.escape(short(key('a')))} \(user 7\) in the admin\.",
        record.getMessage(),
    )
    assert key("a") not in caplog.text
    assert "secret-item" not in caplog.text
    followed = strict_ender.get(LIST)
    assert f"Session {short(key('a'))} was ended." in followed.content.decode()


def test_ending_a_session_is_in_the_admins_recent_actions_by_its_short_key(
    store: Store, ender: Client
) -> None:
    log_in(store, key("a"), "7")
    anonymous(store, key("anon"))

    assert ender.post(end_url(key("a"))).status_code == 302
    assert ender.post(end_url(key("anon"))).status_code == 302

    entries = LogEntry.objects.order_by("action_time", "pk")
    assert [
        (entry.user.get_username(), entry.object_id, entry.object_repr, entry.action_flag)
        for entry in entries
    ] == [
        ("ender", stored_id(key("a")), f"{short(key('a'))} (user 7)", DELETION),
        ("ender", stored_id(key("anon")), f"{short(key('anon'))} (anonymous)", DELETION),
    ]
    assert all(entry.content_type.model_class() is Session for entry in entries)
    assert not any(key("a") in str(vars(entry)) for entry in entries)
    index = ender.get("/admin/").content.decode()
    assert f"{short(key('a'))} (user 7)" in index
    assert f"{short(key('anon'))} (anonymous)" in index


def test_a_session_that_had_already_ended_leaves_no_record(store: Store, ender: Client) -> None:
    log_in(store, key("a"), "7")
    response = ender.get(end_url(key("a")))
    assert response.status_code == 200
    store.destroy(key("a"))  # by another request, after the page was shown

    assert ender.post(end_url(key("a"))).status_code == 404
    assert not LogEntry.objects.exists()


def test_ending_an_anonymous_session_logs_it_as_such(
    store: Store, ender: Client, caplog: pytest.LogCaptureFixture
) -> None:
    anonymous(store, key("anon"))

    with caplog.at_level(logging.INFO, logger="redis_sessions"):
        assert ender.post(end_url(key("anon"))).status_code == 302

    assert f"ended session {short(key('anon'))} (user anonymous) in the admin." in caplog.text
    assert not store.exists(key("anon"))


def test_ending_a_session_that_already_ended_is_not_found(store: Store, ender: Client) -> None:
    log_in(store, key("a"), "7")
    store.destroy(key("a"))

    assert ender.get(end_url(key("a"))).status_code == 404
    assert ender.post(end_url(key("a"))).status_code == 404


def test_ending_a_session_takes_the_permission(store: Store, viewer: Client) -> None:
    log_in(store, key("a"), "7")

    assert viewer.get(end_url(key("a"))).status_code == 403
    assert viewer.post(end_url(key("a"))).status_code == 403
    assert store.exists(key("a"))


def test_ending_sessions_is_refused_to_holders_of_the_end_permission_alone(
    store: Store, make_user: MakeUser
) -> None:
    log_in(store, key("a"), "7")
    client = client_for(make_user("odd", "end_session"))

    assert client.post(end_url(key("a"))).status_code == 403
    assert client.post(f"{LIST}users/7/end/").status_code == 403
    assert store.exists(key("a"))


@pytest.fixture
def sevens(store: Store) -> list[str]:
    """Three sessions of user 7, one of user 8."""
    log_in(store, key("eight"), "8")
    return [log_in(store, key(f"seven{number}"), "7", note="x") for number in range(3)]


def test_ending_a_users_sessions_asks_first(store: Store, sevens: list[str], ender: Client) -> None:
    response = ender.get(f"{LIST}users/7/end/")
    page = response.content.decode()

    assert response.status_code == 200
    assert "<h1>End every session of user 7?</h1>" in page
    assert "Are you sure you want to end the 3 sessions of this user?" in page
    for session_key in sevens:
        assert f'<span class="session-key">{short(session_key)}</span>' in page
    assert f'<a href="{LIST}?user=7" class="button cancel-link">' in page
    assert all(store.exists(session_key) for session_key in sevens)


def test_ending_a_users_sessions_without_the_csrf_token_is_refused(
    store: Store, sevens: list[str], strict_ender: Client
) -> None:
    assert strict_ender.post(f"{LIST}users/7/end/").status_code == 403
    assert len(store.user_sessions("7")) == 3


def test_ending_a_users_sessions_ends_them_all_and_logs_it(
    store: Store,
    redis_client: redis.Redis,
    sevens: list[str],
    strict_ender: Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="redis_sessions"):
        response = csrf_post(strict_ender, f"{LIST}users/7/end/")

    assert response.status_code == 302
    assert store.user_sessions("7") == []
    assert all(redis_client.hexists(store.redis_key(key), "#x") for key in sevens)
    assert store.exists(key("eight"))
    assert re.search(r"ender \(id \d+\) ended 3 session\(s\) of user 7 in the admin\.", caplog.text)
    assert not any(session_key[:8] in caplog.text for session_key in sevens)
    followed = strict_ender.get(LIST)
    assert "3 sessions of user 7 were ended." in followed.content.decode()
    (entry,) = LogEntry.objects.all()
    assert (entry.user.get_username(), entry.object_id, entry.object_repr) == (
        "ender",
        None,
        "3 session(s) of user 7",
    )
    assert entry.action_flag == DELETION


def test_ending_the_sessions_of_a_user_named_by_username_in_the_title(
    store: Store, make_user: MakeUser, ender: Client
) -> None:
    alice = make_user("alice", staff=False)
    log_in(store, key("alice"), alice)

    page = ender.get(f"{LIST}users/{alice.pk}/end/").content.decode()

    assert f"<h1>End every session of user alice ({alice.pk})?</h1>" in page
    assert "Are you sure you want to end the session of this user?" in page


def test_ending_the_sessions_of_a_user_without_any_is_not_found(ender: Client) -> None:
    assert ender.get(f"{LIST}users/7/end/").status_code == 404


def test_ending_a_users_sessions_takes_the_permission(
    store: Store, sevens: list[str], viewer: Client
) -> None:
    assert viewer.get(f"{LIST}users/7/end/").status_code == 403
    assert viewer.post(f"{LIST}users/7/end/").status_code == 403
    assert len(store.user_sessions("7")) == 3


# Breadcrumbs


def breadcrumbs(page: str) -> list[str]:
    """The trail of the page's breadcrumbs, each crumb's text with its link, if any."""
    found = re.search(r'<div class="breadcrumbs">(.*?)</div>', page, re.DOTALL)
    assert found is not None
    crumbs = []
    for crumb in found.group(1).split("&rsaquo;"):
        link = re.search(r'href="([^"]*)"', crumb)
        text = re.sub(r"<[^>]+>", "", crumb).strip()
        crumbs.append(f"{text} <{link.group(1)}>" if link else text)
    return crumbs


def test_every_page_leads_back_to_the_list_by_its_breadcrumbs(store: Store, ender: Client) -> None:
    log_in(store, key("a"), "7")
    up = ["Home </admin/>", "Redis sessions </admin/redis_sessions/>"]
    up_to_list = [*up, f"Sessions <{LIST}>"]
    session_page = detail(key("a"))

    assert breadcrumbs(ender.get(LIST).content.decode()) == [*up, "Sessions"]
    crumb = short(key("a"))
    assert breadcrumbs(ender.get(session_page).content.decode()) == [*up_to_list, crumb]
    assert breadcrumbs(ender.get(end_url(key("a"))).content.decode()) == [
        *up_to_list,
        f"{crumb} <{session_page}>",
        "End",
    ]
    assert breadcrumbs(ender.get(f"{LIST}users/7/end/").content.decode()) == [
        *up_to_list,
        "End",
    ]


# Redis down


def test_the_pages_answer_503_with_the_reason_while_redis_is_out(make_user: MakeUser) -> None:
    client = Client()
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    with override_settings(SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies"):
        client.force_login(make_user("viewer", "view_session"))
        with override_settings(REDIS_SESSIONS={"URL": nowhere}):
            response = client.get(LIST)

    assert response.status_code == 503
    page = response.content.decode()
    assert "<h1>Sessions are unavailable</h1>" in page
    assert "could not scan the sessions" in page
    assert "Check that the server is up and reachable." in page
    assert breadcrumbs(page) == [
        "Home </admin/>",
        "Redis sessions </admin/redis_sessions/>",
        "Sessions",
    ]


# Installed beside other apps


def django(settings: str, *args: str, url: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m django ARGS`` with a settings module of the tests."""
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


# Run by ``manage.py shell``: the admin's list as a superuser sees it, and
# whether the admin module was loaded.
ADMIN_WALK = """
import sys
import textwrap
from django.core.management import call_command
from django.test import Client
from django.test.utils import setup_test_environment
from django.contrib.auth.models import User

setup_test_environment()
call_command("migrate", verbosity=0)
client = Client()
client.force_login(User.objects.create_superuser("root", password="pw"))
index = client.get("/admin/").content.decode()
print("index", 'href="/admin/redis_sessions/session/"' in index)
print("list", client.get("/admin/redis_sessions/session/").status_code)
print("loaded", "redis_sessions.admin" in sys.modules)
"""

# Run by ``manage.py shell`` without the admin: sessions work, and the admin
# module was never imported.
SESSION_WALK = """
import sys
import textwrap
from django.core.management import call_command
from redis_sessions.session import SessionStore

call_command("migrate", verbosity=0)
store = SessionStore()
store["answer"] = 42
store.save()
print("loaded", SessionStore(store.session_key)["answer"])
print("admin", "redis_sessions.admin" in sys.modules)
"""


@pytest.mark.parametrize(
    "settings", ["tests.settings", "tests.settings_sessions_first"], ids=["before", "after"]
)
def test_the_admin_works_whichever_comes_first_of_this_app_and_contrib_sessions(
    redis_url: str, settings: str
) -> None:
    checked = django(settings, "check", url=redis_url)
    walked = django(settings, "shell", "-v", "0", "-c", ADMIN_WALK, url=redis_url)

    assert checked.returncode == 0
    # Listed after contrib.sessions, the app still works; the check warns
    # about clearsessions, which is then Django's.
    warned = "redis_sessions.W006" in checked.stderr
    assert warned is (settings == "tests.settings_sessions_first")
    assert (walked.returncode, walked.stderr) == (0, "")
    assert walked.stdout == "index True\nlist 200\nloaded True\n"


def test_the_app_works_without_the_admin_and_never_loads_its_admin_module(
    redis_url: str,
) -> None:
    checked = django("tests.settings_without_admin", "check", url=redis_url)
    walked = django(
        "tests.settings_without_admin", "shell", "-v", "0", "-c", SESSION_WALK, url=redis_url
    )

    assert (checked.returncode, checked.stderr) == (0, "")
    assert (walked.returncode, walked.stderr) == (0, "")
    assert walked.stdout == "loaded 42\nadmin False\n"


# docs/admin.rst


def test_the_manuals_example_of_a_subclass_registers_it_in_place(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = (REPOSITORY / "docs" / "admin.rst").read_text()
    block = r"\.\. code-block:: python\n\n((?:    .*\n|\n)*?    admin\.site\.register\(.*\)\n)"
    (example,) = re.findall(block, page)
    # The example runs against a site of its own, as the default one.
    site = AdminSite()
    site.register(Session, SessionAdmin)
    monkeypatch.setattr(admin, "site", site)
    monkeypatch.setattr(admin.sites, "site", site)

    exec(textwrap.dedent(example), {})
    replaced = site.get_model_admin(Session)

    assert type(replaced).__name__ == "StrictSessionAdmin"
    assert isinstance(replaced, SessionAdmin)
    assert replaced.list_per_page == 50
    assert "otp" in replaced.secret_words
