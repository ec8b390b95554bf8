"""The vendored libraries for the pages (htmx, Chart.js, qr-scanner) load from
/static/vendor/ and work in headless Chromium with the network off, under the strict
Content-Security-Policy the pages will carry (no inline script, no eval)."""

from __future__ import annotations

import io

import pytest
import qrcode

pytestmark = pytest.mark.browser

VENDOR = "/static/vendor"
# What a server-rendered page with a chart and the QR scanner needs, and no more.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; worker-src blob:; object-src 'none'; base-uri 'none'"
)
PAGE = f"""<!doctype html>
<html lang="zh-Hans"><head><meta charset="utf-8">
<meta name="htmx-config" content='{{"includeIndicatorStyles": false, "allowEval": false}}'>
<script src="{VENDOR}/htmx.org-2.0.11/htmx.min.js"></script>
<script src="{VENDOR}/chart.js-4.6.1/chart.umd.min.js"></script>
<script src="{VENDOR}/qr-scanner-1.4.2/qr-scanner.umd.min.js"></script>
</head><body>
<button id="load" hx-get="/__fragment" hx-target="#out" hx-swap="innerHTML">载入</button>
<div id="out"></div>
<div><canvas id="chart" aria-label="chart"></canvas></div>
</body></html>"""


def _qr_png(text: str) -> bytes:
    out = io.BytesIO()
    qrcode.make(text).save(out, format="PNG")
    return out.getvalue()


def test_htmx_chart_and_qr_scanner_work_offline(
    page, live_server, offsite_requests, console_errors
):
    code = "SIPCP-7Q4K-2M9X"
    served = {
        f"{live_server}/__page": ("text/html; charset=utf-8", PAGE.encode()),
        f"{live_server}/__fragment": (
            "text/html; charset=utf-8",
            "<p id=got>减排 12 g</p>".encode(),
        ),
        f"{live_server}/__code.png": ("image/png", _qr_png(code)),
    }

    def fulfil(route):
        content_type, body = served[route.request.url]
        route.fulfill(
            body=body, headers={"Content-Type": content_type, "Content-Security-Policy": PAGE_CSP}
        )

    for url in served:
        page.route(url, fulfil)
    page.goto("/__page")

    assert page.evaluate("htmx.version") == "2.0.11"
    page.get_by_role("button", name="载入").click()
    assert page.locator("#got").inner_text() == "减排 12 g"

    assert page.evaluate("Chart.version") == "4.6.1"
    drawn = page.evaluate(
        """() => {
            const chart = new Chart(document.getElementById("chart"), {
                type: "bar", options: {animation: false},
                data: {labels: ["1月", "2月"], datasets: [{label: "g", data: [3, 5]}]},
            });
            const canvas = chart.canvas;
            const {width, height} = canvas;
            const pixels = canvas.getContext("2d").getImageData(0, 0, width, height).data;
            return pixels.some((v, i) => i % 4 === 3 && v !== 0);
        }"""
    )
    assert drawn is True

    # Decoded in the library's Web Worker (Linux Chromium has no native BarcodeDetector).
    decoded = page.evaluate(
        """async () => {
            const options = {returnDetailedScanResult: true};
            return (await QrScanner.scanImage("/__code.png", options)).data;
        }"""
    )
    assert decoded == code

    assert offsite_requests == []
    assert console_errors == []
