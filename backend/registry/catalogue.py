"""Loading a catalogue document (organisations, methodologies, scenarios, conversion).

Loading the same document twice changes nothing. A published methodology version is
immutable: the same code and version with other content is refused (publish a new
version instead). A scenario may move to another methodology version or change its cap,
window or title; that counts as `updated`. A scenario whose window is longer than the
raw-activity retention is refused (409 `window_longer_than_retention`): the overlap check
needs trip times for as long as a window reaches back."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

import scenarios_adapters
from backend.applications import on_file
from backend.audit import log as audit
from backend.db import db, nul_fields
from backend.errors import Conflict, Invalid
from backend.ledger import AccountKind, account_for, lock
from backend.registry.models import ConversionRule, Methodology, Organization, Scenario
from backend.registry.schemas import CatalogueIn
from backend.runtime import setting


class VersionImmutable(Conflict):
    code, title = "methodology_version_immutable", "A published version never changes"


class ScenarioOperator(Conflict):
    code, title = "scenario_operator", "The scenario belongs to another operator"


class RateChange(Conflict):
    code, title = "rate_change_with_outstanding_points", "Points are outstanding"


class WindowLongerThanRetention(Conflict):
    code, title = "window_longer_than_retention", "Window longer than the data retention"


def _counts() -> Counter:
    return Counter({"created": 0, "updated": 0, "unchanged": 0})


def load(document: dict) -> dict:
    """Validate and load `document` (raw JSON); the caller commits."""
    import marshmallow as ma

    nul = sorted(set(nul_fields(document)))
    if nul:  # no text column of PostgreSQL can hold one
        raise Invalid(errors={field: ["NUL characters are not allowed."] for field in nul})
    try:
        doc = CatalogueIn().load(document)
    except ma.ValidationError as err:
        raise Invalid(errors=err.messages) from err
    _check_windows(doc["scenarios"])
    result = {
        "organizations": _counts(),
        "methodologies": _counts(),
        "scenarios": _counts(),
        "conversion": _counts(),
    }
    for org in doc["organizations"]:
        _load_org(org, result["organizations"])
    for i, m in enumerate(doc["methodologies"]):
        _load_methodology(i, m, result["methodologies"])
    db.session.flush()
    for i, s in enumerate(doc["scenarios"]):
        _load_scenario(i, s, result["scenarios"])
    if "conversion" in doc:
        _load_conversion(doc["conversion"]["points_per_kg"], result["conversion"])
    db.session.flush()
    counts = {k: dict(v) for k, v in result.items()}
    audit.record("catalogue.import", "catalogue", "default", after=counts)
    return counts


def _check_windows(scenarios: list[dict]) -> None:
    """Before anything is written: every window must fit in the raw-activity retention."""
    retention = setting("RAW_ACTIVITY_RETENTION_DAYS")
    too_long = [s for s in scenarios if s["window_days"] > retention]
    if too_long:
        worst = max(too_long, key=lambda s: s["window_days"])
        raise WindowLongerThanRetention(
            f"Scenario {worst['code']} has a {worst['window_days']}-day window, longer than "
            f"the {retention}-day raw-activity retention (RAW_ACTIVITY_RETENTION_DAYS): trip "
            "times must be kept while an upload can still overlap them. Shorten the window "
            "or raise the retention.",
            errors={
                f"scenarios.{i}.window_days": [f"At most {retention} (the retention)."]
                for i, s in enumerate(scenarios)
                if s["window_days"] > retention
            },
        )


def _load_org(data: dict, counts: Counter) -> None:
    org = db.session.execute(
        select(Organization).where(Organization.credit_code == data["credit_code"])
    ).scalar_one_or_none()
    if org is None:
        db.session.add(Organization(**data))
        db.session.flush()
        counts["created"] += 1
    else:
        counts["unchanged"] += 1


def _load_methodology(i: int, data: dict, counts: Counter) -> None:
    where = f"methodologies.{i}"
    try:
        adapter = scenarios_adapters.get_adapter(data["formula"])
        adapter.validate_parameters(data["parameters"])
    except ValueError as err:
        raise Invalid(errors={where: [str(err)]}) from err
    found = db.session.execute(
        select(Methodology).where(
            Methodology.code == data["code"], Methodology.version == data["version"]
        )
    ).scalar_one_or_none()
    if found is None:
        methodology = Methodology(**data)
        db.session.add(methodology)
        db.session.flush()
        methodology.application_id = on_file.record_approved(
            "methodology",
            organization_id=None,
            code=data["code"],
            title=data["title"],
            subject={k: v for k, v in data.items() if k != "source"},
            result=("methodology", methodology.id),
        ).id
        counts["created"] += 1
        return
    same = (
        found.kind == data["kind"]
        and found.formula == data["formula"]
        and found.parameters == data["parameters"]
        and found.title == data["title"]
    )
    if not same:
        raise VersionImmutable(
            f"Methodology {data['code']} {data['version']} is published with other content; "
            "publish a new version instead."
        )
    counts["unchanged"] += 1


def _load_scenario(i: int, data: dict, counts: Counter) -> None:
    where = f"scenarios.{i}"
    operator = db.session.execute(
        select(Organization).where(Organization.credit_code == data["operator_credit_code"])
    ).scalar_one_or_none()
    if operator is None or operator.kind != "operator":
        raise Invalid(errors={where: ["operator_credit_code names no operator organisation."]})
    methodology = db.session.execute(
        select(Methodology).where(
            Methodology.code == data["methodology"],
            Methodology.version == data["methodology_version"],
        )
    ).scalar_one_or_none()
    if methodology is None or methodology.kind != "scenario":
        raise Invalid(errors={where: ["No such published scenario methodology version."]})
    adapter = scenarios_adapters.get_adapter(methodology.formula)
    unknown = set(data["activity_types"]) - set(
        adapter.supported_activity_types(methodology.parameters)
    )
    if unknown:
        raise Invalid(
            errors={where: [f"The methodology has no factor for {', '.join(sorted(unknown))}."]}
        )
    values = {
        "title": data["title"],
        "operator_id": operator.id,
        "methodology_id": methodology.id,
        "activity_types": sorted(set(data["activity_types"])),
        "daily_cap_g": data["daily_cap_g"],
        "window_days": data["window_days"],
    }
    found = db.session.execute(
        select(Scenario).where(Scenario.code == data["code"])
    ).scalar_one_or_none()
    if found is None:
        scenario = Scenario(code=data["code"], personal_data_basis="consent", **values)
        db.session.add(scenario)
        db.session.flush()
        scenario.application_id = on_file.record_approved(
            "scenario",
            organization_id=operator.id,
            code=data["code"],
            title=data["title"],
            subject={k: v for k, v in data.items() if k != "operator_credit_code"},
            result=("scenario", scenario.id),
        ).id
        counts["created"] += 1
        return
    if found.operator_id != operator.id:
        raise ScenarioOperator(f"Scenario {data['code']} belongs to another operator.")
    if all(getattr(found, k) == val for k, val in values.items()):
        counts["unchanged"] += 1
        return
    for k, val in values.items():
        setattr(found, k, val)
    counts["updated"] += 1


def _load_conversion(points_per_kg: int, counts: Counter) -> None:
    mint = account_for(AccountKind.POINTS_MINT)
    lock([mint])  # no conversion runs while the rate is checked and changed
    current = db.session.execute(
        select(ConversionRule).order_by(ConversionRule.version.desc()).limit(1)
    ).scalar_one_or_none()
    if current is not None and current.points_per_kg == points_per_kg:
        counts["unchanged"] += 1
        return
    if current is not None and mint.balance != 0:
        raise RateChange("The conversion rate cannot change while points are outstanding.")
    db.session.add(
        ConversionRule(version=(current.version + 1) if current else 1, points_per_kg=points_per_kg)
    )
    counts["created" if current is None else "updated"] += 1
