"""What every activity adapter shares: the rejection type, the normalised activity, and
the parsing of operator records and methodology parameters, written once.

Adapters are pure: no I/O, no clock, no database. Values are integers (grams, metres,
watt-hours) and ``Decimal`` parameters; no float ever touches a value. Checking whether an
activity falls inside a scenario's window (too old, in the future) is the service's job,
not an adapter's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import (
    ROUND_FLOOR,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from typing import Any

INVALID = "invalid"
IMPLAUSIBLE = "implausible"
WRONG_ACTIVITY_TYPE = "wrong_activity_type"
REASONS = frozenset({INVALID, IMPLAUSIBLE, WRONG_ACTIVITY_TYPE})

# Wide enough that every product of a JSON-sized measure and a catalogue factor is exact;
# traps make any mistake loud instead of silently rounding.
DECIMAL_CONTEXT = Context(
    prec=80, rounding=ROUND_FLOOR, traps=[InvalidOperation, DivisionByZero, Overflow]
)

_ONE_MICROSECOND = timedelta(microseconds=1)
_US_PER_MINUTE = 60_000_000


class Rejected(Exception):
    """A record that cannot be credited. ``reason`` is one of :data:`REASONS` (the codes
    the operator API reports); ``errors`` names each field at fault and the rule it
    broke (``{"distance_m": ["must be an integer number of metres"]}``); a derived
    quantity such as ``speed``, ``power`` or ``duration`` stands for the fields it comes
    from. ``detail`` is the same in one line.

    ``Rejected(reason, message, field="distance_m")`` for one field, or
    ``Rejected(reason, errors={...})`` for several."""

    def __init__(
        self,
        reason: str,
        detail: str = "",
        *,
        field: str | None = None,
        errors: Mapping[str, list[str]] | None = None,
    ) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown rejection reason {reason!r}")
        if errors is None:
            errors = {field: [detail]} if field and detail else {}
        self.errors: dict[str, list[str]] = {k: list(v) for k, v in errors.items()}
        if not detail:
            detail = "; ".join(f"{k} {m}" for k, msgs in self.errors.items() for m in msgs)
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}" if self.detail else self.reason


def collect(errors: dict[str, list[str]], parse, *args):
    """``parse(*args)``, or None after adding its ``invalid`` errors to ``errors`` (so
    one answer names every invalid field, not only the first)."""
    try:
        return parse(*args)
    except Rejected as rej:
        if rej.reason != INVALID:
            raise
        for field, messages in rej.errors.items():
            errors.setdefault(field, []).extend(messages)
        return None


@dataclass(frozen=True)
class Activity:
    """A validated, normalised activity. Timestamps are timezone-aware and in UTC."""

    activity_type: str
    started_at: datetime
    ended_at: datetime
    measures: dict[str, int]

    @property
    def duration(self) -> timedelta:
        return self.ended_at - self.started_at


# --- records -------------------------------------------------------------------------


TIMESTAMP_RULE = "an ISO 8601 time with a UTC offset, e.g. 2025-03-10T08:00:00+08:00"


def parse_timestamp(record: Mapping[str, Any], field: str) -> datetime:
    """An ISO 8601 string WITH a UTC offset, returned normalised to UTC.

    Missing, non-string, unparsable or naive (no offset) -> ``Rejected("invalid")``.
    """
    value = record.get(field)
    if value is None:
        raise Rejected(INVALID, f"is required: {TIMESTAMP_RULE}", field=field)
    if not isinstance(value, str):
        raise Rejected(INVALID, f"must be a string: {TIMESTAMP_RULE}", field=field)
    try:
        parsed = datetime.fromisoformat(value)
    except (ValueError, TypeError, OverflowError):
        raise Rejected(INVALID, f"{_quote(value)} is not {TIMESTAMP_RULE}", field=field) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise Rejected(INVALID, f"{_quote(value)} has no UTC offset: {TIMESTAMP_RULE}", field=field)
    try:
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        # e.g. 0001-01-01T00:00:00+08:00 has no representable UTC instant
        raise Rejected(INVALID, f"{_quote(value)} is out of range", field=field) from None


def non_negative_int(record: Mapping[str, Any], field: str, unit: str) -> int:
    """A measure that must be a JSON integer >= 0, a number of ``unit`` (e.g. "metres").
    ``True``/``False`` are not integers, and neither are floats (``12000.0``) or numeric
    strings (``"12000"``)."""
    rule = f"an integer number of {unit}"
    if field not in record or record[field] is None:
        raise Rejected(INVALID, f"is required: {rule}", field=field)
    value = record[field]
    if isinstance(value, bool) or not isinstance(value, int):
        raise Rejected(INVALID, f"must be {rule}", field=field)
    if value < 0:
        raise Rejected(INVALID, "must not be negative", field=field)
    return int(value)


def _quote(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "...")


def check_order(activity: Activity) -> None:
    """``ended_at`` before ``started_at`` -> ``Rejected("implausible")``."""
    if activity.ended_at < activity.started_at:
        raise Rejected(IMPLAUSIBLE, "is before started_at", field="ended_at")


def duration_us(activity: Activity) -> int:
    """The activity's duration in whole microseconds, for measures that need time (speed,
    power). Zero or negative -> ``Rejected("implausible")``."""
    micros = activity.duration // _ONE_MICROSECOND
    if micros <= 0:
        raise Rejected(IMPLAUSIBLE, "is zero: ended_at must be after started_at", field="duration")
    return micros


def build_activity(
    record: Mapping[str, Any], activity_type: str, measures: dict[str, int]
) -> Activity:
    """Parse both timestamps (``Rejected("invalid")`` naming each bad one). Their order
    is checked separately by :func:`check_order`, so that every ``invalid`` reason wins
    over any ``implausible`` one."""
    errors: dict[str, list[str]] = {}
    started = collect(errors, parse_timestamp, record, "started_at")
    ended = collect(errors, parse_timestamp, record, "ended_at")
    if errors:
        raise Rejected(INVALID, errors=errors)
    return Activity(
        activity_type=activity_type, started_at=started, ended_at=ended, measures=measures
    )


def check_duration(activity: Activity, micros: int, max_minutes: Decimal, what: str) -> None:
    """More than ``max_minutes`` -> ``Rejected("implausible")`` naming the limit."""
    if micros > max_minutes * _US_PER_MINUTE:
        minutes = Decimal(micros) / _US_PER_MINUTE
        raise Rejected(
            IMPLAUSIBLE,
            f"{above(minutes, max_minutes)} minutes is above the {what} limit of "
            f"{number(max_minutes)} minutes",
            field="duration",
        )


def above(value: Decimal | int, limit: Decimal) -> str:
    """``value`` for a message saying it is above ``limit``: with as many decimals as it
    takes to show it above (100.04 km/h over a 100 km/h limit is "100.04", not "100")."""
    text = number(value)
    for places in range(2, 7):
        if Decimal(text) > limit:
            break
        text = number(value, places)
    return text


def number(value: Decimal | int, places: int = 1) -> str:
    """A limit or a measured value for a message: at most ``places`` decimals, no
    exponent, no trailing zeros (``Decimal("100")`` -> ``"100"``, 7.25 -> ``"7.3"``)."""
    value = Decimal(value)
    if value.adjusted() >= 30:  # an absurd record: 1.00E+5000 km
        return format(value, ".2E")
    with localcontext(DECIMAL_CONTEXT) as ctx:
        ctx.rounding = ROUND_HALF_UP
        rounded = value.quantize(Decimal(1).scaleb(-places))
        text = format(rounded, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


# --- parameters ----------------------------------------------------------------------


# No physical factor, speed or limit in a methodology comes near this; it keeps every
# computed amount far inside a 64-bit integer.
MAX_PARAMETER = Decimal(1_000_000)


def decimal_param(value: Any, name: str, *, positive: bool = False) -> Decimal:
    """A catalogue parameter: a finite JSON number (int, float or Decimal, never bool or
    string), as ``Decimal(str(value))``; ``>= 0``, or ``> 0`` when ``positive``.
    Anything else -> ``ValueError`` naming the parameter."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError(f"{name} must be a number, not {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{name} must be finite")
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValueError(f"{name} is not a decimal number") from None
    if not number.is_finite():
        raise ValueError(f"{name} must be finite")
    if number < 0 or (positive and number == 0):
        raise ValueError(f"{name} must be {'> 0' if positive else '>= 0'}")
    if number > MAX_PARAMETER:
        raise ValueError(f"{name} must be at most {MAX_PARAMETER}")
    return number


def mapping_param(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be an object")
    return value


def reject_unknown_keys(value: Mapping[str, Any], allowed: Iterable[str], name: str) -> None:
    unknown = sorted(str(k) for k in value if k not in set(allowed))
    if unknown:
        raise ValueError(f"{name} has unknown keys: {', '.join(unknown)}")


def floor_grams(value: Decimal) -> int:
    """Whole grams, rounded down, never negative."""
    if value <= 0:
        return 0
    with localcontext(DECIMAL_CONTEXT):
        return int(value.to_integral_value(rounding=ROUND_FLOOR))


# --- record schemas (what the API documents) -----------------------------------------


def json_number(value: Decimal) -> int | float:
    """A limit as a JSON number: an int when whole."""
    return int(value) if value == value.to_integral_value() else float(value)


def example_times(start: datetime, minutes: int) -> tuple[str, str]:
    end = start + timedelta(minutes=minutes)
    return start.isoformat(), end.isoformat()


def record_schema(
    *,
    title: str,
    description: str,
    activity_types: list[str],
    measures: dict[str, dict],
    limits: dict[str, dict[str, Decimal]],
    example: dict,
) -> dict:
    """One activity family's record as a JSON Schema object (the OpenAPI 3.0 subset):
    the fields every record has, the family's measures, the plausibility limits of each
    activity type (``x-limits``, which JSON Schema can't express: speed, power,
    duration) and an example. Fields not named here are ignored."""
    stamp = {
        "type": "string",
        "format": "date-time",
        "example": example.get("started_at"),
    }
    properties = {
        "external_id": {
            "type": "string",
            "minLength": 1,
            "maxLength": 128,
            "description": "The operator's unique id of the record. Sending it again is "
            "answered `duplicate` with the first result; nothing counts twice.",
        },
        "user_ref": {
            "type": "string",
            "minLength": 1,
            "maxLength": 128,
            "description": "The operator's reference of the resident, as bound with a "
            "bind token (`POST /api/v1/operator/bind-tokens`) and redeemed by the resident.",
        },
        "activity_type": {
            "type": "string",
            "enum": list(activity_types),
            "description": "One of the scenario's activity types "
            "(`GET /api/v1/operator/scenario`).",
        },
        "started_at": {
            **stamp,
            "description": f"When the activity started: {TIMESTAMP_RULE}. It must lie "
            "within the scenario's window (`too_old` otherwise) and not in the future.",
        },
        "ended_at": {
            **stamp,
            "example": example.get("ended_at"),
            "description": f"When the activity ended: {TIMESTAMP_RULE}; after started_at.",
        },
        **measures,
    }
    return {
        "type": "object",
        "title": title,
        "description": description,
        "required": list(properties),
        "properties": properties,
        "x-limits": {
            t: {k: json_number(v) for k, v in sorted(lim.items())} for t, lim in limits.items()
        },
        "example": example,
    }
