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
from backend.http import LocalDateTime, ex
from backend.reductions import issuance, transfers, uses
from backend.reductions.beneficiaries import public_name
from backend.reductions.models import Issuance, SerialBlock, Transfer, Use
from backend.registry import methodologies
from backend.registry.models import Methodology, Project, Scenario

CADT_STATUS = {"held": "Held", "reserved": "Held", "retired": "Retired", "cancelled": "Cancelled"}


def _serials(items: list | None) -> str:
    return " ".join(i["serial"] for i in items or [])


class MethodologyRow(ma.Schema):
    methodologyCode = ma.fields.String(attribute="code", metadata=ex("SIP-M-TRANSIT"))  # noqa: N815 - CADT-style names
    version = ma.fields.String(metadata=ex("1.0"))
    kind = ma.fields.String(metadata=ex("scenario"))
    title = ma.fields.String(metadata=ex("低碳出行方法学"))
    formula = ma.fields.String(metadata=ex("transit"))
    status = ma.fields.String(metadata=ex("published"))
    publishedAt = LocalDateTime(attribute="published_at")  # noqa: N815
    retiredAt = LocalDateTime(attribute="retired_at", allow_none=True)  # noqa: N815
    retirementReasons = ma.fields.String(
        attribute="retirement_reasons", allow_none=True, metadata=ex(None)
    )  # noqa: N815


class ScenarioRow(ma.Schema):
    scenarioCode = ma.fields.String(attribute="code", metadata=ex("SIP-S-METRO"))  # noqa: N815
    scenarioName = ma.fields.String(attribute="title", metadata=ex("园区地铁出行"))  # noqa: N815
    operator = ma.fields.Function(
        lambda s: s.operator.name,
        metadata=ex("苏州工业园区示范轨道运营有限公司（演示）", type="string"),
    )
    methodology = ma.fields.Function(
        lambda s: s.methodology.code, metadata=ex("SIP-M-TRANSIT", type="string")
    )
    methodologyVersion = ma.fields.Function(
        lambda s: s.methodology.version, metadata=ex("1.0", type="string")
    )  # noqa: N815
    activityTypes = ma.fields.Function(
        lambda s: " ".join(s.activity_types), metadata=ex("metro", type="string")
    )  # noqa: N815
    dailyCapG = ma.fields.Integer(attribute="daily_cap_g", metadata=ex(3000))  # noqa: N815
    status = ma.fields.String(metadata=ex("registered"))
    registeredAt = LocalDateTime(attribute="registered_at")  # noqa: N815
    deregisteredAt = LocalDateTime(attribute="deregistered_at", allow_none=True)  # noqa: N815
    deregistrationCause = ma.fields.String(
        attribute="deregistration_cause", allow_none=True, metadata=ex(None)
    )  # noqa: N815


class ProjectRow(ma.Schema):
    projectCode = ma.fields.String(attribute="code", metadata=ex("SIP-P-SOLAR"))  # noqa: N815
    projectName = ma.fields.String(attribute="title", metadata=ex("园区屋顶光伏项目"))  # noqa: N815
    projectDeveloper = ma.fields.Function(
        lambda p: p.owner.name, metadata=ex("园区示范能源有限公司", type="string")
    )  # noqa: N815
    developerCreditCode = ma.fields.Function(
        lambda p: p.owner.credit_code, metadata=ex("91320594MA1XDM0510", type="string")
    )  # noqa: N815
    methodology = ma.fields.Function(
        lambda p: p.methodology.code, metadata=ex("SIP-M-PV", type="string")
    )
    methodologyVersion = ma.fields.Function(
        lambda p: p.methodology.version, metadata=ex("1.0", type="string")
    )  # noqa: N815
    sector = ma.fields.String(allow_none=True, metadata=ex("energy"))
    location = ma.fields.String(allow_none=True, metadata=ex("苏州工业园区星湖街"))
    projectStatus = ma.fields.String(attribute="status", metadata=ex("registered"))  # noqa: N815
    registeredAt = LocalDateTime(attribute="registered_at")  # noqa: N815
    deregisteredAt = LocalDateTime(attribute="deregistered_at", allow_none=True)  # noqa: N815


