from __future__ import annotations

import marshmallow as ma
from marshmallow import validate as v

from backend.activity.consent import PURPOSE_TEXT
from backend.http import LocalDateTime


class BindTokenIn(ma.Schema):
    user_ref = ma.fields.String(required=True, validate=v.Length(min=1, max=128))


class BindTokenOut(ma.Schema):
    bind_token = ma.fields.String(required=True)
    expires_at = LocalDateTime(required=True)


class RecordResult(ma.Schema):
    external_id = ma.fields.String(allow_none=True, required=True)
    status = ma.fields.String(required=True)
    reason = ma.fields.String()
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={
            "description": "Of a rejected record: per field (or derived quantity: speed, "
            "power, duration), the rules it broke.",
            "example": {"distance_m": ["must be an integer number of metres"]},
        },
    )
    reduction_g = ma.fields.Integer()
    flags = ma.fields.List(ma.fields.String())


class BatchOut(ma.Schema):
    batch_id = ma.fields.String(required=True, attribute="id")
    status = ma.fields.String(required=True)
    received = ma.fields.Integer()
    accepted = ma.fields.Integer(required=True)
    duplicates = ma.fields.Integer(required=True)
    rejected = ma.fields.Integer(required=True)
    results = ma.fields.List(ma.fields.Nested(RecordResult), allow_none=True)


class OperatorScenarioOut(ma.Schema):
    code = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    status = ma.fields.String(required=True)
    window_days = ma.fields.Integer(
        required=True, metadata={"description": "A record counts if it started this recently."}
    )
    daily_cap_g = ma.fields.Integer(
        required=True, metadata={"description": "Most grams credited per resident per day."}
    )
    activity_types = ma.fields.List(ma.fields.String(), required=True)
    methodology = ma.fields.String(required=True)
    methodology_version = ma.fields.String(required=True)
    record_schemas = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Dict(),
        required=True,
        metadata={
            "description": "Per activity type, the JSON Schema of a record, with the "
            "limits of this methodology version (`x-limits`) and an example."
        },
    )


class BatchAccepted(ma.Schema):
    batch_id = ma.fields.String(required=True)
    status = ma.fields.String(required=True)


class ConsentIn(ma.Schema):
    bind_token = ma.fields.String(required=True, validate=v.Length(min=1, max=200))


class ConsentOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    scenario_code = ma.fields.Function(lambda c: c.scenario.code, required=True)
    operator = ma.fields.Function(lambda c: c.scenario.operator.name)
    purposes = ma.fields.List(ma.fields.String())
    purpose_text = ma.fields.Function(lambda c: PURPOSE_TEXT)
    granted_at = LocalDateTime(required=True)
    withdrawn_at = LocalDateTime(allow_none=True)
    active = ma.fields.Function(lambda c: c.withdrawn_at is None)


class ActivityOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    scenario_code = ma.fields.Function(lambda a: a.scenario.code)
    activity_type = ma.fields.String()
    day = ma.fields.Date()
    started_at = LocalDateTime(allow_none=True)
    ended_at = LocalDateTime(allow_none=True)
    measures = ma.fields.Dict(allow_none=True)
    reduction_g = ma.fields.Integer()
    credited_g = ma.fields.Integer(allow_none=True)
    flags = ma.fields.List(ma.fields.String(), allow_none=True)
    methodology = ma.fields.Function(lambda a: a.methodology.code)
    methodology_version = ma.fields.Function(lambda a: a.methodology.version)
    erased = ma.fields.Function(lambda a: a.erased_at is not None)


class ErasureOut(ma.Schema):
    erased = ma.fields.Integer(required=True)
