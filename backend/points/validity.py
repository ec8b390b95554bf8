"""How long points live: the published, versioned validity rules.

A credit of points made at time t lives under the rule in force at t (the rule with the
latest `effective_from` <= t) and expires at the end of the month (Asia/Shanghai)
`months` after the month of t: credited on 15 March 2026 under a 120-month rule, it
expires at 24:00 on 31 March 2036 (`expires_on` 2036-03-31).

The first rule is seeded from `POINTS_VALIDITY_MONTHS` (default 120), effective from
the beginning: until it is stored (by the first expiry run or the first change), the
setting is read as that rule. A change is a new rule, effective from now or later,
never earlier: no credit already made changes its expiry. Rules are public
(`GET /api/v1/public/points-rules`); staff `finance` publish them
(`POST /api/v1/admin/points-rules`), or the CLI (`flask --app wsgi points-rules set`).
Callers commit."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from backend.audit import log as audit
from backend.db import db, insert_ignore, utcnow
from backend.errors import Conflict, Invalid
from backend.points.models import PointsRule
from backend.runtime import setting

SHANGHAI = ZoneInfo("Asia/Shanghai")
BEGINNING = datetime(2000, 1, 1, tzinfo=UTC)  # the seeded rule's start: before any credit
# A rule "effective now" sent a moment ago still counts as now (clocks differ a little).
SKEW = timedelta(minutes=5)
SEED_NOTE = (
    "积分自入账当月起 {months} 个月后的月末（北京时间）到期。"
    " Points expire at the end of the month (Asia/Shanghai) {months} months after the "
    "month they were credited in."
)


class RetroactiveRule(Invalid):
    code, title = "retroactive_rule", "A validity rule may not start in the past"


class RuleExists(Conflict):
    code, title = "points_rule_exists", "A rule with this effective time exists"


@dataclass(frozen=True)
class Rule:
    months: int
    effective_from: datetime
    note: str
    id: int | None = None  # None: the setting, not stored yet


def _seed() -> Rule:
    months = int(setting("POINTS_VALIDITY_MONTHS"))
    return Rule(months=months, effective_from=BEGINNING, note=SEED_NOTE.format(months=months))


def rules() -> list[Rule]:
    """Every rule, oldest first (the seed from the setting when none is stored)."""
    stored = [
        Rule(r.months, r.effective_from, r.note, r.id)
        for r in db.session.execute(select(PointsRule).order_by(PointsRule.effective_from))
        .scalars()
        .all()
    ]
    if not stored or stored[0].effective_from > BEGINNING:
        stored.insert(0, _seed())
    return stored


def ensure_seeded(actor: str) -> None:
    """Store the seed rule (from the setting) unless it is stored already: from then on
    a change of the setting changes nothing."""
    seed = _seed()
    insert_ignore(
        PointsRule,
        {
            "months": seed.months,
            "effective_from": seed.effective_from,
            "note": seed.note,
            "created_by": actor[:80],
            "created_at": utcnow(),
        },
        ("effective_from",),
    )


class Schedule:
    """The rules as a lookup: which rule a credit at time t lives under."""

    def __init__(self, all_rules: list[Rule]):
        self.rules = sorted(all_rules, key=lambda r: r.effective_from)
        self._starts = [r.effective_from for r in self.rules]

    def rule_at(self, at: datetime) -> Rule:
        i = bisect.bisect_right(self._starts, at) - 1
        return self.rules[max(i, 0)]

    def expires_at(self, credited_at: datetime) -> datetime:
        return expires_at(credited_at, self.rule_at(credited_at).months)

    def windows(self) -> list[tuple[Rule, datetime | None]]:
        """Each rule with the start of the next (None for the last)."""
        ends: list[datetime | None] = [*self._starts[1:], None]
        return list(zip(self.rules, ends, strict=True))


def schedule() -> Schedule:
    return Schedule(rules())


def month_start(year: int, month_index: int) -> datetime:
    """The first instant (Asia/Shanghai) of month `month_index` (0-based) after January
    of `year`, in UTC."""
    y, m = divmod(month_index, 12)
    return datetime(year + y, m + 1, 1, tzinfo=SHANGHAI).astimezone(UTC)


def expires_at(credited_at: datetime, months: int) -> datetime:
    """The end of the month (Asia/Shanghai) `months` after the credit's month: the first
    instant of the month after it, in UTC."""
    local = credited_at.astimezone(SHANGHAI)
    return month_start(local.year, local.month - 1 + months + 1)


def expires_on(expiry: datetime) -> date:
    """The last day (Asia/Shanghai) points expiring at `expiry` are still alive."""
    return (expiry.astimezone(SHANGHAI) - timedelta(days=1)).date()


def expiry_month(expiry: datetime) -> str:
    """`YYYY-MM`: the month at whose end points expiring at `expiry` expire."""
    return expires_on(expiry).strftime("%Y-%m")


def publish(
    months: int, note: str, *, actor: str, effective_from: datetime | None = None, now=None
) -> PointsRule:
    """Publish a new rule for points credited from `effective_from` (default now) on;
    refused if it would start in the past (a change is never retroactive)."""
    now = now or utcnow()
    start = effective_from or now
    if start.tzinfo is None:
        raise Invalid(errors={"effective_from": ["Give a time with a UTC offset."]})
    if start < now - SKEW:
        raise RetroactiveRule(
            "A validity rule applies only to points credited from now on.",
            errors={"effective_from": ["Must not be in the past: rules are never retroactive."]},
        )
    if not 1 <= months <= 1200:
        raise Invalid(errors={"months": ["Between 1 and 1200 months."]})
    ensure_seeded(actor)  # the rule in force until now is fixed before it changes
    if db.session.execute(select(PointsRule.id).where(PointsRule.effective_from == start)).first():
        raise RuleExists("A rule with this effective time exists already.")
    rule = PointsRule(
        months=months, effective_from=start, note=note, created_by=actor[:80], created_at=now
    )
    db.session.add(rule)
    db.session.flush()
    audit.record(
        "points_rule.publish",
        "points_rule",
        rule.id,
        after={"months": months, "effective_from": start.isoformat(), "note": note},
    )
    return rule


def public(now: datetime | None = None) -> dict:
    """The rules as published: every rule, and the one in force now."""
    now = now or utcnow()
    sched = schedule()
    current = sched.rule_at(now)
    return {
        "current": _out(current, now, current),
        "rules": [_out(r, now, current) for r in sched.rules],
    }


def published(rule_id: int, now: datetime | None = None) -> dict:
    """One stored rule, as `public()` shows it."""
    now = now or utcnow()
    sched = schedule()
    current = sched.rule_at(now)
    return _out(next(r for r in sched.rules if r.id == rule_id), now, current)


def _out(rule: Rule, now: datetime, current: Rule) -> dict:
    return {
        "id": rule.id,
        "months": rule.months,
        "effective_from": rule.effective_from,
        "note": rule.note,
        "in_force": rule is current,
        "scheduled": rule.effective_from > now,
    }
