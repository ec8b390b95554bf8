"""Growth benchmark: do a resident's reads stay flat as the ledger grows to 10M postings
and 10M activities, and how long does the reconciliation take there?

    python bench/growth.py [--quick] [--postings 10000000] [--activities 10000000]
                           [--sample 8] [--rounds 10] [--workers 2] [--keep]

`--quick` builds 20,000 postings and 20,000 activities (about 20 s on the shared 2-core
machine) and prints the same figures; sizes given explicitly still win.

What it does, in order:
1. creates two scratch PostgreSQL databases, "small" and "large" (dropped at the end
   unless --keep), migrates both with Alembic, loads the default catalogue (1 point per
   g) and a staff account;
2. builds the same SAMPLE residents' history in both (8 residents, 30 days of 4 metro
   trips each: 960 activities and 960 postings: the "1k" ledger), set-based;
3. builds the rest of the large ledger around them, set-based (`INSERT ... SELECT` over
   `generate_series`) in chunks of residents: one accrual entry per resident-day with
   four postings (scenario issuance -g, points backing +g, points mint -g pt, the
   resident's points +g pt) and its four trips (activities + their `activity_details`,
   spread over a year: twelve month partitions), up to `--postings` and `--activities`;
   then ANALYZE (what autovacuum does on a live server); prints the build time;
4. starts one gunicorn per database (production profile, rate limits off), logs the
   sample in on both, and measures p50 of `GET /me`, `/me/activities`, `/me/ledger` and
   `/me/history` (first pages) over `--rounds` rounds of every sample resident after a
   warm-up round, each request to one server followed by the same to the other (the
   order alternating), so the machine's load falls on both alike; prints each p50 small
   and large and their ratio (target: at most 1.2);
5. reconciliation: on each database the nightly report (a full check: no report yet),
   then on the large one a day's traffic (new residents' entries) and the report again,
   incremental from the stored report's mark (target: at most 10 s); all must be ok;
6. adds one resident with `--heavy-days` days of trips and prints its GET /me p50
   against a sample resident's (the points lots are replayed on each call).

The fixture is written with the ledger's guard triggers off for its own transactions
(`SET LOCAL session_replication_role = replica`, as `tests/ledger_guards.py` does;
superuser, trust auth on 127.0.0.1): the rows are built consistent instead, every entry
balanced per unit and every posting's `balance_after` continuing its account, and the
full reconciliation must then find the books right, or the run fails.

Only 127.0.0.1 traffic; every loop is bounded; the gunicorn it starts is stopped by its
process id.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import harness  # bench/ is the script's own folder, first on sys.path
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SCENARIO = "SIP-S-METRO"
SH = ZoneInfo("Asia/Shanghai")
STAFF_LOGIN, STAFF_PASSWORD = "bench-staff", "bench-staff-password"
TRIP_G = 500  # 10,707 m of metro at 46.7 g/km, rounded down
TRIP_M = 10_707
TRIPS_PER_DAY = 4
POSTINGS_PER_ENTRY = 4
SAMPLE_DAYS = 30
BULK_DAYS = 25
SPREAD_DAYS = 360  # the bulk residents' days spread over a year: twelve partitions
CHUNK_RESIDENTS = 10_000
ENDPOINTS = ("/me", "/me/activities", "/me/ledger", "/me/history")


# --- the fixture, set-based ---------------------------------------------------------


def prepare(app) -> dict:
    """Migrate, load the catalogue, create the staff account and the system accounts;
    returns the scenario's facts."""
    from sqlalchemy import select

    from backend.auth.users import create_login_user
    from backend.db import db
    from backend.ledger import AccountKind, account_for
    from backend.registry.models import Scenario

    with app.app_context():
        harness.migrate_and_load()
        create_login_user("staff", STAFF_LOGIN, STAFF_PASSWORD, roles=["admin"])
        sc = db.session.execute(select(Scenario).where(Scenario.code == SCENARIO)).scalar_one()
        facts = {
            "scenario_id": sc.id,
            "methodology_id": sc.methodology_id,
            "issuance": account_for(AccountKind.SCENARIO_ISSUANCE, sc.id).id,
            "backing": account_for(AccountKind.POINTS_BACKING).id,
            "mint": account_for(AccountKind.POINTS_MINT).id,
        }
        db.session.commit()
        db.session.remove()
        return facts


