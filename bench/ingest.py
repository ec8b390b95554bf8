"""Ingest benchmark: operator uploads through the real HTTP stack with accrual running
beside them (an RQ worker), next to a raw COPY of the same rows.

    python bench/ingest.py [--quick] [--residents 20000] [--records 200000]
                           [--batch 10000] [--workers 2] [--clients 2] [--keep]
                           [--profile]

`--quick` is a small run (20,000 records of 2,000 residents in batches of 5,000: two
accrual chunks; about 20 s on the shared 2-core machine) that prints the same figures
and makes the same checks (`tests/test_bench_ingest.py` runs it); sizes given explicitly
still win.

What it does, in order:
1. creates a scratch PostgreSQL database (dropped at the end unless --keep), migrates it
   with Alembic, loads the default catalogue (config/catalogue.json) and a staff account;
2. creates the residents and their consents (user_ref `r{n}` on SIP-S-METRO) DIRECTLY in
   the database (COPY), not over HTTP: registering 20,000 residents over HTTP would be
   dominated by argon2 hashing, so every resident gets one precomputed argon2 hash (and
   the two tables are ANALYZEd, as a live database would have them);
3. starts gunicorn (`-w 2`, production profile, rate limits off) on a free 127.0.0.1
   port, creates an operator client for SIP-S-METRO over HTTP, starts one RQ worker on
   the accrual queue (`flask --app wsgi worker --no-cron --queues accrual`) and waits
   until it has registered, then uploads the records in batches of 10,000 from 2 client
   threads (`requests`), wall clock timed, checking every answer (all results there, all
   accepted on the first pass). Each upload asks for `accrual.accrue` after its commit,
   so the worker credits earlier batches while later ones are still being uploaded;
4. polls (every 50 ms) until every activity is stored and credited: upload to credited
   is the time from the first upload's start to that moment. It then stops the worker
   and gunicorn and checks that every activity is credited, the books balance
   (`backend.ledger.invariants`) and
   the residents' points equal the credited grams (auto-convert on, 1 point per g), and
   that the credited grams equal min(daily cap, day's reductions) summed per resident-day;
5. COPYs the same rows (every column the ingest writes) into a fresh, empty
   `CREATE TABLE activities_copy (LIKE activities INCLUDING ALL)` in the same database,
   then again into one that also has the foreign keys of `activities` (LIKE copies none);
6. prints one block of figures, with ingest / COPY and upload to credited / COPY (the
   two ratios of issue 14's target 3) and the load average; with --profile, also runs
   one batch's `ingest.process` and one `accrue_chunk` in-process under cProfile (top 25
   by cumulative time, top 12 by own time).

Nothing is ANALYZEd after the upload: the planner sees the activity and ledger tables
as they are (on a server with autovacuum off, as on the 2-core machine, never analysed).

Only 127.0.0.1 traffic; every loop is bounded; the gunicorn it starts is stopped by its
process id.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import harness  # bench/ is the script's own folder, first on sys.path
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REDIS_BASE = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379")
SCENARIO = "SIP-S-METRO"
SH = ZoneInfo("Asia/Shanghai")
STAFF_LOGIN, STAFF_PASSWORD = "bench-staff", "bench-staff-password"
# The columns `backend.activity.ingest._insert` writes (id comes from the sequence); the
# raw details (times, measures) go to `activity_details`: the baseline COPYs the same
# data into ONE wide copy of `activities` (the three detail columns added).
DETAIL_COLUMNS = ("started_at", "ended_at", "measures")
ACTIVITY_COLUMNS = (
    "scenario_id",
    "external_id",
    "user_id",
    "consent_id",
    "batch_id",
    "activity_type",
    "methodology_id",
    "day",
    "reduction_g",
    "flags",
    "started_at",
    "ended_at",
    "measures",
    "created_at",
)
METRO_G_PER_KM_X10 = 467  # baseline 60.0 - metro 13.3 = 46.7 g/km (catalogue)
DAYS = 3  # the records of a resident are spread over the last DAYS Shanghai days


# --- the data -----------------------------------------------------------------------


def make_records(residents: int, per_resident: int) -> list[dict]:
    """`per_resident` metro trips of each resident `r{n}`, spread over the last DAYS
    Shanghai days (never today, so none is in the future), one slot an hour from 06:00,
    40 minutes each (no overlaps), 2-26 km: 4 trips of a day often pass the 3000 g cap."""
    today = datetime.now(SH).replace(hour=0, minute=0, second=0, microsecond=0)
    out = []
    for n in range(residents):
        for k in range(per_resident):
            day_back = 1 + k % DAYS
            slot = k // DAYS
            start = today - timedelta(days=day_back) + timedelta(hours=6 + slot, minutes=n % 20)
            out.append(
                {
                    "external_id": f"m{n}-{k}",
                    "user_ref": f"r{n}",
                    "activity_type": "metro",
                    "started_at": start.isoformat(),
                    "ended_at": (start + timedelta(minutes=40)).isoformat(),
                    "distance_m": 2000 + (n * 37 + k * 1013) % 24000,
                }
            )
    return out


def expected_credit(records: list[dict], cap: int) -> tuple[int, int, int]:
    """(sum of reductions, sum the caps leave, resident-days at the cap)."""
    per_day: dict[tuple[str, str], int] = {}
    total = 0
    for r in records:
        grams = r["distance_m"] * METRO_G_PER_KM_X10 // 10_000
        total += grams
        key = (r["user_ref"], r["started_at"][:10])
        per_day[key] = per_day.get(key, 0) + grams
    credited = sum(min(cap, g) for g in per_day.values())
    capped = sum(1 for g in per_day.values() if g >= cap)
    return total, credited, capped


# --- setup --------------------------------------------------------------------------


def pick_redis_db() -> tuple[str, object]:
    """A Redis database number of our own: the first empty one of 11, 12, 14, 15 (the
    tests use 13). Refuses to flush one holding someone else's keys."""
    from redis import Redis

    for n in (11, 12, 14, 15):
        conn = Redis.from_url(f"{REDIS_BASE}/{n}")
        if conn.dbsize() == 0:
            return f"{REDIS_BASE}/{n}", conn
    raise SystemExit("no empty Redis database among 11, 12, 14, 15")


