"""Marshmallow schemas of applications: one input schema per type (dispatched on `type`),
the applicant's and staff's views, notices and objections."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate as v

from backend.applications.models import STATUSES, TYPES
from backend.http import LocalDateTime, PageArgs, ex
from backend.registry.assets import KINDS as ASSET_KINDS
from backend.registry.schemas import CODE

SHA256 = v.Regexp(r"^[0-9a-f]{64}$", error="A SHA-256 in 64 lower-case hex digits.")
VERSION = v.Regexp(r"^\d{1,4}(\.\d{1,4}){0,2}$", error="A version such as 1.0.")
TEXT = v.Length(min=1, max=4000)
COMMITMENTS = ("no_other_scheme", "no_green_power_trading", "no_gec")
PERSONAL_DATA_BASES = ("consent",)


class DocumentIn(ma.Schema):
    title = ma.fields.String(required=True, validate=v.Length(min=1, max=200))
    sha256 = ma.fields.String(
        required=True,
        validate=SHA256,
        metadata=ex("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
    )


class AssetIn(ma.Schema):
    kind = ma.fields.String(required=True, validate=v.OneOf(ASSET_KINDS))
    id = ma.fields.String(
        required=True,
        validate=v.Length(min=1, max=80),
        metadata=ex("苏E 12345", "The asset's identifier (a plate, a meter number...)."),
    )


class CommitmentIn(ma.Schema):
    """Art. 15: the reductions are claimed nowhere else. Every promise must be true."""

    no_other_scheme = ma.fields.Boolean(
        required=True, metadata=ex(True, "Not claimed under CCER or another scheme.")
    )
    no_green_power_trading = ma.fields.Boolean(
        required=True, metadata=ex(True, "Not sold as green electricity.")
    )
    no_gec = ma.fields.Boolean(required=True, metadata=ex(True, "No green certificate for it."))

    @ma.validates_schema
    def _all_true(self, data, **kwargs):
        broken = [k for k in COMMITMENTS if data.get(k) is not True]
        if broken:
            raise ma.ValidationError(
                {k: ["The applicant must make this promise (Art. 15)."] for k in broken}
            )


def _type(name: str) -> ma.fields.String:
    """The `type` of one application type's body (the discriminator)."""
    return ma.fields.String(required=True, validate=v.Equal(name))


PARAMETERS = ex(
    {"baseline_g_per_km": 60, "modes": {"metro": 13.3, "bus": 33.1}},
    "The formula's parameters (as its adapter family takes them).",
)


class _TypeIn(ma.Schema):
    type = ma.fields.String(required=True)


class MethodologyApplicationIn(_TypeIn):
    type = _type("methodology")
    code = ma.fields.String(required=True, validate=CODE, metadata=ex("SIP-M-PV"))
    title = ma.fields.String(required=True, validate=v.Length(min=1, max=200))
    kind = ma.fields.String(required=True, validate=v.OneOf(("scenario", "project")))
    formula = ma.fields.String(
        required=True,
        validate=v.Length(min=1, max=40),
        metadata=ex("transit", "An adapter family (scenarios_adapters)."),
    )
    parameters = ma.fields.Dict(required=True, metadata=PARAMETERS)
    documents = ma.fields.List(
        ma.fields.Nested(DocumentIn), required=True, validate=v.Length(min=1, max=50)
    )


class MethodologyRevisionIn(_TypeIn):
    type = _type("methodology_revision")
    code = ma.fields.String(required=True, validate=CODE, metadata=ex("SIP-M-TRANSIT"))
    title = ma.fields.String(validate=v.Length(min=1, max=200))
    parameters = ma.fields.Dict(metadata=PARAMETERS)
    documents = ma.fields.List(ma.fields.Nested(DocumentIn), validate=v.Length(min=1, max=50))
    changes = ma.fields.String(
        required=True, validate=TEXT, metadata=ex("更新公交排放因子。", "What changes, and why.")
    )

    @ma.validates_schema
    def _changes_something(self, data, **kwargs):
        if not {"title", "parameters", "documents"} & set(data):
            raise ma.ValidationError("Change the parameters, the documents or the title.")