def _make_partitions(cur, first: date, last: date) -> None:
    from backend.activity import partitions

    m = partitions.month_of(first)
    while m <= last:
        cur.execute(partitions.create_sql(m))
        m = partitions.next_month(m)


def build_block(
    pg_url: str,
    facts: dict,
    residents: int,
    days: int,
    spread: int,
    *,
    phones: list[str] | None = None,
    pw_hash: str = "!bench",
    pii_key: str = "",
    tag: str = "b",
) -> list[int]:
    """`residents` new residents, each with `days` resident-days (the last `spread`
    days, evenly) of TRIPS_PER_DAY trips, accrued and auto-converted as ONE entry of
    four postings a day; one transaction, guard triggers off, rows built consistent.
    Returns the new residents' ids. With `phones`, they can log in."""
    from backend.activity.consent import PURPOSES

    g = TRIP_G * TRIPS_PER_DAY
    step = max(1, spread // days)
    today = datetime.now(SH).date()
    first_day = today - timedelta(days=days * step)
    with psycopg.connect(pg_url) as conn, conn.cursor() as cur:
        cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute("SELECT COALESCE(MAX(id), 0) FROM users")
        users_before = cur.fetchone()[0]
        if phones:
            harness.write_residents(cur, phones, pii_key, pw_hash)
        else:
            cur.execute(
                "INSERT INTO users (kind, phone_hash, phone_masked, password_hash, roles,"
                " auto_convert, active, created_at)"
                " SELECT 'resident', md5(%s || n), '139****0000', %s, '', true, true, now()"
                " FROM generate_series(1, %s) n",
                (f"{tag}-{users_before}-", pw_hash, residents),
            )
        cur.execute(
            "CREATE TEMP TABLE blk ON COMMIT DROP AS"
            " SELECT (row_number() OVER (ORDER BY id) - 1)::bigint AS rn, id AS user_id,"
            " 0::bigint AS consent_id, 0::bigint AS points_id FROM users WHERE id > %s",
            (users_before,),
        )
        cur.execute(
            "INSERT INTO consents (user_id, scenario_id, user_ref, purposes, granted_at)"
            " SELECT user_id, %s, 'g' || user_id, %s, now() FROM blk",
            (facts["scenario_id"], json.dumps(PURPOSES)),
        )
        cur.execute(
            "INSERT INTO accounts (kind, unit, owner_id, may_go_negative, balance, frozen,"
            " created_at) SELECT 'resident_points', 'pt', user_id, false, %s, false, now()"
            " FROM blk",
            (days * g,),
        )
        cur.execute(
            "UPDATE blk SET consent_id = c.id FROM consents c WHERE c.user_id = blk.user_id;"
            " UPDATE blk SET points_id = a.id FROM accounts a"
            " WHERE a.kind = 'resident_points' AND a.owner_id = blk.user_id"
        )
        cur.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM journal_entries")
        e0 = cur.fetchone()[0]
        cur.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM postings")
        p0 = cur.fetchone()[0]
        cur.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM activities")
        a0 = cur.fetchone()[0]
        cur.execute(
            "SELECT id, balance FROM accounts WHERE id IN (%s, %s, %s)",
            (facts["issuance"], facts["backing"], facts["mint"]),
        )
        bal = dict(cur.fetchall())
        # one row per resident-day: its entry id, its day and its index in this block
        cur.execute(
            "CREATE TEMP TABLE rd ON COMMIT DROP AS"
            " SELECT b.rn * %(days)s + d AS i, b.user_id, b.consent_id, b.points_id, d,"
            " (%(today)s::date - (%(days)s - d) * %(step)s) AS day"
            " FROM blk b, generate_series(0, %(days)s - 1) d",
            {"days": days, "today": today, "step": step},
        )
        _make_partitions(cur, first_day, today)
        params = {
            "e0": e0,
            "p0": p0,
            "a0": a0,
            "g": g,
            "iss": facts["issuance"],
            "back": facts["backing"],
            "mint": facts["mint"],
            "b_iss": bal[facts["issuance"]],
            "b_back": bal[facts["backing"]],
            "b_mint": bal[facts["mint"]],
            "trips": TRIPS_PER_DAY,
            "trip_g": TRIP_G,
            "scenario": facts["scenario_id"],
            "methodology": facts["methodology_id"],
            "measures": json.dumps({"distance_m": TRIP_M}),
        }
        cur.execute(
            "INSERT INTO journal_entries (id, idempotency_key, kind, ref_type, ref_id, actor,"
            " memo, created_at)"
            " SELECT %(e0)s + i, 'bench-accrual:' || user_id || ':' || day, 'accrual',"
            " 'activity_day', 'SIP-S-METRO:' || day, 'job:accrual',"
            " 'SIP-S-METRO ' || day || ': ' || %(g)s || ' g credited',"
            " (day + time '20:00') AT TIME ZONE 'Asia/Shanghai' FROM rd",
            params,
        )
        cur.execute(
            "INSERT INTO postings (id, entry_id, account_id, amount, balance_after, created_at)"
            " SELECT %(p0)s + i * 4 + k, %(e0)s + i,"
            " CASE k WHEN 0 THEN %(iss)s WHEN 1 THEN %(back)s WHEN 2 THEN %(mint)s"
            "  ELSE points_id END,"
            " CASE WHEN k IN (0, 2) THEN -%(g)s ELSE %(g)s END,"
            " CASE k WHEN 0 THEN %(b_iss)s - (i + 1) * %(g)s"
            "  WHEN 1 THEN %(b_back)s + (i + 1) * %(g)s"
            "  WHEN 2 THEN %(b_mint)s - (i + 1) * %(g)s"
            "  ELSE (d + 1) * %(g)s END,"
            " (day + time '20:00') AT TIME ZONE 'Asia/Shanghai'"
            " FROM rd, generate_series(0, 3) k",
            params,
        )
        cur.execute(
            "INSERT INTO activities (id, scenario_id, external_id, user_id, consent_id,"
            " batch_id, activity_type, methodology_id, day, reduction_g, credited_g, flags,"
            " accrual_entry_id, created_at)"
            " SELECT %(a0)s + i * %(trips)s + t, %(scenario)s,"
            " 'g' || user_id || '-' || d || '-' || t, user_id, consent_id, 'bench-growth',"
            " 'metro', %(methodology)s, day, %(trip_g)s, %(trip_g)s, NULL, %(e0)s + i,"
            " (day + time '19:00') AT TIME ZONE 'Asia/Shanghai'"
            " FROM rd, generate_series(0, %(trips)s - 1) t",
            params,
        )
        cur.execute(
            "INSERT INTO activity_details (activity_id, day, user_id, started_at, ended_at,"
            " measures, erased_at)"
            " SELECT %(a0)s + i * %(trips)s + t, day, user_id,"
            " (day + time '07:00' + t * interval '2 hours') AT TIME ZONE 'Asia/Shanghai',"
            " (day + time '07:40' + t * interval '2 hours') AT TIME ZONE 'Asia/Shanghai',"
            " %(measures)s::json, NULL"
            " FROM rd, generate_series(0, %(trips)s - 1) t",
            params,
        )
        n = residents * days
        cur.execute(
            "UPDATE accounts SET balance = balance + CASE id WHEN %(iss)s THEN -%(m)s"
            " WHEN %(back)s THEN %(m)s ELSE -%(m)s END WHERE id IN (%(iss)s, %(back)s, %(mint)s)",
            {**params, "m": n * g},
        )
        cur.execute(
            "INSERT INTO credited_residents (user_id, first_credited_at)"
            " SELECT user_id, now() FROM blk"
        )
        for table in ("journal_entries", "postings", "activities"):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"  # noqa: S608
                f" (SELECT MAX(id) FROM {table}))"
            )
        cur.execute("SELECT user_id FROM blk ORDER BY rn")
        ids = [r[0] for r in cur.fetchall()]
        conn.commit()
    return ids


