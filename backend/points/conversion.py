"""Flow 2 of the ledger: resident reductions -> points backing, and points mint ->
resident points, at the platform rate, in one journal entry."""

from __future__ import annotations

from dataclasses import dataclass

from backend.errors import Conflict, Invalid
from backend.ledger import Account, AccountKind, InsufficientBalance, Leg, account_for, lock, post
from backend.registry.rate import Rate, current_rate


class BelowOnePoint(Invalid):
    code, title = "below_one_point", "Too few grams for one point"


class InsufficientReductions(Conflict):
    code, title = "insufficient_reductions", "Not enough reductions"


@dataclass(frozen=True)
class Converted:
    reductions_g: int
    points: int
    entry_id: int


@dataclass(frozen=True)
class ConversionAccounts:
    reductions: Account
    backing: Account
    mint: Account
    points: Account


def accounts_of(user_id: int) -> ConversionAccounts:
    return ConversionAccounts(
        reductions=account_for(AccountKind.RESIDENT_REDUCTIONS, user_id),
        backing=account_for(AccountKind.POINTS_BACKING),
        mint=account_for(AccountKind.POINTS_MINT),
        points=account_for(AccountKind.RESIDENT_POINTS, user_id),
    )


def conversion_legs(
    grams: int, rate: Rate, accounts: ConversionAccounts
) -> tuple[int, int, list[Leg]]:
    """(grams taken, points given, legs) converting up to `grams` at `rate`."""
    taken, points = rate.grams_to_points(grams)
    if taken == 0:
        return 0, 0, []
    return (
        taken,
        points,
        [
            Leg(accounts.reductions, -taken),
            Leg(accounts.backing, taken),
            Leg(accounts.mint, -points),
            Leg(accounts.points, points),
        ],
    )


def convert(
    user_id: int, grams: int, *, request: str, actor: str, memo: str | None = None
) -> Converted:
    """Convert up to `grams` of the resident's reductions into whole points. The grams
    that buy no whole point stay. `request` names the request (the same for its retries):
    converting again for the same request moves nothing."""
    idempotency_key = f"conversion:{user_id}:{request}"
    accounts = accounts_of(user_id)
    lock([accounts.backing, accounts.mint])  # the rate can't change while we convert
    rate = current_rate()
    taken, points, legs = conversion_legs(grams, rate, accounts)
    if taken == 0:
        raise BelowOnePoint(
            f"{grams} g buys no whole point at the current rate.",
            errors={"reductions_g": ["Too few grams for one point."]},
        )
    try:
        entry, _ = post(
            kind="conversion",
            idempotency_key=idempotency_key,
            legs=legs,
            ref_type="rate",
            ref_id=rate.version,
            actor=actor,
            memo=memo or f"{taken} g -> {points} pt",
        )
    except InsufficientBalance as exc:
        raise InsufficientReductions("Not enough reductions to convert.") from exc
    replayed = {p.account_id: p.amount for p in entry.postings}
    return Converted(
        reductions_g=-replayed.get(accounts.reductions.id, -taken),
        points=replayed.get(accounts.points.id, points),
        entry_id=entry.id,
    )
