"""EV charging adapter: a private battery-electric car charged at an operator's charger,
credited for the gasoline-car kilometres that energy replaces.

Formula (the baseline-minus-project form of T/CSAE 235-2021 《电动汽车出行碳减排核算
方法》: baseline = km x gasoline car g/km, project = electricity x grid factor)::

    kWh          = energy_wh / 1000
    km_replaced  = kWh * 100 / ev_kwh_per_100km
    reduction_g  = floor( km_replaced * baseline_g_per_km - kWh * grid_g_per_kwh )
                 = floor( energy_wh * (100 * baseline_g_per_km
                                       - ev_kwh_per_100km * grid_g_per_kwh)
                          / (1000 * ev_kwh_per_100km) )

never negative (a grid dirtier than the car it replaces earns 0 g).

Record measure: ``energy_wh``, a JSON integer >= 0 (energy delivered in the session).

Parameters::

    {"baseline_g_per_km": <decimal>,   # g CO2 per km of the gasoline car replaced
     "ev_kwh_per_100km": <decimal>,    # > 0, electricity use of the EV
     "grid_g_per_kwh": <decimal>,      # g CO2 per kWh of the regional (East China) grid
     "plausibility": {"max_power_kw": <decimal>, "max_energy_kwh": <decimal>,
                      "max_duration_min": <decimal>}}  # optional

Plausibility: average charging power (energy over ``ended_at - started_at``) above
``max_power_kw`` (default 350 kW, the fastest public DC chargers), more than
``max_energy_kwh`` in one session (default 150 kWh, above any passenger car's battery), a
session longer than ``max_duration_min`` (default 4320 minutes: a car left plugged in
over a long weekend), a zero or negative duration, or **zero energy** (a session that
delivered nothing is a data fault, not a 0 g credit) are ``implausible``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, localcontext
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

FORMULA = "ev_charging"
# A car charging is not its owner travelling: charging sessions overlap only each other
# (see backend/activity/overlap.py).
OVERLAP_GROUP = "ev_charging"
ACTIVITY_TYPES = frozenset({"ev_charging"})
MEASURE = "energy_wh"

DEFAULT_PLAUSIBILITY: dict[str, Decimal] = {
    "max_power_kw": Decimal("350"),
    "max_energy_kwh": Decimal("150"),
    "max_duration_min": Decimal("4320"),
}
_TOP_KEYS = ("baseline_g_per_km", "ev_kwh_per_100km", "grid_g_per_kwh", "plausibility")

# Wh/microsecond -> kW: (Wh / 1000) / (us / 3_600_000_000) = Wh * 3_600_000 / us
_KW_PER_WH_PER_US = 3_600_000


def validate_parameters(parameters: Any) -> None:
    """Raise ``ValueError`` with a clear message when ``parameters`` are malformed."""
    params = mapping_param(parameters, "ev_charging parameters")
    reject_unknown_keys(params, _TOP_KEYS, "ev_charging parameters")
    for name in ("baseline_g_per_km", "ev_kwh_per_100km", "grid_g_per_kwh"):
        if name not in params:
            raise ValueError(f"ev_charging parameters need {name}")
    decimal_param(params["baseline_g_per_km"], "baseline_g_per_km")
    decimal_param(params["ev_kwh_per_100km"], "ev_kwh_per_100km", positive=True)
    decimal_param(params["grid_g_per_kwh"], "grid_g_per_kwh")
    plausibility = mapping_param(params.get("plausibility", {}), "plausibility")
    reject_unknown_keys(plausibility, DEFAULT_PLAUSIBILITY, "plausibility")
    for key, value in plausibility.items():
        decimal_param(value, f"plausibility.{key}", positive=True)


def supported_activity_types(parameters: Mapping[str, Any]) -> frozenset[str]:
    return ACTIVITY_TYPES


def measures(record: Mapping[str, Any]) -> dict[str, int]:
    return {MEASURE: non_negative_int(record, MEASURE, "watt-hours")}


def limits(parameters: Mapping[str, Any]) -> dict[str, Decimal]:
    given = parameters.get("plausibility")
    given = given if isinstance(given, Mapping) else {}
    effective = dict(DEFAULT_PLAUSIBILITY)
    for key in DEFAULT_PLAUSIBILITY:
        if key in given:
            effective[key] = decimal_param(given[key], f"plausibility.{key}", positive=True)
    return effective


def check_plausible(activity: Activity, parameters: Mapping[str, Any]) -> None:
    energy_wh = activity.measures[MEASURE]
    if energy_wh == 0:
        raise Rejected(
            IMPLAUSIBLE, "must be above 0: a session of 0 Wh is a data fault", field=MEASURE
        )
    lim = limits(parameters)
    with localcontext(DECIMAL_CONTEXT):
        kwh = Decimal(energy_wh) / 1000
        if kwh > lim["max_energy_kwh"]:
            raise Rejected(
                IMPLAUSIBLE,
                f"{above(kwh, lim['max_energy_kwh'])} kWh is above the limit of "
                f"{number(lim['max_energy_kwh'])} kWh per session",
                field=MEASURE,
            )
        micros = duration_us(activity)
        check_duration(activity, micros, lim["max_duration_min"], "charging session")
        # power > max  <=>  energy_wh * 3_600_000 > max_power_kw * micros
        if Decimal(energy_wh) * _KW_PER_WH_PER_US > lim["max_power_kw"] * micros:
            power = Decimal(energy_wh) * _KW_PER_WH_PER_US / micros
            raise Rejected(
                IMPLAUSIBLE,
                f"average {above(power, lim['max_power_kw'])} kW is above the limit of "
                f"{number(lim['max_power_kw'])} kW",
                field="power",
            )


def reduction_g(activity: Activity, parameters: Mapping[str, Any]) -> int:
    baseline = decimal_param(parameters["baseline_g_per_km"], "baseline_g_per_km")
    ev_kwh_per_100km = decimal_param(
        parameters["ev_kwh_per_100km"], "ev_kwh_per_100km", positive=True
    )
    grid = decimal_param(parameters["grid_g_per_kwh"], "grid_g_per_kwh")
    with localcontext(DECIMAL_CONTEXT):
        # Rounding toward -inf at 80 digits, then flooring, equals flooring the exact value.
        grams = (
            Decimal(activity.measures[MEASURE])
            * (100 * baseline - ev_kwh_per_100km * grid)
            / (1000 * ev_kwh_per_100km)
        )
        return floor_grams(grams)


def explain(
    activity_type: str, measures: Mapping[str, Any] | None, parameters: Mapping[str, Any]
) -> dict:
    """How a charging session's grams are computed, for a person to read: the energy
    (None once erased), the factors, what a kWh saves, and the sum written out. ``km`` is
    the electric kilometres the energy drives (the petrol-car kilometres it replaces);
    ``g_per_km`` what one saves."""
    baseline = decimal_param(parameters["baseline_g_per_km"], "baseline_g_per_km")
    per_100km = decimal_param(parameters["ev_kwh_per_100km"], "ev_kwh_per_100km", positive=True)
    grid = decimal_param(parameters["grid_g_per_kwh"], "grid_g_per_kwh")
    with localcontext(DECIMAL_CONTEXT):
        g_per_kwh = max(100 * baseline / per_100km - grid, Decimal(0))
        g_per_km = g_per_kwh * per_100km / 100
    wh = (measures or {}).get(MEASURE)
    kwh = None if wh is None else Decimal(wh) / 1000
    km = None if kwh is None else kwh * 100 / per_100km
    energy = "?" if kwh is None else number(kwh, 3)
    return {
        "formula": FORMULA,
        MEASURE: wh,
        "km": km,
        "baseline_g_per_km": baseline,
        "ev_kwh_per_100km": per_100km,
        "grid_g_per_kwh": grid,
        "g_per_kwh": g_per_kwh,
        "g_per_km": g_per_km,
        "expression": f"{energy} kWh × (100 / {number(per_100km, 3)} × "
        f"{number(baseline, 3)} − {number(grid, 3)}) g/kWh",
    }


# --- the record, as the API documents it ---------------------------------------------


def documented_activity_types() -> list[str]:
    return sorted(ACTIVITY_TYPES)


def record_schema(parameters: Mapping[str, Any], activity_types: list[str], example_start) -> dict:
    """The record of a charging session, with the limits ``parameters`` give (the
    defaults for ``{}``) and an example starting at ``example_start``."""
    lim = limits(parameters)
    started, ended = example_times(example_start, 60)
    return build_record_schema(
        title="EV charging session",
        description="One charging session of a private battery-electric car at the "
        "operator's charger. Credited: the gasoline-car kilometres the energy replaces, "
        "minus the grid's emissions, with the scenario's methodology version. Refused "
        "as `implausible`: 0 Wh, or an energy, duration or average power above the "
        "limits (`x-limits`).",
        activity_types=activity_types,
        measures={
            MEASURE: {
                "type": "integer",
                "minimum": 1,
                "maximum": int(lim["max_energy_kwh"] * 1000),
                "description": "Energy delivered in the session, in watt-hours: a JSON "
                "integer (35 kWh is 35000).",
                "example": 30_000,
            }
        },
        limits={t: lim for t in activity_types},
        example={
            "external_id": "charge-session-0001",
            "user_ref": "user-10086",
            "activity_type": "ev_charging",
            "started_at": started,
            "ended_at": ended,
            MEASURE: 30_000,
        },
    )