def counts(pg_url: str) -> tuple[int, int]:
    with psycopg.connect(pg_url) as conn:
        p = conn.execute("SELECT COUNT(*) FROM postings").fetchone()[0]
        a = conn.execute("SELECT COUNT(*) FROM activities").fetchone()[0]
    return int(p), int(a)


# --- the measured parts -------------------------------------------------------------


def log_in(base: str, phones: list[str]) -> list[dict]:
    http = harness.local_session()
    out = []
    for p in phones:
        r = http.post(
            f"{base}/api/v1/auth/login",
            json={"login": p, "password": harness.RESIDENT_PASSWORD},
            timeout=30,
        )
        r.raise_for_status()
        out.append({"Authorization": f"Bearer {r.json()['access_token']}"})
    return out


def measure(bases: dict, headers: dict, rounds: int, want: dict) -> dict:
    """p50 (ms) per server and endpoint over `rounds` rounds of every sample resident,
    after one unmeasured warm-up round; each request to one server is followed by the
    same request to the other, so the machine's load falls on both alike. Every answer
    is checked."""
    http = harness.local_session()
    times = {size: {e: [] for e in ENDPOINTS} for size in bases}
    for r in range(rounds + 1):
        for k in range(len(headers["small"])):
            for e in ENDPOINTS:
                # alternate which goes first, so neither always has the warmer cache
                order = list(bases) if (r + k) % 2 else list(bases)[::-1]
                for size in order:
                    t0 = time.perf_counter()
                    resp = http.get(
                        f"{bases[size]}/api/v1{e}", headers=headers[size][k], timeout=60
                    )
                    took = time.perf_counter() - t0
                    if resp.status_code != 200:
                        raise SystemExit(f"GET {e}: HTTP {resp.status_code} {resp.text[:300]}")
                    check_answer(e, resp.json(), want)
                    if r:
                        times[size][e].append(took * 1000)
    return {size: {e: statistics.median(v) for e, v in t.items()} for size, t in times.items()}


