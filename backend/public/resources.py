"""/api/v1/public: the published catalogue."""

from __future__ import annotations

from sqlalchemy import select

from backend.http import Blueprint, PageArgs, cursor_page, page_schema
from backend.public import stats as public_stats
from backend.public.stats import PublicStatsOut
from backend.registry import schemas as reg
from backend.registry.models import Methodology, Scenario

blp = Blueprint("public", __name__, url_prefix="/api/v1/public", description="Public disclosure")

MethodologyPage = page_schema(reg.MethodologyOut, "MethodologyPage")
ScenarioPage = page_schema(reg.ScenarioOut, "ScenarioPage")


@blp.route("/methodologies", methods=["GET"])
@blp.arguments(PageArgs, location="query")
@blp.response(200, MethodologyPage)
def methodologies(args):
    """Published methodology versions."""
    return cursor_page(
        select(Methodology).where(Methodology.status == "published"), Methodology.id, args
    )


@blp.route("/scenarios", methods=["GET"])
@blp.arguments(PageArgs, location="query")
@blp.response(200, ScenarioPage)
def scenarios(args):
    """Registered scenarios."""
    return cursor_page(select(Scenario).where(Scenario.status == "registered"), Scenario.id, args)


@blp.route("/stats", methods=["GET"])
@blp.response(200, PublicStatsOut)
def stats():
    """Platform totals: residents taking part, reductions credited, points issued,
    redeemed and converted back. Aggregates only, no personal data."""
    return public_stats.totals()
