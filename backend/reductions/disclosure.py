"""Disclosure (Art. 25): the registry, open, as JSON pages and whole CSV exports. Field
names follow the Climate Action Data Trust's vocabulary where one fits (`unitBlockStart`,
`unitBlockEnd`, `unitCount`, `vintageYear`, `unitStatus` Held / Retired / Cancelled, a
`unitStatusReason` for retired and cancelled units). No personal data and no price:
organisations are named (they are public entities), residents never are.

Each list is one marshmallow schema (`schemas` below): its fields are the JSON item and
the CSV columns, in order."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import marshmallow as ma
from sqlalchemy import Select, case, func, select

from backend.db import db
from backend.http import LocalDateTime
from backend.reductions import issuance, transfers, uses
from backend.reductions.beneficiaries import public_name
from backend.reductions.models import Issuance, SerialBlock, Transfer, Use
from backend.registry import methodologies
from backend.registry.models import Methodology, Project, Scenario

CADT_STATUS = {"held": "Held", "reserved": "Held", "retired": "Retired", "cancelled": "Cancelled"}


def _serials(items: list | None) -> str:
    return " ".join(i["serial"] for i in items or [])


class MethodologyRow(ma.Schema):
    methodologyCode = ma.fields.String(attribute="code")  # noqa: N815 - CADT-style names
    version = ma.fields.String()
    kind = ma.fields.String()
    title = ma.fields.String()
    formula = ma.fields.String()
    status = ma.fields.String()
    publishedAt = LocalDateTime(attribute="published_at")  # noqa: N815
    retiredAt = LocalDateTime(attribute="retired_at", allow_none=True)  # noqa: N815
    retirementReasons = ma.fields.String(attribute="retirement_reasons", allow_none=True)  # noqa: N815


class ScenarioRow(ma.Schema):
    scenarioCode = ma.fields.String(attribute="code")  # noqa: N815
    scenarioName = ma.fields.String(attribute="title")  # noqa: N815
    operator = ma.fields.Function(lambda s: s.operator.name)
    methodology = ma.fields.Function(lambda s: s.methodology.code)
    methodologyVersion = ma.fields.Function(lambda s: s.methodology.version)  # noqa: N815
    activityTypes = ma.fields.Function(lambda s: " ".join(s.activity_types))  # noqa: N815
    dailyCapG = ma.fields.Integer(attribute="daily_cap_g")  # noqa: N815
    status = ma.fields.String()
    registeredAt = LocalDateTime(attribute="registered_at")  # noqa: N815
    deregisteredAt = LocalDateTime(attribute="deregistered_at", allow_none=True)  # noqa: N815
    deregistrationCause = ma.fields.String(attribute="deregistration_cause", allow_none=True)  # noqa: N815


class ProjectRow(ma.Schema):
    projectCode = ma.fields.String(attribute="code")  # noqa: N815
    projectName = ma.fields.String(attribute="title")  # noqa: N815
    projectDeveloper = ma.fields.Function(lambda p: p.owner.name)  # noqa: N815
    developerCreditCode = ma.fields.Function(lambda p: p.owner.credit_code)  # noqa: N815
    methodology = ma.fields.Function(lambda p: p.methodology.code)
    methodologyVersion = ma.fields.Function(lambda p: p.methodology.version)  # noqa: N815
    sector = ma.fields.String(allow_none=True)
    location = ma.fields.String(allow_none=True)
    projectStatus = ma.fields.String(attribute="status")  # noqa: N815
    registeredAt = LocalDateTime(attribute="registered_at")  # noqa: N815
    deregisteredAt = LocalDateTime(attribute="deregistered_at", allow_none=True)  # noqa: N815


class IssuanceRow(ma.Schema):
    issuanceId = ma.fields.Integer(attribute="id")  # noqa: N815
    projectCode = ma.fields.Function(lambda i: i.project.code)  # noqa: N815
    projectDeveloper = ma.fields.Function(lambda i: i.owner.name)  # noqa: N815
    startDate = ma.fields.Date(attribute="period_start")  # noqa: N815
    endDate = ma.fields.Date(attribute="period_end")  # noqa: N815
    vintageYear = ma.fields.Integer(attribute="vintage")  # noqa: N815
    unitBlockStart = ma.fields.Integer(attribute="start_serial")  # noqa: N815
    unitBlockEnd = ma.fields.Integer(attribute="end_serial")  # noqa: N815
    unitCount = ma.fields.Integer(attribute="amount_g")  # noqa: N815
    unitType = ma.fields.Constant("gCO2e")  # noqa: N815
    certificateNumber = ma.fields.String(attribute="certificate_number", allow_none=True)  # noqa: N815
    issuedAt = LocalDateTime(attribute="issued_at")  # noqa: N815


class TransferRow(ma.Schema):
    transferId = ma.fields.Integer(attribute="id")  # noqa: N815
    seller = ma.fields.Function(lambda t: t.seller.name)
    buyer = ma.fields.Function(lambda t: t.buyer.name)
    unitCount = ma.fields.Integer(attribute="amount_g")  # noqa: N815
    serials = ma.fields.Function(lambda t: _serials(t.serials))
    proposedAt = LocalDateTime(attribute="proposed_at")  # noqa: N815
    acceptedAt = LocalDateTime(attribute="accepted_at", allow_none=True)  # noqa: N815
    executedAt = LocalDateTime(attribute="executed_at", allow_none=True)  # noqa: N815


class UseRow(ma.Schema):
    useId = ma.fields.Integer(attribute="id")  # noqa: N815
    purpose = ma.fields.String()
    unitStatus = ma.fields.Function(  # noqa: N815
        lambda u: (
            "Held"
            if u.purpose == "donation"
            else ("Cancelled" if u.purpose == "cancellation" else "Retired")
        )
    )
    unitStatusReason = ma.fields.String(attribute="reason")  # noqa: N815
    owner = ma.fields.Function(lambda u: u.owner.name)
    retirementBeneficiary = ma.fields.Function(lambda u: public_name(u.beneficiary))  # noqa: N815
    recipient = ma.fields.Function(lambda u: u.recipient.name if u.recipient else None)
    eventName = ma.fields.Function(lambda u: (u.event or {}).get("name"))  # noqa: N815
    eventDate = ma.fields.Function(lambda u: (u.event or {}).get("date"))  # noqa: N815
    unitCount = ma.fields.Integer(attribute="amount_g")  # noqa: N815
    serials = ma.fields.Function(lambda u: _serials(u.serials))
    certificateNumber = ma.fields.String(attribute="certificate_number", allow_none=True)  # noqa: N815
    approvedAt = LocalDateTime(attribute="decided_at", allow_none=True)  # noqa: N815


class UnitRow(ma.Schema):
    serial = ma.fields.String()
    object = ma.fields.Function(lambda b: f"{b.object_type}{b.object_id}")
    vintageYear = ma.fields.Integer(attribute="vintage")  # noqa: N815
    unitBlockStart = ma.fields.Integer(attribute="start_serial")  # noqa: N815
    unitBlockEnd = ma.fields.Integer(attribute="end_serial")  # noqa: N815
    unitCount = ma.fields.Integer(attribute="amount_g")  # noqa: N815
    unitStatus = ma.fields.Function(lambda b: CADT_STATUS[b.status])  # noqa: N815
    reserved = ma.fields.Function(lambda b: b.status == "reserved")
    origin = ma.fields.String(attribute="origin_type")


LISTS: dict[str, tuple[type[ma.Schema], object]] = {
    "methodologies": (MethodologyRow, Methodology.id),
    "scenarios": (ScenarioRow, Scenario.id),
    "projects": (ProjectRow, Project.id),
    "issuances": (IssuanceRow, Issuance.id),
    "transfers": (TransferRow, Transfer.id),
    "uses": (UseRow, Use.id),
    "units": (UnitRow, SerialBlock.id),
}


def query(name: str) -> Select:
    return {
        "methodologies": methodologies.catalogue,
        "scenarios": lambda: select(Scenario),
        "projects": lambda: select(Project),
        "issuances": issuance.published,
        "transfers": transfers.public_query,
        "uses": uses.public_query,
        "units": lambda: select(SerialBlock),
    }[name]()


def csv_text(name: str, chunk: int = 1000) -> Iterator[str]:
    """The whole list as CSV (a header, then one row per item, oldest first)."""
    schema_cls, key = LISTS[name]
    schema = schema_cls()
    columns = list(schema.fields)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    yield buf.getvalue()
    last = 0
    while True:
        rows = list(
            db.session.execute(query(name).where(key > last).order_by(key).limit(chunk)).scalars()
        )
        if not rows:
            return
        buf.seek(0)
        buf.truncate()
        for row in rows:
            writer.writerow(schema.dump(row))
        yield buf.getvalue()
        last = rows[-1].id


def totals() -> dict:
    by_status = dict(
        db.session.execute(
            select(
                SerialBlock.status,
                func.coalesce(func.sum(SerialBlock.end_serial - SerialBlock.start_serial + 1), 0),
            ).group_by(SerialBlock.status)
        ).all()
    )
    by_origin = dict(
        db.session.execute(
            select(
                SerialBlock.origin_type,
                func.coalesce(func.sum(SerialBlock.end_serial - SerialBlock.start_serial + 1), 0),
            ).group_by(SerialBlock.origin_type)
        ).all()
    )
    counts = db.session.execute(
        select(
            select(func.count())
            .select_from(Methodology)
            .where(Methodology.status == "published")
            .scalar_subquery(),
            select(func.count())
            .select_from(Scenario)
            .where(Scenario.status == "registered")
            .scalar_subquery(),
            select(func.count())
            .select_from(Project)
            .where(Project.status == "registered")
            .scalar_subquery(),
            select(func.coalesce(func.sum(Transfer.amount_g), 0))
            .where(Transfer.status == "executed")
            .scalar_subquery(),
            select(
                func.coalesce(func.sum(case((Use.purpose == "donation", Use.amount_g), else_=0)), 0)
            )
            .where(Use.status == "approved")
            .scalar_subquery(),
        )
    ).one()
    return {
        "methodologies_published": int(counts[0]),
        "scenarios_registered": int(counts[1]),
        "projects_registered": int(counts[2]),
        "issued_g": int(by_origin.get("issuance", 0)),
        "settled_back_g": int(by_origin.get("settlement", 0)),
        "held_g": int(by_status.get("held", 0)),
        "reserved_g": int(by_status.get("reserved", 0)),
        "retired_g": int(by_status.get("retired", 0)),
        "cancelled_g": int(by_status.get("cancelled", 0)),
        "transferred_g": int(counts[3]),
        "donated_g": int(counts[4]),
    }