def check_answer(endpoint: str, body: dict, want: dict) -> None:
    if endpoint == "/me":
        ok = body["points"] == want["points"] and body["points_expiring_next"] is not None
    elif endpoint == "/me/activities":
        ok = len(body["items"]) == 50 and all(a["measures"] for a in body["items"])
    elif endpoint == "/me/ledger":
        ok = len(body["items"]) == min(50, want["postings"])
        ok = ok and body["items"][0]["balance_after"] == want["points"]
    else:
        ok = len(body["items"]) == 50 and {i["type"] for i in body["items"]} >= {"trip"}
    if not ok:
        raise SystemExit(f"GET {endpoint}: unexpected answer {json.dumps(body)[:400]}")


def reconcile(app, *, nightly: bool = False) -> tuple[float, dict]:
    """One report in-process, timed; `nightly` stores it, as the nightly job does."""
    from backend.db import db
    from backend.reconciliation.report import compute, store

    with app.app_context():
        t0 = time.perf_counter()
        report = compute()
        if nightly:
            store(report)
            db.session.commit()
        took = time.perf_counter() - t0
        db.session.remove()
    if not report["ok"]:
        bad = [k for k, v in report["checks"].items() if not v]
        raise SystemExit(f"RECONCILIATION FAILED: {bad} {report['balance_mismatches'][:3]}")
    return took, report


# --- main ---------------------------------------------------------------------------


QUICK = {"postings": 20_000, "activities": 20_000, "rounds": 3, "heavy_days": 365}