def server_facts(pg_url: str) -> str:
    with psycopg.connect(pg_url) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0].split()[0]
        autovacuum = conn.execute("SHOW autovacuum").fetchone()[0]
    return f"PostgreSQL {version} (autovacuum {autovacuum})"


def prepare(app) -> dict:
    """Migrate, load the catalogue, create the staff account; returns scenario facts."""
    from sqlalchemy import select

    from backend.auth.users import create_login_user
    from backend.db import db
    from backend.registry.models import Scenario

    with app.app_context():
        harness.migrate_and_load()
        create_login_user("staff", STAFF_LOGIN, STAFF_PASSWORD, roles=["admin"])
        db.session.commit()
        sc = db.session.execute(select(Scenario).where(Scenario.code == SCENARIO)).scalar_one()
        facts = {"id": sc.id, "cap": sc.daily_cap_g, "methodology_id": sc.methodology_id}
        db.session.remove()
        return facts


def create_consents(pg_url: str, scenario_id: int, user_ids: list[int]) -> None:
    """Each resident's consent (user_ref `r{n}`) straight into the database, then both
    tables ANALYZEd, as a live database would have them."""
    from backend.activity.consent import PURPOSES

    now = datetime.now(UTC)
    purposes = json.dumps(PURPOSES)
    with psycopg.connect(pg_url) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY consents (user_id, scenario_id, user_ref, purposes, granted_at) FROM STDIN"
        ) as cp:
            for n, user_id in enumerate(user_ids):
                cp.write_row((user_id, scenario_id, f"r{n}", purposes, now))
        conn.commit()
        cur.execute("ANALYZE users; ANALYZE consents")


