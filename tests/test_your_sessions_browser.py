"""The "Your sessions" page of the example project, in Chromium.

The project runs as ``make demo`` runs it (``run_demo.py``, on the suite's
server); two browser contexts, a laptop's Firefox and a phone's Safari as
their user agents say, log in as the demo user. The phone's page lists both,
ends the laptop's session, and the laptop is logged out. The admin's viewer
shows the recorded device. ``REDIS_SESSIONS_SCREENSHOTS=docs`` writes the
screenshots of docs/devices.rst.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, expect, sync_playwright

from benchmarks.servers import free_port
from redis_sessions.store.keys import stored_id
from tests.test_admin_browser import CHROMIUM, CHROMIUM_ARGS, require_chromium, screenshot
from tests.test_example_project import demo_env, start_demo, wait_for_page
from tests.test_your_sessions import FIREFOX, SAFARI_ON_IPHONE

pytestmark = pytest.mark.browser


@pytest.fixture
def demo(redis_url: str, tmp_path: Path) -> Iterator[str]:
    """The example project's address, served by run_demo.py on the suite's server."""
    port = free_port()
    log = tmp_path / "demo.log"
    process = start_demo(demo_env(port, tmp_path, REDIS_URL=redis_url), log)
    try:
        wait_for_page(f"http://127.0.0.1:{port}/", process, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


@pytest.fixture
def chromium() -> Iterator[Browser]:
    require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def logged_in(browser: Browser, demo: str, agent: str, width: int) -> BrowserContext:
    context = browser.new_context(user_agent=agent, viewport={"width": width, "height": 700})
    page = context.new_page()
    page.goto(f"{demo}/login/")
    page.fill("input[name=username]", "demo")
    page.fill("input[name=password]", "demo")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{demo}/")
    return context


def test_two_browsers_see_each_other_and_one_ends_the_other(
    chromium: Browser, demo: str, tmp_path: Path
) -> None:
    laptop = logged_in(chromium, demo, FIREFOX, 1100)
    phone = logged_in(chromium, demo, SAFARI_ON_IPHONE, 430)
    page = phone.new_page()

    page.goto(f"{demo}/")
    page.click("text=Your sessions")
    items = page.locator("ul.sessions li")
    expect(items).to_have_count(2)
    expect(items.nth(0)).to_contain_text("Safari 17 on iOS")
    expect(items.nth(0)).to_contain_text("This session")
    expect(items.nth(1)).to_contain_text("Firefox 133 on Linux")
    expect(items.nth(1)).to_contain_text("127.0.0.1")
    screenshot(page, "your-sessions.png", tmp_path)

    items.nth(1).get_by_role("button", name="End this session").click()
    expect(page.locator("form.confirm")).to_contain_text("Firefox 133 on Linux")
    screenshot(page, "your-sessions-confirm.png", tmp_path)
    page.get_by_role("button", name="Yes, end this session").click()
    expect(page.locator("ul.sessions li")).to_have_count(1)

    laptop_page = laptop.new_page()
    laptop_page.goto(f"{demo}/")
    expect(laptop_page.locator("header")).to_contain_text("anonymous")
    page.goto(f"{demo}/")
    expect(page.locator("header")).to_contain_text("demo")


def test_the_admin_viewer_shows_the_device(chromium: Browser, demo: str) -> None:
    phone = logged_in(chromium, demo, SAFARI_ON_IPHONE, 1100)
    page = phone.new_page()

    (key,) = [cookie["value"] for cookie in phone.cookies() if cookie["name"] == "sessionid"]
    page.goto(f"{demo}/admin/redis_sessions/session/?key={stored_id(key)}")
    expect(page.locator("#result_list th a")).to_have_count(1)
    page.locator("#result_list th a").click()

    expect(page.locator("body")).to_contain_text("Safari 17 on iOS")
    expect(page.locator("body")).to_contain_text("_device_ip")
