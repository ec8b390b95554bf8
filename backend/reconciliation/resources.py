"""/api/v1/admin/reconciliation (staff): the report computed now, and the stored ones."""

from __future__ import annotations

from backend.auth.guards import require
from backend.auth.roles import AUDITOR, FINANCE
from backend.http import Blueprint, PageArgs, page_schema
from backend.reconciliation import report
from backend.reconciliation import schemas as s
from backend.reconciliation.models import ReconciliationReport

blp = Blueprint(
    "staff_reconciliation",
    __name__,
    url_prefix="/api/v1/admin",
    description="Staff: reconciliation",
)
blueprints = [blp]

StoredReportPage = page_schema(s.StoredReportOut, "StoredReportPage")


@blp.route("/reconciliation", methods=["GET"])
@require("staff", roles=(FINANCE, AUDITOR))
@blp.response(200, s.ReconciliationOut)
def reconcile():
    """The reconciliation report, computed now from one snapshot."""
    return report.compute()


@blp.route("/reconciliation/reports", methods=["GET"])
@require("staff", roles=(FINANCE, AUDITOR))
@blp.arguments(PageArgs, location="query")
@blp.response(200, StoredReportPage)
@blp.cursor_page(ReconciliationReport.id)
def list_reports(args):
    """The stored nightly reports, newest first."""
    return report.stored()


@blp.route("/reconciliation/reports/<int:report_id>", methods=["GET"])
@require("staff", roles=(FINANCE, AUDITOR))
@blp.response(200, s.StoredReportFullOut)
@blp.problems(404, "report_not_found")
def get_report(report_id):
    """One stored report, in full."""
    return report.get_stored(report_id)
