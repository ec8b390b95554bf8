"""The mall's benchmarks at their `--quick` size, so they cannot rot: each runs as a
subprocess against the real PostgreSQL (a scratch database of its own, gunicorn with
the production profile) and must pass its own correctness checks. Their speed is
printed, never asserted here (figures and ratios are for `bench/README.md`)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.bench


def _run(script: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--quick"],
        cwd=ROOT / "bench",
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    return out


def test_flash_sale_quick_sells_exactly_the_stock_and_refuses_the_rest():
    out = _run("flash_sale.py")
    assert "ALL CHECKS PASSED" in out, out[-3000:]
    for check in (
        "exactly 20 orders in the database",
        "exactly 20 answers 201",
        "every other answer 409 out_of_stock",
        "one order per buyer, each paid once",
        "stock left 0",
        "ledger invariants and reconciliation hold",
    ):
        line = next(x for x in out.splitlines() if check in x)
        assert line.rstrip().endswith("ok"), line
    assert "refusals / healthz" in out


def test_mall_quick_places_redeems_and_settles_with_the_books_reconciled():
    out = _run("mall.py")
    assert "orders / healthz" in out and "orders p99 at 16 clients" in out, out[-3000:]
    reconciliation = next(x for x in out.splitlines() if "reconciliation" in x and "ok=" in x)
    assert reconciliation.rstrip().endswith("ok=True"), reconciliation
