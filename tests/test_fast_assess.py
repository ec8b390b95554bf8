"""`scenarios_adapters.assessor`: the check prepared once per batch answers every record
exactly as `assess` does (the same activity and grams, or the same reason and
messages), including records at and just past every limit."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scenarios_adapters import assess, assessor, transit
from scenarios_adapters.base import Rejected

CATALOGUE = Path(__file__).resolve().parent.parent / "config" / "catalogue.json"
_METHODOLOGIES = {
    m["formula"]: m["parameters"]
    for m in json.loads(CATALOGUE.read_text(encoding="utf-8"))["methodologies"]
}
TRANSIT = _METHODOLOGIES["transit"]
EV = _METHODOLOGIES["ev_charging"]
# odd limits and factors: fractions that are not whole numbers of anything
TIGHT = {
    "baseline_g_per_km": 61.37,
    "modes": {"metro": 13.3, "bus": 70.1, "tram": 11.05},
    "plausibility": {
        "metro": {"max_speed_kmh": 33.3, "max_distance_km": 12.345, "max_duration_min": 7.5},
        "tram": {"max_speed_kmh": 40.5, "max_distance_km": 20},
    },
}
START = datetime.fromisoformat("2025-03-10T08:00:00+08:00")


def outcome(check, record):
    try:
        activity, grams = check(record)
    except Rejected as rej:
        return ("rejected", rej.reason, rej.errors, str(rej))
    return ("ok", activity, grams)


def both(formula, parameters, types, record):
    fast = outcome(assessor(formula, parameters, types), record)
    slow = outcome(lambda r: assess(formula, r, parameters, types), record)
    return fast, slow


def test_transit_has_a_fast_path_that_takes_plain_trips():
    fast = transit.compile_fast(TRANSIT, ["metro"])
    record = {
        "activity_type": "metro",
        "started_at": START.isoformat(),
        "ended_at": (START + timedelta(minutes=20)).isoformat(),
        "distance_m": 10_000,
    }
    activity, grams = fast(record)
    assert grams == 467 and activity.started_at.utcoffset() == timedelta(0)
    assert fast({**record, "distance_m": 0}) is None  # assess explains it
    assert fast({**record, "activity_type": "bus"}) is None  # not the scenario's


timestamps = st.one_of(
    st.builds(
        lambda minutes, tz: (START + timedelta(minutes=minutes)).astimezone(tz).isoformat(),
        st.floats(-30, 400, allow_nan=False),
        st.sampled_from([None, START.tzinfo]).map(lambda tz: tz or START.tzinfo),
    ),
    st.sampled_from(
        ["2025-03-10T08:00:00", "not a time", "", "0001-01-01T00:00:00+08:00", "2025-13-01"]
    ),
    st.integers(),
    st.none(),
)
distances = st.one_of(
    st.integers(-5, 130_000),
    st.integers(12_340, 12_350),
    st.sampled_from([0, 1, 21, 22, True, 12.5, "12000", None, 10**30]),
)
records = st.fixed_dictionaries(
    {},
    optional={
        "activity_type": st.sampled_from(["metro", "bus", "tram", "walk", "ferry", 7, None]),
        "started_at": timestamps,
        "ended_at": timestamps,
        "distance_m": distances,
        "energy_wh": st.integers(-1, 200_000),
    },
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    record=records,
    case=st.sampled_from(
        [
            ("transit", TRANSIT, ["metro", "bus"]),
            ("transit", TIGHT, ["metro", "bus", "tram"]),
            ("transit", TIGHT, ["tram", "walk"]),
            ("ev_charging", EV, ["ev_charging"]),
        ]
    ),
)
def test_the_prepared_check_answers_as_assess(record, case):
    formula, parameters, types = case
    fast, slow = both(formula, parameters, types, record)
    assert fast == slow


@pytest.mark.parametrize(
    ("mode", "minutes", "distance_m"),
    [
        ("metro", 7.5, 4_162),  # at the duration limit, under 33.3 km/h
        ("metro", 7.5, 4_163),  # just faster than 33.3 km/h
        ("metro", 7.5 + 1 / 60_000_000, 100),  # one microsecond too long
        ("tram", 60, 20_000),  # at the distance limit
        ("tram", 60, 20_001),  # one metre too far
        ("tram", 0, 10),  # no time: no speed
    ],
)
def test_the_limits_exactly(mode, minutes, distance_m):
    record = {
        "activity_type": mode,
        "started_at": START.isoformat(),
        "ended_at": (START + timedelta(minutes=minutes)).isoformat(),
        "distance_m": distance_m,
    }
    fast, slow = both("transit", TIGHT, ["metro", "tram"], record)
    assert fast == slow
    assert fast[0] == (
        "ok" if (mode, distance_m) in {("metro", 4_162), ("tram", 20_000)} else "rejected"
    )
