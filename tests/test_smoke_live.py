"""The README's smoke command, exactly as written, passes against the README's server:
`python -m backend.serve` (what ./scripts/serve.sh runs) on a free port with a scratch
SQLite database and the demo data, and `scripts/smoke.py` run with Python's standard
library only (`-S`: no site-packages at all)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.served import ROOT, read_until, start_served_demo

# The README's command, after `python scripts/smoke.py`, with the server's own address.
README_ARGS = ["--staff", "admin", "--staff-password", "admin-demo-pass"]


def _signing_key(path: Path) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def _stdlib_only(*args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-I", "-S", "scripts/smoke.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_smoke_help_says_what_it_does():
    done = _stdlib_only("--help", timeout=60)
    assert done.returncode == 0, done.stderr
    for words in ("Standard library only", "--base", "--staff", "expiry", "Exit status"):
        assert words in done.stdout, words


def test_the_readme_smoke_command_passes_against_the_served_demo(tmp_path):
    server, lines = start_served_demo(
        tmp_path, CERT_SIGNING_KEY=str(_signing_key(tmp_path / "signing.pem"))
    )
    seen: list[str] = []
    try:
        base = json.loads(read_until(lines, seen, '"url"', timeout=300))["url"]
        read_until(lines, seen, "op_demo_ev", timeout=60)  # the demo logins follow the banner
        demo = [json.loads(x) for x in seen if '"demo": true' in x]
        assert any(d.get("login") == "admin" for d in demo)
        done = _stdlib_only("--base", base, *README_ARGS, timeout=600)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "SMOKE OK" in done.stdout
    assert "expired: expired" in done.stdout  # the expiry step ran, not skipped
    assert "SKIPPED" not in done.stdout
