"""/api/v1/admin/audit (staff `auditor` and `admin`): the audit log, newest first."""

from __future__ import annotations

from backend.audit import log
from backend.audit import schemas as s
from backend.audit.models import AuditRecord
from backend.auth.guards import require
from backend.auth.roles import ADMIN, AUDITOR
from backend.http import Blueprint, page_schema

blp = Blueprint("staff_audit", __name__, url_prefix="/api/v1/admin", description="Staff: audit log")
blueprints = [blp]

AuditPage = page_schema(s.AuditRecordOut, "AuditPage")


@blp.route("/audit", methods=["GET"])
@require("staff", roles=(AUDITOR, ADMIN))
@blp.arguments(s.AuditQuery, location="query")
@blp.response(200, AuditPage)
@blp.cursor_page(AuditRecord.id)
def list_audit(args):
    """Audit records, newest first, by actor (e.g. `staff:3`), object type and id, or
    action. Each holds the hash of the record before it (`flask --app wsgi audit
    verify` checks the chain)."""
    return log.query(
        args.get("actor"), args.get("object_type"), args.get("object_id"), args.get("action")
    )
