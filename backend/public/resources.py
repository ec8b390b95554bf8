"""/api/v1/public/stats: platform totals and the series the site's charts draw (no login,
no personal data)."""

from __future__ import annotations

from backend.http import Blueprint
from backend.public import charts, stats
from backend.public import schemas as s

blp = Blueprint("public", __name__, url_prefix="/api/v1/public", description="Public disclosure")
blueprints = [blp]

# The same for everyone: a proxy in front may serve them for a few minutes.
CACHEABLE = {"Cache-Control": "public, max-age=300"}


@blp.route("/stats", methods=["GET"])
@blp.response(200, s.PublicStatsOut)
def public_stats():
    """Platform totals: residents taking part, reductions credited, points issued,
    redeemed and converted back. Aggregates only, no personal data."""
    return stats.totals()


@blp.route("/stats/monthly", methods=["GET"])
@blp.arguments(s.MonthlyQuery, location="query")
@blp.response(200, s.MonthlyOut)
def monthly(args):
    """Month by month (Asia/Shanghai months, oldest first, the current month last; 12 by
    default, at most 60): reductions credited to residents per scenario (grams), points
    issued and redeemed, reductions retired and cancelled (grams)."""
    return charts.monthly(args["months"]), 200, CACHEABLE


@blp.route("/stats/scenarios", methods=["GET"])
@blp.response(200, s.ScenarioTotalsOut)
def by_scenario():
    """Reductions credited to residents, ever, per scenario (grams), largest first."""
    return {"items": charts.by_scenario()}, 200, CACHEABLE
