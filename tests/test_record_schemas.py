"""Record schemas per activity family (issue 9, item 2): a newcomer reading only the
OpenAPI document uploads a valid record at the first try; a wrong record is told which
field broke which rule; an operator can read its own scenario."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.helpers import (
    CATALOGUE,
    bind,
    load_catalogue,
    operator_headers,
    register_resident,
    staff_headers,
    upload,
)

SH = ZoneInfo("Asia/Shanghai")
REF = "#/components/schemas/"


def _upload_items_schema(doc: dict) -> dict:
    body = doc["paths"]["/api/v1/operator/activities"]["post"]["requestBody"]
    return body["content"]["application/json"]["schema"]["properties"]["records"]["items"]


def test_the_upload_body_documents_each_family_with_a_discriminator(client):
    import scenarios_adapters

    doc = client.get("/api/openapi.json").get_json()
    items = _upload_items_schema(doc)
    families = sorted(scenarios_adapters.FORMULAS)
    assert [ref["$ref"] for ref in items["oneOf"]] == [
        REF + scenarios_adapters.record_schema_name(f) for f in families
    ]
    mapping = items["discriminator"]["mapping"]
    assert items["discriminator"]["propertyName"] == "activity_type"
    assert mapping["metro"] == mapping["walk"] == REF + "TransitRecord"
    assert mapping["ev_charging"] == REF + "EvChargingRecord"
    for ref in items["oneOf"]:
        schema = doc["components"]["schemas"][ref["$ref"].removeprefix(REF)]
        props = schema["properties"]
        assert set(schema["required"]) == set(props)
        assert {"external_id", "user_ref", "activity_type", "started_at", "ended_at"} <= set(props)
        assert props["started_at"]["format"] == "date-time"
        # every value the discriminator maps here is in the record's own enum
        own = {t for t, r in mapping.items() if r == ref["$ref"]}
        assert set(props["activity_type"]["enum"]) == own
        assert schema["example"]["activity_type"] in own and schema["x-limits"]
    transit = doc["components"]["schemas"]["TransitRecord"]["properties"]["distance_m"]
    assert (transit["type"], transit["minimum"], transit["maximum"]) == ("integer", 1, 120_000)


def test_a_record_built_from_each_documented_example_is_accepted(app, client):
    staff_h = staff_headers(app, client)
    load_catalogue(client, staff_h)
    doc = client.get("/api/openapi.json").get_json()
    accepted = {}
    for ref in _upload_items_schema(doc)["oneOf"]:
        name = ref["$ref"].removeprefix(REF)
        example = doc["components"]["schemas"][name]["example"]
        scenario = next(
            s["code"]
            for s in CATALOGUE["scenarios"]
            if example["activity_type"] in s["activity_types"]
        )
        op = operator_headers(client, staff_h, scenario)
        resident = register_resident(client)
        bind(client, op, resident["headers"], example["user_ref"])
        r = upload(client, op, [example])
        assert r.status_code == 200, r.get_json()
        result = r.get_json()["results"][0]
        assert result["status"] == "accepted", (name, result)
        assert result["reduction_g"] > 0
        accepted[name] = result["reduction_g"]
    assert set(accepted) == {"TransitRecord", "EvChargingRecord"}


@pytest.fixture()
def metro(app, client):
    staff_h = staff_headers(app, client)
    load_catalogue(client, staff_h)
    op = operator_headers(client, staff_h, "SIP-S-METRO")
    alice = register_resident(client)
    bind(client, op, alice["headers"], "m-alice")
    return {"staff": staff_h, "op": op, "alice": alice}


def _good(ext: str, **changes) -> dict:
    start = (datetime.now(SH) - timedelta(days=1)).replace(
        hour=8, minute=0, second=0, microsecond=0
    )
    record = {
        "external_id": ext,
        "user_ref": "m-alice",
        "activity_type": "metro",
        "started_at": start.isoformat(),
        "ended_at": (start + timedelta(minutes=30)).isoformat(),
        "distance_m": 12_000,
    }
    record.update(changes)
    return {k: v for k, v in record.items() if v is not None}


@pytest.mark.sqlite
def test_each_rejection_names_its_field_and_rule(app, client, metro):
    start = datetime.fromisoformat(_good("x")["started_at"])
    records = [
        # the record a newcomer guessed before there was a schema
        {
            "external_id": "guess",
            "user_ref": "m-alice",
            "type": "metro",
            "start": start.isoformat(),
            "distance_km": 12,
        },
        _good("float", distance_m=12000.5),
        _good("date", started_at="yesterday at eight"),
        _good("naive", started_at=start.replace(tzinfo=None).isoformat()),
        _good("fast", ended_at=(start + timedelta(minutes=10)).isoformat(), distance_m=21_667),
        _good("long", ended_at=(start + timedelta(hours=5)).isoformat()),
        _good("bus", activity_type="bus"),
        _good(
            "old",
            started_at=(start - timedelta(days=40)).isoformat(),
            ended_at=(start - timedelta(days=40, minutes=-30)).isoformat(),
        ),
        _good("stranger", user_ref="never-bound"),
        {"user_ref": "m-alice"},
        "not a record",
        _good("float"),  # the same external_id again in the batch
    ]
    r = upload(client, metro["op"], records)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    results = {}
    for x in body["results"]:
        if x["external_id"]:
            results.setdefault(x["external_id"], x)
    guess = results["guess"]
    assert (guess["status"], guess["reason"]) == ("rejected", "invalid")
    assert set(guess["errors"]) == {"activity_type", "started_at", "ended_at", "distance_m"}
    assert guess["errors"]["distance_m"] == ["is required: an integer number of metres"]
    assert guess["errors"]["activity_type"] == ["is required: one of metro"]
    assert results["float"]["errors"] == {"distance_m": ["must be an integer number of metres"]}
    assert set(results["date"]["errors"]) == {"started_at"}
    assert "is not an ISO 8601 time with a UTC offset" in results["date"]["errors"]["started_at"][0]
    assert set(results["naive"]["errors"]) == {"started_at"}
    assert "has no UTC offset" in results["naive"]["errors"]["started_at"][0]
    assert results["fast"]["reason"] == "implausible"
    assert results["fast"]["errors"] == {
        "speed": ["average 130 km/h is above the metro limit of 100 km/h"]
    }
    assert results["long"]["reason"] == "implausible"
    assert results["long"]["errors"] == {
        "duration": ["300 minutes is above the metro limit of 240 minutes"]
    }
    assert results["bus"]["reason"] == "wrong_activity_type"
    assert results["bus"]["errors"] == {
        "activity_type": ["'bus' is not one of this scenario's: metro"]
    }
    assert results["old"]["reason"] == "too_old"
    assert "30-day window" in results["old"]["errors"]["started_at"][0]
    assert results["stranger"]["reason"] == "unknown_user"
    assert "bind token" in results["stranger"]["errors"]["user_ref"][0]
    nameless = [x for x in body["results"] if x["external_id"] is None]
    assert [x["errors"] for x in nameless] == [
        {"external_id": ["is required: a string of 1 to 128 characters"]},
        {"record": ["must be a JSON object"]},
    ]
    # the repeat answers as the first did; the stored batch replays every result
    repeat = body["results"][-1]
    assert repeat == {**results["float"], "status": "duplicate"}
    got = client.get(f"/api/v1/operator/batches/{body['batch_id']}", headers=metro["op"])
    assert got.get_json()["results"] == body["results"]
    assert (body["accepted"], body["rejected"], body["duplicates"]) == (0, 11, 1)


def test_an_operator_reads_its_scenario(app, client, metro):
    r = client.get("/api/v1/operator/scenario", headers=metro["op"])
    assert r.status_code == 200, r.get_json()
    scenario = r.get_json()
    schema = scenario.pop("record_schemas")
    assert scenario == {
        "code": "SIP-S-METRO",
        "title": "园区轨道交通绿色出行（演示）",
        "status": "registered",
        "window_days": 30,
        "daily_cap_g": 3000,
        "activity_types": ["metro"],
        "methodology": "SIP-M-TRANSIT",
        "methodology_version": "1.0",
    }
    metro_record = schema["metro"]
    assert metro_record["properties"]["activity_type"]["enum"] == ["metro"]
    assert metro_record["x-limits"] == {
        "metro": {"max_distance_km": 120, "max_duration_min": 240, "max_speed_kmh": 100}
    }
    example = dict(metro_record["example"], user_ref="m-alice")
    res = upload(client, metro["op"], [example]).get_json()["results"][0]
    assert (res["status"], res["reduction_g"]) == ("accepted", 560)  # 12 km x 46.7 g
    # only operator clients read it
    r = client.get("/api/v1/operator/scenario", headers=metro["alice"]["headers"])
    assert r.status_code == 403
