"""Transit adapter: low-carbon trips by metro, bus, shared bike or on foot.

Formula (the baseline-substitution form of the Shenzhen 2021 low-carbon public travel
carbon-inclusion methodology, 《深圳市低碳公共出行碳普惠方法学（试行）》)::

    reduction_g = floor( distance_m / 1000 * (baseline_g_per_km - modes[activity_type]) )

never negative (a mode that emits more than the baseline earns 0 g).

Record measure: ``distance_m``, a JSON integer >= 0 (metres travelled by the person).

Parameters (a methodology version's ``parameters``)::

    {"baseline_g_per_km": <decimal>,                 # g CO2e per person-km of the baseline
     "modes": {"metro": <decimal>, "bus": ..., ...}, # g CO2e per person-km of each mode
     "plausibility": {                               # optional, per mode, per key
        "walk": {"max_speed_kmh": <decimal>, "max_distance_km": <decimal>,
                 "max_duration_min": <decimal>}, ...}}

The activity types this formula can credit are the keys of ``modes``. Plausibility
limits not given fall back to :data:`DEFAULT_PLAUSIBILITY`; a mode without a default
(anything but metro, bus, bike_share, walk) must give its speed and distance limits, and
its duration limit falls back to :data:`DEFAULT_MAX_DURATION_MIN`.

Plausibility: the average speed over ``ended_at - started_at`` above ``max_speed_kmh``,
a distance above ``max_distance_km``, a trip lasting longer than ``max_duration_min`` (one
weeks-long "trip" would otherwise overlap, and so zero, every later trip of its
resident), a zero or negative duration (there is no speed without time) or a **zero
distance** are ``implausible``. A zero-metre trip is treated as
a data fault (a tap in and out at the same station, a cancelled ride), not as a 0 g
credit, so it is rejected and never counted as an accepted activity.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

from .base import (
    DECIMAL_CONTEXT,
    IMPLAUSIBLE,
    Activity,
    Rejected,
    above,
    check_duration,
    decimal_param,
    duration_us,
    example_times,
    floor_grams,
    mapping_param,
    non_negative_int,
    number,
    reject_unknown_keys,
)
from .base import record_schema as build_record_schema

FORMULA = "transit"
# Activities of one overlap group are one person's time: two of them at once are one
# trip reported twice (see backend/activity/overlap.py).
OVERLAP_GROUP = "person_trip"
MEASURE = "distance_m"

# Average speed (km/h), distance (km) and duration (minutes) above which a trip is
# implausible. The durations are generous: the longest trip the distance limit allows,
# at a slow pace (metro and bus with waits and transfers, a bike ridden slowly, 30 km on
# foot at 5 km/h).
DEFAULT_PLAUSIBILITY: dict[str, dict[str, Decimal]] = {
    "metro": {
        "max_speed_kmh": Decimal("100"),
        "max_distance_km": Decimal("120"),
        "max_duration_min": Decimal("240"),
    },
    "bus": {
        "max_speed_kmh": Decimal("80"),
        "max_distance_km": Decimal("100"),
        "max_duration_min": Decimal("240"),
    },
    "bike_share": {
        "max_speed_kmh": Decimal("30"),
        "max_distance_km": Decimal("50"),
        "max_duration_min": Decimal("240"),
    },
    "walk": {
        "max_speed_kmh": Decimal("7"),
        "max_distance_km": Decimal("30"),
        "max_duration_min": Decimal("360"),
    },
}
# A mode the defaults do not know must give its speed and distance limits; its
# duration limit, if not given, is this.
DEFAULT_MAX_DURATION_MIN = Decimal("240")
_LIMIT_KEYS = ("max_speed_kmh", "max_distance_km", "max_duration_min")
_REQUIRED_LIMIT_KEYS = ("max_speed_kmh", "max_distance_km")
_TOP_KEYS = ("baseline_g_per_km", "modes", "plausibility")

_ONE_MICROSECOND = timedelta(microseconds=1)
_US_PER_MINUTE = 60_000_000
# metres/microsecond -> km/h: (m / 1000) / (us / 3_600_000_000) = m * 3_600_000 / us
_KMH_PER_M_PER_US = 3_600_000


def validate_parameters(parameters: Any) -> None:
    """Raise ``ValueError`` with a clear message when ``parameters`` are malformed."""
    params = mapping_param(parameters, "transit parameters")
    reject_unknown_keys(params, _TOP_KEYS, "transit parameters")
    if "baseline_g_per_km" not in params:
        raise ValueError("transit parameters need baseline_g_per_km")
    decimal_param(params["baseline_g_per_km"], "baseline_g_per_km")
    if "modes" not in params:
        raise ValueError("transit parameters need modes")
    modes = mapping_param(params["modes"], "modes")
    if not modes:
        raise ValueError("modes must name at least one activity type")
    for mode, factor in modes.items():
        if not isinstance(mode, str) or not mode:
            raise ValueError("mode names must be non-empty strings")
        decimal_param(factor, f"modes.{mode}")
    plausibility = mapping_param(params.get("plausibility", {}), "plausibility")
    for mode, limits in plausibility.items():
        if mode not in modes:
            raise ValueError(f"plausibility.{mode} is not one of the modes")
        limits = mapping_param(limits, f"plausibility.{mode}")
        reject_unknown_keys(limits, _LIMIT_KEYS, f"plausibility.{mode}")
        for key, value in limits.items():
            decimal_param(value, f"plausibility.{mode}.{key}", positive=True)
    for mode in modes:
        given = plausibility.get(mode, {})
        missing = [k for k in _REQUIRED_LIMIT_KEYS if k not in given and k not in _defaults(mode)]
        if missing:
            raise ValueError(
                f"mode {mode!r} has no default plausibility limits; give "
                f"plausibility.{mode}.{' and '.join(missing)}"
            )


def supported_activity_types(parameters: Mapping[str, Any]) -> frozenset[str]:
    """The activity types these parameters can credit (the keys of ``modes``)."""
    modes = parameters.get("modes") if isinstance(parameters, Mapping) else None
    return frozenset(modes) if isinstance(modes, Mapping) else frozenset()


def measures(record: Mapping[str, Any]) -> dict[str, int]:
    return {MEASURE: non_negative_int(record, MEASURE, "metres")}


def limits(activity_type: str, parameters: Mapping[str, Any]) -> dict[str, Decimal]:
    """The effective plausibility limits of a mode: the catalogue's, else the defaults."""
    plausibility = parameters.get("plausibility")
    given = plausibility.get(activity_type) if isinstance(plausibility, Mapping) else None
    given = given if isinstance(given, Mapping) else {}
    effective = {"max_duration_min": DEFAULT_MAX_DURATION_MIN, **_defaults(activity_type)}
    for key in _LIMIT_KEYS:
        if key in given:
            effective[key] = decimal_param(given[key], f"plausibility.{activity_type}.{key}")
    missing = [k for k in _LIMIT_KEYS if k not in effective]
    if missing:
        raise ValueError(f"no plausibility limits for {activity_type!r}: {missing}")
    return effective


