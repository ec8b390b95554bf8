"""/api/v1/admin: organisations, the catalogue, operator clients, merchant users."""

from __future__ import annotations

from flask import request

from backend.admin import operations, schemas
from backend.auth.guards import BEARER, require
from backend.auth.schemas import IdOut
from backend.errors import Invalid
from backend.http import Blueprint, cursor_page, page_schema
from backend.registry import catalogue, organizations
from backend.registry import schemas as reg
from backend.registry.models import Organization

blp = Blueprint("admin", __name__, url_prefix="/api/v1/admin", description="Service-centre staff")

OrganizationPage = page_schema(reg.OrganizationOut, "OrganizationPage")


@blp.route("/organizations", methods=["POST"])
@blp.doc(security=BEARER)
@require("staff")
@blp.arguments(reg.OrganizationIn)
@blp.response(201, IdOut)
@blp.alt_response(409, description="credit_code_taken")
def create_organization(body):
    """Register an organisation (credit code checked per GB 32100-2015)."""
    return {"id": organizations.register(**body).id}


@blp.route("/organizations", methods=["GET"])
@blp.doc(security=BEARER)
@require("staff")
@blp.arguments(reg.OrganizationQuery, location="query")
@blp.response(200, OrganizationPage)
def list_organizations(args):
    """Organisations, filtered by kind or credit code."""
    stmt = organizations.list_query(args.get("kind"), args.get("credit_code"))
    return cursor_page(stmt, Organization.id, args)


@blp.route("/catalogue/import", methods=["POST"])
@blp.doc(
    security=BEARER,
    # Parsed by hand (the loader validates), documented all the same.
    requestBody={"required": True, "content": {"application/json": {"schema": reg.CatalogueIn}}},
)
@require("staff")
@blp.response(200, reg.CatalogueResult)
@blp.alt_response(409, description="methodology_version_immutable")
def import_catalogue():
    """Load a catalogue document; loading the same one twice changes nothing."""
    document = request.get_json(silent=False)
    if not isinstance(document, dict):
        raise Invalid(errors={"_schema": ["The catalogue must be a JSON object."]})
    return catalogue.load(document)


@blp.route("/operator-clients", methods=["POST"])
@blp.doc(security=BEARER)
@require("staff")
@blp.arguments(schemas.OperatorClientIn)
@blp.response(201, schemas.OperatorClientOut)
def create_operator_client(body):
    """A machine client for an operator's scenario; the secret is shown only here."""
    return operations.create_operator_client(body["organization_id"], body["scenario_code"])


@blp.route("/merchant-users", methods=["POST"])
@blp.doc(security=BEARER)
@require("staff")
@blp.arguments(schemas.MerchantUserIn)
@blp.response(201, IdOut)
@blp.alt_response(409, description="login_taken")
def create_merchant_user(body):
    """A login for a merchant's staff, bound to that merchant."""
    return {"id": operations.create_merchant_user(**body)}
