"""Activity adapters: one module per activity family (a methodology ``formula``), each
turning an operator's raw record into a normalised :class:`Activity` and a reduction in
whole grams CO2e, with the published methodology version's parameters.

Every adapter module exposes ``FORMULA``, ``OVERLAP_GROUP`` (activities of one group
are the same person's time, so two at once are one activity reported twice),
``measures(record)``, ``record_schema(parameters, activity_types, example_start)`` and
``documented_activity_types()`` (what the API documents of its records),
``check_plausible(activity, parameters)``, ``reduction_g(activity, parameters)``,
``validate_parameters(parameters)``, ``supported_activity_types(parameters)`` and
``explain(activity_type, measures, parameters)`` (how the grams were computed, for a
person to read).
:func:`assess` runs them in the documented order. Pure functions only: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import ModuleType
from typing import Any

from . import ev_charging, transit
from .base import (
    INVALID,
    WRONG_ACTIVITY_TYPE,
    Activity,
    Rejected,
    check_order,
    collect,
    parse_timestamp,
)

__all__ = [
    "FORMULAS",
    "Activity",
    "Rejected",
    "assess",
    "assessor",
    "documented_activity_types",
    "documented_records",
    "explain",
    "get_adapter",
    "overlapping_formulas",
    "record_schema",
    "record_schema_name",
    "validate_parameters",
]

FORMULAS: dict[str, ModuleType] = {
    transit.FORMULA: transit,
    ev_charging.FORMULA: ev_charging,
}


def get_adapter(formula: str) -> ModuleType:
    """The adapter module of ``formula``; ``ValueError`` (not ``KeyError``) if unknown."""
    try:
        return FORMULAS[formula]
    except (KeyError, TypeError):
        known = ", ".join(sorted(FORMULAS))
        raise ValueError(f"unknown formula {formula!r} (known: {known})") from None


def overlapping_formulas(formula: str) -> list[str]:
    """The formulas whose activities can overlap one of ``formula``'s: those of its
    ``OVERLAP_GROUP`` (itself included), sorted."""
    group = get_adapter(formula).OVERLAP_GROUP
    return sorted(name for name, module in FORMULAS.items() if group == module.OVERLAP_GROUP)


def validate_parameters(formula: str, parameters: Any) -> None:
    """``ValueError`` when the formula is unknown or its parameters are malformed."""
    get_adapter(formula).validate_parameters(parameters)


def assess(
    formula: str,
    record: Mapping[str, Any],
    parameters: Mapping[str, Any],
    activity_types: Sequence[str],
) -> tuple[Activity, int]:
    """Validate one raw operator record (decoded JSON: any value may be any JSON type or
    missing) and compute its reduction.

    Returns ``(activity, grams)`` with ``grams`` a whole number >= 0, rounded down, or
    raises :class:`Rejected`, whose ``errors`` name each field at fault and the rule.
    Checks, in order:

    1. ``activity_type`` not one of the scenario's ``activity_types`` (or not one the
       methodology's parameters can credit) -> ``wrong_activity_type``;
    2. ``activity_type`` missing or not a string, missing or malformed timestamps (ISO
       8601 with an offset) or measures -> ``invalid``, naming every such field;
    3. end before start, zero duration where a rate is checked, physically impossible
       speed, distance, duration, energy or power -> ``implausible``, naming the limit.

    ``parameters`` are assumed to have passed the adapter's ``validate_parameters`` (the
    catalogue loader does that); an unknown ``formula`` is a ``ValueError``. Window checks
    (too old, in the future) are the caller's.
    """
    adapter = get_adapter(formula)
    if not isinstance(record, Mapping):
        raise Rejected(INVALID, "must be a JSON object", field="record")
    errors: dict[str, list[str]] = {}
    activity_type = record.get("activity_type")
    one_of = ", ".join(activity_types)
    if activity_type is None:
        errors["activity_type"] = [f"is required: one of {one_of}"]
    elif not isinstance(activity_type, str):
        errors["activity_type"] = [f"must be a string: one of {one_of}"]
    elif activity_type not in activity_types:
        raise Rejected(
            WRONG_ACTIVITY_TYPE,
            f"{activity_type[:40]!r} is not one of this scenario's: {one_of}",
            field="activity_type",
        )
    elif activity_type not in adapter.supported_activity_types(parameters):
        raise Rejected(
            WRONG_ACTIVITY_TYPE,
            f"the methodology has no factor for {activity_type!r}",
            field="activity_type",
        )
    measures = collect(errors, adapter.measures, record)
    started = collect(errors, parse_timestamp, record, "started_at")
    ended = collect(errors, parse_timestamp, record, "ended_at")
    if errors:
        raise Rejected(INVALID, errors=errors)
    activity = Activity(activity_type, started, ended, measures)
    check_order(activity)
    adapter.check_plausible(activity, parameters)
    return activity, adapter.reduction_g(activity, parameters)


def assessor(
    formula: str, parameters: Mapping[str, Any], activity_types: Sequence[str]
) -> Callable[[Any], tuple[Activity, int]]:
    """``assess`` for many records of one scenario: ``check(record)`` returns or raises
    exactly what ``assess(formula, record, parameters, activity_types)`` does.

    An adapter may give ``compile_fast(parameters, activity_types)``: a check, prepared
    once (factors and limits as exact fractions), of the one shape nearly every record
    has (a valid, plausible record of a known type). It returns ``(activity, grams)``
    for such a record and None for anything else, which then goes through ``assess``
    for its exact reason and messages. Adapters without it always go through
    ``assess``."""
    adapter = get_adapter(formula)
    types = list(activity_types)
    compile_fast = getattr(adapter, "compile_fast", None)
    fast = compile_fast(parameters, types) if compile_fast else None

    def check(record: Any) -> tuple[Activity, int]:
        if fast is not None:
            done = fast(record)
            if done is not None:
                return done
        return assess(formula, record, parameters, types)

    return check


def explain(
    formula: str,
    activity_type: str,
    measures: Mapping[str, Any] | None,
    parameters: Mapping[str, Any],
) -> dict:
    """How an activity's grams were computed, in figures a person can follow (Decimal
    factors; the measure is None once the raw details are erased)."""
    return get_adapter(formula).explain(activity_type, measures, parameters)


# --- the records, as the API documents them ------------------------------------------


def record_schema_name(formula: str) -> str:
    """The OpenAPI component name of a family's record: ``ev_charging`` ->
    ``EvChargingRecord``."""
    get_adapter(formula)
    return "".join(part.title() for part in formula.split("_")) + "Record"


def record_schema(
    formula: str,
    parameters: Mapping[str, Any],
    activity_types: Sequence[str],
    example_start: datetime,
) -> dict:
    """The JSON Schema of ``formula``'s record for ``activity_types``, with the limits
    ``parameters`` give and an example starting at ``example_start``."""
    return get_adapter(formula).record_schema(parameters, list(activity_types), example_start)


def documented_records(example_start: datetime) -> dict[str, dict]:
    """Every family's record with its default limits: component name -> schema. A new
    adapter in :data:`FORMULAS` documents itself here."""
    return {
        record_schema_name(name): module.record_schema(
            {}, module.documented_activity_types(), example_start
        )
        for name, module in sorted(FORMULAS.items())
    }


def documented_activity_types() -> dict[str, str]:
    """activity type -> component name of its family's record (the discriminator's
    mapping)."""
    return {
        activity_type: record_schema_name(name)
        for name, module in sorted(FORMULAS.items())
        for activity_type in module.documented_activity_types()
    }
