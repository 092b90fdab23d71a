"""
Browser tests: Playwright driving the system Chromium (never a downloaded browser) against
pytest-django's live server. Pages are opened on a phone-sized, touch screen, as most
merchants use them. Screenshots land in var/screenshots/ for a human to look at.
"""

import os

import pytest
from playwright.sync_api import sync_playwright

from tests.helpers import REPO

SCREENSHOTS = REPO / "var" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # The test machine has no internet: without these Chromium keeps trying to reach Google.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser(chromium_path):
    # Playwright's sync API keeps an event loop running on this thread while the browser is
    # open, and Django then refuses ORM calls (the test database set-up, a test checking
    # what a form saved) as if they came from async code. Allow them for that time only.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    refused = watch_for_csp_violations(page)
    yield page
    context.close()
    assert refused == [], "the Content-Security-Policy blocked something the page needs"


def watch_for_csp_violations(page) -> list[str]:
    """Chromium reports what the Content-Security-Policy blocked on the console; every browser
    test thereby checks the policy against the pages it visits."""
    refused = []

    def on_console(message):
        if "Content Security Policy" in message.text:
            refused.append(f"{page.url}: {message.text}")

    page.on("console", on_console)
    return refused


@pytest.fixture
def screenshot(page, request):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str):
        page.screenshot(path=SCREENSHOTS / f"{request.node.name}-{name}.png", full_page=True)

    return take