class IssuanceRow(ma.Schema):
    issuanceId = ma.fields.Integer(attribute="id", metadata=ex(3))  # noqa: N815
    projectCode = ma.fields.Function(
        lambda i: i.project.code, metadata=ex("SIP-P-SOLAR", type="string")
    )  # noqa: N815
    projectDeveloper = ma.fields.Function(
        lambda i: i.owner.name, metadata=ex("园区示范能源有限公司", type="string")
    )  # noqa: N815
    startDate = ma.fields.Date(attribute="period_start")  # noqa: N815
    endDate = ma.fields.Date(attribute="period_end")  # noqa: N815
    vintageYear = ma.fields.Integer(attribute="vintage", metadata=ex(2026))  # noqa: N815
    unitBlockStart = ma.fields.Integer(attribute="start_serial", metadata=ex(1))  # noqa: N815
    unitBlockEnd = ma.fields.Integer(attribute="end_serial", metadata=ex(5000000))  # noqa: N815
    unitCount = ma.fields.Integer(attribute="amount_g", metadata=ex(5000000))  # noqa: N815
    unitType = ma.fields.Constant("gCO2e", metadata=ex("gCO2e", type="string"))  # noqa: N815
    certificateNumber = ma.fields.String(
        attribute="certificate_number", allow_none=True, metadata=ex("SIP-C-2026-000001")
    )  # noqa: N815
    issuedAt = LocalDateTime(attribute="issued_at")  # noqa: N815


class TransferRow(ma.Schema):
    transferId = ma.fields.Integer(attribute="id", metadata=ex(2))  # noqa: N815
    seller = ma.fields.Function(
        lambda t: t.seller.name, metadata=ex("园区示范能源有限公司", type="string")
    )
    buyer = ma.fields.Function(
        lambda t: t.buyer.name, metadata=ex("园区示范制造有限公司", type="string")
    )
    unitCount = ma.fields.Integer(attribute="amount_g", metadata=ex(1000000))  # noqa: N815
    serials = ma.fields.Function(
        lambda t: _serials(t.serials), metadata=ex("CN-SIP-P1-2026-1-1000000", type="string")
    )
    proposedAt = LocalDateTime(attribute="proposed_at")  # noqa: N815
    acceptedAt = LocalDateTime(attribute="accepted_at", allow_none=True)  # noqa: N815
    executedAt = LocalDateTime(attribute="executed_at", allow_none=True)  # noqa: N815


class UseRow(ma.Schema):
    useId = ma.fields.Integer(attribute="id", metadata=ex(4))  # noqa: N815
    purpose = ma.fields.String(metadata=ex("retirement"))
    unitStatus = ma.fields.Function(  # noqa: N815
        lambda u: (
            "Held"
            if u.purpose == "donation"
            else ("Cancelled" if u.purpose == "cancellation" else "Retired")
        ),
        metadata=ex("Retired", type="string"),
    )
    unitStatusReason = ma.fields.String(attribute="reason", metadata=ex("2026 年度碳中和"))  # noqa: N815
    owner = ma.fields.Function(
        lambda u: u.owner.name, metadata=ex("园区示范能源有限公司", type="string")
    )
    retirementBeneficiary = ma.fields.Function(
        lambda u: public_name(u.beneficiary),
        metadata=ex("苏州工业园区某科技有限公司", type="string"),
    )  # noqa: N815
    recipient = ma.fields.Function(
        lambda u: u.recipient.name if u.recipient else None,
        metadata=ex(None, type="string", nullable=True),
    )
    eventName = ma.fields.Function(
        lambda u: (u.event or {}).get("name"), metadata=ex(None, type="string", nullable=True)
    )  # noqa: N815
    eventDate = ma.fields.Function(
        lambda u: (u.event or {}).get("date"), metadata=ex(None, type="string", nullable=True)
    )  # noqa: N815
    unitCount = ma.fields.Integer(attribute="amount_g", metadata=ex(250000))  # noqa: N815
    serials = ma.fields.Function(
        lambda u: _serials(u.serials), metadata=ex("CN-SIP-P1-2026-1000001-1250000", type="string")
    )
    certificateNumber = ma.fields.String(
        attribute="certificate_number", allow_none=True, metadata=ex("SIP-C-2026-000002")
    )  # noqa: N815
    approvedAt = LocalDateTime(attribute="decided_at", allow_none=True)  # noqa: N815


class UnitRow(ma.Schema):
    serial = ma.fields.String(metadata=ex("CN-SIP-P1-2026-1-1000000"))
    object = ma.fields.Function(
        lambda b: f"{b.object_type}{b.object_id}", metadata=ex("P1", type="string")
    )
    vintageYear = ma.fields.Integer(attribute="vintage", metadata=ex(2026))  # noqa: N815
    unitBlockStart = ma.fields.Integer(attribute="start_serial", metadata=ex(1))  # noqa: N815
    unitBlockEnd = ma.fields.Integer(attribute="end_serial", metadata=ex(1000000))  # noqa: N815
    unitCount = ma.fields.Integer(attribute="amount_g", metadata=ex(1000000))  # noqa: N815
    unitStatus = ma.fields.Function(
        lambda b: CADT_STATUS[b.status], metadata=ex("Held", type="string")
    )  # noqa: N815
    reserved = ma.fields.Function(
        lambda b: b.status == "reserved", metadata=ex(False, type="boolean")
    )
    origin = ma.fields.String(attribute="origin_type", metadata=ex("issuance"))


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
