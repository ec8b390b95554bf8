"""backend/static/vendor/README.md lists every vendored file with its sha256, and the
files are what it says (no file added, changed or dropped without it)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "backend" / "static" / "vendor"
ROW = re.compile(r"^\| `(?P<path>[^`]+)` \| `package/[^`]+` \| `(?P<sha>[0-9a-f]{64})` \|$")


def _listed() -> dict[str, str]:
    rows = (ROW.match(line) for line in (VENDOR / "README.md").read_text().splitlines())
    return {m["path"]: m["sha"] for m in rows if m}


def test_every_vendored_file_is_listed_with_its_hash():
    listed = _listed()
    present = {
        p.relative_to(VENDOR).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in VENDOR.rglob("*")
        if p.is_file() and p.name != "README.md"
    }
    assert present == listed


def test_each_package_carries_its_licence():
    folders = {path.split("/")[0] for path in _listed()}
    assert folders == {
        "swagger-ui-dist-5.35.0",
        "redoc-2.5.4",
        "htmx.org-2.0.11",
        "chart.js-4.6.1",
        "qr-scanner-1.4.2",
    }
    for folder in folders:
        assert any((VENDOR / folder).glob("LICENSE*")), folder
