"""The admin's session viewer on Redis Cluster and on a Valkey cluster.

The list walks the primaries one after the other, its cursor naming the
primary and that primary's SCAN cursor; the detail page, the search by user
and the ending of sessions work as on one server (``test_admin.py`` says all
of it there).
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from redis_sessions.admin import paging
from redis_sessions.store.keys import stored_id
from tests.support.stores_on_topologies import Store
from tests.test_admin import (
    LIST,
    anonymous,
    client_for,
    csrf_post,
    detail,
    end_url,
    key,
    listed,
    log_in,
)

pytestmark = [pytest.mark.django_db, pytest.mark.cluster]


def staff(username: str, *codenames: str) -> User:
    user: User = User.objects.create_user(username, password="pw", is_staff=True)
    for codename in codenames:
        permission = Permission.objects.get(
            codename=codename, content_type__app_label="redis_sessions"
        )
        user.user_permissions.add(permission)
    return user


@pytest.fixture(params=["cluster", "valkey_cluster"])
def on_a_cluster(request: pytest.FixtureRequest) -> Store:
    store: Store = request.getfixturevalue(f"on_{request.param}")
    return store


def test_a_walk_of_small_pages_visits_every_primary_and_lists_each_session_once(
    on_a_cluster: Store,
) -> None:
    store = on_a_cluster.store
    made = {anonymous(store, key(f"s{number:02d}")) for number in range(40)}

    seen: list[str] = []
    cursors: list[str] = []
    cursor = "0"
    while True:
        page = paging.scan_page(store, cursor, 4)
        seen += [listed.session.stored_id for listed in page.sessions]
        if page.cursor == "0":
            break
        cursors.append(page.cursor)
        cursor = page.cursor

    assert sorted(seen) == sorted(stored_id(session_key) for session_key in made)
    # Past the first primary, a cursor says which primary the walk is on.
    later = {cursor.split(".")[0] for cursor in cursors if "." in cursor}
    assert later
    assert later <= {"1", "2"}


def test_the_list_pages_detail_and_ending_work_on_a_cluster(on_a_cluster: Store) -> None:
    store = on_a_cluster.store
    ender = client_for(staff("ender", "view_session", "end_session", "view_secrets"))
    made = {log_in(store, key(f"u{number:02d}"), "7", cart=[number]) for number in range(3)}
    made |= {anonymous(store, key(f"a{number:02d}")) for number in range(20)}

    seen: list[str] = []
    response = ender.get(f"{LIST}?cursor=0")
    while True:
        assert response.status_code == 200
        seen += listed(response)
        if not response.context["next_url"]:
            break
        response = ender.get(LIST + response.context["next_url"])
    assert sorted(seen) == sorted(made)

    page = ender.get(detail(key("u01"))).content.decode()
    assert "cart" in page
    searched = ender.get(LIST, {"user": "7"})
    assert sorted(listed(searched)) == sorted(key(f"u{number:02d}") for number in range(3))

    assert csrf_post(ender, end_url(key("u01"))).status_code == 302
    assert not store.exists(key("u01"))
    assert csrf_post(ender, f"{LIST}users/7/end/").status_code == 302
    assert store.user_sessions("7") == []


def test_a_viewer_without_the_permission_is_refused_on_a_cluster(on_a_cluster: Store) -> None:
    refused: Client = client_for(staff("staff"))

    assert refused.get(LIST).status_code == 403
