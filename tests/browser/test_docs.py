"""/api/docs (Swagger UI) and /api/redoc (ReDoc) render in headless Chromium with the
network off, from the vendored files, under their own Content-Security-Policy."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

OPERATION = "/api/v1/mall/orders"
# ReDoc 2.5.4 draws a Redocly logo from Redocly's CDN, hard-coded in the bundle (upstream
# issue Redocly/redoc#2141). The page's `img-src 'self' data:` refuses it before any
# request leaves the browser: that refusal is the one console error allowed.
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def _csp_refusal_of(url: str, message: str) -> bool:
    return url in message and "Content Security Policy" in message


def test_swagger_ui_renders_offline(page, offsite_requests, console_errors, screenshot):
    answer = page.goto("/api/docs")
    assert answer.status == 200
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    assert "unsafe-eval" not in answer.headers["content-security-policy"]

    # Every operation of the document is listed, the mall's orders among them. From 150
    # tags and operations on, Swagger UI renders only those near the viewport (its
    # `operations-virtual` list): scroll through the page and collect what it draws.
    page.locator(".opblock-summary-path").first.wait_for()
    spec = page.request.get("/api/openapi.json").json()
    listed = page.evaluate(
        """async () => {
            const seen = new Set();
            const tick = r => requestAnimationFrame(() => requestAnimationFrame(r));
            const frame = () => new Promise(tick);
            for (let y = 0; y <= document.documentElement.scrollHeight; y += 300) {
                window.scrollTo(0, y);
                await frame();
                document.querySelectorAll(".opblock").forEach(o => seen.add(
                    o.querySelector(".opblock-summary-method").textContent.toLowerCase() + " " +
                    o.querySelector(".opblock-summary-path").dataset.path));
            }
            window.scrollTo(0, 0);
            return [...seen];
        }"""
    )
    assert sorted(listed) == sorted(
        f"{m} {path}"
        for path, ops in spec["paths"].items()
        for m in ops
        if m in {"get", "post", "put", "patch", "delete"}
    )
    assert page.locator(".info .title").inner_text().startswith(spec["info"]["title"])

    screenshot(page, "api-docs-swagger-ui")

    # An operation opens, with its parameters and responses drawn from the document (the
    # filter box narrows the list to the mall's tag).
    page.locator(".operation-filter-input").fill("mall")
    page.locator(f'.opblock-summary-path[data-path="{OPERATION}"]').first.click()
    page.locator(".opblock.is-open .responses-wrapper").first.wait_for()
    assert offsite_requests == []
    assert console_errors == []


def test_redoc_renders_offline(page, offsite_requests, console_errors, screenshot):
    answer = page.goto("/api/redoc")
    assert answer.status == 200
    csp = answer.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "worker-src blob:" in csp

    page.locator(".http-verb").first.wait_for()
    assert page.get_by_text(OPERATION, exact=True).count() >= 1
    screenshot(page, "api-docs-redoc")

    # The search box works: its index lives in the blob: worker the CSP allows.
    page.get_by_placeholder("Search...").fill("orders")
    page.locator('[data-role="search:results"] li').first.wait_for()
    assert offsite_requests == []
    assert [e for e in console_errors if not _csp_refusal_of(REDOC_LOGO, e)] == []


def test_the_network_is_off(page, offsite_requests):
    """The harness itself: a request to any other host is aborted and recorded (to a
    name under .invalid, which never resolves, should the guard ever fail)."""
    page.goto("about:blank")
    outcome = page.evaluate(
        """async () => {
            try { await fetch("http://offsite.invalid/probe", {mode: "no-cors"}); return "sent"; }
            catch (e) { return "refused"; }
        }"""
    )
    assert outcome == "refused"
    assert offsite_requests == ["http://offsite.invalid/probe"]
