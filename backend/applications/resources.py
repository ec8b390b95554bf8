"""Applications over HTTP: organisations apply and follow (/api/v1/org), staff work the
queue (/api/v1/admin), the public reads notices and objects (/api/v1/public)."""

from __future__ import annotations

from backend.applications import notices, review, submission
from backend.applications import schemas as s
from backend.applications.models import Application, Objection
from backend.auth.guards import current_principal, require
from backend.auth.roles import AUDITOR, EXPERT, REVIEWER
from backend.extensions import limiter, objection_limit
from backend.http import Blueprint, page_schema
from backend.registry import deregistration, methodologies
from backend.registry import schemas as reg

org = Blueprint(
    "org_applications",
    __name__,
    url_prefix="/api/v1/org",
    description="Organisations: applications to the service centre",
)
staff = Blueprint(
    "staff_applications",
    __name__,
    url_prefix="/api/v1/admin",
    description="Staff: the review queue, notices, objections, deregistration",
)
public = Blueprint(
    "public_notices",
    __name__,
    url_prefix="/api/v1/public",
    description="Public notices and objections",
)
blueprints = [org, staff, public]

ApplicationPage = page_schema(s.ApplicationOut, "ApplicationPage")
StaffApplicationPage = page_schema(s.StaffApplicationOut, "StaffApplicationPage")
NoticePage = page_schema(s.PublicNoticeOut, "PublicNoticePage")
ObjectionPage = page_schema(s.ObjectionOut, "ObjectionPage")

READERS = (REVIEWER, EXPERT, AUDITOR)


def _org() -> int:
    return int(current_principal().organization_id)


def _actor() -> str:
    return current_principal().actor


# --- organisations ---------------------------------------------------------------


@org.route("/applications", methods=["POST"])
@org.doc(requestBody=s.application_body_doc())
@require("org")
@org.arguments(s.ApplicationIn)
@org.response(201, s.CreatedOut)
@org.problems(409, "code_taken", "asset_already_registered", "application_pending")
@org.problems(404, "methodology_not_found", "subject_not_found", "organization_not_found")
@org.problems(409, "methodology_retired", "issuance_period_overlap")
def submit(body):
    """Apply: a methodology, a revision, a scenario, a project, a deregistration or an
    issuance, with that type's fields."""
    return submission.submit(_org(), body, actor=_actor())


@org.route("/applications", methods=["GET"])
@require("org")
@org.arguments(s.ApplicationQuery, location="query")
@org.response(200, ApplicationPage)
@org.cursor_page(Application.id)
def list_own(args):
    """The organisation's applications, newest first."""
    return submission.of_organization(_org(), args.get("status"), args.get("type"))


@org.route("/applications/<int:application_id>", methods=["GET"])
@require("org")
@org.response(200, s.ApplicationOut)
@org.problems(404, "application_not_found")
def get_own(application_id):
    """One of the organisation's applications: its step, history, notice, objections."""
    return submission.get_own(_org(), application_id)


@org.route("/applications/<int:application_id>/withdraw", methods=["POST"])
@require("org")
@org.response(200, s.ApplicationOut)
@org.problems(409, "step_not_allowed")
@org.problems(404, "application_not_found")
def withdraw(application_id):
    """Withdraw an application that is not decided yet."""
    return submission.withdraw(_org(), application_id, actor=_actor())


# --- staff -------------------------------------------------------------------------


@staff.route("/applications", methods=["GET"])
@require("staff", roles=READERS)
@staff.arguments(s.ApplicationQuery, location="query")
@staff.response(200, StaffApplicationPage)
@staff.cursor_page(Application.id)
def queue(args):
    """The review queue, by status and type."""
    return review.staff_query(args.get("status"), args.get("type"))


@staff.route("/applications/<int:application_id>", methods=["GET"])
@require("staff", roles=READERS)
@staff.response(200, s.StaffApplicationOut)
@staff.problems(404, "application_not_found")
def get_application(application_id):
    """One application with its applicant, opinions and objections."""
    return review.get(application_id)


@staff.route("/applications/<int:application_id>/pre-review", methods=["POST"])
@require("staff", roles=(REVIEWER,))
@staff.arguments(s.PreReviewIn)
@staff.response(200, s.StaffApplicationOut)
@staff.problems(409, "step_not_allowed")
@staff.problems(404, "application_not_found")
def pre_review(body, application_id):
    """Accept the application for review, or return it with reasons (that ends it)."""
    return review.pre_review(application_id, body["decision"], body["reasons"], actor=_actor())


