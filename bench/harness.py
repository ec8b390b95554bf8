"""What the benchmarks share, one helper per job: a scratch PostgreSQL database (made,
migrated with the catalogue, dropped), the production profile's settings, a gunicorn on
a free loopback port, residents written by COPY and given points through the ledger,
in-process access tokens and a session that renews its own, the SQL and CPU profile of
one request, the CPU used (from /proc), percentiles, the load average and a timestamped
log line."""

from __future__ import annotations

import cProfile
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
RESIDENT_PASSWORD = "resident-pass"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def local_session() -> requests.Session:
    """A session that never goes through a proxy from the environment: 127.0.0.1 only."""
    sess = requests.Session()
    sess.trust_env = False
    return sess


def pct(sorted_values: list[float], p: float) -> float:
    """The `p` quantile (0..1) of values sorted ascending."""
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p))]


def p50_p99(sorted_seconds: list[float]) -> str:
    """Latencies as printed: `p50   12.3 ms  p99   45.6 ms`."""
    p50, p99 = pct(sorted_seconds, 0.5) * 1000, pct(sorted_seconds, 0.99) * 1000
    return f"p50 {p50:6.1f} ms  p99 {p99:6.1f} ms"


def loads(values: Iterable[float]) -> str:
    """Load averages as printed: `1.23 4.56 7.89`."""
    return " ".join(f"{v:.2f}" for v in values)


def noisy(load_before: float) -> str:
    """The warning after a load line when other work was running before the run."""
    return "  << other work on this machine: figures are noisy" if load_before > 1 else ""


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


def sqlalchemy_url(pg_url: str) -> str:
    """The SQLAlchemy URL (psycopg 3 driver) of a libpq URL."""
    return pg_url.replace("postgresql://", "postgresql+psycopg://", 1)


def release_connections(app) -> None:
    """No pooled connection may cross a fork, nor outlive the database it points at."""
    from backend.db import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def finish_database(name: str, pg_url: str, app, keep: bool) -> None:
    """The end of a run: keep the scratch database (logged) or close `app`'s pool and
    drop it."""
    if keep:
        log(f"kept database {name} ({pg_url})")
        return
    if app is not None:
        release_connections(app)
    drop_database(name)


def production_env(pg_url: str | None = None, redis_url: str | None = None) -> dict:
    """The production profile's settings with fresh secrets (JWT, PII key, certificate
    signing key), rate limits off, WARNING logs; DATABASE_URL from `pg_url` where given;
    REDIS_URL `redis_url`, or none at all (jobs then run in the web process after the
    commit, as in the embedded default). Exported to os.environ (the app made
    in-process reads them); returns the environment for gunicorn and workers."""
    settings = {
        "APP_PROFILE": "production",
        "JWT_SECRET": secrets.token_urlsafe(48),
        "PII_KEY": secrets.token_urlsafe(48),
        "CERT_SIGNING_KEY": signing_key(),
        "RATELIMIT_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
    }
    if pg_url is not None:
        settings["DATABASE_URL"] = sqlalchemy_url(pg_url)
    if redis_url is None:
        os.environ.pop("REDIS_URL", None)
    else:
        settings["REDIS_URL"] = redis_url
    os.environ.update(settings)
    return dict(os.environ)


def migrate_and_load() -> None:
    """In an app context: Alembic to head and the default catalogue (config/catalogue.json,
    1 point per g), not yet committed."""
    from flask_migrate import upgrade

    from backend.registry.catalogue import load

    upgrade(directory=str(ROOT / "migrations"))
    load(json.loads((ROOT / "config" / "catalogue.json").read_text(encoding="utf-8")))


# --- residents, merchants, points and tokens -----------------------------------------


def write_residents(cur, phones: Iterable[str], pii_key: str, pw_hash: str) -> None:
    """COPY residents (auto-convert on, active) with these phone numbers into `users`,
    keyed and masked as registration does, all with the one password hash `pw_hash`."""
    with cur.copy(
        "COPY users (kind, phone_hash, phone_masked, password_hash, roles, auto_convert,"
        " active, created_at) FROM STDIN"
    ) as cp:
        for phone in phones:
            key = hmac.new(pii_key.encode(), phone.encode(), hashlib.sha256).hexdigest()
            masked = f"{phone[:3]}****{phone[-4:]}"
            cp.write_row(("resident", key, masked, pw_hash, "", True, True, datetime.now(UTC)))