def heavy_me(base: str, headers: dict, rounds: int) -> float:
    """p50 (ms) of GET /me for one resident (its points lots replayed on every call)."""
    http = harness.local_session()
    times = []
    for r in range(rounds * 4 + 1):
        t0 = time.perf_counter()
        resp = http.get(f"{base}/api/v1/me", headers=headers, timeout=60)
        if resp.status_code != 200:
            raise SystemExit(f"GET /me: HTTP {resp.status_code} {resp.text[:300]}")
        if r:
            times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help=f"a small run: {QUICK}")
    ap.add_argument("--postings", type=int, default=10_000_000)
    ap.add_argument("--activities", type=int, default=10_000_000)
    ap.add_argument("--sample", type=int, default=8, help="residents measured")
    ap.add_argument("--rounds", type=int, default=10, help="measured rounds per resident")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers (each server)")
    ap.add_argument(
        "--heavy-days",
        type=int,
        default=3650,
        help="days of one long-history resident whose GET /me is measured last",
    )
    ap.add_argument("--keep", action="store_true", help="keep the scratch databases")
    if ap.parse_known_args(argv)[0].quick:
        ap.set_defaults(**QUICK)  # explicit sizes still win
    args = ap.parse_args(argv)
    if args.activities != args.postings:
        ap.error("the fixture has one activity a posting: --activities must equal --postings")
    sample_postings = args.sample * SAMPLE_DAYS * POSTINGS_PER_ENTRY
    if args.postings < 2 * sample_postings:
        ap.error(f"--postings must be at least {2 * sample_postings}")

    load_before = os.getloadavg()
    secrets_env = harness.production_env(redis_url="")
    dbs: dict[str, tuple[str, str]] = {}
    apps: dict = {}
    servers: dict = {}
    ok = False
    logfile = Path(tempfile.gettempdir()) / f"bench-growth-gunicorn-{os.getpid()}"
    try:
        from backend.app import create_app
        from backend.auth.passwords import hash_password

        pw_hash = hash_password(harness.RESIDENT_PASSWORD)
        phones = [f"1370000{n:04d}" for n in range(args.sample)]
        facts = {}
        # two databases: the sample alone ("small") and the sample inside the full ledger
        # ("large"); their reads are measured interleaved, so the machine's load hits both
        for size in ("small", "large"):
            dbs[size] = harness.create_database(f"growth_{size}")
            url = harness.sqlalchemy_url(dbs[size][1])
            os.environ["DATABASE_URL"] = url  # the production profile requires one
            apps[size] = create_app("production", {"DATABASE_URL": url})
            facts[size] = prepare(apps[size])
            build_block(
                dbs[size][1],
                facts[size],
                args.sample,
                SAMPLE_DAYS,
                SAMPLE_DAYS,
                phones=phones,
                pw_hash=pw_hash,
                pii_key=secrets_env["PII_KEY"],
                tag="s",
            )
        small = counts(dbs["small"][1])
        harness.log(
            f"sample: {args.sample} residents, {small[0]:,} postings, {small[1]:,} activities"
        )

        # the rest of the large ledger, around the sample
        pg_large = dbs["large"][1]
        entries_left = (args.postings - small[0]) // POSTINGS_PER_ENTRY
        bulk_residents = max(1, entries_left // BULK_DAYS)
        t_build = time.perf_counter()
        done = 0
        while done < bulk_residents:
            n = min(CHUNK_RESIDENTS, bulk_residents - done)
            build_block(pg_large, facts["large"], n, BULK_DAYS, SPREAD_DAYS, tag=f"b{done}")
            done += n
            if done % (5 * CHUNK_RESIDENTS) == 0 or done == bulk_residents:
                harness.log(f"  built {done:,} of {bulk_residents:,} residents")
        t_analyze = time.perf_counter()
        for size in dbs:
            with psycopg.connect(dbs[size][1], autocommit=True) as conn:
                conn.execute("ANALYZE")
        build_s = time.perf_counter() - t_build
        big = counts(pg_large)
        harness.log(
            f"built {big[0]:,} postings, {big[1]:,} activities in {build_s:.1f} s "
            f"(ANALYZE {time.perf_counter() - t_analyze:.1f} s)"
        )

        bases, headers = {}, {}
        for size in dbs:
            env = {
                **os.environ,
                "DATABASE_URL": harness.sqlalchemy_url(dbs[size][1]),
            }
            port = harness.free_port()
            servers[size] = harness.start_gunicorn(
                env, port, args.workers, logfile.with_suffix(f".{size}.log")
            )
            bases[size] = f"http://127.0.0.1:{port}"
            headers[size] = log_in(bases[size], phones)
        harness.log(f"two gunicorn -w {args.workers}; measuring both, interleaved")
        want = {"points": SAMPLE_DAYS * TRIP_G * TRIPS_PER_DAY, "postings": SAMPLE_DAYS}
        p50 = measure(bases, headers, args.rounds, want)

        rec_small_full, _ = reconcile(apps["small"], nightly=True)
        rec_small_inc, rep = reconcile(apps["small"])
        if rep["mode"] != "incremental":
            raise SystemExit(f"small: the second report is {rep['mode']}")
        rec_full, rep = reconcile(apps["large"], nightly=True)
        build_block(pg_large, facts["large"], max(4, bulk_residents // 100), 1, 1, tag="day")
        after = counts(pg_large)
        rec_inc, rep_inc = reconcile(apps["large"])
        if rep["mode"] != "full" or rep_inc["mode"] != "incremental":
            raise SystemExit(f"unexpected modes: {rep['mode']}, {rep_inc['mode']}")
        if rep_inc["from_mark"] != rep["mark"] or rep_inc["mark"] != after[0]:
            raise SystemExit(f"marks: {rep['mark']} -> {rep_inc['from_mark']}..{rep_inc['mark']}")

        # one resident with years of daily trips: GET /me replays every points lot
        heavy_phone = "13799999999"
        build_block(
            pg_large,
            facts["large"],
            1,
            args.heavy_days,
            args.heavy_days,
            phones=[heavy_phone],
            pw_hash=pw_hash,
            pii_key=secrets_env["PII_KEY"],
            tag="h",
        )
        heavy = heavy_me(bases["large"], log_in(bases["large"], [heavy_phone])[0], args.rounds)
        light = heavy_me(bases["large"], headers["large"][0], args.rounds)
        load_after = os.getloadavg()

        print()
        print("=" * 76)
        print(
            f"growth benchmark{' (--quick)' if args.quick else ''}: {args.sample} sample "
            f"residents, {args.rounds} rounds, two gunicorn -w {args.workers} (small and "
            f"large database, requests interleaved), {os.cpu_count()} CPUs"
        )
        print(
            f"  small: {small[0]:,} postings / {small[1]:,} activities;  "
            f"large: {big[0]:,} / {big[1]:,} (built in {build_s:.1f} s)"
        )
        print("-" * 76)
        print(f"  {'p50, ms':<18}{'small':>10}{'large':>10}{'ratio':>8}   (target <= 1.2)")
        worst = 0.0
        for e in ENDPOINTS:
            ratio = p50["large"][e] / p50["small"][e]
            worst = max(worst, ratio)
            flag = "" if ratio <= 1.2 else "  << over"
            print(f"  GET {e:<14}{p50['small'][e]:10.1f}{p50['large'][e]:10.1f}{ratio:8.2f}{flag}")
        print(
            f"  reconciliation, small: full {rec_small_full:.2f} s, incremental "
            f"{rec_small_inc:.2f} s"
        )
        print(
            f"  reconciliation, large: full {rec_full:.2f} s ({rep['mark']:,} postings), "
            f"incremental {rec_inc:.2f} s from mark {rep_inc['from_mark']:,} "
            f"(+{after[0] - big[0]:,} postings)   (target <= 10 s)"
        )
        print(f"  incremental / full  {rec_inc / rec_full:8.3f}")
        print(
            f"  GET /me, {args.heavy_days:,} points postings: {heavy:.1f} ms p50 vs "
            f"{light:.1f} ms with {SAMPLE_DAYS} (its lots replayed each call): "
            f"{heavy / light:.2f}x"
        )
        print(
            f"  checks: every answer as built; reports ok (full, then incremental from "
            f"the stored mark); worst read ratio {worst:.2f}"
        )
        print(
            f"  load average before {harness.loads(load_before[:2])}, "
            f"after {harness.loads(load_after[:2])}" + harness.noisy(load_before[0])
        )
        print("=" * 76)
        ok = True
        return 0
    finally:
        for proc in servers.values():
            harness.stop(proc)
        for size, (name, url) in dbs.items():
            harness.finish_database(name, url, apps.get(size), args.keep)
        for size in ("small", "large"):
            f = logfile.with_suffix(f".{size}.log")
            if ok:
                f.unlink(missing_ok=True)
            elif f.exists():
                harness.log(f"gunicorn's log: {f}")


if __name__ == "__main__":
    sys.exit(main())
