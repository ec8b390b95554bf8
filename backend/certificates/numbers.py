"""Certificate numbers: `SIP-C-{year}-{sequence}`, e.g. `SIP-C-2026-000123`.

`SIP` the registry, `C` a certificate (of any purpose: the purpose is in the
certificate), the year (Asia/Shanghai) when it was issued, and a sequence that starts at 1
each year, six digits wide (more once a year passes 999,999). Numbers have no gaps: the
counter row is taken in the transaction that issues the certificate, so a rolled-back
issue gives its number back, and two issues at once are served one after the other.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from backend.certificates.models import CertificateCounter
from backend.db import db, dialect_insert, utcnow

PREFIX = "SIP-C"
PATTERN = re.compile(r"^SIP-C-(\d{4})-(\d{6,})$")
MIN_YEAR, MAX_YEAR = 2000, 9999
SHANGHAI = ZoneInfo("Asia/Shanghai")


def make_number(year: int, sequence: int) -> str:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(f"year {year} out of range")
    if sequence < 1:
        raise ValueError("sequences start at 1")
    return f"{PREFIX}-{year:04d}-{sequence:06d}"


def parse_number(number: str) -> tuple[int, int]:
    """(year, sequence) of a well-formed number; ValueError otherwise. Only the one
    spelling `make_number` gives is accepted (no extra leading zeros)."""
    match = PATTERN.match(number) if isinstance(number, str) else None
    if not match:
        raise ValueError("not a certificate number")
    year, sequence = int(match.group(1)), int(match.group(2))
    if make_number(year, sequence) != number:
        raise ValueError("not a certificate number")
    return year, sequence


def is_number(number: object) -> bool:
    try:
        parse_number(number)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return False
    return True


def next_number(at: datetime | None = None) -> str:
    """Take the next number of the year (Asia/Shanghai) of `at` (default now). The caller's
    transaction holds the year's counter until it commits."""
    year = (at or utcnow()).astimezone(SHANGHAI).year
    table = CertificateCounter.__table__
    stmt = (
        dialect_insert(CertificateCounter)
        .values(year=year, last=1)
        .on_conflict_do_update(index_elements=["year"], set_={"last": table.c.last + 1})
        .returning(table.c.last)
    )
    sequence = db.session.execute(stmt).scalar_one()
    return make_number(year, sequence)
