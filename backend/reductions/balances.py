"""An organisation's reductions: held and reserved grams, its points (a merchant's), and
the serial blocks behind them."""

from __future__ import annotations

from sqlalchemy import select

from backend.db import db
from backend.ledger import Account, AccountKind, balance_of
from backend.reductions.models import SerialBlock
from backend.registry.models import Project


def _source(block: SerialBlock, projects: dict[int, str]) -> str:
    if block.object_type == "P":
        return f"project:{projects.get(block.object_id, block.object_id)}"
    return "settlement"


def of_organization(org_id: int) -> dict:
    accounts = db.session.execute(
        select(Account.id).where(
            Account.owner_id == org_id,
            Account.kind.in_((AccountKind.ORG_REDUCTIONS.value, AccountKind.ORG_RESERVED.value)),
        )
    ).scalars()
    rows = list(
        db.session.execute(
            select(SerialBlock)
            .where(SerialBlock.account_id.in_(list(accounts)))
            .order_by(SerialBlock.object_type, SerialBlock.object_id, SerialBlock.start_serial)
        ).scalars()
    )
    project_ids = {b.object_id for b in rows if b.object_type == "P"}
    projects = {
        pid: code
        for pid, code in db.session.execute(
            select(Project.id, Project.code).where(Project.id.in_(project_ids))
        )
    }
    return {
        "reductions_g": balance_of(AccountKind.ORG_REDUCTIONS, org_id),
        "reserved_g": balance_of(AccountKind.ORG_RESERVED, org_id),
        "points": balance_of(AccountKind.MERCHANT_POINTS, org_id),
        "blocks": [
            {
                "serial": b.serial,
                "vintage": b.vintage,
                "source": _source(b, projects),
                "amount_g": b.amount_g,
                "status": b.status,
            }
            for b in rows
        ],
    }
