"""The public site (no login, no personal data), in Chinese with English alongside: what
the platform is, with totals and charts (drawn in the browser from /api/v1/public/stats
and its series); the methodology catalogue with its versions; scenarios and projects;
public notices with the objection form (Art. 13, 26); the registry of issuances,
transfers and uses (Art. 25); certificate verification; sanctions (Art. 24).

HTTP in and out only: every list comes from the same rules (and the same row schemas)
as the API's public lists."""

from __future__ import annotations

from flask import Blueprint, redirect, request, url_for

from backend.applications import notices
from backend.applications import schemas as application_schemas
from backend.applications.models import Application
from backend.errors import Invalid, NotFound
from backend.extensions import limiter, objection_limit
from backend.public import stats
from backend.reductions import disclosure
from backend.sanctions import freeze
from backend.sanctions.models import Sanction
from backend.web import guards

blp = guards.install(Blueprint("site", __name__))
blueprints = [blp]

REGISTRY_LISTS = ("issuances", "transfers", "uses", "units")
CATALOGUE_LISTS = ("methodologies", "scenarios", "projects")


def _rows(name: str, page: dict) -> list[dict]:
    """The list's items as its public row schema dumps them (the CSV columns)."""
    schema_cls, _ = disclosure.LISTS[name]
    return schema_cls(many=True).dump(page["items"])


def _listing(name: str, limit: int = 50) -> dict:
    _, key = disclosure.LISTS[name]
    page = guards.listing(disclosure.query(name), key, limit=limit)
    return {"rows": _rows(name, page), "next_cursor": page["next_cursor"]}


@blp.get("/")
def home():
    return guards.render(
        "site/home.html",
        totals=stats.totals(),
        registry=disclosure.totals(),
        notices=guards.listing(notices.public_query("open"), Application.id, limit=5),
    )


@blp.get("/methodologies")
def methodologies():
    return guards.render("site/methodologies.html", page=_listing("methodologies", 100))


@blp.get("/scenarios")
def scenarios():
    return guards.render("site/scenarios.html", page=_listing("scenarios", 100), kind="scenarios")


@blp.get("/projects")
def projects():
    return guards.render("site/scenarios.html", page=_listing("projects", 100), kind="projects")


@blp.get("/notices")
def notice_list():
    status = request.args.get("status", "open")
    if status not in ("open", "closed"):
        status = "open"
    page = guards.listing(notices.public_query(status), Application.id)
    return guards.render("site/notices.html", page=page, which=status)


def _notice_page(application_id: int, *, status: int = 200, **context):
    app = notices.get_public(application_id)
    notice = application_schemas.PublicNoticeOut().dump(app)
    filed = request.args.get("filed")
    filed_ok = any(o["reference"] == filed for o in notice["objections"])
    return guards.render(
        "site/notice.html",
        status=status,
        notice=notice,
        open=notices.is_open(app),
        filed=filed if filed_ok else None,
        **context,
    )


@blp.get("/notices/<int:application_id>")
def notice(application_id):
    return _notice_page(application_id)


@blp.post("/notices/<int:application_id>/objections")
@limiter.limit(objection_limit)
def object_to(application_id):
    form = guards.form_fields("text", "contact")
    try:
        data = guards.load_form(application_schemas.ObjectionIn, form)
        objection = notices.file(application_id, data["text"], data["contact"])
    except (Invalid, notices.NoticeClosed) as err:
        guards.rollback()
        return _notice_page(application_id, status=err.status, error=err, form=form)
    return redirect(
        url_for("site.notice", application_id=application_id, filed=objection.reference) + "#filed",
        303,
    )


@blp.get("/registry")
def registry_home():
    return redirect("/registry/issuances", 303)


@blp.get("/registry/<string:name>")
def registry(name):
    if name in CATALOGUE_LISTS:
        return redirect(f"/{name}", 303)
    if name not in REGISTRY_LISTS:
        raise NotFound("No such public list.")
    return guards.render(
        "site/registry.html", name=name, page=_listing(name), totals=disclosure.totals()
    )


@blp.get("/sanctions")
def sanctions():
    page = guards.listing(freeze.public_query(), Sanction.id, scalars=False)
    return guards.render("site/sanctions.html", page=page)


@blp.get("/verify")
def verify_form():
    number = (request.args.get("number") or "").strip()
    if number:
        return redirect(url_for("verify_pages.verify_page", number=number), 303)
    return guards.render("site/verify_form.html")
