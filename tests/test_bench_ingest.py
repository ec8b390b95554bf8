"""bench/ingest.py --quick runs (so the benchmark cannot rot) and its correctness checks
pass: every record accepted and credited with accrual running beside the uploads, the
books balanced, points = credited grams = the daily caps' sum. Its speed is not asserted
here (figures belong to the benchmark's output, not to a test)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.bench


def test_ingest_benchmark_quick_size_passes_its_checks():
    if os.environ.get("TEST_DB") == "sqlite":
        pytest.skip("the benchmark runs on PostgreSQL")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "ingest.py"), "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "VERIFY FAILED" not in out
    assert "checks: all credited, invariants ok, points = credited" in out, out[-3000:]
    assert "20,000 records, 2,000 residents" in out
    for ratio in ("ingest / COPY", "upload to credited / COPY"):
        assert ratio in out
