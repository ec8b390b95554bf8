"""/api/v1/me/conversions and /api/v1/me/points/expiring (resident tokens): reductions
to points at the platform rate, and when the points expire; /api/v1/public/points-rules
(anyone) and /api/v1/admin/points-rules (staff `finance`): the validity rules."""

from __future__ import annotations

from backend.auth.guards import BEARER, current_principal, require
from backend.auth.roles import FINANCE
from backend.http import Blueprint
from backend.idempotency import idempotent, request_token
from backend.points import lots, validity
from backend.points import schemas as s
from backend.points.conversion import convert

blp = Blueprint(
    "me_points", __name__, url_prefix="/api/v1/me", description="Residents: conversions"
)
public = Blueprint(
    "public_points", __name__, url_prefix="/api/v1/public", description="Public: points rules"
)
staff = Blueprint(
    "staff_points", __name__, url_prefix="/api/v1/admin", description="Staff: points rules"
)
blueprints = [blp, public, staff]


@blp.route("/conversions", methods=["POST"])
@require("resident")
@idempotent
@blp.arguments(s.ConversionIn)
@blp.response(201, s.ConversionOut)
@blp.problems(409, "insufficient_reductions", "no_conversion_rule", "account_frozen")
@blp.problems(422, "below_one_point")
def conversion(body):
    """Convert reductions to points at the platform rate (send an Idempotency-Key)."""
    p = current_principal()
    return convert(p.id, body["reductions_g"], request=request_token(), actor=p.actor)


@blp.route("/points/expiring", methods=["GET"])
@blp.doc(security=BEARER)
@require("resident")
@blp.response(200, s.ExpiringOut)
def expiring():
    """When the resident's points expire.

    The points alive by expiry date, soonest first, computed from the ledger: each
    credit of points expires at the end of the month (Asia/Shanghai) that the validity
    rule in force at its credit says (`GET /api/v1/public/points-rules`); spending takes
    the points that expire first; a refund brings points back with their original
    dates."""
    return lots.expiring(current_principal().id)


@public.route("/points-rules", methods=["GET"])
@public.response(200, s.PointsRulesOut)
def points_rules():
    """The points validity rules, as published.

    Every rule (oldest first) and the one in force now. A rule applies to points
    credited from its `effective_from` on: a change never shortens or lengthens the life
    of points credited before it."""
    return validity.public()


@staff.route("/points-rules", methods=["POST"])
@staff.doc(security=BEARER)
@require("staff", roles=(FINANCE,))
@staff.arguments(s.PointsRuleIn)
@staff.response(201, s.PointsRuleOut)
@staff.problems(409, "points_rule_exists")
@staff.problems(422, "retroactive_rule")
def publish_points_rule(body):
    """Publish a new points validity rule.

    It applies to points credited from `effective_from` (default: now) on, never
    earlier, and is published at once (`GET /api/v1/public/points-rules`). Audited."""
    rule = validity.publish(
        body["months"],
        body["note"],
        actor=current_principal().actor,
        effective_from=body.get("effective_from"),
    )
    return validity.published(rule.id)
