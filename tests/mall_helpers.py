"""Helpers for the mall tests: merchants with a till login, residents with points given
through the real ledger (scenario issuance -> reductions, then the real conversion),
items, and the reconciliation report."""

from __future__ import annotations

import itertools

from sqlalchemy import select

from tests.helpers import bearer, credit_code, login

_seq = itertools.count(1)
FAST_HASH_PASSWORD = "resident-pass"


def make_merchant(client, staff_h, name: str | None = None) -> dict:
    n = next(_seq)
    r = client.post(
        "/api/v1/admin/organizations",
        json={
            "name": name or f"Merchant {n}",
            "kind": "merchant",
            "credit_code": credit_code(900_000 + n),
        },
        headers=staff_h,
    )
    assert r.status_code == 201, r.get_json()
    org_id = r.get_json()["id"]
    login_name = f"till{n}x{org_id}"
    r = client.post(
        "/api/v1/admin/merchant-users",
        json={"organization_id": org_id, "login": login_name, "password": "till-password"},
        headers=staff_h,
    )
    assert r.status_code == 201, r.get_json()
    tokens = login(client, login_name, "till-password")
    return {
        "org_id": org_id,
        "user_id": r.get_json()["id"],
        "headers": bearer(tokens["access_token"]),
    }


def give_points(app, user_id: int, points: int, key: str | None = None) -> int:
    """Credit the resident grams from a scenario's issuance and convert them with the
    real conversion (the rate comes from the loaded catalogue). Returns the points."""
    from backend.activity.accrual import mark_credited
    from backend.db import db
    from backend.ledger import AccountKind, Leg, account_for, post
    from backend.points.conversion import convert
    from backend.registry.models import Scenario
    from backend.registry.rate import current_rate

    key = key or f"test-grant:{user_id}:{next(_seq)}"
    with app.app_context():
        rate = current_rate()
        grams = -(-points * 1000 // rate.points_per_kg)
        while rate.grams_to_points(grams)[1] < points:
            grams += 1
        scenario = db.session.execute(
            select(Scenario.id).order_by(Scenario.id).limit(1)
        ).scalar_one()
        post(
            kind="accrual",
            idempotency_key=f"{key}:accrual",
            legs=[
                Leg(account_for(AccountKind.SCENARIO_ISSUANCE, scenario), -grams),
                Leg(account_for(AccountKind.RESIDENT_REDUCTIONS, user_id), grams),
            ],
            ref_type="test",
            ref_id=user_id,
        )
        mark_credited([user_id])  # as accrual does: public stats count the resident
        converted = convert(user_id, grams, request=f"{key}:convert", actor="test")
        db.session.commit()
        assert converted.points == points, (converted, points)
        return converted.points


def points_of(app, user_id: int) -> int:
    from backend.ledger import AccountKind, balance_of

    with app.app_context():
        return balance_of(AccountKind.RESIDENT_POINTS, user_id)


def balance(app, kind: str, owner: int = 0) -> int:
    from backend.ledger import AccountKind, balance_of

    with app.app_context():
        return balance_of(AccountKind(kind), owner)


def fast_residents(app, n: int) -> list[dict]:
    """`n` residents created straight in the database (hashing n passwords would take
    most of a test's time), each with a real access token."""
    from backend.auth.models import User
    from backend.auth.passwords import hash_password
    from backend.auth.tokens import Principal, issue_access
    from backend.auth.tokens import config_from_app as token_config
    from backend.db import db

    with app.app_context():
        pw = hash_password(FAST_HASH_PASSWORD)
        users = [
            User(kind="resident", phone_hash=f"fast-{next(_seq)}-{i}", password_hash=pw)
            for i in range(n)
        ]
        db.session.add_all(users)
        db.session.commit()
        cfg = token_config()
        out = [
            {
                "id": u.id,
                "headers": bearer(issue_access(cfg, Principal(kind="resident", id=u.id))),
            }
            for u in users
        ]
        db.session.remove()
        return out


def make_item(client, merchant: dict, **fields) -> dict:
    body = {"title": "Reusable cup", "points_price": 100, **fields}
    r = client.post("/api/v1/merchant/items", json=body, headers=merchant["headers"])
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def reconcile(app) -> dict:
    from backend.db import db
    from backend.reconciliation import report as reconciliation

    with app.app_context():
        report = reconciliation.compute()
        db.session.rollback()
        return report


def assert_reconciled(app) -> dict:
    report = reconcile(app)
    assert report["ok"], {k: v for k, v in report.items() if v}
    return report


def run_job(app, name: str, **kwargs):
    from backend.reconciliation.report import nightly_reconciliation
    from jobs.runner import run
    from mall import orders, settlement

    jobs = {
        "nightly_reconciliation": nightly_reconciliation,
        "expire_orders": orders.expire_orders,
        "post_settlement": settlement.post_settlement,
        "sweep_settlements": settlement.sweep_settlements,
    }
    with app.app_context():
        return run(jobs[name], **kwargs)


def give_points_many(app, user_ids: list[int], points: int) -> None:
    """`give_points` for many residents in one transaction."""
    from backend.activity.accrual import mark_credited
    from backend.db import db
    from backend.ledger import AccountKind, Leg, account_for, post
    from backend.points.conversion import convert
    from backend.registry.models import Scenario
    from backend.registry.rate import current_rate

    with app.app_context():
        rate = current_rate()
        taken, grams = rate.points_to_grams(points)
        assert taken == points, "choose a whole number of conversion blocks"
        scenario = db.session.execute(
            select(Scenario.id).order_by(Scenario.id).limit(1)
        ).scalar_one()
        for user_id in user_ids:
            key = f"test-grant:{user_id}:{next(_seq)}"
            post(
                kind="accrual",
                idempotency_key=f"{key}:accrual",
                legs=[
                    Leg(account_for(AccountKind.SCENARIO_ISSUANCE, scenario), -grams),
                    Leg(account_for(AccountKind.RESIDENT_REDUCTIONS, user_id), grams),
                ],
                ref_type="test",
                ref_id=user_id,
            )
            mark_credited([user_id])
            convert(user_id, grams, request=f"{key}:convert", actor="test")
        db.session.commit()


def race(app, calls: list) -> list:
    """Run each `call(client)` on its own thread, released together by a barrier, each
    with its own test client (so its own requests, sessions and connections). Returns
    the results in order; an exception in a thread is re-raised here."""
    import threading

    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)
    errors: list = []

    def run(i, call):
        client = app.test_client()
        try:
            barrier.wait(timeout=60)
            results[i] = call(client)
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a racing thread hung"
    if errors:
        raise errors[0]
    return results
