"""Flash sale benchmark (秒杀): many residents with points press "buy" on one item with
little stock at the same moment, through the real HTTP stack (gunicorn with the
production profile + PostgreSQL).

    python bench/flash_sale.py [--quick] [--residents 2000] [--stock 100]
                               [--clients 32] [--workers 4] [--keep]

`--quick` is a small run (200 residents, stock 20, 8 client processes; under 25 s on the
shared 2-core machine) with the same checks; sizes given explicitly still win.

What it does, in order:
1. a scratch PostgreSQL database (dropped at the end unless --keep), migrated, with the
   default catalogue; `--residents` residents made directly in the database (COPY, one
   precomputed argon2 hash) and given points through the real ledger in-process
   (issuance -> reductions -> points); one merchant with ONE item of `--stock` units;
2. gunicorn (`-w 4`, production profile, rate limits off, no Redis) on 127.0.0.1;
3. HEALTHZ: as many `GET /healthz` as there are residents, from the same `--clients`
   client processes: the base of the ratio;
4. THE SALE: every resident sends one `POST /mall/orders` (own Idempotency-Key) for the
   item, all at once from `--clients` processes (one connection per request, as
   gunicorn's sync workers serve). Time to sell out (first request sent -> last unit
   sold), p50/p99 latency, and the refusals per second once the stock is gone (the
   answers to requests sent after the last sale);
5. SOLD OUT: every resident tries again (a new key): all refused, timed on their own
   (the refusal rate of a sold-out item, measured cleanly);
6. checks: exactly `--stock` orders exist (in the database) and `--stock` answers were
   201; every other answer is 409 `out_of_stock`; the item has 0 left; each buyer paid
   the price once; the ledger's invariants and the reconciliation report hold.

Prints one block of figures with the ratios (refusals once sold out / healthz: target
>= 0.5) and the load average. Only 127.0.0.1 traffic; every loop is bounded; the
gunicorn it starts is stopped by its process id.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import harness  # bench/ is the script's own folder, first on sys.path
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PRICE = 10
QUICK = {"residents": 200, "stock": 20, "clients": 8}


# --- setup --------------------------------------------------------------------------


def prepare(app) -> None:
    from backend.db import db

    with app.app_context():
        harness.migrate_and_load()
        db.session.commit()
        db.session.remove()


def create_item(app, stock: int) -> dict:
    """The merchant, its sale item (`stock` units) and two items to warm the workers up
    with (one unlimited, one sold out)."""
    from backend.auth.users import create_login_user
    from backend.db import db
    from mall import items

    with app.app_context():
        org = harness.add_merchant("Flash sale merchant", "91320594MA7000001")
        create_login_user("merchant", "flash-till", "till-pass-1", organization_id=org.id)
        item = items.create(
            org.id, {"title": "Flash sale item", "points_price": PRICE, "stock": stock}
        )
        warm = items.create(org.id, {"title": "Warm-up item", "points_price": 1})
        gone = items.create(org.id, {"title": "Sold-out item", "points_price": 1, "stock": 0})
        db.session.commit()
        out = {"org_id": org.id, "item_id": item.id, "warm_id": warm.id, "gone_id": gone.id}
        db.session.remove()
    return out


# --- the client processes -----------------------------------------------------------


def _client(job: tuple) -> list[tuple[float, float, int, str | None]]:
    """One client process: waits for the start time, then sends its requests one after
    the other; returns (sent, answered, status, problem code) per request (monotonic
    clock: one clock for every process of the machine)."""
    base, start_at, calls = job
    sess = harness.local_session()
    time.sleep(max(0.0, start_at - time.monotonic()))
    out = []
    for path, token, body, key in calls:
        t0 = time.monotonic()
        try:
            if token is None:
                r = sess.get(base + path, timeout=120)
            else:
                r = sess.post(
                    base + path,
                    json=body,
                    headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
                    timeout=120,
                )
        except requests.RequestException as exc:
            out.append((t0, time.monotonic(), 0, repr(exc)[:200]))
            continue
        code = None
        if r.status_code >= 300:
            try:
                code = r.json().get("code")
            except ValueError:
                code = r.text[:200]
        out.append((t0, time.monotonic(), r.status_code, code))
    return out


def hammer(base: str, calls: list, clients: int) -> list[tuple[float, float, int, str | None]]:
    """All the calls from `clients` processes that start together."""
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(clients) as pool:
        start_at = time.monotonic() + 0.5  # every process forked and waiting by then
        shards = [(base, start_at, calls[i::clients]) for i in range(clients)]
        results = pool.map(_client, shards)
    return sorted((x for r in results for x in r), key=lambda x: x[0])


def span(answers: list) -> float:
    return max(a[1] for a in answers) - min(a[0] for a in answers)


# --- checks -------------------------------------------------------------------------


def check_books(app, item_id: int, residents: list[int], stock: int, grant: int) -> dict:
    """The database's view: orders, stock, each buyer's points, invariants, report."""
    from sqlalchemy import func, select

    from backend.db import db
    from backend.ledger import Account, AccountKind
    from backend.ledger import invariants as ledger_invariants
    from backend.reconciliation import report as reconciliation
    from mall.models import Item, Order

    with app.app_context():
        orders = db.session.execute(
            select(Order.user_id, func.count())
            .where(Order.item_id == item_id)
            .group_by(Order.user_id)
        ).all()
        left = db.session.execute(select(Item.stock).where(Item.id == item_id)).scalar_one()
        points = dict(
            db.session.execute(
                select(Account.owner_id, Account.balance).where(
                    Account.kind == AccountKind.RESIDENT_POINTS.value,
                    Account.owner_id.in_(residents),
                )
            ).all()
        )
        problems = ledger_invariants()
        report = reconciliation.compute()
        db.session.rollback()
        db.session.remove()
    buyers = {user for user, _ in orders}
    return {
        "orders": sum(n for _, n in orders),
        "one_each": all(n == 1 for _, n in orders),
        "left": left,
        "paid_right": all(
            points[u] == (grant - PRICE if u in buyers else grant) for u in residents
        ),
        "invariants": problems,
        "invariants_ok": problems.ok,
        "reconciled": report["ok"],
    }


def profile_refusals(app, token: str, item_id: int, n: int = 300) -> None:
    """cProfile (CPU time) of `n` refusals of a sold-out item through the Flask test
    client, with the SQL statements of one printed."""
    import pstats

    client = app.test_client()

    def one(k: int) -> None:
        r = client.post(
            "/api/v1/mall/orders",
            json={"item_id": item_id},
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"profile-{k}"},
        )
        assert r.status_code == 409 and r.get_json()["code"] == "out_of_stock", r.get_json()

    for k in range(20):
        one(k)
    with harness.sql_statements(app) as statements:
        one(20)
    harness.print_sql("refusal", statements)
    prof, took = harness.cpu_profile(one, range(21, 21 + n))
    print(f"profile: {n} refusals in-process in {took:.2f} s ({took / n * 1000:.2f} ms each)")
    pstats.Stats(prof).sort_stats("cumulative").print_stats(40)


# --- main ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help=f"a small run: {QUICK}")
    ap.add_argument("--residents", type=int, default=2_000)
    ap.add_argument("--stock", type=int, default=100)
    ap.add_argument("--clients", type=int, default=32, help="client processes")
    ap.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    ap.add_argument("--keep", action="store_true", help="keep the scratch database")
    ap.add_argument(
        "--profile", action="store_true", help="only profile 300 refusals in-process (cProfile)"
    )
    if ap.parse_known_args(argv)[0].quick:
        ap.set_defaults(**QUICK)  # explicit sizes still win
    args = ap.parse_args(argv)
    if min(args.residents, args.stock, args.clients, args.workers) < 1:
        ap.error("every count must be at least 1")
    if args.stock >= args.residents:
        ap.error("--stock must be below --residents (it is a race)")

    db_name, pg_url = harness.create_database("flash")
    env = harness.production_env(pg_url)
    gunicorn = app = None
    logfile = Path(tempfile.gettempdir()) / f"bench-flash-gunicorn-{os.getpid()}.log"
    grant = 100
    try:
        from backend.app import create_app

        app = create_app()
        harness.log(f"database {db_name}")
        prepare(app)
        *residents, warmer = harness.create_residents(
            pg_url, args.residents + 1, env["PII_KEY"], "138"
        )
        t0 = time.perf_counter()
        harness.give_points(app, [*residents, warmer], grant)
        harness.log(
            f"{args.residents:,} residents, {grant} points each via the ledger "
            f"({time.perf_counter() - t0:.1f} s)"
        )
        item = create_item(app, args.stock)
        *tokens, warm_token = harness.access_tokens(app, "resident", [*residents, warmer])
        if args.profile:
            profile_refusals(app, warm_token, item["gone_id"])
            return 0
        harness.release_connections(app)

        port = harness.free_port()
        gunicorn = harness.start_gunicorn(env, port, args.workers, logfile)
        base = f"http://127.0.0.1:{port}"
        harness.log(f"gunicorn -w {args.workers} on {base}; {args.clients} client processes")

        # --- warm-up: every worker imports and compiles what the phases use
        warm_calls = []
        for k in range(4 * args.workers):
            warm_calls += [
                ("/healthz", None, None, None),
                ("/api/v1/mall/orders", warm_token, {"item_id": item["warm_id"]}, f"warm-{k}"),
                ("/api/v1/mall/orders", warm_token, {"item_id": item["gone_id"]}, f"gone-{k}"),
            ]
        warm = hammer(base, warm_calls, args.clients)
        if sorted({a[2] for a in warm}) != [200, 201, 409]:
            raise SystemExit(f"warm-up failed: {Counter((a[2], a[3]) for a in warm)}")

        # --- healthz: the base of the ratio (same server, same client processes)
        cpu0 = harness.tree_cpu_seconds(gunicorn.pid)
        health = hammer(base, [("/healthz", None, None, None)] * args.residents, args.clients)
        health_cpu = harness.tree_cpu_seconds(gunicorn.pid) - cpu0
        health_rate = len(health) / span(health)
        if any(a[2] != 200 for a in health):
            raise SystemExit(f"healthz failed: {Counter(a[2] for a in health)}")

        # --- the sale
        body = {"item_id": item["item_id"]}
        calls = [
            ("/api/v1/mall/orders", tokens[k], body, f"flash-{k}") for k in range(args.residents)
        ]
        cpu0 = harness.tree_cpu_seconds(gunicorn.pid)
        sale = hammer(base, calls, args.clients)
        sale_cpu = harness.tree_cpu_seconds(gunicorn.pid) - cpu0
        sold = [a for a in sale if a[2] == 201]
        refused = [a for a in sale if a[2] == 409 and a[3] == "out_of_stock"]
        other = Counter((a[2], a[3]) for a in sale if a not in sold and a not in refused)
        first_sent = sale[0][0]
        sold_out_at = max(a[1] for a in sold) if sold else first_sent
        after = [a for a in refused if a[0] >= sold_out_at]
        after_rate = len(after) / (max(a[1] for a in after) - sold_out_at) if after else 0.0
        sale_lat = sorted(a[1] - a[0] for a in sale)
        harness.log(f"the sale: {len(sold)} sold, {len(refused)} refused, other {dict(other)}")

        # --- sold out: everyone tries again
        again_calls = [
            ("/api/v1/mall/orders", tokens[k], body, f"flash-again-{k}")
            for k in range(args.residents)
        ]
        cpu0 = harness.tree_cpu_seconds(gunicorn.pid)
        pg0 = harness.database_cpu_seconds(harness.PG_ADMIN, db_name)
        again = hammer(base, again_calls, args.clients)
        again_cpu = harness.tree_cpu_seconds(gunicorn.pid) - cpu0
        again_pg = harness.database_cpu_seconds(harness.PG_ADMIN, db_name) - pg0
        again_rate = len(again) / span(again)
        again_lat = sorted(a[1] - a[0] for a in again)
        again_other = Counter((a[2], a[3]) for a in again if (a[2], a[3]) != (409, "out_of_stock"))
        harness.stop(gunicorn)
        gunicorn = None

        books = check_books(app, item["item_id"], residents, args.stock, grant)
        load = os.getloadavg()
        checks = {
            f"exactly {args.stock} orders in the database": books["orders"] == args.stock,
            f"exactly {args.stock} answers 201": len(sold) == args.stock,
            "every other answer 409 out_of_stock": not other and not again_other,
            "one order per buyer, each paid once": books["one_each"] and books["paid_right"],
            "stock left 0": books["left"] == 0,
            "ledger invariants and reconciliation hold": books["invariants_ok"]
            and books["reconciled"],
        }
        print()
        print("=" * 76)
        print(
            f"flash sale{' (--quick)' if args.quick else ''}: {args.residents:,} residents, "
            f"one item with stock {args.stock}, price {PRICE} points"
        )
        print(
            f"  gunicorn -w {args.workers}, {args.clients} client processes, PostgreSQL, "
            f"{os.cpu_count()} CPUs; load average {harness.loads(load)}"
        )
        print("-" * 76)
        print(
            f"  GET /healthz          {health_rate:8,.0f} req/s   p50 "
            f"{harness.pct(sorted(a[1] - a[0] for a in health), 0.5) * 1000:6.1f} ms  "
            f"web CPU {health_cpu / len(health) * 1000:.2f} ms/request"
        )
        print(
            f"  the sale              {len(sale):,} requests in {span(sale):.2f} s; sold out "
            f"{sold_out_at - first_sent:.2f} s after the first request"
        )
        print(
            f"    all answers         {harness.p50_p99(sale_lat)}  "
            f"web CPU {sale_cpu / len(sale) * 1000:.2f} ms/request"
        )
        print(
            f"    refused once sold out {after_rate:8,.0f} req/s  ({len(after):,} requests "
            f"sent after the last sale)"
        )
        print(
            f"  sold out, all again   {again_rate:8,.0f} req/s   {harness.p50_p99(again_lat)}  "
            f"web CPU {again_cpu / len(again) * 1000:.2f} ms/request, PostgreSQL "
            f"{again_pg / len(again) * 1000:.2f} ms"
        )
        print(
            f"  refusals / healthz    {again_rate / health_rate:8.3f} (sold out, all again); "
            f"{after_rate / health_rate:.3f} (in the sale)   target >= 0.5"
        )
        for name, ok in checks.items():
            print(f"  check: {name:45s} {'ok' if ok else 'FAILED'}")
        print("=" * 76)
        if not all(checks.values()):
            print(f"FAILED: {books} other={dict(other)} again={dict(again_other)}")
            return 1
        print("ALL CHECKS PASSED")
        return 0
    finally:
        harness.stop(gunicorn)
        harness.finish_database(db_name, pg_url, app, args.keep)


if __name__ == "__main__":
    raise SystemExit(main())
