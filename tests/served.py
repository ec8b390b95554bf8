"""The README's server, started as `./scripts/serve.sh` runs it (`python -m backend.serve`:
development profile, a scratch SQLite file, jobs in-process, the demo data) on a free
port, with its output read line by line."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _read_lines(stream, into: queue.Queue) -> None:
    for line in stream:
        into.put(line)
    into.put(None)


def start_served_demo(tmp_path: Path, **extra_env: str) -> tuple[subprocess.Popen, queue.Queue]:
    """The server process and a queue of its output lines (None once it stopped)."""
    env = {
        **os.environ,
        "APP_PROFILE": "development",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}",
        "REDIS_URL": "",
        "JWT_SECRET": "s" * 48,
        "PII_KEY": "k" * 48,
        "HOST": "127.0.0.1",
        "PORT": "0",
        "LOG_LEVEL": "INFO",
        **extra_env,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "backend.serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True).start()
    return proc, lines


def read_until(lines: queue.Queue, seen: list[str], marker: str, timeout: float) -> str:
    """Append the server's lines to `seen` up to the first holding `marker`; fails when
    the server stops first."""
    while True:
        line = lines.get(timeout=timeout)
        assert line is not None, f"the server stopped: {seen[-20:]}"
        seen.append(line)
        if marker in line:
            return line
