"""Activity adapters: one module per activity family (a methodology ``formula``), each
turning an operator's raw record into a normalised :class:`Activity` and a reduction in
whole grams CO2e, with the published methodology version's parameters.

Every adapter module exposes ``FORMULA``, ``OVERLAP_GROUP`` (activities of one group
are the same person's time, so two at once are one activity reported twice),
``measures(record)``,
``check_plausible(activity, parameters)``, ``reduction_g(activity, parameters)``,
``validate_parameters(parameters)`` and ``supported_activity_types(parameters)``.
:func:`assess` runs them in the documented order. Pure functions only: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

from . import ev_charging, transit
from .base import INVALID, WRONG_ACTIVITY_TYPE, Activity, Rejected, build_activity, check_order

__all__ = [
    "FORMULAS",
    "Activity",
    "Rejected",
    "assess",
    "get_adapter",
    "overlapping_formulas",
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
    raises :class:`Rejected`. Checks, in order:

    1. ``activity_type`` not a string -> ``invalid``;
    2. not one of the scenario's ``activity_types`` (or not one the methodology's
       parameters can credit) -> ``wrong_activity_type``;
    3. missing or malformed timestamps (ISO 8601 with an offset) or measures -> ``invalid``;
    4. end before start, zero duration where a rate is checked, physically impossible
       speed, distance, energy or power -> ``implausible``.

    ``parameters`` are assumed to have passed the adapter's ``validate_parameters`` (the
    catalogue loader does that); an unknown ``formula`` is a ``ValueError``. Window checks
    (too old, in the future) are the caller's.
    """
    adapter = get_adapter(formula)
    if not isinstance(record, Mapping):
        raise Rejected(INVALID, "a record must be an object")
    activity_type = record.get("activity_type")
    if not isinstance(activity_type, str):
        raise Rejected(INVALID, "activity_type must be a string")
    if activity_type not in activity_types:
        raise Rejected(WRONG_ACTIVITY_TYPE, f"{activity_type!r} is not this scenario's")
    if activity_type not in adapter.supported_activity_types(parameters):
        raise Rejected(WRONG_ACTIVITY_TYPE, f"the methodology has no factor for {activity_type!r}")
    measures = adapter.measures(record)
    activity = build_activity(record, activity_type, measures)
    check_order(activity)
    adapter.check_plausible(activity, parameters)
    return activity, adapter.reduction_g(activity, parameters)
