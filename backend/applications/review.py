"""The centre's review work (Art. 8, 13): reviewers pre-review (accept or return),
experts give opinions, reviewers start the public notice and decide. Each act is one
step of the transition table, under the application's row lock."""

from __future__ import annotations

from sqlalchemy import Select, func, select

from backend.applications import publication, transitions
from backend.applications.models import Application, ExpertOpinion, Objection
from backend.applications.workflow import allowed_actions
from backend.db import db, utcnow
from backend.errors import Conflict, integer, text
from backend.registry import assets
from backend.runtime import setting
from backend.workdays.calendar import notice_period


class NoticeRunning(Conflict):
    code, title = "notice_running", "The public notice has not ended"
    extras = {
        "ends_at": text("When the notice ends.", "2026-05-12T00:00:00+08:00", format="date-time")
    }


class ObjectionOpen(Conflict):
    code, title = "objection_open", "An objection is unresolved"
    extras = {"open_objections": integer("Objections not resolved yet.", 1)}


class ExpertQuorum(Conflict):
    code, title = "expert_quorum", "The experts have not approved"
    extras = {
        "opinions": integer("Expert opinions given.", 2),
        "approvals": integer("Of them, approvals.", 2),
        "quorum": integer("Opinions an approval needs at least.", 3),
    }


class OpinionGiven(Conflict):
    code, title = "opinion_exists", "This expert gave an opinion already"


def staff_query(status: str | None, app_type: str | None) -> Select:
    stmt = select(Application)
    if status:
        stmt = stmt.where(Application.status == status)
    if app_type:
        stmt = stmt.where(Application.type == app_type)
    return stmt


def get(application_id: int) -> Application:
    app = db.session.get(Application, application_id)
    if app is None:
        raise transitions.ApplicationNotFound("No such application.")
    return app


def staff_actions(app: Application, roles, user_id: int, now=None) -> dict:
    """What a staff member holding `roles` may do to `app` now (the console shows these
    buttons and only these; each act checks again): `accept`, `return`, `notice`,
    `approve`, `reject` (reviewer), `opinion` (expert, once per expert), `resolve`
    (reviewer, while an objection is open)."""
    roles = set(roles)
    allowed = set(allowed_actions(app.type, app.status))
    now = now or utcnow()
    open_objections = [o for o in app.objections if o.status == "open"]
    actions: set[str] = set()
    if "reviewer" in roles:
        actions |= allowed & {"accept", "return", "notice"}
        if app.status == "in_notice":
            if now >= app.notice_ends_at and not open_objections:
                actions |= allowed & {"approve", "reject"}
        else:
            actions |= allowed & {"approve", "reject"}
        if open_objections:
            actions.add("resolve")
    given = any(o.expert_id == user_id for o in app.opinions)
    if "expert" in roles and "opinion" in allowed and not given:
        actions.add("opinion")
    verdict = expert_verdict(app) if app.status == "in_review" else (0, 0)
    return {
        "actions": actions,
        "quorum": setting("EXPERT_QUORUM"),
        "opinions": verdict[0],
        "approvals": verdict[1],
        "notice_running": app.status == "in_notice" and now < app.notice_ends_at,
        "open_objections": len(open_objections),
    }


def counts_by_status() -> dict[str, int]:
    """How many applications are at each status (the console's overview)."""
    return {
        status: int(n)
        for status, n in db.session.execute(
            select(Application.status, func.count()).group_by(Application.status)
        )
    }


def pre_review(application_id: int, decision: str, reasons: str | None, *, actor: str):
    app = transitions.lock(application_id)
    transitions.move(app, decision, role="reviewer", actor=actor, note=reasons)
    if app.status == "returned":
        app.decided_at, app.decision_reasons = utcnow(), reasons
        assets.release("application", app.id)
    return app


def add_opinion(application_id: int, expert_id: int, conclusion: str, text: str, *, actor: str):
    app = transitions.lock(application_id)
    exists = db.session.scalar(
        select(func.count()).where(
            ExpertOpinion.application_id == app.id, ExpertOpinion.expert_id == expert_id
        )
    )
    if exists:
        raise OpinionGiven("You gave your opinion on this application already.")
    transitions.move(app, "opinion", role="expert", actor=actor, note=None)
    opinion = ExpertOpinion(
        application_id=app.id, expert_id=expert_id, conclusion=conclusion, text=text
    )
    db.session.add(opinion)
    db.session.flush()
    return opinion


def expert_verdict(app: Application) -> tuple[int, int]:
    """(opinions, approvals) on the application."""
    rows = db.session.execute(
        select(ExpertOpinion.conclusion).where(ExpertOpinion.application_id == app.id)
    ).scalars()
    conclusions = list(rows)
    return len(conclusions), sum(1 for c in conclusions if c == "approve")


def start_notice(application_id: int, *, actor: str):
    """Publish the notice: at least `NOTICE_WORKING_DAYS` (5) Chinese working days after
    today, ending at 24:00 Asia/Shanghai. Needs a majority of at least `EXPERT_QUORUM`
    (3) expert opinions approving; 409 `calendar_unknown` if the end falls in a year
    nobody entered."""
    app = transitions.lock(application_id)
    if app.status == "in_review":
        opinions, approvals = expert_verdict(app)
        quorum = setting("EXPERT_QUORUM")
        if opinions < quorum or approvals * 2 <= opinions:
            raise ExpertQuorum(
                f"A notice needs at least {quorum} expert opinions with a majority approving "
                f"({approvals} of {opinions} approve).",
                extra={"opinions": opinions, "approvals": approvals, "quorum": quorum},
            )
    now = utcnow()
    starts_at, ends_at = notice_period(now, setting("NOTICE_WORKING_DAYS"))
    transitions.move(app, "notice", role="reviewer", actor=actor, note=None)
    app.notice_starts_at, app.notice_ends_at = starts_at, ends_at
    db.session.flush()
    return app


def decide(application_id: int, decision: str, reasons: str, *, actor: str):
    """Approve (publishes; only after the notice ends with no objection open) or reject."""
    app = transitions.lock(application_id)
    if app.status == "in_notice":
        now = utcnow()
        if now < app.notice_ends_at:
            raise NoticeRunning(
                f"The public notice runs until {app.notice_ends_at.isoformat()}.",
                extra={"ends_at": app.notice_ends_at.isoformat()},
            )
        open_objections = db.session.scalar(
            select(func.count()).where(
                Objection.application_id == app.id, Objection.status == "open"
            )
        )
        if open_objections:
            raise ObjectionOpen(
                f"{open_objections} objection(s) to the notice are unresolved.",
                extra={"open_objections": open_objections},
            )
    transitions.move(app, decision, role="reviewer", actor=actor, note=reasons)
    app.decided_at, app.decision_reasons = utcnow(), reasons
    if app.status == "approved":
        publication.publish(app, actor=actor)
    else:
        assets.release("application", app.id)
    db.session.flush()
    return app
