"""Reductions over HTTP: an organisation's balance and blocks, agreement transfers and
uses (/api/v1/org), their execution and approval by finance (/api/v1/admin)."""

from __future__ import annotations

from flask import Response, stream_with_context

from backend.auth.guards import current_principal, require
from backend.auth.roles import AUDITOR, FINANCE
from backend.http import Blueprint, page_schema
from backend.idempotency import idempotent
from backend.reductions import balances, disclosure, transfers, uses
from backend.reductions import schemas as s
from backend.reductions.models import Transfer, Use

org = Blueprint(
    "org_reductions",
    __name__,
    url_prefix="/api/v1/org",
    description="Organisations: reductions, transfers and uses",
)
staff = Blueprint(
    "staff_reductions",
    __name__,
    url_prefix="/api/v1/admin",
    description="Staff: executing transfers, approving uses",
)
public = Blueprint(
    "public_registry_lists",
    __name__,
    url_prefix="/api/v1/public/registry",
    description="Public registry: open lists, CSV exports and totals (Art. 25)",
)
blueprints = [org, staff, public]

TransferPage = page_schema(s.TransferOut, "TransferPage")
UsePage = page_schema(s.UseOut, "UsePage")


def _org() -> int:
    return int(current_principal().organization_id)


def _actor() -> str:
    return current_principal().actor


@org.route("/balance", methods=["GET"])
@require("org")
@org.response(200, s.OrgBalanceOut)
def balance():
    """The organisation's reductions (held and reserved), points, and serial blocks."""
    return balances.of_organization(_org())


@org.route("/transfers", methods=["POST"])
@require("org")
@idempotent
@org.arguments(s.TransferIn)
@org.response(201, s.TransferOut)
@org.problems(409, "insufficient_reductions", "account_frozen")
@org.problems(404, "organization_not_found")
def propose_transfer(body):
    """Propose an agreement transfer to the buyer's credit code; the grams are reserved."""
    return transfers.propose(
        _org(), body["to_credit_code"], body["amount_g"], body["note"], actor=_actor()
    )


@org.route("/transfers", methods=["GET"])
@require("org")
@org.arguments(s.StatusQuery, location="query")
@org.response(200, TransferPage)
@org.cursor_page(Transfer.id)
def list_transfers(args):
    """Transfers the organisation sells or buys."""
    return transfers.of_organization(_org(), args.get("status"))


@org.route("/transfers/<int:transfer_id>", methods=["GET"])
@require("org")
@org.response(200, s.TransferOut)
@org.problems(404, "transfer_not_found")
def get_transfer(transfer_id):
    """One transfer of the organisation's (as seller or buyer)."""
    return transfers.get_own(_org(), transfer_id)


@org.route("/transfers/<int:transfer_id>/accept", methods=["POST"])
@require("org")
@org.response(200, s.TransferOut)
@org.problems(409, "transfer_state")
@org.problems(404, "transfer_not_found")
@org.problems(409, "account_frozen")
def accept_transfer(transfer_id):
    """The buyer accepts a proposed transfer."""
    return transfers.accept(_org(), transfer_id, actor=_actor())


@org.route("/transfers/<int:transfer_id>/cancel", methods=["POST"])
@require("org")
@org.response(200, s.TransferOut)
@org.problems(409, "transfer_state")
@org.problems(404, "transfer_not_found")
def cancel_transfer(transfer_id):
    """Either side cancels before execution; the seller's grams come back."""
    return transfers.cancel(_org(), transfer_id, actor=_actor())


@org.route("/uses", methods=["POST"])
@require("org")
@idempotent
@org.arguments(s.UseIn)
@org.response(201, s.UseOut)
@org.problems(409, "insufficient_reductions", "account_frozen")
@org.problems(422, "offset_exceeds_emissions")
@org.problems(404, "organization_not_found")
def request_use(body):
    """Retire, offset, cancel or donate reductions; the grams are reserved until finance
    approves (a certificate is issued) or rejects."""
    return uses.request(_org(), actor=_actor(), **body)


@org.route("/uses", methods=["GET"])
@require("org")
@org.arguments(s.StatusQuery, location="query")
@org.response(200, UsePage)
@org.cursor_page(Use.id)
def list_uses(args):
    """The organisation's uses."""
    return uses.of_organization(_org(), args.get("status"))


