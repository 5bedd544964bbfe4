"""The session viewer in a real browser: headless Chromium, driven by Playwright,
against a live server of the test settings.

The browser is Debian's ``chromium`` at ``/usr/bin/chromium`` (``apt-get install
chromium``; ``.ci/run`` installs it), never one that ``playwright install``
downloads. Without it these tests fail, saying so: they are part of ``make test``.
Marked ``browser``: ``pytest -m 'not browser'`` leaves them out.

``REDIS_SESSIONS_SCREENSHOTS=docs`` makes them write the screenshots that the
manual's docs/admin.rst shows into ``docs/``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from playwright.sync_api import Browser, Page, expect, sync_playwright
from pytest_django.live_server_helper import LiveServer

from redis_sessions.admin.masking import MASK
from redis_sessions.store import Store, get_store
from redis_sessions.store.keys import abbreviated, stored_id

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REPOSITORY = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LIST = "/admin/redis_sessions/session/"
BACKEND = "django.contrib.auth.backends.ModelBackend"
AUTH_HASH = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def require_chromium(path: Path = CHROMIUM) -> None:
    """Fail, saying how to install it, unless the browser is there."""
    if not path.exists():
        pytest.fail(
            f"The browser tests need Debian's Chromium at {path}. Install it with "
            "`apt-get install -y chromium` (as root), as .ci/run does; never with "
            "`playwright install`.",
            pytrace=False,
        )


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_chromium()
    # Playwright's sync API runs an event loop in this thread, where Django
    # would then refuse the ORM calls that set the tests up.
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if before is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def store() -> Store:
    return get_store()


def key(name: str) -> str:
    return name.ljust(32, "0")


def make_user(username: str, *perms: str, staff: bool = True) -> User:
    user: User = User.objects.create_user(username, password="pw", is_staff=staff)
    for perm in perms:
        user.user_permissions.add(
            Permission.objects.get(codename=perm, content_type__app_label="redis_sessions")
        )
    return user


def log_in(store: Store, session_key: str, user: User, **data: object) -> str:
    auth = {"_auth_user_id": str(user.pk), "_auth_user_backend": BACKEND}
    store.create(session_key, {**auth, "_auth_user_hash": AUTH_HASH, **data}, 14 * 86400)
    return session_key


def anonymous(store: Store, session_key: str, **data: object) -> str:
    store.create(session_key, data, 3600)
    return session_key


def sign_in(page: Page, server: LiveServer, username: str, then: str = LIST) -> None:
    page.goto(f"{server.url}/admin/login/?next={then}")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw")
    page.click("input[type=submit]")
    page.wait_for_load_state()


def shown_keys(page: Page) -> list[str]:
    return [text.strip() for text in page.locator("#result_list th.field-key a").all_inner_texts()]


def screenshot(page: Page, name: str, folder: Path) -> None:
    """Save a screenshot in ``folder``, and in the folder REDIS_SESSIONS_SCREENSHOTS names."""
    page.screenshot(path=folder / name, full_page=True)
    wanted = os.environ.get("REDIS_SESSIONS_SCREENSHOTS")
    if wanted:
        target = REPOSITORY / wanted
        target.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=target / name, full_page=True)


def test_a_viewer_pages_searches_and_opens_a_session_with_secrets_masked(
    page: Page,
    live_server: LiveServer,
    store: Store,
    page_size: Callable[[int], None],
) -> None:
    make_user("viewer", "view_session")
    alice = make_user("alice", staff=False)
    bob = make_user("bob", staff=False)
    made = [
        log_in(store, key("alice1"), alice, api_token="tok-123"),
        log_in(store, key("alice2"), alice),
        log_in(store, key("bob1"), bob),
        # Enough that no server hands them all out in one SCAN call.
        *(anonymous(store, key(f"anon{number:02d}"), number=number) for number in range(30)),
    ]
    page_size(3)
    sign_in(page, live_server, "viewer")

    # The list, a page at a time, to the last page.
    expect(page.locator("h1")).to_have_text("Select session to view")
    seen = shown_keys(page)
    pages = 1
    while page.locator("a.session-next").count():
        page.click("a.session-next")
        expect(page.locator("a.session-first")).to_be_visible()
        seen += shown_keys(page)
        pages += 1
    assert pages >= 3
    # Every session once, the viewer's own among them; no whole key anywhere.
    assert len(seen) == len(made) + 1
    assert {abbreviated(stored_id(session_key)) for session_key in made} <= set(seen)
    assert not any(session_key in page.content() for session_key in made)

    # Search by username, then open a session.
    page.fill("#session-search-user", "alice")
    page.click("#changelist-search input[type=submit]")
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    alice1 = abbreviated(stored_id(key("alice1")))
    shown = sorted(abbreviated(stored_id(key(name))) for name in ("alice1", "alice2"))
    assert sorted(shown_keys(page)) == shown
    page.click(f"text={alice1}")
    expect(page.locator("h1")).to_have_text(f"Session {alice1}")
    data = page.inner_text("pre.session-data")
    assert f'"api_token": "{MASK}"' in data
    assert "tok-123" not in page.content()
    assert AUTH_HASH not in page.content()
    expect(page.locator(".session-masked")).to_contain_text("2 secret values are masked.")
    # Only viewing: no way to end sessions is offered.
    expect(page.locator("a.session-end")).to_have_count(0)


def test_staff_without_the_view_permission_are_refused(page: Page, live_server: LiveServer) -> None:
    make_user("staff")
    sign_in(page, live_server, "staff", then="/admin/")

    expect(page.locator("#site-name")).to_be_visible()
    assert page.locator(f'a[href="{LIST}"]').count() == 0
    response = page.goto(f"{live_server.url}{LIST}")
    assert response is not None
    assert response.status == 403


def test_a_holder_of_the_end_permission_ends_a_session_after_confirming(
    page: Page, live_server: LiveServer, store: Store
) -> None:
    make_user("ender", "view_session", "end_session")
    alice = make_user("alice", staff=False)
    log_in(store, key("alice1"), alice)
    sign_in(page, live_server, "ender")

    alice1 = abbreviated(stored_id(key("alice1")))
    page.fill("#session-search-key", alice1)
    page.click("#changelist-search input[type=submit]")
    page.click(f"text={alice1}")
    page.click("a.session-end")
    expect(page.locator("h1")).to_have_text(f"End session {alice1}?")
    assert store.exists(key("alice1"))
    page.click(".delete-confirmation form input[type=submit]")

    expect(page.locator(".messagelist")).to_contain_text(f"Session {alice1} was ended.")
    assert not store.exists(key("alice1"))


def _luminance(css_colour: str) -> float:
    red, green, blue = (int(part) for part in re.findall(r"\d+", css_colour)[:3])
    return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255


def test_the_pages_in_light_and_dark_mode(
    browser: Browser,
    page: Page,
    live_server: LiveServer,
    store: Store,
    tmp_path: Path,
) -> None:
    """Also the screenshots of docs/admin.rst: a few users' sessions, as a support
    person who may view sessions sees them."""
    make_user("support", "view_session")
    people = {name: make_user(name, staff=False) for name in ("alice", "bob", "carol")}
    log_in(
        store,
        "c4m2vq7hxk3dyt5pw6jr8nbl2fz4ga7s",
        people["alice"],
        cart=[{"sku": "TEA-042", "quantity": 2}, {"sku": "MUG-007", "quantity": 1}],
        oauth={"provider": "github", "access_token": "gho_16C7e42F292c6912E7710c838347Ae178B4a"},
        theme="dark",
        django_language="en",
    )
    log_in(store, "q7n3xw5k2pbz8ym4dh6tc9ra3lv5js2e", people["alice"], theme="dark")
    log_in(store, "h2kd8xw4m6pq3nz7bt5vy9rc2jl4fg6s", people["bob"], django_language="fr")
    log_in(store, "w5tq2mz8k4xb6nd3hp7ry9vc4jl2sg5f", people["carol"], cart=[])
    anonymous(store, "p8ym3kq6zx2wb5nd7ht4vr9cl3js6fg2", cart=[{"sku": "TEA-001"}])
    anonymous(store, "e3rk7bw5qz2xm8nd4hy6tp9cl2vs5jg7", django_language="de")
    sign_in(page, live_server, "support")

    expect(page.locator("#result_list tbody tr")).to_have_count(7)
    screenshot(page, "admin-list.png", tmp_path)
    page.click(f"text={abbreviated(stored_id('c4m2vq7hxk3dyt5pw6jr8nbl2fz4ga7s'))}")
    expect(page.locator(".session-masked")).to_be_visible()
    screenshot(page, "admin-detail.png", tmp_path)
    light_background = page.evaluate("getComputedStyle(document.body).backgroundColor")

    dark = browser.new_context(
        viewport={"width": 1280, "height": 800}, locale="en-US", color_scheme="dark"
    )
    dark_page = dark.new_page()
    sign_in(dark_page, live_server, "support", then=page.url.removeprefix(live_server.url))
    expect(dark_page.locator("pre.session-data")).to_be_visible()
    screenshot(dark_page, "admin-detail-dark.png", tmp_path)
    body = dark_page.evaluate("getComputedStyle(document.body).backgroundColor")
    data = dark_page.evaluate(
        "getComputedStyle(document.querySelector('pre.session-data')).backgroundColor"
    )
    text = dark_page.evaluate("getComputedStyle(document.querySelector('pre.session-data')).color")
    dark.close()

    assert _luminance(light_background) > 0.9
    assert _luminance(body) < 0.2
    assert _luminance(data) < 0.2
    assert _luminance(text) > 0.7


def test_without_chromium_the_browser_tests_fail_saying_how_to_install_it(
    tmp_path: Path,
) -> None:
    with pytest.raises(pytest.fail.Exception) as failed:
        require_chromium(tmp_path / "chromium")

    assert "apt-get install -y chromium" in str(failed.value)