def check_plausible(activity: Activity, parameters: Mapping[str, Any]) -> None:
    mode = activity.activity_type
    distance_m = activity.measures[MEASURE]
    if distance_m == 0:
        raise Rejected(IMPLAUSIBLE, "must be above 0: a trip of 0 m is a data fault", field=MEASURE)
    lim = limits(mode, parameters)
    with localcontext(DECIMAL_CONTEXT):
        km = Decimal(distance_m) / 1000
        if km > lim["max_distance_km"]:
            raise Rejected(
                IMPLAUSIBLE,
                f"{above(km, lim['max_distance_km'])} km is above the {mode} limit of "
                f"{number(lim['max_distance_km'])} km",
                field=MEASURE,
            )
        micros = duration_us(activity)
        check_duration(activity, micros, lim["max_duration_min"], mode)
        # speed > max  <=>  distance_m * 3_600_000 > max_speed_kmh * micros
        if Decimal(distance_m) * _KMH_PER_M_PER_US > lim["max_speed_kmh"] * micros:
            speed = Decimal(distance_m) * _KMH_PER_M_PER_US / micros
            raise Rejected(
                IMPLAUSIBLE,
                f"average {above(speed, lim['max_speed_kmh'])} km/h is above the {mode} limit of "
                f"{number(lim['max_speed_kmh'])} km/h",
                field="speed",
            )


