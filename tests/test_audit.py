"""The audit log: a record of every state-changing act of staff and organisations,
written in the same transaction as the act (a refused act leaves none), hash-chained
(`flask --app wsgi audit verify` finds a raw-SQL edit and names the row), append-only
in PostgreSQL, readable by auditors and admins, and free of secrets, passwords, tokens
and phone numbers."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from tests import helpers
from tests.mall_helpers import give_points, make_item, make_merchant

API = "/api/v1"


def _records(app) -> list[dict]:
    from sqlalchemy import select

    from backend.audit.models import AuditRecord
    from backend.db import db

    with app.app_context():
        table = AuditRecord.__table__
        rows = db.session.execute(select(table).order_by(table.c.id)).mappings().all()
        out = [dict(r) for r in rows]
        db.session.remove()
    return out


def _verify(app):
    return app.test_cli_runner().invoke(args=["audit", "verify"])


@pytest.mark.sqlite
def test_staff_and_organisation_acts_are_recorded_with_who_what_and_the_request(app, client):
    admin = helpers.staff_headers(app, client)
    me = client.get(f"{API}/admin/me", headers=admin).get_json()
    helpers.load_catalogue(client, admin)
    shop = make_merchant(client, admin, "Audit shop")
    alice = helpers.register_resident(client)
    give_points(app, alice["id"], 500)
    item = make_item(client, shop, points_price=100)
    client.patch(f"{API}/merchant/items/{item['id']}", json={"stock": 7}, headers=shop["headers"])
    order = client.post(
        f"{API}/mall/orders", json={"item_id": item["id"]}, headers=alice["headers"]
    )
    code = order.get_json()["redemption_code"]
    r = client.post(
        f"{API}/merchant/redemptions",
        json={"code": code},
        headers={**shop["headers"], "X-Request-ID": "till-request-0001"},
    )
    assert r.status_code == 200
    operator = helpers.operator_headers(client, admin, "SIP-S-METRO")
    client.post(f"{API}/operator/bind-tokens", json={"user_ref": "u-77"}, headers=operator)
    helpers.upload(client, operator, [])

    records = _records(app)
    actions = [r["action"] for r in records]
    for expected in (
        "catalogue.import",
        "organization.create",
        "merchant_user.create",
        "item.create",
        "item.update",
        "order.redeem",
        "operator_client.create",
        "bind_token.issue",
        "activity.upload",
    ):
        assert expected in actions, (expected, actions)
    org = next(r for r in records if r["action"] == "organization.create")
    assert (org["actor"], org["role"], org["object_type"]) == (
        f"staff:{me['id']}",
        "admin",
        "organization",
    )
    assert org["object_id"] == str(shop["org_id"])
    update = next(r for r in records if r["action"] == "item.update")
    assert (update["before"], update["after"]) == ({"stock": None}, {"stock": 7})
    assert update["actor"] == f"merchant:{shop['user_id']}" and update["role"] == "merchant"
    redeem = next(r for r in records if r["action"] == "order.redeem")
    assert redeem["request_id"] == "till-request-0001"
    # the posting is the record of the value: the audit record points at its entry
    assert set(redeem["after"]) == {"status", "entry_id"}
    upload = next(r for r in records if r["action"] == "activity.upload")
    assert upload["actor"].startswith("operator:op_") and upload["after"]["received"] == 0
    assert _verify(app).exit_code == 0


def test_a_refused_act_leaves_no_record(app, client):
    admin = helpers.staff_headers(app, client)
    body = {"name": "Once", "kind": "other", "credit_code": helpers.credit_code()}
    assert client.post(f"{API}/admin/organizations", json=body, headers=admin).status_code == 201
    r = client.post(f"{API}/admin/organizations", json=body, headers=admin)
    assert r.status_code == 409
    assert [r["action"] for r in _records(app)] == ["organization.create"]


def test_jobs_record_as_the_system(app, client):
    from tests.mall_helpers import run_job

    admin = helpers.staff_headers(app, client)
    helpers.load_catalogue(client, admin)
    shop = make_merchant(client, admin)
    alice = helpers.register_resident(client)
    give_points(app, alice["id"], 100)
    item = make_item(client, shop, points_price=100)
    code = client.post(f"{API}/mall/orders", json={"item_id": item["id"]}, headers=alice["headers"])
    client.post(
        f"{API}/merchant/redemptions",
        json={"code": code.get_json()["redemption_code"]},
        headers=shop["headers"],
    )
    batch = client.post(f"{API}/merchant/settlements", headers=shop["headers"]).get_json()
    from backend.db import db
    from mall import settlement

    with app.app_context():
        settlement.approve(batch["id"], actor="staff:test")
        db.session.commit()
    assert run_job(app, "post_settlement", settlement_id=batch["id"]) == "settled"
    settle = next(r for r in _records(app) if r["action"] == "settlement.settle")
    assert settle["actor"] == "system:mall.settlement.post_settlement"
    assert settle["role"] == "system" and isinstance(settle["after"]["entry_id"], int)


@pytest.mark.sqlite
def test_the_chain_verifies_and_a_raw_sql_edit_is_found_and_named(app, client):
    admin = helpers.staff_headers(app, client)
    for n in range(4):
        body = {"name": f"Org {n}", "kind": "other", "credit_code": helpers.credit_code()}
        assert (
            client.post(f"{API}/admin/organizations", json=body, headers=admin).status_code == 201
        )
    records = _records(app)
    assert len(records) == 4
    assert records[0]["prev_hash"] == "0" * 64
    for before, after in zip(records, records[1:], strict=False):
        assert after["prev_hash"] == before["hash"]
    result = _verify(app)
    assert result.exit_code == 0, result.output
    assert "ok: 4 records" in result.output

    from backend.db import db

    victim = records[2]["id"]
    with app.app_context():  # someone with database access edits a record
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        db.session.execute(
            text("UPDATE audit_log SET after = :a WHERE id = :i"),
            {"a": json.dumps({"name": "Someone else"}), "i": victim},
        )
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
        db.session.commit()
    result = _verify(app)
    assert result.exit_code == 1
    assert f"broken at record {victim}" in result.output
    assert "contents do not match" in result.output


def test_a_deleted_record_breaks_the_chain_at_the_next(app, client):
    admin = helpers.staff_headers(app, client)
    for n in range(3):
        body = {"name": f"Org {n}", "kind": "other", "credit_code": helpers.credit_code()}
        client.post(f"{API}/admin/organizations", json=body, headers=admin)
    ids = [r["id"] for r in _records(app)]
    from backend.db import db

    with app.app_context():
        db.session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        db.session.execute(text("DELETE FROM audit_log WHERE id = :i"), {"i": ids[1]})
        db.session.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
        db.session.commit()
    result = _verify(app)
    assert result.exit_code == 1
    assert f"broken at record {ids[2]}" in result.output and "prev_hash" in result.output


def test_postgresql_refuses_update_and_delete_of_audit_records(app, client):
    from sqlalchemy.exc import DBAPIError

    from backend.db import db

    admin = helpers.staff_headers(app, client)
    body = {"name": "Kept", "kind": "other", "credit_code": helpers.credit_code()}
    client.post(f"{API}/admin/organizations", json=body, headers=admin)
    with app.app_context():
        for sql in ("UPDATE audit_log SET actor = 'nobody'", "DELETE FROM audit_log"):
            with pytest.raises(DBAPIError, match="append-only"):
                db.session.execute(text(sql))
            db.session.rollback()
        db.session.remove()
    assert len(_records(app)) == 1 and _verify(app).exit_code == 0


def test_no_secret_password_token_or_phone_enters_the_log(app, client):
    phone = "13912345678"
    admin = helpers.staff_headers(app, client)
    helpers.load_catalogue(client, admin)
    org_id = helpers.scenario_operator_org(client, admin, "SIP-S-METRO")
    creds = client.post(
        f"{API}/admin/operator-clients",
        json={"organization_id": org_id, "scenario_code": "SIP-S-METRO"},
        headers=admin,
    ).get_json()
    rotated = client.post(
        f"{API}/admin/operator-clients/{creds['client_id']}/rotate-secret", headers=admin
    ).get_json()
    operator_token = client.post(f"{API}/auth/token", json=rotated).get_json()["access_token"]
    operator = helpers.bearer(operator_token)
    bind = client.post(f"{API}/operator/bind-tokens", json={"user_ref": phone}, headers=operator)
    staff_body = {"login": "newcomer", "password": "Secret-Pass-1", "roles": ["auditor"]}
    client.post(f"{API}/admin/staff", json=staff_body, headers=admin)
    shop = make_merchant(client, admin)
    item = make_item(client, shop, title=f"Call {phone} to book", description=f"tel {phone}")
    resident = helpers.register_resident(client, phone)
    client.post(f"{API}/admin/residents/{resident['id']}/disable", headers=admin)

    dump = json.dumps(_records(app), default=str)
    assert len(_records(app)) >= 8
    secrets = [
        creds["client_secret"],
        rotated["client_secret"],
        operator_token,
        bind.get_json()["bind_token"],
        "Secret-Pass-1",
        "till-password",
        phone,
        phone[3:],
        admin["Authorization"].split()[1],
    ]
    for secret in secrets:
        assert secret not in dump, secret
    item_record = next(r for r in _records(app) if r["action"] == "item.create")
    assert item_record["after"]["title"] == "Call [redacted] to book"
    assert item["id"]


def test_auditors_and_admins_read_the_log_by_actor_and_object(app, client):
    admin = helpers.staff_headers(app, client)
    me = client.get(f"{API}/admin/me", headers=admin).get_json()
    org_ids = []
    for n in range(3):
        body = {"name": f"Org {n}", "kind": "other", "credit_code": helpers.credit_code()}
        org_ids.append(
            client.post(f"{API}/admin/organizations", json=body, headers=admin).get_json()["id"]
        )
    auditor = helpers.role_headers(app, client, "auditor")
    finance = helpers.role_headers(app, client, "finance")
    assert client.get(f"{API}/admin/audit", headers=finance).status_code == 403
    page = client.get(f"{API}/admin/audit?limit=2", headers=auditor).get_json()
    assert [r["object_id"] for r in page["items"]] == [str(org_ids[2]), str(org_ids[1])]
    rest = client.get(f"{API}/admin/audit?limit=2&cursor={page['next_cursor']}", headers=auditor)
    assert [r["object_id"] for r in rest.get_json()["items"]] == [str(org_ids[0])]
    one = client.get(
        f"{API}/admin/audit?object_type=organization&object_id={org_ids[1]}", headers=admin
    ).get_json()["items"]
    assert len(one) == 1 and one[0]["after"]["name"] == "Org 1"
    assert one[0]["at"].endswith("+08:00") and len(one[0]["hash"]) == 64
    mine = client.get(f"{API}/admin/audit?actor=staff:{me['id']}", headers=auditor).get_json()
    assert len(mine["items"]) == 3
    nobody = client.get(f"{API}/admin/audit?actor=staff:999", headers=auditor).get_json()
    assert nobody["items"] == []
