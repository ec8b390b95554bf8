"""Marshmallow schemas of the registry: organisations and the catalogue document."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate as v

from backend.http import LocalDateTime, ex
from backend.registry.credit_code import is_valid as credit_code_ok

ORG_KINDS = ("operator", "merchant", "project_owner", "other")
# A unified social credit code (GB 32100-2015): 18 characters of 0-9 and A-Z without I,
# O, Z, S, V; the last one a check character (validate_credit_code checks it).
CREDIT_CODE = v.Regexp(
    r"^[0-9A-HJ-NP-RTUWXY]{18}$",
    error="18 characters: 0-9 and A-Z without I, O, Z, S, V (GB 32100-2015).",
)
CREDIT_CODE_DOC = ex(
    "91320594MA1XDM0189",
    "The unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters; the "
    "18th is a check character computed from the first 17 (weights 3^i mod 31 over the "
    "alphabet 0-9, A-H, J-N, P-R, T, U, W-Y).",
)
CODE = v.Regexp(r"^[A-Z0-9][A-Z0-9_.-]{0,39}$", error="Use A-Z, 0-9, '-', '_' or '.'.")


def validate_credit_code(value: str) -> None:
    if not credit_code_ok(value):
        raise ma.ValidationError("Not a valid unified social credit code (GB 32100-2015).")


class OrganizationIn(ma.Schema):
    name = ma.fields.String(required=True, validate=v.Length(min=1, max=200))
    kind = ma.fields.String(required=True, validate=v.OneOf(ORG_KINDS))
    credit_code = ma.fields.String(
        required=True, validate=[CREDIT_CODE, validate_credit_code], metadata=CREDIT_CODE_DOC
    )


class OrganizationOut(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    kind = ma.fields.String()
    credit_code = ma.fields.String()


class OrganizationQuery(ma.Schema):
    kind = ma.fields.String(validate=v.OneOf(ORG_KINDS))
    credit_code = ma.fields.String(validate=v.Length(max=18))
    limit = ma.fields.Integer(load_default=50, validate=v.Range(min=1, max=500))
    cursor = ma.fields.String(load_default=None, validate=v.Length(max=200))


class ConversionRuleIn(ma.Schema):
    points_per_kg = ma.fields.Integer(
        required=True,
        strict=True,
        validate=v.Range(min=1, max=10**6),
        metadata=ex(1000, "Points per kg CO2e (1000: one point a gram)."),
    )


class MethodologyIn(ma.Schema):
    code = ma.fields.String(required=True, validate=CODE)
    version = ma.fields.String(required=True, validate=v.Regexp(r"^\d{1,4}(\.\d{1,4}){0,2}$"))
    kind = ma.fields.String(required=True, validate=v.OneOf(("scenario", "project")))
    title = ma.fields.String(required=True, validate=v.Length(min=1, max=200))
    formula = ma.fields.String(
        required=True,
        validate=v.Length(min=1, max=40),
        metadata=ex("transit", "The adapter family (`scenarios_adapters`) that computes grams."),
    )
    source = ma.fields.String(
        load_default=None,
        validate=v.Length(max=4000),
        metadata=ex("参照《苏州工业园区碳普惠方法学》", "Where the parameters come from."),
    )
    parameters = ma.fields.Dict(
        required=True,
        metadata=ex(
            {"baseline_g_per_km": 60, "modes": {"metro": 13.3, "bus": 33.1}},
            "The formula's parameters (per family; see the published methodologies).",
        ),
    )


class ScenarioIn(ma.Schema):
    code = ma.fields.String(required=True, validate=CODE)
    title = ma.fields.String(required=True, validate=v.Length(min=1, max=200))
    operator_credit_code = ma.fields.String(required=True, validate=validate_credit_code)
    methodology = ma.fields.String(required=True, validate=CODE)
    methodology_version = ma.fields.String(required=True, validate=v.Length(min=1, max=20))
    activity_types = ma.fields.List(
        ma.fields.String(validate=v.Regexp(r"^[a-z][a-z0-9_]{0,39}$")),
        required=True,
        validate=v.Length(min=1, max=20),
        metadata=ex(["metro"]),
    )
    daily_cap_g = ma.fields.Integer(required=True, strict=True, validate=v.Range(min=1, max=10**9))
    window_days = ma.fields.Integer(required=True, strict=True, validate=v.Range(min=1, max=366))


class CatalogueIn(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE  # e.g. a "source_note" for readers

    conversion = ma.fields.Nested(ConversionRuleIn)
    organizations = ma.fields.List(ma.fields.Nested(OrganizationIn), load_default=list)
    methodologies = ma.fields.List(ma.fields.Nested(MethodologyIn), load_default=list)
    scenarios = ma.fields.List(ma.fields.Nested(ScenarioIn), load_default=list)


class CatalogueCounts(ma.Schema):
    created = ma.fields.Integer(metadata=ex(2))
    updated = ma.fields.Integer(metadata=ex(0))
    unchanged = ma.fields.Integer(metadata=ex(3))


class CatalogueResult(ma.Schema):
    organizations = ma.fields.Nested(CatalogueCounts)
    methodologies = ma.fields.Nested(CatalogueCounts)
    scenarios = ma.fields.Nested(CatalogueCounts)
    conversion = ma.fields.Nested(CatalogueCounts)


class MethodologyOut(ma.Schema):
    code = ma.fields.String()
    version = ma.fields.String()
    kind = ma.fields.String()
    title = ma.fields.String()
    formula = ma.fields.String(metadata=ex("transit"))
    parameters = ma.fields.Dict(
        metadata=ex({"baseline_g_per_km": 60, "modes": {"metro": 13.3, "bus": 33.1}})
    )
    source = ma.fields.String(allow_none=True, metadata=ex("参照《苏州工业园区碳普惠方法学》"))
    status = ma.fields.String(metadata=ex("published", "published or retired"))
    published_at = LocalDateTime()
    documents = ma.fields.List(
        ma.fields.Dict(),
        allow_none=True,
        metadata=ex([{"title": "方法学文本", "sha256": "9f86d081884c7d65" * 4}]),
    )
    retired_at = LocalDateTime(allow_none=True)
    retirement_reasons = ma.fields.String(allow_none=True, metadata=ex(None))


class ScenarioOut(ma.Schema):
    code = ma.fields.String()
    title = ma.fields.String()
    operator = ma.fields.Function(
        lambda s: s.operator.name, metadata=ex("苏州工业园区示范轨道运营有限公司", type="string")
    )
    methodology = ma.fields.Function(
        lambda s: s.methodology.code, metadata=ex("SIP-M-TRANSIT", type="string")
    )
    methodology_version = ma.fields.Function(
        lambda s: s.methodology.version, metadata=ex("1.0", type="string")
    )
    activity_types = ma.fields.List(ma.fields.String(), metadata=ex(["metro"]))
    daily_cap_g = ma.fields.Integer()
    window_days = ma.fields.Integer()
    status = ma.fields.String(metadata=ex("registered", "registered or deregistered"))
    registered_at = LocalDateTime()


class MethodologyQuery(ma.Schema):
    status = ma.fields.String(
        load_default="published", validate=v.OneOf(("published", "retired", "all"))
    )
    limit = ma.fields.Integer(load_default=50, validate=v.Range(min=1, max=500))
    cursor = ma.fields.String(load_default=None, validate=v.Length(max=200))


class ProjectOut(ma.Schema):
    code = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    owner = ma.fields.Function(
        lambda p: p.owner.name, required=True, metadata=ex("园区示范能源有限公司", type="string")
    )
    methodology = ma.fields.Function(
        lambda p: p.methodology.code, required=True, metadata=ex("SIP-M-PV", type="string")
    )
    methodology_version = ma.fields.Function(
        lambda p: p.methodology.version, required=True, metadata=ex("1.0", type="string")
    )
    sector = ma.fields.String(allow_none=True, metadata=ex("energy"))
    location = ma.fields.String(allow_none=True, metadata=ex("苏州工业园区星湖街"))
    started_on = ma.fields.Date(allow_none=True)
    status = ma.fields.String(
        required=True, metadata=ex("registered", "registered or deregistered")
    )
    registered_at = LocalDateTime(required=True)
    deregistered_at = LocalDateTime(allow_none=True)


class DuplicateReportOut(ma.Schema):
    day = ma.fields.Date(allow_none=True)
    as_of = LocalDateTime(allow_none=True)
    count = ma.fields.Integer(required=True, metadata=ex(0))
    findings = ma.fields.List(
        ma.fields.Dict(),
        required=True,
        metadata=ex(
            [
                {
                    "kind": "shared_asset",
                    "asset": "plate:苏E12345",
                    "holders": ["SIP-S-A", "SIP-P-B"],
                }
            ],
            "Pairs of live scenarios or projects that share an asset, or a sector and place.",
        ),
    )
