"""Tests in a real browser: the test app served on a free loopback port, driven by
Debian's Chromium through Playwright for Python, with the network "off".

- `live_server`: the base URL (`http://127.0.0.1:<port>`) of the session's test app (the
  throwaway database of this run) served by a werkzeug server thread.
- `page`: a fresh browser context and page, its `base_url` the live server. Every request
  the page makes to any host other than 127.0.0.1 is aborted and recorded in
  `offsite_requests` (a list of URLs; tests assert it stays empty). Console errors and
  uncaught page errors (a Content-Security-Policy violation is one) are recorded in
  `console_errors`.
- `screenshot(page, name)`: saves `docs/screenshots/<name>.png` and returns its path.

One Chromium per package (launched once, closed after the last browser test: the
Playwright sync API keeps an asyncio loop running while it is open). Every test module
here carries `pytestmark = pytest.mark.browser`.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "docs" / "screenshots"
LOCAL_HOST = "127.0.0.1"
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@pytest.fixture(scope="package")
def live_server(app):
    from werkzeug.serving import make_server

    server = make_server(LOCAL_HOST, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://{LOCAL_HOST}:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture(scope="package")
def browser():
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: scripts/test.sh installs Debian's chromium "
            "(apt-get install -y chromium)"
        )
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--disable-dev-shm-usage", "--no-first-run"],
        )
        yield chromium
        chromium.close()


@pytest.fixture()
def offsite_requests() -> list[str]:
    return []


@pytest.fixture()
def console_errors() -> list[str]:
    return []


def _local(url: str) -> bool:
    return urlsplit(url).hostname == LOCAL_HOST


@pytest.fixture()
def page(browser, live_server, offsite_requests, console_errors):
    context = browser.new_context(
        base_url=live_server,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
        viewport={"width": 1280, "height": 900},
        service_workers="block",
    )

    def guard(route):
        url = route.request.url
        if _local(url):
            route.continue_()
        else:
            offsite_requests.append(url)
            route.abort("internetdisconnected")

    def guard_socket(ws):
        if _local(ws.url):
            ws.connect_to_server()
        else:
            offsite_requests.append(ws.url)
            ws.close()

    context.route("**/*", guard)
    context.route_web_socket(re.compile(".*"), guard_socket)
    context.set_default_timeout(20_000)
    tab = context.new_page()
    tab.on("console", lambda m: m.type == "error" and console_errors.append(m.text))
    tab.on("pageerror", lambda e: console_errors.append(f"uncaught: {e}"))
    yield tab
    context.close()


@pytest.fixture()
def screenshot():
    """`screenshot(page, name)` saves docs/screenshots/<name>.png (the folder the README
    names) and returns its path."""

    def save(page, name: str, *, full_page: bool = False) -> Path:
        assert _NAME.match(name), f"screenshot name {name!r}: lowercase letters, digits, -"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page, animations="disabled")
        return path

    return save
