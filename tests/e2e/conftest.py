"""
Browser tests: Playwright driving the system Chromium (never a downloaded browser) against
pytest-django's live server. Pages are opened on a phone-sized, touch screen, as most
merchants use them. Screenshots land in var/screenshots/ for a human to look at.

They wait on conditions, never for a fixed time: ``expect()`` polls until what it asks for is
on the page, and ``scripts_ready(page)`` waits until the page's scripts have run before a test
uses what they wire up. The time limits are ceilings for a busy machine (the suite runs on
every core at once, with Celery workers and other browsers beside it), not delays.
"""

import os
import re

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.helpers import REPO

# The longest any action or expect() waits for its condition.
TIMEOUT_MS = 15_000
expect.set_options(timeout=TIMEOUT_MS)

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
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    refused = watch_for_csp_violations(page)
    yield page
    context.close()
    assert refused == [], "the Content-Security-Policy blocked something the page needs"


def scripts_ready(page):
    """Wait until the page's scripts have run (its ``load`` event).

    After a click that navigates, ``expect()`` passes as soon as the parser has built the
    element it looks at, while the scripts at the end of ``<body>`` may still be on their way;
    on a busy machine that takes a while. What a test does meanwhile to something a script
    wires up is lost: a photo chosen before static/js/uploads.js listens is never uploaded,
    a province chosen before regions.js listens fills no cities, a tap on a menu before
    Bootstrap's script opens nothing. So a test calls this before it uses any of them.
    """
    page.wait_for_load_state("load")


def opened(collapsible):
    """Wait until Bootstrap has finished sliding ``collapsible`` open (it adds ``show`` at the
    end of the animation). Things inside move while it slides: a tap meanwhile can press on
    one element and lift on another, which clicks neither (a "Log out" that logged nobody out
    and left the test waiting on the merchant page)."""
    expect(collapsible).to_have_class(re.compile(r"(^|\s)show(\s|$)"))


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
