"""Browser tests: the real service on a loopback port, driven by Playwright in Debian's
Chromium (never a downloaded browser), with axe-core checking every page.

Without a Chromium the tests are skipped and the run says so in one line. Screenshots are
written only when ``GRADER_SCREENSHOT_DIR`` is set (``make screenshots`` sets docs/screenshots).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
from playwright.sync_api import Browser, BrowserContext, Frame, Page

from service.config import Settings
from tests.conftest import ADMIN_KEY, auth
from tests.support.live import live_service

CHROMIUM = (
    os.environ.get("GRADER_CHROMIUM")
    or shutil.which("chromium")
    or shutil.which("chromium-browser")
)
SKIP_LINE = (
    "browser tests skipped: no Chromium found. Install Debian's package "
    "(apt-get install chromium) or set GRADER_CHROMIUM=/path/to/chromium to run them."
)
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
HERE = Path(__file__).parent
_axe = Axe()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM:
        return
    skip = pytest.mark.skip(reason=SKIP_LINE)
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not CHROMIUM:
        terminalreporter.write_line(SKIP_LINE, yellow=True)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    # --no-sandbox: the machines run tests as root, where Chromium's sandbox cannot start.
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": ["--no-sandbox"]}


@dataclass
class Live:
    base_url: str
    api: httpx.Client  # the bootstrap admin, over real HTTP
    app: Any
    csp_errors: list[str] = field(default_factory=list)

    def client(self, key: str | None) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers=auth(key) if key else {}, timeout=30)

    def key(self, role: str, name: str, courses: list[str] | None = None) -> str:
        body: dict[str, Any] = {"name": name, "role": role}
        if role == "instructor":
            body["course_ids"] = courses or ["default"]
        response = self.api.post("/v1/keys", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["key"])


@pytest.fixture
def live(settings: Settings) -> Iterator[Live]:
    """The service on 127.0.0.1 with its background worker on (jobs run as in production)."""
    with live_service(settings) as (base_url, app):
        api = httpx.Client(base_url=base_url, headers=auth(ADMIN_KEY), timeout=30)
        try:
            yield Live(base_url=base_url, api=api, app=app)
        finally:
            api.close()


@pytest.fixture
def context(browser: Browser, live: Live) -> Iterator[BrowserContext]:
    """A browser context that records every CSP violation the pages cause."""
    ctx = browser.new_context(base_url=live.base_url, viewport={"width": 1280, "height": 900})
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext, live: Live) -> Iterator[Page]:
    tab = context.new_page()
    tab.on(
        "console",
        lambda message: (
            live.csp_errors.append(message.text)
            if "Content Security Policy" in message.text
            else None
        ),
    )
    yield tab
    assert live.csp_errors == [], live.csp_errors


def assert_accessible(page: Page | Frame) -> None:
    """axe-core (WCAG 2.1 A and AA rules) finds no violation on the page as it is now; a
    Frame checks the page inside an iframe (an LTI page framed by the LMS)."""
    results = _axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}})
    assert results.violations_count == 0, results.generate_report()


def screenshot(page: Page, name: str, *, full_page: bool = True) -> None:
    target = os.environ.get("GRADER_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(target) / f"{name}.png"), full_page=full_page)


def sign_in(page: Page, key: str) -> None:
    page.goto("/console")
    page.get_by_label("Your instructor or admin key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console")
