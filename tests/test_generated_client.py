"""A Python client generated from the OpenAPI document (`openapi-python-client`, as an
integrator would) carries a resident through the platform: register, log in, consent
with a bind token an operator issued, see activities and points, order, cancel.

The generator runs into a temporary folder and must not warn; the client talks to the
session's app in-process (httpx's WSGI transport)."""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests import helpers
from tests.mall_helpers import make_merchant

PACKAGE = "sip_client"
CONFIG = f"""\
project_name_override: {PACKAGE}
package_name_override: {PACKAGE}
post_hooks: []
content_type_overrides:
  application/pdf: application/octet-stream
  image/png: application/octet-stream
"""


@pytest.fixture(scope="module")
def generated(app, tmp_path_factory):
    """The generated package, imported (and forgotten afterwards)."""
    root = tmp_path_factory.mktemp("client")
    spec = root / "openapi.json"
    spec.write_bytes(app.test_client().get("/api/openapi.json").data)
    (root / "config.yml").write_text(CONFIG)
    generator = Path(sys.executable).parent / "openapi-python-client"
    done = subprocess.run(
        [
            str(generator),
            "generate",
            "--path",
            str(spec),
            "--output-path",
            str(root / PACKAGE),
            "--meta",
            "none",
            "--config",
            str(root / "config.yml"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Warning" not in output and "WARNING" not in output, output
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


class _Api:
    """`_Api("auth").auth_login`: the generated module of an operation of a tag."""

    def __init__(self, tag: str):
        self.tag = tag

    def __getattr__(self, operation: str):
        return importlib.import_module(f"{PACKAGE}.api.{self.tag}.{operation}")


def _model(name: str):
    return getattr(importlib.import_module(f"{PACKAGE}.models"), name)


def test_a_generated_client_carries_a_resident_through_the_platform(app, client, generated):
    transport = httpx.WSGITransport(app=app)
    anonymous = generated.Client(base_url="http://testserver", httpx_args={"transport": transport})

    def signed_in(token: str):
        return generated.AuthenticatedClient(
            base_url="http://testserver", token=token, httpx_args={"transport": transport}
        )

    auth, staff_api, operators = _Api("auth"), _Api("staff"), _Api("operators")
    residents, mall = _Api("residents"), _Api("mall")

    # staff (set up by the harness) load the catalogue and give the metro operator a client
    helpers.make_staff(app, "gen-admin", "staff-password")
    login = auth.auth_login.sync(
        client=anonymous, body=_model("LoginIn")(login="gen-admin", password="staff-password")
    )
    staff = signed_in(login.access_token)
    counts = staff_api.staff_import_catalogue.sync(
        client=staff, body=_model("CatalogueIn").from_dict(helpers.CATALOGUE)
    )
    assert counts.scenarios.created >= 1
    metro = next(s for s in helpers.CATALOGUE["scenarios"] if s["code"] == "SIP-S-METRO")
    orgs = staff_api.staff_list_organizations.sync(
        client=staff, credit_code=metro["operator_credit_code"]
    )
    creds = staff_api.staff_create_operator_client.sync(
        client=staff,
        body=_model("OperatorClientIn")(
            organization_id=orgs.items[0].id, scenario_code="SIP-S-METRO"
        ),
    )
    token = auth.auth_client_token.sync(
        client=anonymous,
        body=_model("ClientCredentialsIn")(
            client_id=creds.client_id, client_secret=creds.client_secret
        ),
    )
    operator = signed_in(token.access_token)

    # the resident registers and logs in
    phone = helpers.phone()
    created = auth.auth_register.sync(
        client=anonymous, body=_model("RegisterIn")(phone=phone, password="resident-pass-1")
    )
    assert created.id > 0
    tokens = auth.auth_login.sync(
        client=anonymous, body=_model("LoginIn")(login=phone, password="resident-pass-1")
    )
    assert tokens.token_type == "Bearer"
    resident = signed_in(tokens.access_token)

    # consent, with a bind token the operator issued for its own reference
    ref = f"card-{uuid.uuid4().hex[:8]}"
    bind = operators.operators_create_bind_token.sync(
        client=operator, body=_model("BindTokenIn")(user_ref=ref)
    )
    consent = residents.residents_create_consent.sync(
        client=resident, body=_model("ConsentIn")(bind_token=bind.bind_token)
    )
    assert consent.scenario_code == "SIP-S-METRO" and consent.active is True

    # the operator reports two trips of yesterday; the resident sees them and the points
    start = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)
    trips = [
        _model("TransitTrip").from_dict(
            {
                "external_id": f"{ref}-{n}",
                "user_ref": ref,
                "activity_type": "metro",
                "started_at": (start + timedelta(hours=n)).isoformat(),
                "ended_at": (start + timedelta(hours=n, minutes=30)).isoformat(),
                "distance_m": 10_000,
            }
        )
        for n in (0, 2)
    ]
    batch = operators.operators_upload.sync(
        client=operator, body=_model("OperatorsUploadBody")(records=trips)
    )
    assert (batch.accepted, batch.rejected) == (2, 0), batch
    activities = residents.residents_list_activities.sync(client=resident)
    assert sorted(a.reduction_g for a in activities.items) == [467, 467]
    me = residents.residents_me.sync(client=resident)
    assert me.points == 934

    # order an item, then cancel it: the points come back
    merchant = make_merchant(client, helpers.bearer(login.access_token))
    r = client.post(
        "/api/v1/merchant/items",
        json={"title": "Reusable cup", "points_price": 300, "stock": 5},
        headers=merchant["headers"],
    )
    assert r.status_code == 201, r.get_json()
    items = mall.mall_list_items.sync(client=anonymous)
    item = next(i for i in items.items if i.title == "Reusable cup")
    order = mall.mall_place_order.sync(
        client=resident, body=_model("OrderIn")(item_id=item.id), idempotency_key=uuid.uuid4().hex
    )
    assert (order.status, order.points) == ("pending", 300)
    assert residents.residents_me.sync(client=resident).points == 634
    problem = mall.mall_place_order.sync(
        client=resident, body=_model("OrderIn")(item_id=10**12), idempotency_key="x" * 8
    )
    assert (problem.status, problem.code) == (404, "item_not_found")
    cancelled = mall.mall_cancel_order.sync(client=resident, order_id=order.id)
    assert cancelled.status == "cancelled"
    assert residents.residents_me.sync(client=resident).points == 934
    ledger = residents.residents_ledger.sync(client=resident)
    assert {p.unit for p in ledger.items} == {"g", "pt"}
    helpers.assert_books_balanced(app)
