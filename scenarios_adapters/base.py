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


class Rejected(Exception):
    """A record that cannot be credited. ``reason`` is one of :data:`REASONS` (the codes
    the operator API reports); ``detail`` is a short human explanation."""

    def __init__(self, reason: str, detail: str = "") -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown rejection reason {reason!r}")
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}" if self.detail else self.reason


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


def parse_timestamp(record: Mapping[str, Any], field: str) -> datetime:
    """An ISO 8601 string WITH a UTC offset, returned normalised to UTC.

    Missing, non-string, unparsable or naive (no offset) -> ``Rejected("invalid")``.
    """
    value = record.get(field)
    if not isinstance(value, str):
        raise Rejected(INVALID, f"{field} must be an ISO 8601 string with an offset")
    try:
        parsed = datetime.fromisoformat(value)
    except (ValueError, TypeError, OverflowError):
        raise Rejected(INVALID, f"{field} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise Rejected(INVALID, f"{field} has no UTC offset")
    try:
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        # e.g. 0001-01-01T00:00:00+08:00 has no representable UTC instant
        raise Rejected(INVALID, f"{field} is out of range") from None


def non_negative_int(record: Mapping[str, Any], field: str) -> int:
    """A measure that must be a JSON integer >= 0. ``True``/``False`` are not integers,
    and neither are floats (``12000.0``) or numeric strings (``"12000"``)."""
    if field not in record or record[field] is None:
        raise Rejected(INVALID, f"{field} is missing")
    value = record[field]
    if isinstance(value, bool) or not isinstance(value, int):
        raise Rejected(INVALID, f"{field} must be an integer")
    if value < 0:
        raise Rejected(INVALID, f"{field} must not be negative")
    return int(value)


def check_order(activity: Activity) -> None:
    """``ended_at`` before ``started_at`` -> ``Rejected("implausible")``."""
    if activity.ended_at < activity.started_at:
        raise Rejected(IMPLAUSIBLE, "ended_at is before started_at")


def duration_us(activity: Activity) -> int:
    """The activity's duration in whole microseconds, for measures that need time (speed,
    power). Zero or negative -> ``Rejected("implausible")``."""
    micros = activity.duration // _ONE_MICROSECOND
    if micros <= 0:
        raise Rejected(IMPLAUSIBLE, "the activity has no duration")
    return micros


def build_activity(
    record: Mapping[str, Any], activity_type: str, measures: dict[str, int]
) -> Activity:
    """Parse both timestamps (``Rejected("invalid")`` when bad). Their order is checked
    separately by :func:`check_order`, so that every ``invalid`` reason wins over any
    ``implausible`` one."""
    started = parse_timestamp(record, "started_at")
    ended = parse_timestamp(record, "ended_at")
    return Activity(
        activity_type=activity_type, started_at=started, ended_at=ended, measures=measures
    )


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
