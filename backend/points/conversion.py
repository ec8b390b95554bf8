"""Flow 2 of the ledger: resident reductions -> points backing, and points mint ->
resident points, at the platform rate, in one journal entry."""

from __future__ import annotations

from dataclasses import dataclass

from backend.errors import Conflict, Invalid
from backend.ledger import AccountKind, InsufficientBalance, Leg, account_for, post
from backend.registry.conversion import current_rate


class InsufficientReductions(Conflict):
    code, title = "insufficient_reductions", "Not enough reductions"


@dataclass(frozen=True)
class Converted:
    reductions_g: int
    points: int
    entry_id: int


def conversion_legs(user_id: int, grams: int) -> tuple[int, int, int, list[Leg]]:
    """(rate version, grams taken, points given, legs) converting up to `grams`."""
    rate = current_rate()
    taken, points = rate.grams_to_points(grams)
    if taken == 0:
        return rate.version, 0, 0, []
    legs = [
        Leg(account_for(AccountKind.RESIDENT_REDUCTIONS, user_id), -taken),
        Leg(account_for(AccountKind.POINTS_BACKING), taken),
        Leg(account_for(AccountKind.POINTS_MINT), -points),
        Leg(account_for(AccountKind.RESIDENT_POINTS, user_id), points),
    ]
    return rate.version, taken, points, legs


def convert(
    user_id: int, grams: int, *, idempotency_key: str, actor: str, memo: str | None = None
) -> Converted:
    """Convert up to `grams` of the resident's reductions into whole points. The grams
    that buy no whole point stay. Posting the same key again moves nothing."""
    version, taken, points, legs = conversion_legs(user_id, grams)
    if taken == 0:
        raise Invalid(
            f"{grams} g buys no whole point at the current rate.",
            code="below_one_point",
            errors={"reductions_g": ["Too few grams for one point."]},
        )
    try:
        entry, _ = post(
            kind="conversion",
            idempotency_key=idempotency_key,
            legs=legs,
            ref_type="rate",
            ref_id=version,
            actor=actor,
            memo=memo or f"{taken} g -> {points} pt",
        )
    except InsufficientBalance as exc:
        raise InsufficientReductions("Not enough reductions to convert.") from exc
    replayed = {p.account_id: p.amount for p in entry.postings}
    resident_points = account_for(AccountKind.RESIDENT_POINTS, user_id).id
    return Converted(
        reductions_g=taken, points=replayed.get(resident_points, points), entry_id=entry.id
    )