class _RegistrationIn(_TypeIn):
    code = ma.fields.String(required=True, validate=CODE)
    title = ma.fields.String(required=True, validate=v.Length(min=1, max=200))
    methodology = ma.fields.String(required=True, validate=CODE)
    methodology_version = ma.fields.String(required=True, validate=VERSION)
    assets = ma.fields.List(
        ma.fields.Nested(AssetIn), required=True, validate=v.Length(min=1, max=1000)
    )
    commitment = ma.fields.Nested(CommitmentIn, required=True)
    documents = ma.fields.List(ma.fields.Nested(DocumentIn), validate=v.Length(max=50))


class ScenarioApplicationIn(_RegistrationIn):
    type = _type("scenario")
    activity_types = ma.fields.List(
        ma.fields.String(validate=v.Regexp(r"^[a-z][a-z0-9_]{0,39}$")),
        required=True,
        validate=v.Length(min=1, max=20),
        metadata=ex(["metro"]),
    )
    daily_cap_g = ma.fields.Integer(required=True, strict=True, validate=v.Range(min=1, max=10**9))
    window_days = ma.fields.Integer(required=True, strict=True, validate=v.Range(min=1, max=366))
    personal_data_basis = ma.fields.String(required=True, validate=v.OneOf(PERSONAL_DATA_BASES))


class ProjectApplicationIn(_RegistrationIn):
    type = _type("project")
    sector = ma.fields.String(validate=v.Length(min=1, max=60), metadata=ex("energy"))
    location = ma.fields.String(
        validate=v.Length(min=1, max=200), metadata=ex("苏州工业园区星湖街")
    )
    started_on = ma.fields.Date()


class DeregistrationApplicationIn(_TypeIn):
    type = _type("deregistration")
    subject_code = ma.fields.String(required=True, validate=CODE)
    reason = ma.fields.String(required=True, validate=TEXT, metadata=ex("项目已停止运行。"))


class IssuanceApplicationIn(_TypeIn):
    type = _type("issuance")
    project_code = ma.fields.String(required=True, validate=CODE, metadata=ex("SIP-P-SOLAR"))
    period_start = ma.fields.Date(required=True)
    period_end = ma.fields.Date(required=True)
    amount_g = ma.fields.Integer(required=True, strict=True, validate=v.Range(min=1, max=10**15))
    documents = ma.fields.List(
        ma.fields.Nested(DocumentIn), required=True, validate=v.Length(min=1, max=50)
    )

    @ma.validates_schema
    def _period(self, data, **kwargs):
        start, end = data.get("period_start"), data.get("period_end")
        if start and end and start > end:
            raise ma.ValidationError("Must not be before period_start.", "period_end")
        if start and not 2000 <= start.year <= 2200:
            raise ma.ValidationError("Between the years 2000 and 2200.", "period_start")
        if end and not 2000 <= end.year <= 2200:
            raise ma.ValidationError("Between the years 2000 and 2200.", "period_end")


BY_TYPE: dict[str, type[ma.Schema]] = {
    "methodology": MethodologyApplicationIn,
    "methodology_revision": MethodologyRevisionIn,
    "scenario": ScenarioApplicationIn,
    "project": ProjectApplicationIn,
    "deregistration": DeregistrationApplicationIn,
    "issuance": IssuanceApplicationIn,
}


class ApplicationIn(ma.Schema):
    """`type` and that type's fields; validated by the type's own schema."""

    class Meta:
        unknown = ma.INCLUDE

    type = ma.fields.String(required=True, validate=v.OneOf(TYPES))

    def load(self, data, *, many=None, partial=None, unknown=None):
        head = super().load(data, many=False, partial=partial, unknown=ma.INCLUDE)
        return BY_TYPE[head["type"]]().load(data)


def application_body_doc() -> dict:
    """The request body in the OpenAPI document: one of the type schemas (each a
    component named after its class), told apart by `type`."""
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": list(BY_TYPE.values()),
                    "discriminator": {
                        "propertyName": "type",
                        "mapping": {
                            name: f"#/components/schemas/{schema.__name__}"
                            for name, schema in BY_TYPE.items()
                        },
                    },
                }
            }
        },
    }


class ApplicationQuery(PageArgs):
    status = ma.fields.String(validate=v.OneOf(STATUSES))
    type = ma.fields.String(validate=v.OneOf(TYPES))