def reduction_g(activity: Activity, parameters: Mapping[str, Any]) -> int:
    baseline = decimal_param(parameters["baseline_g_per_km"], "baseline_g_per_km")
    modes = parameters["modes"]
    if activity.activity_type not in modes:
        raise ValueError(f"no factor for activity type {activity.activity_type!r}")
    factor = decimal_param(modes[activity.activity_type], f"modes.{activity.activity_type}")
    with localcontext(DECIMAL_CONTEXT):
        grams = Decimal(activity.measures[MEASURE]) * (baseline - factor) / 1000
        return floor_grams(grams)


def compile_fast(parameters: Mapping[str, Any], activity_types: list[str]):
    """The check of a valid, plausible trip, prepared once for a batch (see
    ``scenarios_adapters.assessor``): ``fast(record)`` is ``(activity, grams)``, exactly
    what ``assess`` gives, or None for any record that is not plainly valid (the caller
    then runs ``assess`` for its reason). Every limit and factor is an exact fraction,
    so each comparison is the one ``check_plausible`` and ``reduction_g`` make."""
    prepared: dict[str, tuple[int, ...]] = {}
    for mode in activity_types:
        if mode not in supported_activity_types(parameters):
            continue
        try:
            lim = limits(mode, parameters)
            baseline = decimal_param(parameters["baseline_g_per_km"], "baseline_g_per_km")
            factor = decimal_param(parameters["modes"][mode], f"modes.{mode}")
        except (ValueError, KeyError, TypeError):
            continue  # assess says what is wrong
        max_m = Fraction(lim["max_distance_km"]) * 1000
        max_us = Fraction(lim["max_duration_min"]) * _US_PER_MINUTE
        max_kmh = Fraction(lim["max_speed_kmh"])
        g_per_m = Fraction(baseline - factor) / 1000
        # as integers: d > n/q  <=>  d * q > n (q > 0)
        prepared[mode] = (
            max_m.numerator,
            max_m.denominator,
            max_us.numerator,
            max_us.denominator,
            max_kmh.numerator,
            max_kmh.denominator * _KMH_PER_M_PER_US,
            max(g_per_m.numerator, 0),
            g_per_m.denominator,
        )

    def fast(record: Any) -> tuple[Activity, int] | None:
        if type(record) is not dict:
            return None
        mode = record.get("activity_type")
        spec = prepared.get(mode) if type(mode) is str else None
        distance_m = record.get(MEASURE)
        if spec is None or type(distance_m) is not int or distance_m <= 0:
            return None
        started = _utc(record.get("started_at"))
        ended = _utc(record.get("ended_at"))
        if started is None or ended is None:
            return None
        micros = (ended - started) // _ONE_MICROSECOND
        m_num, m_den, us_num, us_den, kmh_num, kmh_den, g_num, g_den = spec
        if (
            micros <= 0
            or distance_m * m_den > m_num
            or micros * us_den > us_num
            or distance_m * kmh_den > kmh_num * micros
        ):
            return None
        return (
            Activity(mode, started, ended, {MEASURE: distance_m}),
            distance_m * g_num // g_den,
        )

    return fast


