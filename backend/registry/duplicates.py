"""The nightly double-claiming check (Art. 15), the way CAD Trust's duplicate-issuance
check works: list, for staff, pairs of live scenarios or projects that share an asset
under a loose comparison (any kind, letters and digits only, so `M-001` the meter and
`M001` the station meet), or a sector and location over overlapping periods. The database
already refuses the exact same asset twice; this finds the near misses."""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from backend.db import db, utcnow
from backend.registry.models import AssetClaim, DuplicateReport, Project
from jobs import job

SHANGHAI = ZoneInfo("Asia/Shanghai")
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def _loose(identifier: str) -> str:
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", identifier)).upper()


def _shared_assets() -> list[dict]:
    holders: dict[str, set[tuple[str, str, str]]] = defaultdict(set)
    for claim in db.session.execute(
        select(AssetClaim).where(
            AssetClaim.released_at.is_(None), AssetClaim.holder_type != "application"
        )
    ).scalars():
        holders[_loose(claim.identifier)].add((claim.holder_code, claim.kind, claim.raw_identifier))
    found = []
    for key, group in sorted(holders.items()):
        codes = sorted({h[0] for h in group})
        if len(codes) > 1:
            found.append(
                {
                    "reason": "asset",
                    "objects": codes,
                    "assets": sorted(f"{kind}:{raw}" for _, kind, raw in group),
                    "key": key,
                }
            )
    return found


def _same_place_and_period() -> list[dict]:
    projects = list(
        db.session.execute(select(Project).where(Project.status == "registered")).scalars()
    )
    groups: dict[tuple[str, str], list[Project]] = defaultdict(list)
    for p in projects:
        if p.sector and p.location:
            groups[(p.sector.strip().lower(), _loose(p.location))].append(p)
    # registered projects are all running now, so any two of one place overlap in time
    found = []
    for (sector, _), group in groups.items():
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                found.append(
                    {
                        "reason": "sector_location_period",
                        "objects": sorted([a.code, b.code]),
                        "sector": sector,
                        "location": a.location,
                    }
                )
    return found


def find(now: datetime | None = None) -> DuplicateReport:
    """Compute the findings and keep them as the Asia/Shanghai day's report."""
    now = now or utcnow()
    findings = _shared_assets() + _same_place_and_period()
    day = now.astimezone(SHANGHAI).date()
    report = db.session.execute(
        select(DuplicateReport).where(DuplicateReport.day == day).with_for_update()
    ).scalar_one_or_none()
    if report is None:
        report = DuplicateReport(day=day)
        db.session.add(report)
    report.as_of, report.findings, report.count = now, findings, len(findings)
    db.session.flush()
    return report


def latest() -> DuplicateReport | None:
    return db.session.execute(
        select(DuplicateReport).order_by(DuplicateReport.day.desc()).limit(1)
    ).scalar_one_or_none()


@job(queue="registry", timeout=600)
def find_duplicates() -> dict:
    """The nightly double-claiming check."""
    report = find()
    return {"day": report.day.isoformat(), "findings": report.count}