class EventOut(ma.Schema):
    at = LocalDateTime(required=True)
    action = ma.fields.String(required=True, metadata=ex("accept"))
    status = ma.fields.String(required=True, metadata=ex("accepted", "The status it led to."))
    role = ma.fields.String(required=True, metadata=ex("reviewer", "Who took the step."))
    note = ma.fields.String(allow_none=True)


class NoticeOut(ma.Schema):
    starts_at = LocalDateTime(required=True)
    ends_at = LocalDateTime(required=True)


class PublicObjectionOut(ma.Schema):
    reference = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata=ex("open", "open, upheld or dismissed"))
    outcome = ma.fields.String(allow_none=True, metadata=ex(None, "The published outcome."))


class OrganizationRef(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    kind = ma.fields.String()
    credit_code = ma.fields.String()


def _notice(app) -> dict | None:
    if app.notice_starts_at is None:
        return None
    return {"starts_at": app.notice_starts_at, "ends_at": app.notice_ends_at}


APPLICATION_STATUS = ex("in_notice", ", ".join(STATUSES))
NOTICE = ex(
    {"starts_at": "2026-05-06T00:00:00+08:00", "ends_at": "2026-05-14T00:00:00+08:00"},
    "The public notice (null: none yet).",
    type="object",
    properties={
        "starts_at": {"type": "string", "format": "date-time"},
        "ends_at": {"type": "string", "format": "date-time"},
    },
)
RESULT = ex(
    {"type": "project", "id": 3},
    "What approval published (null: nothing yet).",
    type="object",
    properties={"type": {"type": "string"}, "id": {"type": "integer"}},
)
ALLOWED = ex(
    ["decide", "withdraw"],
    "The steps the application can take now.",
    type="array",
    items={"type": "string"},
)
SUBJECT = ex(
    {"code": "SIP-P-SOLAR", "title": "园区屋顶光伏项目", "methodology": "SIP-M-PV"},
    "The application's fields as submitted (per type).",
)


class ApplicationOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    type = ma.fields.String(required=True, metadata=ex("project", ", ".join(TYPES)))
    status = ma.fields.String(required=True, metadata=APPLICATION_STATUS)
    subject = ma.fields.Dict(required=True, metadata=SUBJECT)
    subject_code = ma.fields.String()
    subject_title = ma.fields.String()
    history = ma.fields.List(ma.fields.Nested(EventOut), attribute="events", required=True)
    notice = ma.fields.Method("_notice_of", allow_none=True, metadata=NOTICE)
    objections = ma.fields.List(ma.fields.Nested(PublicObjectionOut), required=True)
    decision_reasons = ma.fields.String(allow_none=True, metadata=ex(None))
    result = ma.fields.Method("_result_of", allow_none=True, metadata=RESULT)
    allowed = ma.fields.Method("_allowed_of", metadata=ALLOWED)
    created_at = LocalDateTime()

    def _notice_of(self, app):
        return NoticeOut().dump(_notice(app)) if app.notice_starts_at else None

    def _result_of(self, app):
        if app.result_type is None:
            return None
        return {"type": app.result_type, "id": app.result_id}

    def _allowed_of(self, app):
        from backend.applications.workflow import allowed_actions

        return allowed_actions(app.type, app.status)


class OpinionOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    expert_id = ma.fields.Integer(required=True)
    conclusion = ma.fields.String(
        required=True, metadata=ex("approve", "approve, reject or revise")
    )
    text = ma.fields.String(required=True)
    created_at = LocalDateTime(required=True)


class StaffObjectionOut(PublicObjectionOut):
    id = ma.fields.Integer(required=True)
    text = ma.fields.String(required=True)
    contact = ma.fields.String(allow_none=True)
    created_at = LocalDateTime()
    resolved_at = LocalDateTime(allow_none=True)


class StaffApplicationOut(ApplicationOut):
    applicant = ma.fields.Nested(OrganizationRef, attribute="organization", allow_none=True)
    opinions = ma.fields.List(ma.fields.Nested(OpinionOut), required=True)
    objections = ma.fields.List(ma.fields.Nested(StaffObjectionOut), required=True)
    history = ma.fields.Method(
        "_history",
        metadata=ex(
            [
                {
                    "at": "2026-05-06T10:00:00+08:00",
                    "action": "accept",
                    "status": "accepted",
                    "role": "reviewer",
                    "note": None,
                    "actor": "staff:3",
                }
            ],
            "Every step, with who took it.",
            type="array",
            items={"type": "object"},
        ),
    )

    def _history(self, app):
        return [{**EventOut().dump(e), "actor": e.actor} for e in app.events]


class CreatedOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    type = ma.fields.String(required=True, metadata=ex("project"))
    status = ma.fields.String(required=True, metadata=ex("submitted"))


class PreReviewIn(ma.Schema):
    decision = ma.fields.String(required=True, validate=v.OneOf(("accept", "return")))
    reasons = ma.fields.String(load_default=None, validate=TEXT)

    @ma.validates_schema
    def _reasons_to_return(self, data, **kwargs):
        if data.get("decision") == "return" and not data.get("reasons"):
            raise ma.ValidationError("Give the applicant the reasons.", "reasons")


class OpinionIn(ma.Schema):
    conclusion = ma.fields.String(required=True, validate=v.OneOf(("approve", "reject", "revise")))
    text = ma.fields.String(required=True, validate=TEXT)


class DecisionIn(ma.Schema):
    decision = ma.fields.String(required=True, validate=v.OneOf(("approve", "reject")))
    reasons = ma.fields.String(required=True, validate=TEXT)


class NoticeDatesOut(ma.Schema):
    notice = ma.fields.Nested(NoticeOut, required=True)
    status = ma.fields.String(required=True, metadata=ex("in_notice"))


class PublicNoticeQuery(PageArgs):
    status = ma.fields.String(load_default="open", validate=v.OneOf(("open", "closed")))


class PublicNoticeOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    application_type = ma.fields.String(
        attribute="type", required=True, metadata=ex("project", ", ".join(TYPES))
    )
    subject_code = ma.fields.String(required=True)
    subject_title = ma.fields.String(required=True)
    organization_name = ma.fields.Function(
        lambda a: a.organization.name if a.organization else "苏州工业园区碳普惠服务中心",
        required=True,
        metadata=ex("园区示范能源有限公司", "The applicant.", type="string"),
    )
    starts_at = LocalDateTime(attribute="notice_starts_at", required=True)
    ends_at = LocalDateTime(attribute="notice_ends_at", required=True)
    status = ma.fields.String(required=True, metadata=APPLICATION_STATUS)
    subject = ma.fields.Dict(metadata=SUBJECT)
    objections = ma.fields.List(ma.fields.Nested(PublicObjectionOut), required=True)


class ObjectionIn(ma.Schema):
    text = ma.fields.String(required=True, validate=v.Length(min=1, max=5000))
    contact = ma.fields.String(load_default=None, validate=v.Length(min=1, max=200))


class ObjectionRefOut(ma.Schema):
    reference = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata=ex("open"))


class ResolveIn(ma.Schema):
    outcome = ma.fields.String(required=True, validate=v.OneOf(("upheld", "dismissed")))
    text = ma.fields.String(required=True, validate=TEXT)


class ObjectionOut(StaffObjectionOut):
    application_id = ma.fields.Integer(required=True)


class StaffDeregistrationIn(ma.Schema):
    subject_code = ma.fields.String(required=True, validate=CODE)
    cause = ma.fields.String(
        required=True,
        validate=v.OneOf(("organization_ceased", "project_ended", "non_compliance", "other")),
    )
    reasons = ma.fields.String(required=True, validate=TEXT)


class RetireIn(ma.Schema):
    reasons = ma.fields.String(required=True, validate=TEXT)


class ObjectionQuery(PageArgs):
    status = ma.fields.String(validate=v.OneOf(("open", "upheld", "dismissed")))


class DeregisteredOut(ma.Schema):
    code = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata=ex("deregistered"))
    deregistered_at = LocalDateTime(allow_none=True)
    deregistration_cause = ma.fields.String(allow_none=True, metadata=ex("project_ended"))
    deregistration_reasons = ma.fields.String(allow_none=True, metadata=ex("项目已停止运行。"))