@staff.route("/applications/<int:application_id>/opinions", methods=["POST"])
@require("staff", roles=(EXPERT,))
@staff.arguments(s.OpinionIn)
@staff.response(201, s.OpinionOut)
@staff.problems(409, "step_not_allowed", "opinion_exists")
@staff.problems(404, "application_not_found")
def give_opinion(body, application_id):
    """An expert's opinion: approve, reject or revise, with the text."""
    p = current_principal()
    return review.add_opinion(
        application_id, int(p.id), body["conclusion"], body["text"], actor=p.actor
    )


@staff.route("/applications/<int:application_id>/notice", methods=["POST"])
@require("staff", roles=(REVIEWER,))
@staff.response(200, s.NoticeDatesOut)
@staff.problems(409, "step_not_allowed", "expert_quorum", "calendar_unknown")
@staff.problems(404, "application_not_found")
def start_notice(application_id):
    """Publish the public notice: at least 5 Chinese working days, ending at 24:00
    Asia/Shanghai."""
    app = review.start_notice(application_id, actor=_actor())
    return {
        "notice": {"starts_at": app.notice_starts_at, "ends_at": app.notice_ends_at},
        "status": app.status,
    }


@staff.route("/applications/<int:application_id>/decide", methods=["POST"])
@require("staff", roles=(REVIEWER,))
@staff.arguments(s.DecisionIn)
@staff.response(200, s.StaffApplicationOut)
@staff.problems(409, "step_not_allowed", "notice_running", "objection_open")
@staff.problems(404, "application_not_found")
@staff.problems(409, "asset_already_registered", "not_registered", "account_frozen")
@staff.problems(503, "signing_key_retired")
def decide(body, application_id):
    """Approve (publishes) or reject, with reasons."""
    return review.decide(application_id, body["decision"], body["reasons"], actor=_actor())


@staff.route("/objections", methods=["GET"])
@require("staff", roles=(REVIEWER, AUDITOR))
@staff.arguments(s.ObjectionQuery, location="query")
@staff.response(200, ObjectionPage)
@staff.cursor_page(Objection.id)
def list_objections(args):
    """Objections filed by the public, by status."""
    return notices.staff_query(args.get("status"))


@staff.route("/objections/<int:objection_id>/resolve", methods=["POST"])
@require("staff", roles=(REVIEWER,))
@staff.arguments(s.ResolveIn)
@staff.response(200, s.ObjectionOut)
@staff.problems(409, "objection_resolved")
@staff.problems(404, "objection_not_found")
@staff.problems(409, "step_not_allowed")
def resolve_objection(body, objection_id):
    """Uphold (the application is rejected) or dismiss an objection; the outcome is public."""
    return notices.resolve(objection_id, body["outcome"], body["text"], actor=_actor())


@staff.route("/deregistrations", methods=["POST"])
@require("staff", roles=(REVIEWER,))
@staff.arguments(s.StaffDeregistrationIn)
@staff.response(200, s.DeregisteredOut)
@staff.problems(409, "not_registered")
@staff.problems(404, "subject_not_found")
def deregister(body):
    """Deregister a scenario or project on the centre's own finding (Art. 14)."""
    subject = deregistration.deregister(
        body["subject_code"], cause=body["cause"], reasons=body["reasons"]
    )
    return subject


@staff.route("/methodologies/<string:code>/<string:version>/retire", methods=["POST"])
@require("staff", roles=(REVIEWER,))
@staff.arguments(s.RetireIn)
@staff.response(200, reg.MethodologyOut)
@staff.problems(409, "already_retired")
@staff.problems(404, "methodology_not_found")
def retire_methodology(body, code, version):
    """Retire a methodology version with public reasons (Art. 10)."""
    return methodologies.retire(code, version, body["reasons"])


# --- the public -------------------------------------------------------------------


@public.route("/notices", methods=["GET"])
@public.arguments(s.PublicNoticeQuery, location="query")
@public.response(200, NoticePage)
@public.cursor_page(Application.id)
def list_notices(args):
    """Public notices, open (objections welcome) or closed, with objections' outcomes."""
    return notices.public_query(args["status"])


@public.route("/notices/<int:application_id>", methods=["GET"])
@public.response(200, s.PublicNoticeOut)
@public.problems(404, "notice_not_found")
def get_notice(application_id):
    """One notice."""
    return notices.get_public(application_id)


@public.route("/notices/<int:application_id>/objections", methods=["POST"])
@limiter.limit(objection_limit)
@public.arguments(s.ObjectionIn)
@public.response(201, s.ObjectionRefOut)
@public.problems(409, "notice_closed")
@public.problems(404, "notice_not_found")
def object_to(body, application_id):
    """Object to a running notice (no account needed; the contact is never published)."""
    return notices.file(application_id, body["text"], body["contact"])
