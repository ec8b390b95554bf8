"""The shipped default catalogue (config/catalogue.json) is well formed and consistent."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from scenarios_adapters import FORMULAS, assess, get_adapter

CATALOGUE = Path(__file__).resolve().parent.parent / "config" / "catalogue.json"

# GB 32100-2015 unified social credit code, implemented here independently of the app.
CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def credit_code_ok(code: object) -> bool:
    if not isinstance(code, str) or len(code) != 18 or any(c not in CHARSET for c in code):
        return False
    total = sum(CHARSET.index(c) * w for c, w in zip(code[:17], WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31] == code[17]


@pytest.fixture(scope="module")
def doc():
    return json.loads(CATALOGUE.read_text(encoding="utf-8"))


def test_weights_are_powers_of_three():
    assert [pow(3, i, 31) for i in range(17)] == WEIGHTS


def test_verifier_accepts_and_rejects():
    assert credit_code_ok("91350100M000100Y43")  # a well-known published example
    assert not credit_code_ok("91350100M000100Y44")
    assert not credit_code_ok("91350100M000100Y4")
    assert not credit_code_ok("91350100M000100I43")  # I is not in the charset
    assert not credit_code_ok(None)


def test_top_level_shape(doc):
    assert set(doc) == {"source_note", "conversion", "organizations", "methodologies", "scenarios"}
    assert doc["source_note"].strip()
    assert doc["conversion"] == {"points_per_kg": 1000}  # 1 point = 1 g CO2e


def test_organisations(doc):
    orgs = doc["organizations"]
    assert orgs
    codes = [o["credit_code"] for o in orgs]
    assert len(set(codes)) == len(codes)
    for org in orgs:
        assert set(org) == {"name", "kind", "credit_code"}
        assert org["name"].strip()
        assert org["kind"] in {"operator", "merchant", "project_owner", "other"}
        assert credit_code_ok(org["credit_code"]), org["credit_code"]


def test_methodologies_validate(doc):
    keys = [(m["code"], m["version"]) for m in doc["methodologies"]]
    assert len(set(keys)) == len(keys)
    for m in doc["methodologies"]:
        assert m["kind"] == "scenario"
        assert m["formula"] in FORMULAS
        assert m["title"].strip() and m["source"].strip()
        get_adapter(m["formula"]).validate_parameters(m["parameters"])
        # the same numbers read as Decimals (as a loader using parse_float=Decimal would)
        exact = json.loads(json.dumps(m["parameters"]), parse_float=Decimal)
        get_adapter(m["formula"]).validate_parameters(exact)


def test_scenarios_are_consistent(doc):
    methodologies = {(m["code"], m["version"]): m for m in doc["methodologies"]}
    operators = {o["credit_code"] for o in doc["organizations"] if o["kind"] == "operator"}
    codes = [s["code"] for s in doc["scenarios"]]
    assert len(set(codes)) == len(codes)
    assert {"SIP-S-METRO", "SIP-S-BUS", "SIP-S-BIKE", "SIP-S-WALK"} <= set(codes)
    for s in doc["scenarios"]:
        m = methodologies[(s["methodology"], s["methodology_version"])]
        supported = get_adapter(m["formula"]).supported_activity_types(m["parameters"])
        assert s["activity_types"], s["code"]
        assert set(s["activity_types"]) <= supported, s["code"]
        assert s["operator_credit_code"] in operators, s["code"]
        assert credit_code_ok(s["operator_credit_code"])
        assert type(s["daily_cap_g"]) is int and s["daily_cap_g"] > 0
        assert type(s["window_days"]) is int and s["window_days"] == 30
        assert s["title"].strip()


def test_transit_savings_equal_the_published_shenzhen_figures(doc):
    (m,) = [m for m in doc["methodologies"] if m["code"] == "SIP-M-TRANSIT"]
    p = m["parameters"]
    baseline = Decimal(str(p["baseline_g_per_km"]))
    assert baseline - Decimal(str(p["modes"]["metro"])) == Decimal("46.7")
    assert baseline - Decimal(str(p["modes"]["bus"])) == Decimal("26.9")
    assert "illustrative" in m["source"]


def test_every_scenario_credits_a_typical_activity(doc):
    """End to end through the file: a typical activity of each scenario earns grams within
    its daily cap, so the caps and factors are of sensible size."""
    typical = {
        "metro": {"distance_m": 10_000, "minutes": 20},
        "bus": {"distance_m": 6_000, "minutes": 25},
        "bike_share": {"distance_m": 3_000, "minutes": 15},
        "walk": {"distance_m": 2_000, "minutes": 25},
        "ev_charging": {"energy_wh": 8_000, "minutes": 60},
    }
    methodologies = {(m["code"], m["version"]): m for m in doc["methodologies"]}
    for s in doc["scenarios"]:
        m = methodologies[(s["methodology"], s["methodology_version"])]
        for activity_type in s["activity_types"]:
            sample = dict(typical[activity_type])
            minutes = sample.pop("minutes")
            record = {
                "activity_type": activity_type,
                "started_at": "2025-03-10T08:00:00+08:00",
                "ended_at": f"2025-03-10T{8 + minutes // 60:02d}:{minutes % 60:02d}:00+08:00",
                **sample,
            }
            _, grams = assess(m["formula"], record, m["parameters"], s["activity_types"])
            assert 0 < grams <= s["daily_cap_g"], (s["code"], grams)
