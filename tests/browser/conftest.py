"""Fixtures for the real-browser tests: Debian's Chromium driven by Playwright (Python), pages kept on this machine.

The tests skip, with the reason, only when Chromium or Playwright is missing; CI installs both (.ci/run).
A failing test leaves a screenshot of its page in build/browser-failures/.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `tools` (the site and slides builders) lives at the repository root

FAILURES = ROOT / "build" / "browser-failures"
CHROMIUM = os.environ.get("CNNLAB_CHROMIUM", "/usr/bin/chromium")
# Chromium's own traffic (updates, sync, safe browsing) is off: the course machines have no network, and a test page
# must not reach one either.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-default-apps", "--disable-extensions", "--metrics-recording-only", "--mute-audio"]


def is_local(url: str) -> bool:
    """True for URLs that stay on this machine: file:, data:, blob:, about: and loopback http(s)/ws."""
    parts = urlsplit(url)
    if parts.scheme in {"file", "data", "blob", "about", "chrome-error"}:
        return True
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Overrides tests/conftest.py's: the test process may talk to loopback (the JupyterLab server), nothing else."""
    connect, create_connection = socket.socket.connect, socket.create_connection

    def host_of(address) -> str:
        return address[0] if isinstance(address, tuple) else str(address)

    def checked_connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not is_local(f"http://{host_of(address)}"):
            raise AssertionError(f"a browser test tried to reach {address}")
        return connect(self, address)

    def checked_create_connection(address, *args, **kwargs):
        if not is_local(f"http://{host_of(address)}"):
            raise AssertionError(f"a browser test tried to reach {address}")
        return create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", checked_connect)
    monkeypatch.setattr(socket, "create_connection", checked_create_connection)


@pytest.fixture(scope="session")
def browser():
    """A headless Debian Chromium under Playwright, shared by the session; skips if either is missing."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed: pip install playwright")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium (or set CNNLAB_CHROMIUM)")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class PageLog:
    """What a page did that a test may want to fail on: requests leaving the machine, failed loads, JS errors."""

    def __init__(self) -> None:
        self.external: list[str] = []
        self.failed: list[str] = []
        self.errors: list[str] = []


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Remember each phase's report on the test item, so the `page` fixture knows whether the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture
def page(browser, request):
    """A fresh page (1280x900) whose requests are confined to this machine: any other is aborted and logged."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    log = PageLog()

    def route(r):
        if is_local(r.request.url):
            r.continue_()
        else:
            log.external.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page.on("requestfailed", lambda req: is_local(req.url) and log.failed.append(f"{req.url} ({req.failure})"))
    page.on("pageerror", lambda err: log.errors.append(str(err)))
    page.log = log
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        FAILURES.mkdir(parents=True, exist_ok=True)
        shot = FAILURES / f"{request.node.name.replace('/', '_')}.png"
        try:
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot of the failing page: {shot}")
        except Exception as err:  # the page may be gone; the test's own failure is what matters
            print(f"no screenshot: {err}")
    context.close()


@pytest.fixture
def assert_offline():
    """A check: the page asked for nothing outside this machine, every local file it asked for loaded, no JS error."""
    return _assert_offline


def _assert_offline(page) -> None:
    assert page.log.external == [], f"requests left the machine: {page.log.external[:5]}"
    assert page.log.failed == [], f"local requests failed: {page.log.failed[:5]}"
    assert page.log.errors == [], f"JavaScript errors: {page.log.errors[:5]}"
