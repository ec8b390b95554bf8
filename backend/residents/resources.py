"""/api/v1/me (resident tokens): the resident's profile, balances and statement, their
history, notifications and yearly report, and their data rights (a copy of everything
held on them; closing the account)."""

from __future__ import annotations

from flask import Response

from backend.auth import revocation
from backend.auth.guards import BEARER, current_principal, require
from backend.extensions import auth_limit, limiter
from backend.http import Blueprint, PageArgs, page_schema
from backend.residents import (
    closure,
    export,
    history,
    notifications,
    profile,
    report,
    report_png,
    statement,
)
from backend.residents import schemas as s
from backend.residents.models import Notification

blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="Residents")
blueprints = [blp]

PostingPage = page_schema(s.PostingOut, "PostingPage")
NotificationPage = page_schema(s.NotificationOut, "NotificationPage")
HistoryPage = page_schema(s.HistoryLineOut, "HistoryPage")
PNG = {
    200: {
        "description": "The report as a PNG image (900 x 1200)",
        "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
    }
}


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
@blp.cursor_page(statement.PAGE_KEY, scalars=False)
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


@blp.route("/notifications", methods=["GET"])
@blp.doc(security=BEARER)
@require("resident")
@blp.arguments(PageArgs, location="query")
@blp.response(200, NotificationPage)
@blp.alt_response(400, description="bad_cursor")
@blp.cursor_page(Notification.id)
def list_notifications(args):
    """The resident's notifications, newest first.

    Credits, refunds, orders expired, consent changes, points expired, and reminders of
    points expiring within 30 days, each with a short Chinese and English text; written
    with the event itself. An app polls this list (a push service may be added later)."""
    return notifications.of_resident(_me())


@blp.route("/history", methods=["GET"])
@blp.doc(security=BEARER)
@require("resident")
@blp.arguments(s.HistoryQuery, location="query")
@blp.response(200, HistoryPage)
@blp.alt_response(400, description="bad_cursor")
def get_history(args):
    """The resident's history, one time line, newest first.

    Trips (with how their grams were computed: distance, factors, methodology and
    version), the days' credits (with what the daily cap cut), conversions (accrual's
    auto-conversion and the resident's own are separate lines), orders, refunds,
    redemptions and expiries, each with a short Chinese and English text. Cursor pages
    (`limit`, `cursor`)."""
    return history.page(_me(), args["limit"], args.get("cursor"))


@blp.route("/report", methods=["GET"])
@blp.doc(security=BEARER)
@require("resident")
@blp.arguments(s.ReportQuery, location="query")
@blp.response(200, s.ReportOut)
def get_report(args):
    """The resident's carbon report of a year.

    Reductions credited by scenario and by month, trips and kilometres by mode, what the
    grams compare to (car-kilometres at each methodology's baseline factor, named with
    its source), points earned, spent and expired, and the resident's rank band among
    the year's participants (never anyone else's figures). Every amount is a sum of the
    resident's ledger postings."""
    return report.yearly(_me(), args["year"])


@blp.route("/report.png", methods=["GET"])
@blp.doc(security=BEARER, responses=PNG)
@require("resident")
@blp.arguments(s.ReportQuery, location="query")
def get_report_png(args):
    """The resident's carbon report of a year, drawn as an image.

    The figures of `GET /api/v1/me/report`, drawn as a PNG (with Chinese text) that the
    app can show or share."""
    png = report_png.draw(report.yearly(_me(), args["year"]))
    resp = Response(png, mimetype="image/png")
    resp.headers["Cache-Control"] = "private, no-store"
    return resp


@blp.route("/export", methods=["GET"])
@blp.doc(security=BEARER)
@require("resident")
@blp.response(200, s.ExportOut)
def get_export():
    """A copy of everything held on the resident (PIPL Art. 45).

    One JSON document: the profile, consents, every activity (with its raw details while
    they are kept), every posting of the resident's accounts, orders, notifications,
    the points alive and when they expire, and any sanction."""
    return export.export(_me()), 200, {"Cache-Control": "private, no-store"}


@blp.route("", methods=["DELETE"])
@blp.doc(security=BEARER)
@require("resident")
@limiter.limit(auth_limit)
@blp.arguments(s.ClosureIn)
@blp.response(200, s.ClosureOut)
@blp.problems(403, "wrong_password")
def close_account(body):
    """Close the account (PIPL Art. 47), confirmed with the password.

    In one transaction: consents are withdrawn; pending orders are cancelled and
    refunded; the remaining points (to the points mint, their backing grams to the
    cancelled sink) and the unconverted grams (to the cancelled sink) are cancelled in
    a journal entry, announced here; the phone, display name, password and the raw
    details of every activity are erased; every session ends. The ledger keeps the
    amounts under the same, now anonymous, id. Registering again with the phone starts
    a new, empty account."""
    p = current_principal()
    return closure.close(p.id, body["password"], actor=p.actor)
