"""Mall benchmark: orders and redemptions through the real HTTP stack (gunicorn +
PostgreSQL) from several client processes, then the settlement of one big batch.

    python bench/mall.py [--quick] [--orders 10000] [--residents 1000] [--items 100]
                         [--merchants 10] [--settle-orders 100000]
                         [--workers 4] [--clients 4] [--keep]

`--quick` is a small run (200 orders, 100 residents, 20 items of 4 merchants, a batch
of 10,000 orders; under 40 s on the shared 2-core machine) that prints the same figures;
sizes given explicitly still win.

What it does, in order:
1. creates a scratch PostgreSQL database (dropped at the end unless --keep), migrates it
   with Alembic, loads the default catalogue (1000 points per kg: 1 point = 1 g);
2. creates the residents DIRECTLY in the database (COPY, one precomputed argon2 hash:
   registering 1,000 residents over HTTP would time argon2, not the mall) and gives each
   of them points through the real ledger in-process (scenario issuance -> reductions,
   then `backend.points.conversion.convert`); creates the merchants, a till login each
   and their items (half with stock, half unlimited, 10-100 points) in-process. Access
   tokens are issued in-process with the server's JWT secret (no argon2 per login);
3. starts gunicorn (`-w 4`, production profile, rate limits off, no Redis: a job runs
   in the web process right after the commit that asked for it, as in the embedded
   default) on a free 127.0.0.1 port;
4. ORDERS: `--orders` `POST /mall/orders` (each with its own Idempotency-Key), resident
   k % residents buying a random item, spread over `--clients` client processes (one
   keep-alive-less connection each, as gunicorn's sync workers serve); every answer must
   be 201. Orders/s and p50/p99 latency;
5. REDEMPTIONS: every code redeemed at its item's merchant (`POST /merchant/redemptions`)
   from the same client processes; every answer must be 200 `fulfilled`;
6. SETTLEMENT: `--settle-orders` fulfilled orders of one more merchant are written
   set-based in SQL, each with its hold and redemption journal entries and postings
   (running balances included) exactly as the services would have written them, so the
   books and the reconciliation hold. The seed goes through the ledger's database rules
   like any writer: its postings carry the balances and the trigger moves the accounts
   (it checks every chain), and the commit checks that all the entries balance (the
   seed's time, logged, includes both); then over HTTP the merchant applies
   (`POST /merchant/settlements`) and staff approve (`POST /admin/settlements/{id}/
   approve`; the posting job runs in the web process after that commit). Timed: apply,
   approve + posting, and the whole;
7. checks: the batch is settled with every order, the merchant got the grams, the
   ledger invariants hold and the reconciliation report is ok (its time is printed too,
   on the ledger the run built);
8. prints one block of figures.

Only 127.0.0.1 traffic; every loop is bounded; the gunicorn it starts is stopped by its
process id.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import harness  # bench/ is the script's own folder, first on sys.path
import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SETTLE_PRICE = 10


# --- setup --------------------------------------------------------------------------


def prepare(app) -> int:
    """Migrate, load the catalogue, create a staff account; returns its id."""
    from backend.auth.users import create_login_user
    from backend.db import db

    with app.app_context():
        harness.migrate_and_load()
        staff = create_login_user(
            "staff", "bench-staff", "bench-staff-pass", roles=["admin", "finance"]
        )
        db.session.commit()
        staff_id = staff.id
        db.session.remove()
    return staff_id


def create_merchants(app, n: int, items_per: int, rnd: random.Random) -> list[dict]:
    """Merchants (organisations + one till login each) and their items, in-process."""
    from backend.auth.users import create_login_user
    from backend.db import db
    from mall import items

    out = []
    with app.app_context():
        for m in range(n):
            org = harness.add_merchant(f"Bench merchant {m}", f"91320594MA{9_000_000 + m:07d}")
            user = create_login_user(
                "merchant", f"bench-till-{m}", "till-pass-1", organization_id=org.id
            )
            made = []
            for i in range(items_per):
                stock = 1_000 if i % 2 == 0 else None
                item = items.create(
                    org.id,
                    {
                        "title": f"Item {m}-{i}",
                        "points_price": rnd.randint(1, 10) * 10,
                        "stock": stock,
                    },
                )
                made.append(item.id)
            out.append({"org_id": org.id, "user_id": user.id, "items": made})
        db.session.commit()
        db.session.remove()
    return out


# --- the client processes -----------------------------------------------------------


def _client(job: tuple[str, list[tuple[str, str, dict, dict]]]) -> tuple[list, list, list]:
    """One client process: sends its requests one after the other; returns latencies,
    answers and failures. A call without a token is a GET (the healthz phase)."""
    base, calls = job
    cpu0 = time.process_time()
    sess = harness.local_session()
    latencies, answers, failures = [], [], []
    for path, token, body, extra in calls:
        t0 = time.perf_counter()
        try:
            if token is None:
                r = sess.get(base + path, timeout=120)
            else:
                headers = {"Authorization": f"Bearer {token}", **extra}
                r = sess.post(base + path, json=body, headers=headers, timeout=120)
        except requests.RequestException as exc:
            failures.append(repr(exc))
            continue
        latencies.append(time.perf_counter() - t0)
        if r.status_code >= 300:
            failures.append(f"{r.status_code} {r.text[:200]}")
        else:
            answers.append(r.json())
    CLIENT_CPU.append(time.process_time() - cpu0)  # in the child; sent back below
    return latencies, answers, failures, CLIENT_CPU[-1]


CLIENT_CPU: list[float] = []  # the clients' CPU seconds of the last `hammer`, summed


def hammer(base: str, calls: list, clients: int) -> tuple[float, list[float], list[dict]]:
    shards = [(base, calls[i::clients]) for i in range(clients)]
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(clients) as pool:
        t0 = time.perf_counter()
        results = pool.map(_client, shards)
        wall = time.perf_counter() - t0
    CLIENT_CPU[:] = [sum(r[3] for r in results)]
    latencies = sorted(x for r in results for x in r[0])
    answers = [a for r in results for a in r[1]]
    failures = [f for r in results for f in r[2]]
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, e.g. {failures[:3]}")
    return wall, latencies, answers


# --- the profile of one order, in-process -------------------------------------------


def profile_orders(app, r_tokens: list[str], item_ids: list[int], n: int = 300) -> None:
    """cProfile of `n` `POST /mall/orders` through the Flask test client (the same app,
    no HTTP), with the SQL statements per order counted; prints the top lines."""
    import pstats

    client = app.test_client()

    def one(k: int) -> None:
        r = client.post(
            "/api/v1/mall/orders",
            json={"item_id": item_ids[k % len(item_ids)]},
            headers={
                "Authorization": f"Bearer {r_tokens[k % len(r_tokens)]}",
                "Idempotency-Key": f"profile-{k}",
            },
        )
        assert r.status_code == 201, r.get_json()

    for k in range(19):  # warm up
        one(k)
    with harness.sql_statements(app) as statements:
        one(19)
        harness.print_sql("order", statements)
        statements.clear()
        prof, took = harness.cpu_profile(one, range(20, 20 + n))
    print(
        f"profile: {n} orders in-process in {took:.2f} s ({took / n * 1000:.2f} ms each, "
        f"{len(statements) / n:.1f} SQL statements each); load {os.getloadavg()[0]:.2f}"
    )
    pstats.Stats(prof).sort_stats("cumulative").print_stats(30)
    pstats.Stats(prof).sort_stats("tottime").print_stats(20)


# --- the big batch ------------------------------------------------------------------


def seed_fulfilled(app, pg_url: str, residents: list[int], n: int) -> dict:
    """`n` fulfilled orders of a new merchant, with their hold and redemption entries
    and postings written set-based, as `mall.orders.place` and `mall.redemption.redeem`
    would have (keys, kinds, refs, running balances)."""
    from backend.auth.users import create_login_user
    from backend.db import db
    from backend.ledger import AccountKind, account_for
    from mall import items
    from mall.qr import new_code

    with app.app_context():
        org = harness.add_merchant("Bench settlement merchant", "91320594MA8999999")
        user = create_login_user(
            "merchant", "bench-settle-till", "till-pass-1", organization_id=org.id
        )
        item = items.create(org.id, {"title": "Settlement item", "points_price": SETTLE_PRICE})
        escrow = account_for(AccountKind.ORDER_ESCROW, org.id)
        merchant_pts = account_for(AccountKind.MERCHANT_POINTS, org.id)
        db.session.commit()
        facts = {
            "org_id": org.id,
            "user_id": user.id,
            "item_id": item.id,
            "escrow": escrow.id,
            "merchant": merchant_pts.id,
        }
        db.session.remove()

    now = datetime.now(UTC)
    codes = set()
    while len(codes) < n:
        codes.add(new_code())
    with psycopg.connect(pg_url) as conn, conn.cursor() as cur:
        with cur.copy(
            "COPY orders (user_id, item_id, merchant_id, points, status, redemption_code,"
            " expires_at, created_at, fulfilled_at, redeemed_by) FROM STDIN"
        ) as cp:
            for k, code in enumerate(codes):
                cp.write_row(
                    (
                        residents[k % len(residents)],
                        facts["item_id"],
                        facts["org_id"],
                        SETTLE_PRICE,
                        "fulfilled",
                        code,
                        now + timedelta(days=7),
                        now,
                        now,
                        facts["user_id"],
                    )
                )
        p = {"m": facts["org_id"], "escrow": facts["escrow"], "mp": facts["merchant"], "now": now}
        cur.execute(
            """
            CREATE TEMP TABLE so AS
            SELECT o.id, o.user_id, o.points, a.id AS account_id, a.balance AS start_balance,
                   row_number() OVER (PARTITION BY o.user_id ORDER BY o.id) AS nth,
                   row_number() OVER (ORDER BY o.id) AS seq
            FROM orders o
            JOIN accounts a ON a.kind = 'resident_points' AND a.owner_id = o.user_id
            WHERE o.merchant_id = %(m)s
            """,
            p,
        )
        cur.execute(
            """
            INSERT INTO journal_entries (idempotency_key, kind, ref_type, ref_id, actor, memo,
                                         created_at)
            SELECT 'order:' || id || ':' || step, 'order_' || step, 'order', id::text,
                   'bench:seed', 'bench seed', %(now)s
            FROM so CROSS JOIN (VALUES ('hold'), ('redeem')) AS s(step)
            ORDER BY so.id, s.step = 'redeem'
            """,
            p,
        )
        # The database moves the balances from the postings (and refuses any other
        # write to them): the postings get their ids in the order of every account's
        # running balance (order by order, its hold before its redemption), so that
        # each one continues the one before on its account.
        cur.execute(
            """
            INSERT INTO postings (entry_id, account_id, amount, balance_after, created_at)
            SELECT e.id, x.account_id, x.amount, x.balance_after, %(now)s
            FROM (
              SELECT id AS oid, 0 AS step, 'order:' || id || ':hold' AS k, account_id,
                     -points AS amount, start_balance - points * nth AS balance_after
              FROM so
              UNION ALL
              SELECT id, 0, 'order:' || id || ':hold', %(escrow)s, points, points FROM so
              UNION ALL
              SELECT id, 1, 'order:' || id || ':redeem', %(escrow)s, -points, 0 FROM so
              UNION ALL
              SELECT id, 1, 'order:' || id || ':redeem', %(mp)s, points, points * seq FROM so
            ) x JOIN journal_entries e ON e.idempotency_key = x.k
            ORDER BY x.oid, x.step
            """,
            p,
        )
        conn.commit()  # the commit checks that every entry balances
        cur.execute("ANALYZE")
    return facts


def ledger_size(pg_url: str) -> tuple[int, int, int]:
    with psycopg.connect(pg_url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM postings), (SELECT count(*) FROM journal_entries),"
            " (SELECT count(*) FROM orders)"
        ).fetchone()
    return row


def reconcile(app) -> tuple[float, dict]:
    from backend.db import db
    from backend.reconciliation import report as reconciliation

    with app.app_context():
        t0 = time.perf_counter()
        report = reconciliation.compute()
        took = time.perf_counter() - t0
        db.session.rollback()
        db.session.remove()
    return took, report


# --- main ---------------------------------------------------------------------------


WARM_UP = 2  # orders per resident slot before the timed phases (imports, compiled SQL)
QUICK = {"orders": 200, "residents": 100, "items": 20, "merchants": 4, "settle_orders": 10_000}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help=f"a small run: {QUICK}")
    ap.add_argument("--orders", type=int, default=10_000)
    ap.add_argument("--residents", type=int, default=1_000)
    ap.add_argument("--items", type=int, default=100)
    ap.add_argument("--merchants", type=int, default=10)
    ap.add_argument("--settle-orders", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    ap.add_argument(
        "--clients", type=int, default=16, help="client processes (the targets are at 16)"
    )
    ap.add_argument("--keep", action="store_true", help="keep the scratch database")
    ap.add_argument(
        "--profile",
        action="store_true",
        help="only profile 300 orders in-process (cProfile tops, SQL statements per order)",
    )
    if ap.parse_known_args(argv)[0].quick:
        ap.set_defaults(**QUICK)  # explicit sizes still win
    args = ap.parse_args(argv)
    if args.items % args.merchants or args.items < args.merchants:
        ap.error("--items must be a positive multiple of --merchants")
    if min(args.orders, args.residents, args.settle_orders, args.clients, args.workers) < 1:
        ap.error("every count must be at least 1")

    rnd = random.Random(20)
    db_name, pg_url = harness.create_database("mall")
    env = harness.production_env(pg_url)
    gunicorn = app = None
    logfile = Path(tempfile.gettempdir()) / f"bench-mall-gunicorn-{os.getpid()}.log"
    per_resident = -(-args.orders // args.residents)
    try:
        from backend.app import create_app

        app = create_app()
        harness.log(f"database {db_name}")
        staff_id = prepare(app)
        residents = harness.create_residents(pg_url, args.residents, env["PII_KEY"], "137")
        settle_share = -(-args.settle_orders // args.residents) * SETTLE_PRICE
        grant = per_resident * 100 + settle_share + WARM_UP * 100  # the warm-up's orders too
        t0 = time.perf_counter()
        harness.give_points(app, residents, grant)
        harness.log(
            f"{args.residents:,} residents, {grant:,} points each via the ledger "
            f"({time.perf_counter() - t0:.1f} s)"
        )
        merchants = create_merchants(app, args.merchants, args.items // args.merchants, rnd)
        item_owner = {i: m for m in merchants for i in m["items"]}
        all_items = list(item_owner)
        harness.log(f"{args.merchants} merchants, {len(all_items)} items")

        if args.profile:
            profile_orders(app, harness.access_tokens(app, "resident", residents), all_items)
            return 0
        port = harness.free_port()
        gunicorn = harness.start_gunicorn(env, port, args.workers, logfile)
        base = f"http://127.0.0.1:{port}"
        harness.log(f"gunicorn -w {args.workers} on {base}; {args.clients} client processes")

        # --- warm-up: every worker imports and compiles what the timed phases use
        r_tokens = harness.access_tokens(app, "resident", residents)
        warm_calls = [
            (
                "/api/v1/mall/orders",
                r_tokens[k % args.residents],
                {"item_id": all_items[k % len(all_items)]},
                {"Idempotency-Key": f"bench-warm-{k}"},
            )
            for k in range(min(args.residents * WARM_UP, 8 * args.workers))
        ]
        harness.release_connections(app)
        hammer(base, warm_calls + [("/healthz", None, {}, {})] * 8 * args.workers, args.clients)

        # --- healthz: the same server, the same client processes (the ratio's base)
        harness.release_connections(app)
        n_health = max(args.orders, 1000)
        cpu0 = harness.tree_cpu_seconds(gunicorn.pid)
        pg0 = harness.database_cpu_seconds(harness.PG_ADMIN, db_name)
        health_s, health_lat, _ = hammer(
            base, [("/healthz", None, {}, {})] * n_health, args.clients
        )
        health_cpu = harness.tree_cpu_seconds(gunicorn.pid) - cpu0
        health_pg = harness.database_cpu_seconds(harness.PG_ADMIN, db_name) - pg0
        health_client = CLIENT_CPU[0]
        harness.log(f"{n_health:,} GET /healthz done in {health_s:.1f} s")

        # --- orders
        calls = [
            (
                "/api/v1/mall/orders",
                r_tokens[k % args.residents],
                {"item_id": rnd.choice(all_items)},
                {"Idempotency-Key": f"bench-order-{k}"},
            )
            for k in range(args.orders)
        ]
        harness.release_connections(app)
        cpu0 = harness.tree_cpu_seconds(gunicorn.pid)
        pg0 = harness.database_cpu_seconds(harness.PG_ADMIN, db_name)
        order_s, order_lat, placed = hammer(base, calls, args.clients)
        order_cpu = harness.tree_cpu_seconds(gunicorn.pid) - cpu0
        order_pg = harness.database_cpu_seconds(harness.PG_ADMIN, db_name) - pg0
        order_client = CLIENT_CPU[0]
        assert len(placed) == args.orders and all(o["status"] == "pending" for o in placed)
        harness.log(f"orders done in {order_s:.1f} s")

        # --- redemptions
        m_tokens = dict(
            zip(
                [m["org_id"] for m in merchants],
                harness.access_tokens(
                    app,
                    "merchant",
                    [m["user_id"] for m in merchants],
                    [m["org_id"] for m in merchants],
                ),
                strict=True,
            )
        )
        calls = [
            (
                "/api/v1/merchant/redemptions",
                m_tokens[item_owner[o["item_id"]]["org_id"]],
                {"code": o["redemption_code"]},
                {},
            )
            for o in placed
        ]
        rnd.shuffle(calls)
        harness.release_connections(app)
        redeem_s, redeem_lat, redeemed = hammer(base, calls, args.clients)
        assert len(redeemed) == args.orders and all(x["status"] == "fulfilled" for x in redeemed)
        harness.log(f"redemptions done in {redeem_s:.1f} s")
        took, report = reconcile(app)
        if not report["ok"]:
            raise SystemExit(f"RECONCILIATION FAILED after redemptions: {report}")

        # --- settlement of one big batch
        t0 = time.perf_counter()
        big = seed_fulfilled(app, pg_url, residents, args.settle_orders)
        seed_s = time.perf_counter() - t0
        harness.log(f"{args.settle_orders:,} fulfilled orders seeded in SQL ({seed_s:.1f} s)")
        took, report = reconcile(app)
        if not report["ok"]:
            raise SystemExit(f"RECONCILIATION FAILED after the seed: {report}")
        (m_token,) = harness.access_tokens(app, "merchant", [big["user_id"]], [big["org_id"]])
        (s_token,) = harness.access_tokens(app, "staff", [staff_id])
        http = harness.local_session()
        t0 = time.perf_counter()
        r = http.post(
            f"{base}/api/v1/merchant/settlements",
            headers={"Authorization": f"Bearer {m_token}", "Idempotency-Key": "bench-settle"},
            timeout=900,
        )
        apply_s = time.perf_counter() - t0
        if r.status_code != 201 or r.json()["orders"] != args.settle_orders:
            raise SystemExit(f"apply failed: {r.status_code} {r.text[:300]}")
        batch = r.json()
        t1 = time.perf_counter()
        r = http.post(
            f"{base}/api/v1/admin/settlements/{batch['id']}/approve",
            headers={"Authorization": f"Bearer {s_token}"},
            timeout=900,
        )
        if r.status_code != 202:
            raise SystemExit(f"approve failed: {r.status_code} {r.text[:300]}")
        deadline = time.monotonic() + 900
        while True:
            got = http.get(
                f"{base}/api/v1/merchant/settlements/{batch['id']}",
                headers={"Authorization": f"Bearer {m_token}"},
                timeout=60,
            ).json()
            if got["status"] in ("settled", "failed") or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        approve_s = time.perf_counter() - t1
        settle_s = time.perf_counter() - t0
        if got["status"] != "settled":
            raise SystemExit(f"settlement did not settle: {got}")
        want = args.settle_orders * SETTLE_PRICE
        if (got["points_converted"], got["reductions_g"]) != (want, want):
            raise SystemExit(f"settled amounts are wrong: {got}")
        harness.stop(gunicorn)
        gunicorn = None

        recon_s, report = reconcile(app)
        if not report["ok"]:
            raise SystemExit(f"RECONCILIATION FAILED at the end: {report}")
        postings, entries, orders = ledger_size(pg_url)

        n = args.orders
        health_rate, order_rate = n_health / health_s, n / order_s
        load = os.getloadavg()
        print()
        print("=" * 72)
        print(
            f"mall benchmark{' (--quick)' if args.quick else ''}: {n:,} orders, "
            f"{args.residents:,} residents, {len(all_items)} items of {args.merchants} merchants"
        )
        print(
            f"  gunicorn -w {args.workers}, {args.clients} client processes, PostgreSQL, "
            f"{os.cpu_count()} CPUs"
        )
        print("-" * 72)
        print(f"  load average         {harness.loads(load)} (at the end)")
        print(
            f"  GET /healthz (HTTP)  {health_s:8.2f} s  {health_rate:8,.0f} req/s      "
            f"{harness.p50_p99(health_lat)}"
        )
        print(
            f"  orders (HTTP)        {order_s:8.2f} s  {order_rate:8,.0f} orders/s   "
            f"{harness.p50_p99(order_lat)}"
        )
        for what, web, pg, client, count in (
            ("healthz", health_cpu, health_pg, health_client, n_health),
            ("order", order_cpu, order_pg, order_client, n),
        ):
            print(
                f"  CPU per {what:8s}     web {web / count * 1000:5.2f} ms + PostgreSQL "
                f"{pg / count * 1000:5.2f} ms + client {client / count * 1000:5.2f} ms = "
                f"{(web + pg + client) / count * 1000:5.2f} ms (from /proc)"
            )
        print(
            f"  orders / healthz     {order_rate / health_rate:8.3f}  (target >= 0.3); "
            f"orders p99 at {args.clients} clients "
            f"{harness.pct(order_lat, 0.99) * 1000:.1f} ms "
            f"(target <= 50 ms)"
        )
        print(
            f"  redemptions (HTTP)   {redeem_s:8.2f} s  {n / redeem_s:8,.0f} redeemed/s "
            f"{harness.p50_p99(redeem_lat)}"
        )
        print(f"  settlement of {args.settle_orders:,} fulfilled orders ({want:,} points):")
        print(f"    apply (HTTP)       {apply_s:8.2f} s")
        print(f"    approve + posting  {approve_s:8.2f} s  (the job runs in the web process)")
        print(f"    total              {settle_s:8.2f} s")
        print(
            f"  seed in SQL          {seed_s:8.2f} s  ({2 * args.settle_orders:,} entries, "
            f"{4 * args.settle_orders:,} postings, checked by the database)"
        )
        print(
            f"  reconciliation       {recon_s:8.2f} s  on {postings:,} postings, "
            f"{entries:,} entries, {orders:,} orders: ok={report['ok']}"
        )
        print("=" * 72)
        return 0
    finally:
        harness.stop(gunicorn)
        harness.finish_database(db_name, pg_url, app, args.keep)


if __name__ == "__main__":
    raise SystemExit(main())
