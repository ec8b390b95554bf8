"""/api/v1/operator (operator client tokens; the scenario comes from the token): bind
tokens and activity uploads. /api/v1/me (resident tokens): consents, activities and
their erasure. HTTP in and out only."""

from __future__ import annotations

from flask import jsonify, request

from backend.activity import activities, bind_tokens, consent, erasure, ingest, record_schemas
from backend.activity import schemas as s
from backend.activity.models import Activity, Consent
from backend.auth.guards import current_principal, require
from backend.errors import Invalid, TooLarge
from backend.http import Blueprint, PageArgs, page_schema
from backend.runtime import setting


class TooManyRecords(TooLarge):
    code, title = "too_many_records", "Too many records in one request"


class OperatorBlueprint(Blueprint):
    """Adds the record schemas of every activity family (generated from the adapters) to
    the OpenAPI document's components, which the upload body refers to."""

    def register_views_in_doc(self, api, app, spec, *, name, parameters):
        for component, schema in record_schemas.components().items():
            if component not in spec.components.schemas:
                spec.components.schema(component, component=schema)
        super().register_views_in_doc(api, app, spec, name=name, parameters=parameters)


operator = OperatorBlueprint(
    "operator", __name__, url_prefix="/api/v1/operator", description="Scenario operators"
)
me = Blueprint(
    "me_activity",
    __name__,
    url_prefix="/api/v1/me",
    description="Residents: consents and activities",
)
blueprints = [operator, me]

ConsentPage = page_schema(s.ConsentOut, "ConsentPage")
ActivityPage = page_schema(s.ActivityOut, "ActivityPage")


@operator.route("/bind-tokens", methods=["POST"])
@require("operator")
@operator.arguments(s.BindTokenIn)
@operator.response(201, s.BindTokenOut)
@operator.problems(409, "scenario_not_registered")
def create_bind_token(body):
    """A one-time token the resident redeems in the app to link this user reference."""
    token, expires_at = bind_tokens.issue(current_principal().scenario_id, body["user_ref"])
    return {"bind_token": token, "expires_at": expires_at}


# The body is parsed by hand, not by a schema, so that the records are counted before
# any is validated and one bad record never fails the batch; it is documented all the
# same, each family's record from its adapter.
UPLOAD_BODY = record_schemas.upload_body()


def _records() -> list:
    body = request.get_json(silent=True)
    if body is None:
        if request.get_data(cache=True):
            raise Invalid("The body is not valid JSON.", code="malformed_json", status=400)
        raise Invalid(errors={"records": ["Missing data for required field."]})
    if not isinstance(body, dict):
        raise Invalid(errors={"_schema": ["The body must be a JSON object."]})
    records = body.get("records")
    if not isinstance(records, list):
        raise Invalid(errors={"records": ["A list of records is required."]})
    unknown = set(body) - {"records"}
    if unknown:
        raise Invalid(errors={k: ["Unknown field."] for k in sorted(unknown)})
    limit = setting("SYNC_BATCH_MAX_RECORDS")
    if len(records) > limit:
        raise TooManyRecords(f"At most {limit} records in one request.")
    return records


@operator.route("/activities", methods=["POST"])
@operator.doc(
    parameters=[
        {
            "in": "header",
            "name": "Prefer",
            "schema": {"type": "string"},
            "description": "respond-async: store the batch and process it in a job",
            "example": "respond-async",
        }
    ],
    requestBody={"required": True, "content": {"application/json": {"schema": UPLOAD_BODY}}},
)
@require("operator")
@operator.response(200, s.BatchOut)
@operator.alt_response(202, schema=s.BatchAccepted, description="Queued (Prefer: respond-async)")
@operator.problems(413, "too_many_records")
@operator.problems(409, "scenario_not_registered")
def upload():
    """Upload up to 10,000 activity records; each gets a result."""
    p = current_principal()
    records = _records()
    if "respond-async" in request.headers.get("Prefer", ""):
        batch = ingest.new_batch(p.scenario_id, str(p.id), records, queued=True)
        return jsonify(batch_id=batch.id, status=batch.status), 202
    batch = ingest.new_batch(p.scenario_id, str(p.id), records, queued=False)
    return ingest.process(batch, records)


@operator.route("/scenario", methods=["GET"])
@require("operator")
@operator.response(200, s.OperatorScenarioOut)
@operator.problems(404, "scenario_not_found")
def get_scenario():
    """The caller's scenario: window, daily cap, activity types, methodology version, and
    the record schema of each activity type (with the limits of that version)."""
    return record_schemas.operator_scenario(current_principal().scenario_id)


@operator.route("/batches/<string:batch_id>", methods=["GET"])
@require("operator")
@operator.response(200, s.BatchOut)
@operator.problems(404, "batch_not_found")
def get_batch(batch_id):
    """A batch's status and results (only the client that uploaded it sees it)."""
    return ingest.get_own_batch(str(current_principal().id), batch_id)


def _me() -> int:
    return current_principal().id


@me.route("/consents", methods=["POST"])
@require("resident")
@me.arguments(s.ConsentIn)
@me.response(201, s.ConsentOut)
@me.problems(404, "bad_bind_token")
@me.problems(409, "user_ref_bound", "scenario_not_registered")
def create_consent(body):
    """Consent to an operator's reporting, by redeeming its one-time bind token."""
    return consent.grant(_me(), body["bind_token"])


@me.route("/consents", methods=["GET"])
@require("resident")
@me.arguments(PageArgs, location="query")
@me.response(200, ConsentPage)
@me.cursor_page(Consent.id)
def list_consents(args):
    """The resident's consents, newest first (withdrawn ones included)."""
    return consent.of_resident(_me())


@me.route("/consents/<int:consent_id>", methods=["DELETE"])
@require("resident")
@me.response(204)
def withdraw_consent(consent_id):
    """Withdraw a consent: from now on that reference's records are rejected."""
    consent.withdraw(_me(), consent_id)


@me.route("/activities", methods=["GET"])
@require("resident")
@me.arguments(PageArgs, location="query")
@me.response(200, ActivityPage)
@me.cursor_page(Activity.id)
def list_activities(args):
    """Accepted activities, newest first, with the methodology version used."""
    return activities.of_resident(_me())


@me.route("/activities/erasure", methods=["POST"])
@require("resident")
@me.response(200, s.ErasureOut)
def erase_activities():
    """Erase the raw details (times, measures) of every activity; amounts stay."""
    return {"erased": erasure.erase_raw_details(_me())}
