"""/api/v1/admin/organizations and /catalogue/import (staff); /api/v1/public/methodologies
and /scenarios (anyone): the registry's HTTP in and out."""

from __future__ import annotations

from flask import request

from backend.auth.guards import require
from backend.auth.roles import ADMIN, AUDITOR, REVIEWER
from backend.auth.schemas import IdOut
from backend.errors import Invalid
from backend.http import Blueprint, PageArgs, page_schema
from backend.registry import (
    catalogue,
    duplicates,
    methodologies,
    organizations,
    projects,
    scenarios,
)
from backend.registry import schemas as reg
from backend.registry.models import Methodology, Organization, Project, Scenario

staff = Blueprint(
    "staff_registry",
    __name__,
    url_prefix="/api/v1/admin",
    description="Staff: organisations and the catalogue",
)
public = Blueprint(
    "public_registry", __name__, url_prefix="/api/v1/public", description="Public catalogue"
)
blueprints = [staff, public]

OrganizationPage = page_schema(reg.OrganizationOut, "OrganizationPage")
MethodologyPage = page_schema(reg.MethodologyOut, "MethodologyPage")
ScenarioPage = page_schema(reg.ScenarioOut, "ScenarioPage")
ProjectPage = page_schema(reg.ProjectOut, "ProjectPage")


@staff.route("/organizations", methods=["POST"])
@require("staff", roles=(ADMIN,))
@staff.arguments(reg.OrganizationIn)
@staff.response(201, IdOut)
@staff.problems(409, "credit_code_taken")
def create_organization(body):
    """Register an organisation (credit code checked per GB 32100-2015)."""
    return {"id": organizations.register(**body).id}


@staff.route("/organizations", methods=["GET"])
@require("staff", roles=(ADMIN, AUDITOR))
@staff.arguments(reg.OrganizationQuery, location="query")
@staff.response(200, OrganizationPage)
@staff.cursor_page(Organization.id)
def list_organizations(args):
    """Organisations, filtered by kind or credit code."""
    return organizations.list_query(args.get("kind"), args.get("credit_code"))


@staff.route("/catalogue/import", methods=["POST"])
@staff.doc(
    # Parsed by hand (the loader validates), documented all the same.
    requestBody={"required": True, "content": {"application/json": {"schema": reg.CatalogueIn}}},
)
@require("staff", roles=(ADMIN,))
@staff.response(200, reg.CatalogueResult)
@staff.problems(409, "methodology_version_immutable")
@staff.problems(
    409, "scenario_operator", "rate_change_with_outstanding_points", "window_longer_than_retention"
)
def import_catalogue():
    """Load a catalogue document; loading the same one twice changes nothing."""
    document = request.get_json(silent=False)
    if not isinstance(document, dict):
        raise Invalid(errors={"_schema": ["The catalogue must be a JSON object."]})
    return catalogue.load(document)


@public.route("/methodologies", methods=["GET"])
@public.arguments(reg.MethodologyQuery, location="query")
@public.response(200, MethodologyPage)
@public.cursor_page(Methodology.id)
def list_methodologies(args):
    """Methodology versions: published ones (the default), retired ones (with the public
    reasons), or all."""
    return methodologies.listed(args["status"])


@public.route("/scenarios", methods=["GET"])
@public.arguments(PageArgs, location="query")
@public.response(200, ScenarioPage)
@public.cursor_page(Scenario.id)
def list_scenarios(args):
    """Registered scenarios."""
    return scenarios.registered()


@public.route("/projects", methods=["GET"])
@public.arguments(PageArgs, location="query")
@public.response(200, ProjectPage)
@public.cursor_page(Project.id)
def list_projects(args):
    """Registered projects."""
    return projects.registered()


@staff.route("/registry/duplicates", methods=["GET"])
@require("staff", roles=(REVIEWER, AUDITOR))
@staff.response(200, reg.DuplicateReportOut)
def duplicate_report():
    """The latest nightly double-claiming check: pairs of live scenarios or projects that
    share an asset (loosely compared) or a sector and location."""
    return duplicates.latest() or {"day": None, "as_of": None, "count": 0, "findings": []}
