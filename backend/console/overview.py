"""The console's overview: what waits for each role, counted in one statement."""

from __future__ import annotations

from sqlalchemy import text

from backend.db import db

_WAITING = text(
    """
    SELECT
      (SELECT COUNT(*) FROM applications WHERE status = 'submitted') AS to_pre_review,
      (SELECT COUNT(*) FROM applications WHERE status IN ('accepted', 'in_review'))
        AS in_review,
      (SELECT COUNT(*) FROM applications WHERE status = 'in_notice') AS in_notice,
      (SELECT COUNT(*) FROM objections WHERE status = 'open') AS open_objections,
      (SELECT COUNT(*) FROM settlement_batches WHERE status = 'pending') AS settlements_pending,
      (SELECT COUNT(*) FROM settlement_batches WHERE status = 'failed') AS settlements_failed,
      (SELECT COUNT(*) FROM transfers WHERE status = 'accepted') AS transfers_to_execute,
      (SELECT COUNT(*) FROM uses WHERE status = 'pending') AS uses_pending,
      (SELECT COUNT(*) FROM organizations WHERE status = 'frozen') AS organizations_frozen
    """
)


def waiting() -> dict[str, int]:
    row = db.session.execute(_WAITING).one()
    return {k: int(v) for k, v in row._mapping.items()}