def operator_credentials(base: str) -> dict:
    """Staff login, the metro operator's organisation, a new operator client."""
    api = f"{base}/api/v1"
    http = harness.local_session()
    r = http.post(
        f"{api}/auth/login", json={"login": STAFF_LOGIN, "password": STAFF_PASSWORD}, timeout=30
    )
    r.raise_for_status()
    staff = {"Authorization": f"Bearer {r.json()['access_token']}"}
    catalogue = json.loads((ROOT / "config" / "catalogue.json").read_text(encoding="utf-8"))
    code = next(s for s in catalogue["scenarios"] if s["code"] == SCENARIO)["operator_credit_code"]
    r = http.get(f"{api}/admin/organizations?credit_code={code}", headers=staff, timeout=30)
    r.raise_for_status()
    org_id = r.json()["items"][0]["id"]
    r = http.post(
        f"{api}/admin/operator-clients",
        json={"organization_id": org_id, "scenario_code": SCENARIO},
        headers=staff,
        timeout=30,
    )
    r.raise_for_status()
    return r.json()


# --- the measured parts -------------------------------------------------------------


def upload_all(base: str, creds: dict, bodies: list[bytes], sizes: list[int], clients: int):
    local = threading.local()
    latencies: list[float] = [0.0] * len(bodies)

    def one(i: int) -> None:
        sess = getattr(local, "sess", None)
        if sess is None:
            sess = local.sess = harness.RenewingSession(base, creds)
        headers = sess.headers()
        t0 = time.perf_counter()
        r = sess.http.post(
            f"{base}/api/v1/operator/activities", data=bodies[i], headers=headers, timeout=600
        )
        latencies[i] = time.perf_counter() - t0
        if r.status_code != 200:
            raise RuntimeError(f"batch {i}: HTTP {r.status_code} {r.text[:300]}")
        body = r.json()
        if len(body["results"]) != sizes[i] or body["accepted"] != sizes[i]:
            raise RuntimeError(
                f"batch {i}: {len(body['results'])} results, accepted {body['accepted']}, "
                f"duplicates {body['duplicates']}, rejected {body['rejected']} "
                f"(first: {body['results'][:2]})"
            )

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        for fut in [pool.submit(one, i) for i in range(len(bodies))]:
            fut.result()
    return t0, time.perf_counter(), latencies


def start_worker(env: dict, logfile: Path) -> subprocess.Popen:
    """The accrual queue's RQ worker (`flask --app wsgi worker`, no periodic jobs): it
    runs the `accrual.accrue` jobs the uploads ask for (after each upload's commit)
    while later batches are still being uploaded."""
    out = logfile.open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--no-cron"]
        + ["--queues", "accrual"],
        cwd=str(ROOT),
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    out.close()
    return proc


def wait_worker_ready(redis_conn, worker: subprocess.Popen, logfile: Path) -> None:
    """Until the worker has registered with RQ (its start is not the upload's time)."""
    deadline = time.monotonic() + 60
    while not redis_conn.smembers("rq:workers"):
        if worker.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the RQ worker did not start; see {logfile}")
        time.sleep(0.1)


def wait_credited(pg_url: str, n: int, worker: subprocess.Popen, limit_s: float) -> float:
    """Poll (every 50 ms, at most `limit_s`) until all `n` activities are stored and
    credited; returns the perf_counter() time it saw that."""
    deadline = time.perf_counter() + limit_s
    with psycopg.connect(pg_url, autocommit=True) as conn:
        while time.perf_counter() < deadline:
            stored, uncredited = conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE credited_g IS NULL) FROM activities"
            ).fetchone()
            if stored == n and uncredited == 0:
                return time.perf_counter()
            if worker.poll() is not None:
                raise SystemExit(f"the RQ worker exited ({worker.returncode})")
            time.sleep(0.05)
    raise SystemExit(f"not all credited after {limit_s:.0f} s")


def accrual_totals(pg_url: str) -> dict:
    with psycopg.connect(pg_url) as conn:
        entries, conversions = conn.execute(
            "SELECT count(*) FILTER (WHERE kind = 'accrual'),"
            " count(*) FILTER (WHERE kind = 'conversion') FROM journal_entries"
        ).fetchone()
    return {"entries": entries, "conversions": conversions}


