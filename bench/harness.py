"""What the benchmarks share: a scratch PostgreSQL database, a gunicorn on a free
loopback port, and a timestamped log line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def create_database(prefix: str) -> tuple[str, str]:
    """(name, libpq URL) of a new scratch database."""
    name = f"sip_bench_{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"


def drop_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_gunicorn(env: dict, port: int, workers: int, logfile: Path) -> subprocess.Popen:
    gunicorn = Path(sys.executable).with_name("gunicorn")
    out = logfile.open("wb")
    proc = subprocess.Popen(
        [str(gunicorn), "-w", str(workers), "-b", f"127.0.0.1:{port}", "--timeout", "900"]
        + ["wsgi:app"],
        cwd=str(ROOT),
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    out.close()
    deadline = time.monotonic() + 60
    http = requests.Session()
    http.trust_env = False  # loopback only, never a proxy
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited early; see {logfile}")
        try:
            if http.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok:
                return proc
        except requests.RequestException:
            pass
        time.sleep(0.3)
    stop(proc)
    raise SystemExit(f"gunicorn did not come up in 60 s; see {logfile}")


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def signing_key() -> str:
    """A fresh certificate signing key (PEM): the production profile requires one."""
    sys.path.insert(0, str(ROOT))
    from backend.certificates.keys import generate_pem

    return generate_pem().decode()


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by process `pid` and its children (e.g.
    gunicorn's master and workers), from /proc; 0.0 where /proc is not there."""
    tick = os.sysconf("SC_CLK_TCK")
    total, parents = 0.0, {pid}
    try:
        stats = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    raw = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                fields = raw[raw.rindex(")") + 2 :].split()
                stats.append((int(entry), int(fields[1]), int(fields[11]) + int(fields[12])))
    except OSError:
        return 0.0
    for proc_id, parent, ticks in stats:
        if proc_id in parents or parent in parents:
            total += ticks / tick
    return total


def database_cpu_seconds(admin_url: str, database: str) -> float:
    """CPU seconds used so far by the PostgreSQL backends connected to `database` (the
    pool connections of the server under test), from pg_stat_activity and /proc."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        pids = [
            r[0]
            for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,)
            ).fetchall()
        ]
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            raw = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total