def _utc(value: Any) -> datetime | None:
    """``parse_timestamp``'s result for a good timestamp; None for anything else."""
    if type(value) is not str:
        return None
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            return None
        return parsed.astimezone(UTC)
    except (ValueError, TypeError, OverflowError):
        return None


def explain(
    activity_type: str, measures: Mapping[str, Any] | None, parameters: Mapping[str, Any]
) -> dict:
    """How a trip's grams are computed, for a person to read: the distance (None once
    erased), the baseline and mode factors, what a kilometre saves, and the sum written
    out. ``km`` is the distance in kilometres; ``g_per_km`` what one saves (to estimate
    the distance of an erased trip from its grams)."""
    baseline = decimal_param(parameters["baseline_g_per_km"], "baseline_g_per_km")
    factor = decimal_param(parameters["modes"][activity_type], f"modes.{activity_type}")
    saving = max(baseline - factor, Decimal(0))
    metres = (measures or {}).get(MEASURE)
    km = None if metres is None else Decimal(metres) / 1000
    distance = "?" if km is None else number(km, 3)
    return {
        "formula": FORMULA,
        MEASURE: metres,
        "km": km,
        "baseline_g_per_km": baseline,
        "mode_g_per_km": factor,
        "g_per_km": saving,
        "expression": f"{distance} km × ({number(baseline, 3)} − {number(factor, 3)}) g/km",
    }


def _defaults(mode: str) -> dict[str, Decimal]:
    return DEFAULT_PLAUSIBILITY.get(mode, {})


# --- the record, as the API documents it ---------------------------------------------

# (distance_m, minutes) of a typical trip per mode, for examples
_EXAMPLES = {
    "metro": (12_000, 30),
    "bus": (8_000, 30),
    "bike_share": (3_000, 15),
    "walk": (2_000, 30),
}


def documented_activity_types() -> list[str]:
    """The modes documented without a catalogue: those with default limits."""
    return list(DEFAULT_PLAUSIBILITY)


def record_schema(parameters: Mapping[str, Any], activity_types: list[str], example_start) -> dict:
    """The record of a transit trip of ``activity_types``, with the limits
    ``parameters`` give them (the defaults for ``{}``) and an example starting at
    ``example_start`` (an aware datetime)."""
    lims = {t: limits(t, parameters) for t in activity_types}
    mode = "metro" if "metro" in activity_types else activity_types[0]
    distance_m, minutes = _EXAMPLES.get(mode) or _example_trip(lims[mode])
    started, ended = example_times(example_start, minutes)
    return build_record_schema(
        title="Transit trip",
        description="One trip of one person by metro, bus, shared bike or on foot, as "
        "the operator saw it. Credited: distance x (baseline - mode factor) of the "
        "scenario's methodology version. Refused as `implausible`: a distance of 0, or "
        "a distance, duration or average speed above the mode's limit (`x-limits`).",
        activity_types=activity_types,
        measures={
            MEASURE: {
                "type": "integer",
                "minimum": 1,
                "maximum": max(int(lim["max_distance_km"] * 1000) for lim in lims.values()),
                "description": "Metres travelled by the person: a JSON integer (not 12.5, "
                'not "12000"). Each mode\'s limit is in `x-limits` (km).',
                "example": distance_m,
            }
        },
        limits=lims,
        example={
            "external_id": f"{mode}-trip-0001",
            "user_ref": "user-10086",
            "activity_type": mode,
            "started_at": started,
            "ended_at": ended,
            MEASURE: distance_m,
        },
    )


def _example_trip(lim: dict[str, Decimal]) -> tuple[int, int]:
    """Up to 30 minutes at half the mode's speed limit, within its other limits."""
    minutes = max(1, min(30, int(lim["max_duration_min"])))
    metres = min(lim["max_speed_kmh"] * 500 * minutes / 60, lim["max_distance_km"] * 1000)
    return max(1, int(metres)), minutes
