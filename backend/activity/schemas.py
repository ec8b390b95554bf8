from __future__ import annotations

import marshmallow as ma
from marshmallow import validate as v

from backend.activity.consent import PURPOSE_TEXT
from backend.http import LocalDateTime, ex


class BindTokenIn(ma.Schema):
    user_ref = ma.fields.String(required=True, validate=v.Length(min=1, max=128))


class BindTokenOut(ma.Schema):
    bind_token = ma.fields.String(required=True)
    expires_at = LocalDateTime(required=True)


class RecordResult(ma.Schema):
    external_id = ma.fields.String(allow_none=True, required=True)
    status = ma.fields.String(
        required=True, metadata=ex("accepted", "accepted, duplicate or rejected")
    )
    reason = ma.fields.String(
        metadata=ex(
            "invalid",
            "Of a rejected record: unknown_user, no_consent, wrong_activity_type, invalid, "
            "implausible or too_old.",
        )
    )
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={
            "description": "Of a rejected record: per field (or derived quantity: speed, "
            "power, duration), the rules it broke.",
            "example": {"distance_m": ["must be an integer number of metres"]},
        },
    )
    reduction_g = ma.fields.Integer(metadata=ex(467))
    flags = ma.fields.List(
        ma.fields.String(),
        metadata=ex([], "`overlap`: another operator's record of the same time counted first."),
    )


class BatchOut(ma.Schema):
    batch_id = ma.fields.String(required=True, attribute="id")
    status = ma.fields.String(required=True, metadata=ex("done", "queued, running, done or failed"))
    received = ma.fields.Integer(metadata=ex(3, "Records in the batch."))
    accepted = ma.fields.Integer(required=True, metadata=ex(2))
    duplicates = ma.fields.Integer(required=True, metadata=ex(0))
    rejected = ma.fields.Integer(required=True, metadata=ex(1))
    results = ma.fields.List(ma.fields.Nested(RecordResult), allow_none=True)


class OperatorScenarioOut(ma.Schema):
    code = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata=ex("registered"))
    window_days = ma.fields.Integer(
        required=True, metadata={"description": "A record counts if it started this recently."}
    )
    daily_cap_g = ma.fields.Integer(
        required=True, metadata={"description": "Most grams credited per resident per day."}
    )
    activity_types = ma.fields.List(ma.fields.String(), required=True, metadata=ex(["metro"]))
    methodology = ma.fields.String(required=True)
    methodology_version = ma.fields.String(required=True)
    record_schemas = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Dict(),
        required=True,
        metadata=ex(
            {"metro": {"type": "object", "required": ["external_id", "distance_m"]}},
            "Per activity type, the JSON Schema of a record, with the limits of this "
            "methodology version (`x-limits`) and an example.",
        ),
    )


class BatchAccepted(ma.Schema):
    batch_id = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata=ex("queued"))


class ConsentIn(ma.Schema):
    bind_token = ma.fields.String(required=True, validate=v.Length(min=1, max=200))


class ConsentOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    scenario_code = ma.fields.Function(
        lambda c: c.scenario.code, required=True, metadata=ex("SIP-S-METRO", type="string")
    )
    operator = ma.fields.Function(
        lambda c: c.scenario.operator.name,
        metadata=ex("苏州工业园区示范轨道运营有限公司（演示）", type="string"),
    )
    purposes = ma.fields.List(ma.fields.String(), metadata=ex(["carbon_reduction_accounting"]))
    purpose_text = ma.fields.Function(
        lambda c: PURPOSE_TEXT,
        metadata=ex(PURPOSE_TEXT, "What the resident consented to.", type="string"),
    )
    granted_at = LocalDateTime(required=True)
    withdrawn_at = LocalDateTime(allow_none=True)
    active = ma.fields.Function(
        lambda c: c.withdrawn_at is None, metadata=ex(True, "Not withdrawn.", type="boolean")
    )


class ActivityOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    scenario_code = ma.fields.Function(
        lambda a: a.scenario.code, metadata=ex("SIP-S-METRO", type="string")
    )
    activity_type = ma.fields.String(metadata=ex("metro"))
    day = ma.fields.Date()
    started_at = LocalDateTime(allow_none=True)
    ended_at = LocalDateTime(allow_none=True)
    measures = ma.fields.Dict(
        allow_none=True,
        metadata=ex({"distance_m": 10000}, "The record's measures (null once erased)."),
    )
    reduction_g = ma.fields.Integer()
    credited_g = ma.fields.Integer(allow_none=True)
    flags = ma.fields.List(ma.fields.String(), allow_none=True, metadata=ex([]))
    methodology = ma.fields.Function(
        lambda a: a.methodology.code, metadata=ex("SIP-M-TRANSIT", type="string")
    )
    methodology_version = ma.fields.Function(
        lambda a: a.methodology.version, metadata=ex("1.0", type="string")
    )
    erased = ma.fields.Function(
        lambda a: a.erased,
        metadata=ex(False, "Its raw details were erased.", type="boolean"),
    )


class ErasureOut(ma.Schema):
    erased = ma.fields.Integer(required=True, metadata=ex(42, "Activities erased now."))