def verify(app, records: list[dict], cap: int) -> dict:
    from sqlalchemy import func, select

    from backend.activity.models import Activity
    from backend.db import db
    from backend.ledger import Account, invariants

    _, want_credit, capped = expected_credit(records, cap)
    with app.app_context():
        n, uncredited, credited, reduced = db.session.execute(
            select(
                func.count(),
                func.count().filter(Activity.credited_g.is_(None)),
                func.coalesce(func.sum(Activity.credited_g), 0),
                func.coalesce(func.sum(Activity.reduction_g), 0),
            )
        ).one()
        points = db.session.execute(
            select(func.coalesce(func.sum(Account.balance), 0)).where(
                Account.kind == "resident_points"
            )
        ).scalar_one()
        report = invariants()
        db.session.remove()
    problems = []
    if n != len(records):
        problems.append(f"{n} activities stored, {len(records)} uploaded")
    if uncredited:
        problems.append(f"{uncredited} activities still uncredited")
    if not report.ok:
        problems.append(f"ledger invariants fail: {report}")
    if points != credited:
        problems.append(f"resident points {points} != credited grams {credited}")
    if credited != want_credit:
        problems.append(f"credited {credited} g, expected {want_credit} g under the cap")
    if problems:
        raise SystemExit("VERIFY FAILED: " + "; ".join(problems))
    return {"credited": int(credited), "reduced": int(reduced), "capped_days": capped}


def copy_baseline(pg_url: str) -> dict[str, tuple[float, int, int]]:
    """COPY the rows the ingest wrote into a fresh empty copy of `activities`
    (`LIKE ... INCLUDING ALL`: the same columns, defaults, indexes and unique constraint,
    but no foreign keys), then again into one that also has the table's foreign keys:
    the ingest's INSERT checks those for every row, so the second figure is the floor the
    ingest could reach without dropping any of them."""
    cols = ", ".join(ACTIVITY_COLUMNS)
    out = {}
    with psycopg.connect(pg_url) as conn, conn.cursor() as cur:
        qualified = ", ".join(
            f"{'d' if c in DETAIL_COLUMNS else 'a'}.{c}"
            + ("::text" if c in ("flags", "measures") else "")
            for c in ACTIVITY_COLUMNS
        )
        cur.execute(
            f"SELECT {qualified} FROM activities a"  # noqa: S608
            " JOIN activity_details d ON d.activity_id = a.id ORDER BY a.id"
        )
        rows = cur.fetchall()
        cur.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = 'activities'::regclass AND contype = 'f' ORDER BY conname"
        )
        foreign_keys = [r[0] for r in cur.fetchall()]
        for label, fks in (("plain", []), ("fks", foreign_keys)):
            cur.execute("DROP TABLE IF EXISTS activities_copy")
            cur.execute("CREATE TABLE activities_copy (LIKE activities INCLUDING ALL)")
            cur.execute(
                "ALTER TABLE activities_copy ADD started_at timestamptz,"
                " ADD ended_at timestamptz, ADD measures json"
            )
            for fk in fks:
                cur.execute(f"ALTER TABLE activities_copy ADD {fk}")
            conn.commit()
            t0 = time.perf_counter()
            with cur.copy(f"COPY activities_copy ({cols}) FROM STDIN") as cp:
                for row in rows:
                    cp.write_row(row)
            conn.commit()
            elapsed = time.perf_counter() - t0
            cur.execute("SELECT count(*) FROM activities_copy")
            out[label] = (elapsed, cur.fetchone()[0], len(fks))
            cur.execute("DROP TABLE activities_copy")
            conn.commit()
    return out


# --- the profile --------------------------------------------------------------------


def print_profile(prof: cProfile.Profile, title: str) -> None:
    for order, top in (("cumulative", 25), ("tottime", 12)):
        buf = io.StringIO()
        stats = pstats.Stats(prof, stream=buf)
        stats.sort_stats(order).print_stats(top)
        text = buf.getvalue()
        start = text.find("   ncalls")
        name = "cumulative time" if order == "cumulative" else "own time"
        print(f"\n--- profile: {title} (top {top} by {name}) ---")
        print(text[start:].rstrip() if start >= 0 else text.rstrip())


