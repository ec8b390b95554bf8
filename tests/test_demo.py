"""The demo data (`backend.demo`): a platform with content, made by the real rules, and a
second start that changes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, inspect, select, text

from tests import helpers

API = "/api/v1"


def _counts(app) -> dict:
    from backend.db import db

    with app.app_context():
        names = inspect(db.engine).get_table_names()
        return {n: db.session.execute(text(f'SELECT count(*) FROM "{n}"')).scalar() for n in names}


def _load(app) -> list[dict]:
    from backend.db import db
    from backend.demo import load_demo

    with app.app_context():
        lines = load_demo()
        db.session.commit()
        db.session.remove()
    return lines


@pytest.mark.sqlite
def test_the_demo_has_content_made_by_the_rules_and_loads_once(app, client):
    from backend import demo
    from backend.activity.models import Activity
    from backend.db import db
    from backend.reductions.models import Transfer, Use
    from mall.models import Item, Order, SettlementBatch

    lines = _load(app)
    assert lines[0]["made"] == {"trips": True, "mall": True, "registry": True, "notice": True}
    with app.app_context():
        resident = demo._resident(demo.RESIDENT[0])
        days = db.session.execute(
            select(func.min(Activity.day), func.max(Activity.day), func.count()).where(
                Activity.user_id == resident.id
            )
        ).one()
        today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
        assert (days[0], days[1]) == (today - timedelta(days=60), today - timedelta(days=1))
        assert days[2] >= 80
        statuses = dict(
            db.session.execute(
                select(Order.status, func.count())
                .where(Order.user_id == resident.id)
                .group_by(Order.status)
            ).all()
        )
        assert statuses["pending"] == 1 and statuses["fulfilled"] >= 2
        assert {"cancelled", "expired"} <= set(statuses)
        assert db.session.execute(select(SettlementBatch.status)).scalars().all() == ["settled"]
        shelf = db.session.execute(select(Item)).scalars().all()
        assert len(shelf) == 12
        assert any(i.stock is not None for i in shelf) and any(i.per_resident_limit for i in shelf)
        assert db.session.execute(select(Transfer.status)).scalars().all() == ["executed"]
        use = db.session.execute(select(Use)).scalar_one()
        assert (use.purpose, use.status) == ("retirement", "approved") and use.certificate_number
        number = use.certificate_number
        db.session.rollback()

    # what the API shows of it
    me = client.post(
        f"{API}/auth/login", json={"login": demo.RESIDENT[0], "password": demo.RESIDENT[1]}
    ).get_json()
    profile = client.get(f"{API}/me", headers=helpers.bearer(me["access_token"])).get_json()
    assert profile["points"] > 10_000
    stats = client.get(f"{API}/public/stats").get_json()
    assert stats["residents_participating"] == 3
    assert stats["points_redeemed"] > 0 and stats["points_converted_back"] > 0
    totals = client.get(f"{API}/public/registry/totals").get_json()
    for key in ("issued_g", "transferred_g", "retired_g", "settled_back_g", "projects_registered"):
        assert totals[key] > 0, key
    notices = client.get(f"{API}/public/notices?status=open").get_json()["items"]
    assert [n["subject_code"] for n in notices] == [demo.IN_NOTICE]
    assert client.get(f"{API}/public/certificates/{number}").status_code == 200

    # every login printed works, for what it says it can do
    logins = [line for line in lines[1:] if line.get("login")]
    for line in logins:
        r = client.post(
            f"{API}/auth/login", json={"login": line["login"], "password": line["password"]}
        )
        assert r.status_code == 200, line
        headers = helpers.bearer(r.get_json()["access_token"])
        where = {"staff": "/admin/me", "merchant": "/merchant/balance", "org": "/org/balance"}
        where["resident"] = "/me"
        assert client.get(API + where[line["kind"]], headers=headers).status_code == 200, line
    roles = {r for line in logins if line["kind"] == "staff" for r in line["roles"]}
    assert roles == {"admin", "reviewer", "expert", "finance", "auditor"}
    operators = [line for line in lines if line.get("kind") == "operator"]
    assert len(operators) == 5
    for line in operators:
        creds = {"client_id": line["client_id"], "client_secret": line["client_secret"]}
        token = client.post(f"{API}/auth/token", json=creds).get_json()["access_token"]
        scenario = client.get(f"{API}/operator/scenario", headers=helpers.bearer(token))
        assert scenario.get_json()["code"] == line["scenario"]

    from tests.mall_helpers import assert_reconciled

    assert_reconciled(app)
    before = _counts(app)
    again = _load(app)
    assert again[0]["made"] == {"trips": False, "mall": False, "registry": False, "notice": False}
    after = _counts(app)
    changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
    assert changed == {}
