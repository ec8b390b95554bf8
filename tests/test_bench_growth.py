"""The growth benchmark's --quick size runs, so it cannot rot: its correctness checks
(every answer as built, the reconciliation ok in full and then incrementally from the
stored mark) must pass. Its speed is not asserted here: that is the benchmark's job."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, USE_SQLITE

pytestmark = [
    pytest.mark.bench,
    pytest.mark.skipif(USE_SQLITE, reason="the benchmark builds its ledger on PostgreSQL"),
]


def test_growth_benchmark_quick_size_passes_its_checks():
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "growth.py"), "--quick"],
        cwd=str(ROOT / "bench"),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    assert "checks: every answer as built; reports ok" in out
    for endpoint in ("/me ", "/me/activities", "/me/ledger", "/me/history"):
        assert f"GET {endpoint}" in out
    assert "incremental" in out and "from mark" in out
