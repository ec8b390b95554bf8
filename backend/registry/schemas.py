"""Marshmallow schemas of the registry: organisations and the catalogue document."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate as v

from backend.http import LocalDateTime
from backend.registry.credit_code import is_valid as credit_code_ok

ORG_KINDS = ("operator", "merchant", "project_owner", "other")
CODE = v.Regexp(r"^[A-Z0-9][A-Z0-9_.-]{0,39}$", error="Use A-Z, 0-9, '-', '_' or '.'.")


def validate_credit_code(value: str) -> None:
    if not credit_code_ok(value):
        raise ma.ValidationError("Not a valid unified social credit code (GB 32100-2015).")


class OrganizationIn(ma.Schema):
    name = ma.fields.String(required=True, validate=v.Length(min=1, max=200))
    kind = ma.fields.String(required=True, validate=v.OneOf(ORG_KINDS))
    credit_code = ma.fields.String(required=True, validate=validate_credit_code)


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
        required=True, strict=True, validate=v.Range(min=1, max=10**6)
    )


class MethodologyIn(ma.Schema):
    code = ma.fields.String(required=True, validate=CODE)
    version = ma.fields.String(required=True, validate=v.Regexp(r"^\d{1,4}(\.\d{1,4}){0,2}$"))
    kind = ma.fields.String(required=True, validate=v.OneOf(("scenario", "project")))
    title = ma.fields.String(required=True, validate=v.Length(min=1, max=200))
    formula = ma.fields.String(required=True, validate=v.Length(min=1, max=40))
    source = ma.fields.String(load_default=None, validate=v.Length(max=4000))
    parameters = ma.fields.Dict(required=True)


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
    created = ma.fields.Integer()
    updated = ma.fields.Integer()
    unchanged = ma.fields.Integer()


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
    formula = ma.fields.String()
    parameters = ma.fields.Dict()
    source = ma.fields.String(allow_none=True)
    status = ma.fields.String()
    published_at = LocalDateTime()
    documents = ma.fields.List(ma.fields.Dict(), allow_none=True)
    retired_at = LocalDateTime(allow_none=True)
    retirement_reasons = ma.fields.String(allow_none=True)


class ScenarioOut(ma.Schema):
    code = ma.fields.String()
    title = ma.fields.String()
    operator = ma.fields.Function(lambda s: s.operator.name)
    methodology = ma.fields.Function(lambda s: s.methodology.code)
    methodology_version = ma.fields.Function(lambda s: s.methodology.version)
    activity_types = ma.fields.List(ma.fields.String())
    daily_cap_g = ma.fields.Integer()
    window_days = ma.fields.Integer()
    status = ma.fields.String()
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
    owner = ma.fields.Function(lambda p: p.owner.name, required=True)
    methodology = ma.fields.Function(lambda p: p.methodology.code, required=True)
    methodology_version = ma.fields.Function(lambda p: p.methodology.version, required=True)
    sector = ma.fields.String(allow_none=True)
    location = ma.fields.String(allow_none=True)
    started_on = ma.fields.Date(allow_none=True)
    status = ma.fields.String(required=True)
    registered_at = LocalDateTime(required=True)
    deregistered_at = LocalDateTime(allow_none=True)


class DuplicateReportOut(ma.Schema):
    day = ma.fields.Date(allow_none=True)
    as_of = LocalDateTime(allow_none=True)
    count = ma.fields.Integer(required=True)
    findings = ma.fields.List(ma.fields.Dict(), required=True)
