"""Methodologies (方法学, Art. 5-10): published versions, immutable once published."""

from __future__ import annotations

from sqlalchemy import Select, select

from backend.audit import log as audit
from backend.db import db, utcnow
from backend.errors import Conflict, NotFound
from backend.registry.models import Methodology


class AlreadyRetired(Conflict):
    code, title = "already_retired", "The methodology version is retired already"


def published() -> Select:
    return select(Methodology).where(Methodology.status == "published")


def listed(status: str) -> Select:
    """`published`, `retired` or `all` versions."""
    stmt = select(Methodology)
    return stmt if status == "all" else stmt.where(Methodology.status == status)


class MethodologyNotFound(NotFound):
    code, title = "methodology_not_found", "No such methodology"


def retire(code: str, version: str, reasons: str) -> Methodology:
    """Retire a published version (Art. 10), with public reasons. Scenarios and projects
    on it keep running until staff say otherwise; new applications on it are refused."""
    found = db.session.execute(
        select(Methodology)
        .where(Methodology.code == code, Methodology.version == version)
        .with_for_update()
    ).scalar_one_or_none()
    if found is None:
        raise MethodologyNotFound(f"No methodology {code} version {version}.")
    if found.status == "retired":
        raise AlreadyRetired(f"{code} {version} is retired already.")
    found.status, found.retired_at, found.retirement_reasons = "retired", utcnow(), reasons
    audit.record(
        "methodology.retired",
        "methodology",
        found.id,
        before={"status": "published"},
        after={"status": "retired"},
    )
    db.session.flush()
    return found


def catalogue() -> Select:
    """Every version, published or retired (the public catalogue shows both)."""
    return select(Methodology)
