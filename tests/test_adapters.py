"""Pure tests of the activity adapters (no database, no Flask)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scenarios_adapters import FORMULAS, assess, ev_charging, get_adapter, transit
from scenarios_adapters.base import Activity, Rejected

CATALOGUE = Path(__file__).resolve().parent.parent / "config" / "catalogue.json"
_METHODOLOGIES = {
    m["formula"]: m["parameters"]
    for m in json.loads(CATALOGUE.read_text(encoding="utf-8"))["methodologies"]
}
TRANSIT = _METHODOLOGIES["transit"]
EV = _METHODOLOGIES["ev_charging"]
TRANSIT_TYPES = ("metro", "bus", "bike_share", "walk")

START = "2025-03-10T08:00:00+08:00"


def at(minutes: float, start: str = START) -> str:
    return (datetime.fromisoformat(start) + timedelta(minutes=minutes)).isoformat()


def trip(activity_type: str = "metro", distance_m=10_000, minutes: float = 20, **extra):
    record = {
        "external_id": "t-1",
        "user_ref": "u-1",
        "activity_type": activity_type,
        "started_at": START,
        "ended_at": at(minutes),
        "distance_m": distance_m,
    }
    record.update(extra)
    return record


def charge(energy_wh=35_000, minutes: float = 60, **extra):
    record = {
        "external_id": "c-1",
        "user_ref": "u-1",
        "activity_type": "ev_charging",
        "started_at": START,
        "ended_at": at(minutes),
        "energy_wh": energy_wh,
    }
    record.update(extra)
    return record


def assess_transit(record, types=TRANSIT_TYPES, parameters=None):
    return assess("transit", record, TRANSIT if parameters is None else parameters, types)


def reason_of(formula, record, parameters, types) -> str:
    with pytest.raises(Rejected) as info:
        assess(formula, record, parameters, types)
    return info.value.reason


# --- known values with the shipped parameters -----------------------------------------


@pytest.mark.parametrize(
    ("activity_type", "distance_m", "minutes", "grams"),
    [
        ("metro", 10_000, 20, 467),  # 10 km x 46.7 g/km (Shenzhen 2021)
        ("bus", 10_000, 30, 269),  # 10 km x 26.9 g/km (Shenzhen 2021)
        ("bike_share", 5_000, 20, 300),  # 5 km x 60.0 g/km (illustrative)
        ("walk", 2_000, 30, 120),
        ("metro", 1_234, 5, 57),  # 57.6278 -> 57, rounded down
        ("bus", 999, 5, 26),  # 26.8731 -> 26
        ("metro", 21, 1, 0),  # 0.9807 -> 0: a real trip, but worth less than a gram
        ("metro", 22, 1, 1),  # 1.0274 -> 1
    ],
)
def test_transit_grams(activity_type, distance_m, minutes, grams):
    activity, reduction = assess_transit(trip(activity_type, distance_m, minutes))
    assert reduction == grams
    assert isinstance(reduction, int)
    assert activity.measures == {"distance_m": distance_m}
    assert activity.activity_type == activity_type


def test_ev_grams():
    # 35 kWh x (100/15 x 159.1 - 561.7) = 35 x 498.9666... = 17463.83 -> 17463
    activity, reduction = assess("ev_charging", charge(35_000, 60), EV, ["ev_charging"])
    assert reduction == 17_463
    assert activity.measures == {"energy_wh": 35_000}


def test_ev_floor_and_small_sessions():
    # 1 Wh -> 0.4989... g -> 0; 3 Wh -> 1.4969 -> 1
    assert assess("ev_charging", charge(1, 1), EV, ["ev_charging"])[1] == 0
    assert assess("ev_charging", charge(3, 1), EV, ["ev_charging"])[1] == 1


def test_ev_dirty_grid_earns_nothing():
    params = dict(EV, grid_g_per_kwh=2000)
    assert assess("ev_charging", charge(35_000, 60), params, ["ev_charging"])[1] == 0


def test_mode_above_baseline_earns_zero_not_negative():
    params = {"baseline_g_per_km": 10, "modes": {"metro": 50}}
    assert assess_transit(trip("metro", 10_000), parameters=params)[1] == 0


def test_float_and_decimal_parameters_agree():
    as_decimal = json.loads(json.dumps(TRANSIT), parse_float=Decimal)
    for activity_type in TRANSIT_TYPES:
        record = trip(activity_type, 3_337, 40)
        assert assess_transit(record)[1] == assess_transit(record, parameters=as_decimal)[1]


def test_no_float_drift_in_factors():
    # 0.1 + 0.2 style drift would make 3 x 0.1 g/km x 10 km = 2.9999 -> 2.
    params = {"baseline_g_per_km": 0.3, "modes": {"metro": 0.0}}
    assert assess_transit(trip("metro", 10_000), parameters=params)[1] == 3


def test_timestamps_normalised_to_utc():
    activity, _ = assess_transit(trip("metro", 10_000, 20))
    assert activity.started_at == datetime(2025, 3, 10, 0, 0, tzinfo=UTC)
    assert activity.started_at.utcoffset() == timedelta(0)
    assert activity.ended_at - activity.started_at == timedelta(minutes=20)
    zulu = trip("metro", 10_000, started_at="2025-03-10T00:00:00Z", ended_at="2025-03-10T00:20Z")
    assert assess_transit(zulu)[0] == activity


def test_speed_at_the_limit_is_plausible():
    # exactly 7 km/h on foot and 30 km/h on a bike are allowed; a microsecond faster is not
    assert assess_transit(trip("walk", 7_000, 60))[1] == 420
    assert assess_transit(trip("bike_share", 30_000, 60))[1] == 1800
    quick = trip("walk", 7_000, ended_at="2025-03-10T08:59:59.999999+08:00")
    assert reason_of("transit", quick, TRANSIT, TRANSIT_TYPES) == "implausible"


def test_catalogue_plausibility_overrides_defaults():
    params = json.loads(json.dumps(TRANSIT))
    params["plausibility"]["walk"] = {"max_speed_kmh": 10}
    assert assess_transit(trip("walk", 9_000, 60), parameters=params)[1] == 540
    del params["plausibility"]
    assert reason_of("transit", trip("walk", 9_000, 60), params, TRANSIT_TYPES) == "implausible"


# --- rejections ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({k: v for k, v in trip().items() if k != "distance_m"}, "invalid"),
        (trip(distance_m=None), "invalid"),
        (trip(distance_m="12000"), "invalid"),
        (trip(distance_m=True), "invalid"),
        (trip(distance_m=False), "invalid"),
        (trip(distance_m=12000.0), "invalid"),
        (trip(distance_m=[12000]), "invalid"),
        (trip(distance_m={"m": 1}), "invalid"),
        (trip(distance_m=-1), "invalid"),
        (trip(started_at="2025-03-10T08:00:00"), "invalid"),  # naive
        (trip(ended_at="2025-03-10 08:20:00"), "invalid"),  # naive
        (trip(started_at="2025-03-10"), "invalid"),  # a date, no offset
        (trip(started_at="yesterday"), "invalid"),
        (trip(started_at=""), "invalid"),
        (trip(started_at=1741564800), "invalid"),  # epoch numbers are not ISO 8601
        (trip(started_at=None), "invalid"),
        (trip(ended_at=["2025-03-10T08:20:00+08:00"]), "invalid"),
        ({k: v for k, v in trip().items() if k != "ended_at"}, "invalid"),
        (trip(started_at="0001-01-01T00:00:00+08:00"), "invalid"),  # before year 1 in UTC
        (trip(ended_at="9999-12-31T23:59:59-08:00"), "invalid"),  # after year 9999 in UTC
        (trip(started_at="2025-02-30T08:00:00+08:00"), "invalid"),
        (trip(activity_type=None), "invalid"),
        (trip(activity_type=1), "invalid"),
        (trip(activity_type=["metro"]), "invalid"),
        ({k: v for k, v in trip().items() if k != "activity_type"}, "invalid"),
        (trip(activity_type="bus"), "wrong_activity_type"),
        (trip(activity_type="METRO"), "wrong_activity_type"),
        (trip(activity_type="ev_charging"), "wrong_activity_type"),
        (trip(ended_at="2025-03-10T07:59:59+08:00"), "implausible"),  # ends before it starts
        (trip(distance_m=0), "implausible"),
        (trip(distance_m=10_000, minutes=0), "implausible"),  # zero duration
        (trip(distance_m=200_000, minutes=180), "implausible"),  # 200 km of metro
        (trip(distance_m=40_000, minutes=20), "implausible"),  # 120 km/h metro
        (trip(distance_m=10**30), "implausible"),
        (trip(distance_m=2**63), "implausible"),
        (trip(distance_m=10**5000), "implausible"),
    ],
)
def test_metro_rejections(record, reason):
    assert reason_of("transit", record, TRANSIT, ["metro"]) == reason


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (trip("walk", 10_000, 30), "implausible"),  # 20 km/h on foot
        (trip("walk", 31_000, 600), "implausible"),  # 31 km walk
        (trip("bike_share", 20_000, 30), "implausible"),  # 40 km/h
        (trip("bike_share", 51_000, 240), "implausible"),
        (trip("bus", 101_000, 180), "implausible"),
        (trip("bus", 30_000, 20), "implausible"),  # 90 km/h
    ],
)
def test_transit_mode_plausibility(record, reason):
    assert reason_of("transit", record, TRANSIT, TRANSIT_TYPES) == reason


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (charge(energy_wh=None), "invalid"),
        (charge(energy_wh="35000"), "invalid"),
        (charge(energy_wh=True), "invalid"),
        (charge(energy_wh=35.5), "invalid"),
        (charge(energy_wh=-5), "invalid"),
        (charge(started_at="2025-03-10T08:00:00"), "invalid"),
        (charge(distance_m=10_000, energy_wh=None), "invalid"),  # a transit measure is not one
        (charge(activity_type="metro"), "wrong_activity_type"),
        (charge(energy_wh=0), "implausible"),
        (charge(energy_wh=151_000, minutes=600), "implausible"),  # > 150 kWh in one session
        (charge(energy_wh=60_000, minutes=10), "implausible"),  # 360 kW average
        (charge(energy_wh=30_000, minutes=0), "implausible"),
        (charge(ended_at="2025-03-10T07:00:00+08:00"), "implausible"),
        (charge(energy_wh=10**40), "implausible"),
    ],
)
def test_ev_rejections(record, reason):
    assert reason_of("ev_charging", record, EV, ["ev_charging"]) == reason


@pytest.mark.parametrize(
    ("formula", "record", "limit"),
    [
        ("transit", trip("metro", 10_000, 240), 240),
        ("transit", trip("bus", 10_000, 240), 240),
        ("transit", trip("bike_share", 10_000, 240), 240),
        ("transit", trip("walk", 10_000, 360), 360),
        ("ev_charging", charge(35_000, 4320), 4320),
    ],
)
def test_an_activity_longer_than_its_methodology_allows_is_implausible(formula, record, limit):
    # at the limit it counts; a second longer is refused and says which limit
    params, types = (TRANSIT, TRANSIT_TYPES) if formula == "transit" else (EV, ["ev_charging"])
    assert assess(formula, record, params, types)[1] > 0
    longer = dict(record, ended_at=at(limit + 1 / 60))
    with pytest.raises(Rejected) as info:
        assess(formula, longer, params, types)
    assert info.value.reason == "implausible"
    (message,) = info.value.errors["duration"]
    assert message.endswith(f"limit of {limit} minutes")
    assert message.startswith(f"{limit}.02 minutes is above the")


def test_a_weeks_long_trip_is_implausible_and_limits_are_configurable():
    weeks = trip("walk", 1_000, 3 * 7 * 24 * 60)  # 1 km "walked" over three weeks
    assert reason_of("transit", weeks, TRANSIT, TRANSIT_TYPES) == "implausible"
    params = json.loads(json.dumps(TRANSIT))
    params["plausibility"]["walk"]["max_duration_min"] = 30
    assert reason_of("transit", trip("walk", 2_000, 31), params, TRANSIT_TYPES) == "implausible"
    assert assess_transit(trip("walk", 2_000, 30), parameters=params)[1] == 120
    transit.validate_parameters(params)
    # a mode without defaults gets the generic duration limit unless it gives its own
    ferry = {
        "baseline_g_per_km": 60,
        "modes": {"ferry": 20},
        "plausibility": {"ferry": {"max_speed_kmh": 40, "max_distance_km": 60}},
    }
    assert assess("transit", trip("ferry", 10_000, 240), ferry, ["ferry"])[1] == 400
    assert reason_of("transit", trip("ferry", 10_000, 241), ferry, ["ferry"]) == "implausible"
    ev = dict(EV, plausibility={"max_duration_min": 600})
    ev_charging.validate_parameters(ev)
    assert reason_of("ev_charging", charge(35_000, 601), ev, ["ev_charging"]) == "implausible"
    for bad in (0, -1, "60", None):
        with pytest.raises(ValueError):
            transit.validate_parameters(
                dict(TRANSIT, plausibility={"walk": {"max_duration_min": bad}})
            )
        with pytest.raises(ValueError):
            ev_charging.validate_parameters(dict(EV, plausibility={"max_duration_min": bad}))


def test_ev_power_at_the_limit_is_plausible():
    # 350 kW for 6 minutes = 35 kWh
    assert assess("ev_charging", charge(35_000, 6), EV, ["ev_charging"])[1] == 17_463


def test_order_of_checks():
    # activity_type not a string wins over everything else
    assert reason_of("transit", trip(activity_type=5, distance_m="x"), TRANSIT, ["metro"]) == (
        "invalid"
    )
    # a foreign type wins over bad data and implausibility
    bad = trip("bus", distance_m="x", started_at="nope")
    assert reason_of("transit", bad, TRANSIT, ["metro"]) == "wrong_activity_type"
    # bad data wins over implausibility (end before start, absurd distance)
    bad = trip("metro", distance_m=10**9, started_at="2025-03-10T09:00:00")
    assert reason_of("transit", bad, TRANSIT, ["metro"]) == "invalid"
    bad = trip("metro", distance_m=-5, ended_at="2025-03-10T07:00:00+08:00")
    assert reason_of("transit", bad, TRANSIT, ["metro"]) == "invalid"


def test_scenario_type_unknown_to_the_methodology():
    # the scenario lists a type the methodology has no factor for: never a KeyError
    record = trip("ferry", 10_000, 30)
    assert reason_of("transit", record, TRANSIT, ["ferry"]) == "wrong_activity_type"


@pytest.mark.parametrize("record", [None, [], "metro", 42, ["activity_type"]])
def test_record_that_is_not_an_object(record):
    assert reason_of("transit", record, TRANSIT, ["metro"]) == "invalid"


def test_unknown_formula_is_a_value_error():
    with pytest.raises(ValueError, match="unknown formula"):
        get_adapter("teleport")
    with pytest.raises(ValueError):
        get_adapter(["transit"])  # unhashable: still a ValueError
    with pytest.raises(ValueError):
        assess("teleport", trip(), TRANSIT, ["metro"])
    assert get_adapter("transit") is transit
    assert get_adapter("ev_charging") is ev_charging


def test_rejected_and_activity_shape():
    err = Rejected("implausible", "too fast")
    assert (err.reason, err.detail) == ("implausible", "too fast")
    assert Rejected("invalid").detail == ""
    with pytest.raises(ValueError):
        Rejected("too_old")  # window checks are the service's, not an adapter's
    activity, _ = assess_transit(trip())
    with pytest.raises(dataclasses.FrozenInstanceError):
        activity.activity_type = "bus"


def test_reduction_of_huge_distance_is_exact():
    # reduction_g on its own (after plausibility) handles any integer exactly
    activity = Activity(
        "metro",
        datetime(2025, 1, 1, tzinfo=UTC),
        datetime(2025, 1, 2, tzinfo=UTC),
        {"distance_m": 10**40 + 7},
    )
    expected = (10**40 + 7) * 467 // 10_000
    assert transit.reduction_g(activity, TRANSIT) == expected


# --- parameters ------------------------------------------------------------------------


def test_shipped_parameters_validate():
    transit.validate_parameters(TRANSIT)
    ev_charging.validate_parameters(EV)


@pytest.mark.parametrize(
    "params",
    [
        None,
        [],
        {},
        {"modes": {"metro": 1}},
        {"baseline_g_per_km": "60", "modes": {"metro": 1}},
        {"baseline_g_per_km": True, "modes": {"metro": 1}},
        {"baseline_g_per_km": float("nan"), "modes": {"metro": 1}},
        {"baseline_g_per_km": float("inf"), "modes": {"metro": 1}},
        {"baseline_g_per_km": -1, "modes": {"metro": 1}},
        {"baseline_g_per_km": 60},
        {"baseline_g_per_km": 60, "modes": {}},
        {"baseline_g_per_km": 60, "modes": [["metro", 1]]},
        {"baseline_g_per_km": 60, "modes": {"metro": None}},
        {"baseline_g_per_km": 60, "modes": {"metro": -0.5}},
        {"baseline_g_per_km": 60, "modes": {"metro": 1}, "baseline_g_per_Km": 3},  # typo
        {"baseline_g_per_km": 60, "modes": {"ferry": 10}},  # no default limits for ferry
        {
            "baseline_g_per_km": 60,
            "modes": {"ferry": 10},
            "plausibility": {"ferry": {"max_speed_kmh": 40}},  # still no max_distance_km
        },
        {"baseline_g_per_km": 60, "modes": {"metro": 1}, "plausibility": {"bus": {}}},
        {
            "baseline_g_per_km": 60,
            "modes": {"metro": 1},
            "plausibility": {"metro": {"max_speed_kmh": 0}},
        },
        {
            "baseline_g_per_km": 60,
            "modes": {"metro": 1},
            "plausibility": {"metro": {"max_speed": 90}},
        },
    ],
)
def test_transit_bad_parameters(params):
    with pytest.raises(ValueError):
        transit.validate_parameters(params)


def test_transit_new_mode_with_its_own_limits():
    params = {
        "baseline_g_per_km": 60,
        "modes": {"ferry": 20},
        "plausibility": {"ferry": {"max_speed_kmh": 40, "max_distance_km": 60}},
    }
    transit.validate_parameters(params)
    assert assess("transit", trip("ferry", 10_000, 30), params, ["ferry"])[1] == 400


@pytest.mark.parametrize(
    "params",
    [
        None,
        {},
        {k: v for k, v in EV.items() if k != "grid_g_per_kwh"},
        dict(EV, ev_kwh_per_100km=0),
        dict(EV, ev_kwh_per_100km="15"),
        dict(EV, baseline_g_per_km=-1),
        dict(EV, plausibility={"max_power_kw": 0}),
        dict(EV, plausibility={"max_kw": 100}),
        dict(EV, plausibility=[350]),
        dict(EV, extra=1),
    ],
)
def test_ev_bad_parameters(params):
    with pytest.raises(ValueError):
        ev_charging.validate_parameters(params)


def test_every_formula_module_has_the_contract():
    for name, module in FORMULAS.items():
        assert name == module.FORMULA
        for attr in ("measures", "check_plausible", "reduction_g", "validate_parameters"):
            assert callable(getattr(module, attr))
        assert isinstance(module.OVERLAP_GROUP, str) and module.OVERLAP_GROUP


# --- never a crash ---------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**60), max_value=10**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=10,
)
offsets = st.builds(
    timezone,
    st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23)),
)
aware_stamps = st.builds(
    lambda d, tz: d.replace(tzinfo=tz).isoformat(),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    offsets,
)
timestamp_values = (
    aware_stamps
    | st.datetimes().map(datetime.isoformat)  # naive
    | st.sampled_from(["2025-03-10T08:00:00+08:00", "2025-03-10T08:30:00+08:00"])
    | json_values
)
measure_values = (
    st.integers(min_value=-10, max_value=200_000) | st.integers() | st.just(0) | json_values
)
type_values = st.sampled_from(TRANSIT_TYPES + ("ev_charging", "ferry", "")) | json_values


@st.composite
def records(draw):
    record = {}
    for key, values in (
        ("activity_type", type_values),
        ("started_at", timestamp_values),
        ("ended_at", timestamp_values),
        ("distance_m", measure_values),
        ("energy_wh", measure_values),
    ):
        if draw(st.booleans()) or draw(st.booleans()):  # present 3 times in 4
            record[key] = draw(values)
    record.update(draw(st.dictionaries(st.text(max_size=8), json_values, max_size=3)))
    return record


def _check_outcome(formula, record, parameters, types):
    try:
        activity, grams = assess(formula, record, parameters, types)
    except Rejected as err:
        assert err.reason in {"invalid", "implausible", "wrong_activity_type"}
        # every rejection names at least one field and the rule it broke
        assert err.errors and all(
            isinstance(m, str) and m for ms in err.errors.values() for m in ms
        )
        return None
    assert isinstance(activity, Activity)
    assert type(grams) is int and grams >= 0
    assert activity.activity_type in types
    assert activity.started_at.utcoffset() == timedelta(0)
    assert activity.started_at <= activity.ended_at
    assert all(type(v) is int and v > 0 for v in activity.measures.values())
    return activity, grams


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(record=records() | json_values, types=st.sampled_from([TRANSIT_TYPES, ("metro",), ()]))
def test_transit_never_crashes(record, types):
    _check_outcome("transit", record, TRANSIT, types)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(record=records() | json_values)
def test_ev_never_crashes(record):
    _check_outcome("ev_charging", record, EV, ("ev_charging",))


@settings(max_examples=300)
@given(
    activity_type=st.sampled_from(TRANSIT_TYPES),
    distance_m=st.integers(min_value=1, max_value=130_000),
    seconds=st.integers(min_value=1, max_value=86_400),
)
def test_transit_matches_exact_oracle(activity_type, distance_m, seconds):
    ended = datetime.fromisoformat(START) + timedelta(seconds=seconds)
    record = trip(activity_type, distance_m, ended_at=ended.isoformat())
    outcome = _check_outcome("transit", record, TRANSIT, TRANSIT_TYPES)
    limits = transit.DEFAULT_PLAUSIBILITY[activity_type]
    speed = Fraction(distance_m * 3600, 1000 * seconds)
    plausible = (
        distance_m <= limits["max_distance_km"] * 1000
        and seconds <= limits["max_duration_min"] * 60
        and speed <= Fraction(limits["max_speed_kmh"])
    )
    assert (outcome is not None) == plausible
    if outcome:
        saving = Fraction(str(TRANSIT["baseline_g_per_km"])) - Fraction(
            str(TRANSIT["modes"][activity_type])
        )
        assert outcome[1] == int(distance_m * saving / 1000)  # floor of a positive value


@pytest.mark.parametrize(
    ("formula", "record", "parameters", "types", "errors"),
    [
        ("transit", trip(minutes=-1), TRANSIT, ["metro"], {"ended_at": ["is before started_at"]}),
        (
            "transit",
            trip(minutes=0),
            TRANSIT,
            ["metro"],
            {"duration": ["is zero: ended_at must be after started_at"]},
        ),
        (
            "ev_charging",
            charge(minutes=-1),
            EV,
            ["ev_charging"],
            {"ended_at": ["is before started_at"]},
        ),
        (
            "ev_charging",
            charge(minutes=0),
            EV,
            ["ev_charging"],
            {"duration": ["is zero: ended_at must be after started_at"]},
        ),
    ],
)
def test_time_faults_are_explained(formula, record, parameters, types, errors):
    with pytest.raises(Rejected) as info:
        assess(formula, record, parameters, types)
    assert (info.value.reason, info.value.errors) == ("implausible", errors)