@org.route("/uses/<int:use_id>", methods=["GET"])
@require("org")
@org.response(200, s.UseOut)
@org.problems(404, "use_not_found")
def get_use(use_id):
    """One of the organisation's uses."""
    return uses.get_own(_org(), use_id)


@staff.route("/transfers", methods=["GET"])
@require("staff", roles=(FINANCE, AUDITOR))
@staff.arguments(s.StatusQuery, location="query")
@staff.response(200, TransferPage)
@staff.cursor_page(Transfer.id)
def staff_transfers(args):
    """Transfers, by status."""
    return transfers.staff_query(args.get("status"))


@staff.route("/transfers/<int:transfer_id>/execute", methods=["POST"])
@require("staff", roles=(FINANCE,))
@idempotent
@staff.response(200, s.TransferOut)
@staff.problems(409, "transfer_state")
@staff.problems(404, "transfer_not_found")
@staff.problems(409, "account_frozen")
def execute_transfer(transfer_id):
    """Execute an accepted transfer: blocks and grams move to the buyer."""
    return transfers.execute(transfer_id, actor=_actor())


@staff.route("/uses", methods=["GET"])
@require("staff", roles=(FINANCE, AUDITOR))
@staff.arguments(s.StatusQuery, location="query")
@staff.response(200, UsePage)
@staff.cursor_page(Use.id)
def staff_uses(args):
    """Uses, by status."""
    return uses.staff_query(args.get("status"))


@staff.route("/uses/<int:use_id>/approve", methods=["POST"])
@require("staff", roles=(FINANCE,))
@idempotent
@staff.arguments(s.ApproveUseIn)
@staff.response(200, s.UseOut)
@staff.problems(409, "use_decided")
@staff.problems(404, "use_not_found")
@staff.problems(409, "account_frozen")
@staff.problems(503, "signing_key_retired")
def approve_use(body, use_id):
    """Approve a use: the grams go to the sink (or the recipient) and a certificate is
    issued; `beneficiary_name` fixes the public spelling of a new beneficiary."""
    return uses.approve(use_id, actor=_actor(), beneficiary_name=body["beneficiary_name"])


@staff.route("/uses/<int:use_id>/reject", methods=["POST"])
@require("staff", roles=(FINANCE,))
@staff.arguments(s.RejectUseIn)
@staff.response(200, s.UseOut)
@staff.problems(409, "use_decided")
@staff.problems(404, "use_not_found")
def reject_use(body, use_id):
    """Reject a use: the reserved grams come back to the owner."""
    return uses.reject(use_id, body["reasons"], actor=_actor())


def _register_list(name: str, row: type, key) -> None:
    page = page_schema(row, f"Registry{name.title()}Page")

    @public.route(f"/{name}", methods=["GET"], endpoint=f"registry_{name}")
    @public.arguments(s.DisclosureQuery, location="query")
    @public.response(200, page)
    @public.doc(
        responses={
            200: {
                "content": {"text/csv": {"schema": {"type": "string"}}},
                "description": f"The {name}: a JSON page, or with ?format=csv the whole list",
            }
        },
        summary=f"The public list of {name}",
        description=f"The public list of {name}: JSON pages, newest first (pass "
        "`next_cursor` as `cursor`), or with `?format=csv` all of it as CSV.",
    )
    @public.problems(400, "bad_cursor")
    def view(args):
        if args["format"] == "csv":
            return Response(
                stream_with_context(disclosure.csv_text(name)),
                mimetype="text/csv",
                headers={"Content-Disposition": f'attachment; filename="sip-{name}.csv"'},
            )
        return paged(args)

    @public.cursor_page(key)
    def paged(args):
        return disclosure.query(name)


for _name, (_row, _key) in disclosure.LISTS.items():
    _register_list(_name, _row, _key)


@public.route("/totals", methods=["GET"])
@public.response(200, s.RegistryTotalsOut)
def registry_totals():
    """Registry totals in grams: issued, settled back from the mall, held, reserved,
    retired, cancelled, transferred and donated; counts of what is registered."""
    return disclosure.totals()
