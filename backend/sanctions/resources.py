"""/api/v1/admin/organizations/{id}/freeze|unfreeze and /admin/residents/{id}/freeze|
unfreeze (staff `admin`), /admin/sanctions (admin, auditor), and /api/v1/public/
sanctions (anyone: organisations only, never residents). HTTP in and out only."""

from __future__ import annotations

from backend.auth.guards import current_principal, require
from backend.auth.roles import ADMIN, AUDITOR
from backend.http import Blueprint, PageArgs, page_schema
from backend.sanctions import freeze
from backend.sanctions import schemas as s
from backend.sanctions.models import Sanction

staff = Blueprint(
    "staff_sanctions", __name__, url_prefix="/api/v1/admin", description="Staff: sanctions"
)
public = Blueprint(
    "public_sanctions", __name__, url_prefix="/api/v1/public", description="Public sanctions"
)
blueprints = [staff, public]

PublicSanctionPage = page_schema(s.PublicSanctionOut, "PublicSanctionPage")
SanctionPage = page_schema(s.SanctionOut, "SanctionPage")


def _actor() -> str:
    return current_principal().actor


@staff.route("/organizations/<int:org_id>/freeze", methods=["POST"])
@require("staff", roles=(ADMIN,))
@staff.arguments(s.ReasonIn)
@staff.response(200, s.FreezeOut)
@staff.problems(404, "organization_not_found")
@staff.problems(409, "already_frozen")
def freeze_organization(body, org_id):
    """Freeze an organisation (Art. 24), in one transaction: its users and operator
    clients lose access, no value leaves its accounts (409 `account_frozen`; incoming
    value still lands), its queued uploads stop, its pending orders are cancelled with
    refunds and its unsettled settlement batches cancelled. The reason and the dates
    are published at /public/sanctions."""
    return freeze.freeze_organization(org_id, body["reason"], actor=_actor())


@staff.route("/organizations/<int:org_id>/unfreeze", methods=["POST"])
@require("staff", roles=(ADMIN,))
@staff.arguments(s.ReasonIn)
@staff.response(200, s.FreezeOut)
@staff.problems(404, "organization_not_found")
@staff.problems(409, "not_frozen")
def unfreeze_organization(body, org_id):
    """Unfreeze: access and moves come back; what was cancelled stays cancelled."""
    return freeze.unfreeze_organization(org_id, body["reason"], actor=_actor())


@staff.route("/residents/<int:user_id>/freeze", methods=["POST"])
@require("staff", roles=(ADMIN,))
@staff.arguments(s.ReasonIn)
@staff.response(200, s.FreezeOut)
@staff.problems(404, "resident_not_found")
@staff.problems(409, "already_frozen")
def freeze_resident(body, user_id):
    """Freeze a resident: no access, no value leaves their accounts (incoming value
    still lands), pending orders cancelled with refunds. Never published."""
    return freeze.freeze_resident(user_id, body["reason"], actor=_actor())


@staff.route("/residents/<int:user_id>/unfreeze", methods=["POST"])
@require("staff", roles=(ADMIN,))
@staff.arguments(s.ReasonIn)
@staff.response(200, s.FreezeOut)
@staff.problems(404, "resident_not_found")
@staff.problems(409, "not_frozen")
def unfreeze_resident(body, user_id):
    """Unfreeze a resident: access and moves come back; cancelled orders stay so."""
    return freeze.unfreeze_resident(user_id, body["reason"], actor=_actor())


@staff.route("/sanctions", methods=["GET"])
@require("staff", roles=(ADMIN, AUDITOR))
@staff.arguments(s.SanctionQuery, location="query")
@staff.response(200, SanctionPage)
@staff.cursor_page(Sanction.id)
def list_sanctions(args):
    """Every sanction, of organisations and residents, newest first."""
    return freeze.staff_query(args.get("subject_type"), args.get("open", False))


@public.route("/sanctions", methods=["GET"])
@public.arguments(PageArgs, location="query")
@public.response(200, PublicSanctionPage)
@public.cursor_page(Sanction.id, scalars=False)
def public_sanctions(args):
    """Organisations frozen for breaking the rules (Art. 24-25): who, why, since when,
    and when it was lifted. Residents' sanctions are never published."""
    return freeze.public_query()