def create_residents(pg_url: str, n: int, pii_key: str, prefix: str) -> list[int]:
    """`n` residents (phones `prefix` + 8 digits, password RESIDENT_PASSWORD) straight into
    the database by COPY with one precomputed argon2 hash: registering them over HTTP
    would time argon2. Returns their ids in order."""
    from backend.auth.passwords import hash_password

    pw_hash = hash_password(RESIDENT_PASSWORD)
    with psycopg.connect(pg_url) as conn, conn.cursor() as cur:
        write_residents(cur, (f"{prefix}{k:08d}" for k in range(n)), pii_key, pw_hash)
        cur.execute("SELECT id FROM users WHERE kind = 'resident' ORDER BY id")
        ids = [r[0] for r in cur.fetchall()]
        conn.commit()
    assert len(ids) == n
    return ids


def give_points(app, user_ids: list[int], points: int) -> None:
    """The real flows: scenario issuance -> resident reductions, then the conversion."""
    from sqlalchemy import select

    from backend.db import db
    from backend.ledger import AccountKind, Leg, account_for, post
    from backend.points.conversion import convert
    from backend.registry.models import Scenario
    from backend.registry.rate import current_rate

    with app.app_context():
        taken, grams = current_rate().points_to_grams(points)
        assert taken == points
        scenario = db.session.execute(select(Scenario.id).order_by(Scenario.id)).scalars().first()
        for user_id in user_ids:
            post(
                kind="accrual",
                idempotency_key=f"bench-grant:{user_id}",
                legs=[
                    Leg(account_for(AccountKind.SCENARIO_ISSUANCE, scenario), -grams),
                    Leg(account_for(AccountKind.RESIDENT_REDUCTIONS, user_id), grams),
                ],
                ref_type="bench",
                ref_id=user_id,
            )
            convert(user_id, grams, request=f"bench-convert:{user_id}", actor="bench")
            db.session.commit()
        db.session.remove()


def add_merchant(name: str, credit_prefix: str):
    """In an app context: a merchant organisation (its credit code `credit_prefix`, 17
    characters, with the check character), flushed; returns it."""
    from backend.db import db
    from backend.registry.credit_code import check_char
    from backend.registry.models import Organization

    org = Organization(name=name, kind="merchant")
    org.credit_code = credit_prefix + check_char(credit_prefix)
    db.session.add(org)
    db.session.flush()
    return org


def access_tokens(app, kind: str, ids: list[int], org_ids: list[int] | None = None) -> list[str]:
    """Access tokens issued in-process with the server's JWT secret (no argon2 per login);
    staff get the admin and finance roles, merchants their organisation."""
    from backend.auth.tokens import Principal, issue_access
    from backend.auth.tokens import config_from_app as token_config

    with app.app_context():
        cfg = token_config()
        return [
            issue_access(
                cfg,
                Principal(
                    kind=kind,
                    id=i,
                    roles=("admin", "finance") if kind == "staff" else (),
                    organization_id=org_ids[k] if org_ids else None,
                ),
            )
            for k, i in enumerate(ids)
        ]


class RenewingSession:
    """One client's HTTP session (127.0.0.1 only) that renews its 15-minute access token
    in time: `headers()` before each request posts `creds` to `base`/api/v1/auth/token
    when the token is missing or 10 minutes old."""

    def __init__(self, base: str, creds: dict):
        self.url, self.creds = f"{base}/api/v1/auth/token", creds
        self.http = local_session()
        self.token_at: float | None = None  # monotonic() may be small on a fresh machine

    def headers(self) -> dict:
        if self.token_at is None or time.monotonic() - self.token_at > 600:
            r = self.http.post(self.url, json=self.creds, timeout=30)
            r.raise_for_status()
            self.http.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
            self.token_at = time.monotonic()
        return {"Content-Type": "application/json"}


# --- profiles -----------------------------------------------------------------------


@contextmanager
def sql_statements(app) -> Iterator[list[str]]:
    """The SQL statements `app`'s engine sends inside the block, in a list."""
    from sqlalchemy import event

    from backend.db import db

    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def print_sql(what: str, statements: list[str]) -> None:
    print(f"the SQL of one {what} ({len(statements)} statements):")
    for sql in statements:
        print("   ", " ".join(sql.split())[:150])


def cpu_profile(one: Callable[[int], None], ks: Iterable[int]) -> tuple[cProfile.Profile, float]:
    """`one(k)` for every k under cProfile on CPU time (not the waits on the database);
    returns the profile and the wall seconds."""
    prof = cProfile.Profile(time.process_time)
    t0 = time.perf_counter()
    prof.enable()
    for k in ks:
        one(k)
    prof.disable()
    return prof, time.perf_counter() - t0


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
    http = local_session()
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
