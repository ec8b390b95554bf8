"""/api/v1/operator: bind tokens and activity uploads (operator client tokens; the
scenario comes from the token)."""

from __future__ import annotations

from flask import jsonify, request

from backend.activity import consents, ingest
from backend.activity import schemas as s
from backend.activity.models import UploadBatch
from backend.auth.guards import BEARER, current_principal, require
from backend.db import db
from backend.errors import Invalid, NotFound, TooLarge
from backend.http import Blueprint
from backend.runtime import setting

blp = Blueprint(
    "operator", __name__, url_prefix="/api/v1/operator", description="Scenario operators"
)


@blp.route("/bind-tokens", methods=["POST"])
@blp.doc(security=BEARER)
@require("operator")
@blp.arguments(s.BindTokenIn)
@blp.response(201, s.BindTokenOut)
def bind_token(body):
    """A one-time token the resident redeems in the app to link this user reference."""
    p = current_principal()
    token, expires_at = consents.issue_bind_token(p.scenario_id, body["user_ref"])
    return {"bind_token": token, "expires_at": expires_at}


# The body is parsed by hand, not by a schema, so that the records are counted before
# any is validated and one bad record never fails the batch.
UPLOAD_BODY = {
    "type": "object",
    "required": ["records"],
    "additionalProperties": False,
    "properties": {"records": {"type": "array", "maxItems": 10000, "items": {"type": "object"}}},
}


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
        raise TooLarge(f"At most {limit} records in one request.", code="too_many_records")
    return records


@blp.route("/activities", methods=["POST"])
@blp.doc(
    security=BEARER,
    parameters=[
        {
            "in": "header",
            "name": "Prefer",
            "schema": {"type": "string"},
            "description": "respond-async: store the batch and process it in a job",
        }
    ],
    requestBody={"required": True, "content": {"application/json": {"schema": UPLOAD_BODY}}},
)
@require("operator")
@blp.response(200, s.BatchOut)
@blp.alt_response(202, schema=s.BatchAccepted, description="Queued (Prefer: respond-async)")
@blp.alt_response(413, description="More than 10,000 records")
def upload():
    """Upload up to 10,000 activity records; each gets a result."""
    p = current_principal()
    records = _records()
    if "respond-async" in request.headers.get("Prefer", ""):
        batch = ingest.new_batch(p.scenario_id, str(p.id), records, queued=True)
        return jsonify(batch_id=batch.id, status=batch.status), 202
    batch = ingest.new_batch(p.scenario_id, str(p.id), records, queued=False)
    return ingest.process(batch, records)


@blp.route("/batches/<string:batch_id>", methods=["GET"])
@blp.doc(security=BEARER)
@require("operator")
@blp.response(200, s.BatchOut)
def get_batch(batch_id):
    """A batch's status and results (only the client that uploaded it sees it)."""
    batch = db.session.get(UploadBatch, batch_id) if len(batch_id) <= 32 else None
    if batch is None or batch.client_id != str(current_principal().id):
        raise NotFound("No such batch.")
    return batch
