"""/api/v1/me: a resident's own balances, consents, activities, ledger, conversions."""

from __future__ import annotations

import hashlib
import uuid

from flask import request
from sqlalchemy import select

from backend.activity import consents
from backend.activity import schemas as act
from backend.activity.models import Activity, Consent
from backend.auth.guards import BEARER, current_principal, require
from backend.http import Blueprint, PageArgs, cursor_page, page_schema
from backend.idempotency import idempotent
from backend.ledger import Posting
from backend.points.conversion import convert
from backend.residents import operations
from backend.residents import schemas as s

blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="Residents")

ConsentPage = page_schema(act.ConsentOut, "ConsentPage")
ActivityPage = page_schema(act.ActivityOut, "ActivityPage")
PostingPage = page_schema(s.PostingOut, "PostingPage")


def _me() -> int:
    return current_principal().id


@blp.route("", methods=["GET"])
@blp.doc(security=BEARER)
@require("resident")
@blp.response(200, s.MeOut)
def me():
    """The resident's profile (phone masked) and balances."""
    return operations.profile(_me())


@blp.route("", methods=["PATCH"])
@blp.doc(security=BEARER)
@require("resident")
@blp.arguments(s.MePatch)
@blp.response(200, s.MeOut)
def patch_me(body):
    """Change the display name or auto-convert."""
    return operations.update_profile(_me(), body)


@blp.route("/consents", methods=["POST"])
@blp.doc(security=BEARER)
@require("resident")
@blp.arguments(act.ConsentIn)
@blp.response(201, act.ConsentOut)
@blp.alt_response(404, description="bad_bind_token")
def create_consent(body):
    """Consent to an operator's reporting, by redeeming its one-time bind token."""
    return consents.redeem(_me(), body["bind_token"])


@blp.route("/consents", methods=["GET"])
@blp.doc(security=BEARER)
@require("resident")
@blp.arguments(PageArgs, location="query")
@blp.response(200, ConsentPage)
def list_consents(args):
    """The resident's consents, newest first (withdrawn ones included)."""
    return cursor_page(consents.list_query(_me()), Consent.id, args)


@blp.route("/consents/<int:consent_id>", methods=["DELETE"])
@blp.doc(security=BEARER)
@require("resident")
@blp.response(204)
def withdraw_consent(consent_id):
    """Withdraw a consent: from now on that reference's records are rejected."""
    consents.withdraw(_me(), consent_id)


@blp.route("/activities", methods=["GET"])
@blp.doc(security=BEARER)
@require("resident")
@blp.arguments(PageArgs, location="query")
@blp.response(200, ActivityPage)
def list_activities(args):
    """Accepted activities, newest first, with the methodology version used."""
    return cursor_page(select(Activity).where(Activity.user_id == _me()), Activity.id, args)


@blp.route("/activities/erasure", methods=["POST"])
@blp.doc(security=BEARER)
@require("resident")
@blp.response(200, s.ErasureOut)
def erase_activities():
    """Erase the raw details (times, measures) of every activity; amounts stay."""
    return {"erased": consents.erase_raw_details(_me())}


@blp.route("/ledger", methods=["GET"])
@blp.doc(security=BEARER)
@require("resident")
@blp.arguments(s.LedgerQuery, location="query")
@blp.response(200, PostingPage)
def ledger(args):
    """Postings on the resident's reductions (`g`) or points (`pt`), newest first."""
    stmt = operations.ledger_query(_me(), args["unit"])
    return cursor_page(stmt, Posting.id, args, scalars=False)


@blp.route("/conversions", methods=["POST"])
@blp.doc(security=BEARER)
@require("resident")
@idempotent
@blp.arguments(s.ConversionIn)
@blp.response(201, s.ConversionOut)
@blp.alt_response(409, description="insufficient_reductions")
def conversion(body):
    """Convert reductions to points at the platform rate (send an Idempotency-Key)."""
    p = current_principal()
    key = request.headers.get("Idempotency-Key") or uuid.uuid4().hex
    digest = hashlib.sha256(key.encode()).hexdigest()
    return convert(
        p.id, body["reductions_g"], idempotency_key=f"conversion:{p.id}:{digest}", actor=p.actor
    )
