"""/api/v1/me/conversions (resident tokens): reductions to points at the platform rate."""

from __future__ import annotations

from backend.auth.guards import current_principal, require
from backend.http import Blueprint
from backend.idempotency import idempotent, request_token
from backend.points import schemas as s
from backend.points.conversion import convert

blp = Blueprint(
    "me_points", __name__, url_prefix="/api/v1/me", description="Residents: conversions"
)
blueprints = [blp]


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
