"""/api/v1/me (resident tokens): the resident's profile, balances and statement."""

from __future__ import annotations

from backend.auth import revocation
from backend.auth.guards import current_principal, require
from backend.http import Blueprint, page_schema
from backend.ledger import Posting
from backend.residents import profile, statement
from backend.residents import schemas as s

blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="Residents")
blueprints = [blp]

PostingPage = page_schema(s.PostingOut, "PostingPage")


def _me() -> int:
    return current_principal().id


@blp.route("", methods=["GET"])
@require("resident")
@blp.response(200, s.MeOut)
def me():
    """The resident's profile (phone masked) and balances."""
    return profile.profile(_me())


@blp.route("", methods=["PATCH"])
@require("resident")
@blp.arguments(s.MePatch)
@blp.response(200, s.MeOut)
def patch_me(body):
    """Change the display name or auto-convert."""
    return profile.update_profile(_me(), body)


@blp.route("/ledger", methods=["GET"])
@require("resident")
@blp.arguments(s.LedgerQuery, location="query")
@blp.response(200, PostingPage)
@blp.cursor_page(Posting.id, scalars=False)
def ledger(args):
    """Postings on the resident's reductions (`g`), points (`pt`), or both (no `unit`),
    newest first."""
    return statement.postings(_me(), args.get("unit"))


@blp.route("/sign-out", methods=["POST"])
@require("resident")
@blp.response(204)
def sign_out():
    """Sign out everywhere: every refresh token and every access token of the resident
    stops working now (this one too)."""
    revocation.sign_out_everywhere(_me())
