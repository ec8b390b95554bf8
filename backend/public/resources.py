"""/api/v1/public/stats: platform totals (no login, no personal data)."""

from __future__ import annotations

from backend.http import Blueprint
from backend.public import stats
from backend.public.schemas import PublicStatsOut

blp = Blueprint("public", __name__, url_prefix="/api/v1/public", description="Public disclosure")
blueprints = [blp]


@blp.route("/stats", methods=["GET"])
@blp.response(200, PublicStatsOut)
def public_stats():
    """Platform totals: residents taking part, reductions credited, points issued,
    redeemed and converted back. Aggregates only, no personal data."""
    return stats.totals()