def profile_runs(app, scenario_id: int, residents: int, per_resident: int, batch: int) -> None:
    """One real batch through `ingest.process` and one `accrue_chunk`, in-process, each
    under cProfile. The batch is new trips (other external ids, 4-6 days back) of the
    first residents, so it is accepted and accrued like the measured ones."""
    from backend.activity import ingest
    from backend.activity.accrual import accrue_chunk
    from backend.db import db

    n = min(residents, max(1, batch // per_resident))
    records = make_records(n, per_resident)[:batch]
    for r in records:
        r["external_id"] = "p-" + r["external_id"]
        for f in ("started_at", "ended_at"):
            r[f] = (datetime.fromisoformat(r[f]) - timedelta(days=DAYS)).isoformat()
    with app.app_context():
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        b = ingest.new_batch(scenario_id, "bench-profile", records, queued=False)
        ingest.process(b, records)
        db.session.commit()
        prof.disable()
        took = time.perf_counter() - t0
        accepted = b.accepted
        db.session.remove()
        print_profile(prof, f"ingest.process, {len(records)} records, {accepted} accepted")
        print(f"(wall {took:.2f} s under the profiler = {len(records) / took:,.0f} records/s)")

        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        res = accrue_chunk()
        db.session.commit()
        prof.disable()
        took = time.perf_counter() - t0
        db.session.remove()
        print_profile(prof, f"accrue_chunk, {res.activities} activities, {res.entries} entries")
        print(f"(wall {took:.2f} s under the profiler = {res.activities / took:,.0f} activities/s)")


# --- main ---------------------------------------------------------------------------


QUICK = {"residents": 2_000, "records": 20_000, "batch": 5_000}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help=f"a small run: {QUICK}")
    ap.add_argument("--residents", type=int, default=20_000)
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    ap.add_argument("--clients", type=int, default=2, help="uploading client threads")
    ap.add_argument("--keep", action="store_true", help="keep the scratch database")
    ap.add_argument("--profile", action="store_true", help="cProfile one batch and one chunk")
    if ap.parse_known_args(argv)[0].quick:
        ap.set_defaults(**QUICK)  # explicit sizes still win
    args = ap.parse_args(argv)
    if args.residents < 1 or args.records % args.residents:
        ap.error("--records must be a positive multiple of --residents")
    per_resident = args.records // args.residents
    if not 1 <= per_resident <= DAYS * 16:
        ap.error(f"1 to {DAYS * 16} records per resident")
    if not 1 <= args.batch <= 10_000:
        ap.error("--batch is 1 to 10,000 (the API's limit)")

    load_before = os.getloadavg()[0]
    redis_url, redis_conn = pick_redis_db()
    db_name, pg_url = harness.create_database("ingest")
    # REDIS_URL is set (a Redis database of our own, flushed at the end): each upload
    # asks for an accrual job after its commit, and one RQ worker on the accrual queue,
    # started before the first upload, runs them while later batches are still coming.
    env = harness.production_env(pg_url, redis_url)
    gunicorn = app = worker = None
    ok = False
    logfile = Path(tempfile.gettempdir()) / f"bench-ingest-gunicorn-{os.getpid()}.log"
    try:
        from backend.app import create_app

        app = create_app()
        harness.log(f"database {db_name}, redis {redis_url}")
        scenario = prepare(app)
        t0 = time.perf_counter()
        ids = harness.create_residents(pg_url, args.residents, env["PII_KEY"], "139")
        create_consents(pg_url, scenario["id"], ids)
        took = time.perf_counter() - t0
        harness.log(
            f"{args.residents:,} residents + consents written to the database ({took:.1f} s)"
        )

        records = make_records(args.residents, per_resident)
        chunks = [records[i : i + args.batch] for i in range(0, len(records), args.batch)]
        bodies = [json.dumps({"records": c}).encode() for c in chunks]
        sizes = [len(c) for c in chunks]
        mb = sum(map(len, bodies)) / 1e6
        harness.log(f"{len(records):,} records in {len(chunks)} batches ({mb:.0f} MB of JSON)")

        port = harness.free_port()
        gunicorn = harness.start_gunicorn(env, port, args.workers, logfile)
        base = f"http://127.0.0.1:{port}"
        creds = operator_credentials(base)
        harness.log(f"gunicorn -w {args.workers} on {base}; uploading from {args.clients} threads")

        worker = start_worker(env, logfile)
        wait_worker_ready(redis_conn, worker, logfile)
        harness.log("RQ worker on the accrual queue started; uploading while it accrues")
        t_first, t_uploaded, latencies = upload_all(base, creds, bodies, sizes, args.clients)
        ingest_s = t_uploaded - t_first
        harness.log(f"ingest done in {ingest_s:.1f} s; waiting until all are credited")
        t_credited = wait_credited(pg_url, len(records), worker, 600)
        e2e_s = t_credited - t_first
        tail_s = t_credited - t_uploaded
        harness.log(
            f"all credited {e2e_s:.1f} s after the first upload ({tail_s:.1f} s after the last)"
        )
        harness.stop(worker)
        worker = None
        harness.stop(gunicorn)
        gunicorn = None
        queued = redis_conn.llen("rq:queue:accrual")
        totals = accrual_totals(pg_url)
        checked = verify(app, records, scenario["cap"])
        harness.log(f"verified: {checked}")

        copies = copy_baseline(pg_url)
        for _, copied, _ in copies.values():
            if copied != len(records):
                raise SystemExit(f"COPY wrote {copied} rows, expected {len(records)}")
        copy_s = copies["plain"][0]
        copy_fk_s, _, n_fks = copies["fks"]

        n = len(records)
        ingest_rate, e2e_rate, copy_rate = n / ingest_s, n / e2e_s, n / copy_s
        lat = sorted(latencies)
        load_after = os.getloadavg()
        print()
        print("=" * 72)
        print(
            f"ingest benchmark{' (--quick)' if args.quick else ''}: {n:,} records, "
            f"{args.residents:,} residents, "
            f"{len(chunks)} batches of {args.batch:,}"
        )
        print(
            f"  gunicorn -w {args.workers}, {args.clients} client threads, one RQ worker "
            f"accruing beside the uploads, {server_facts(pg_url)}, {os.cpu_count()} CPUs"
        )
        print("-" * 72)
        print(f"  ingest (HTTP)       {ingest_s:8.2f} s  {ingest_rate:10,.0f} records/s")
        print(
            f"    per request       median {lat[len(lat) // 2]:.2f} s, max {lat[-1]:.2f} s; "
            f"{queued} accrual jobs left queued in Redis"
        )
        print(
            f"  upload to credited  {e2e_s:8.2f} s  {e2e_rate:10,.0f} records/s  "
            f"(first upload to all credited; {tail_s:.2f} s after the last upload)"
        )
        print(
            f"    accrual wrote     {totals['entries']:,} credit + {totals['conversions']:,} "
            f"conversion entries, {checked['capped_days']:,} resident-days capped"
        )
        print(f"  raw COPY            {copy_s:8.2f} s  {copy_rate:10,.0f} records/s")
        print(
            f"  raw COPY + FKs      {copy_fk_s:8.2f} s  {n / copy_fk_s:10,.0f} records/s  "
            f"(with the table's {n_fks} foreign keys)"
        )
        print(f"  ingest / COPY              {ingest_rate / copy_rate:8.3f}   (target >= 0.25)")
        print(f"  upload to credited / COPY  {e2e_rate / copy_rate:8.3f}   (target >= 0.15)")
        print(f"  ingest / COPY+FKs          {ingest_rate * copy_fk_s / n:8.3f}")
        print(
            f"  checks: all credited, invariants ok, points = credited = "
            f"{checked['credited']:,} g (of {checked['reduced']:,} g reduced)"
        )
        print(
            f"  load average before the run: {load_before:.2f}, after: "
            f"{harness.loads(load_after)} (1/5/15 min)" + harness.noisy(load_before)
        )
        print("=" * 72)

        if args.profile:
            profile_runs(app, scenario["id"], args.residents, per_resident, args.batch)
        ok = True
        return 0
    finally:
        harness.stop(worker)
        harness.stop(gunicorn)
        redis_conn.flushdb()
        harness.finish_database(db_name, pg_url, app, args.keep)
        if ok:
            logfile.unlink(missing_ok=True)
        elif logfile.exists():
            harness.log(f"gunicorn's log: {logfile}")


if __name__ == "__main__":
    sys.exit(main())
