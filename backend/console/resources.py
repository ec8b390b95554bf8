"""The staff console (/console): the same staff logins, roles and rules as the API's
/api/v1/admin routes, as pages. Each page names the roles that may see it (the same as
its API route); a form calls the same rule as the API, under the same role, and shows
its refusal (409, 422...) on the page again with nothing written.

- applications: the queue (type, status), one page each (history, documents, expert
  opinions, notice dates, objections) with the buttons the signed-in role may press;
- settlements (with the orders behind each), transfers, uses: finance approves,
  executes, rejects; the auditor reads;
- reconciliation: the latest stored report (or one computed now), its history as a
  chart, and the accounts, orders and batches a failed check names;
- organisations and logins: create, freeze and unfreeze with reasons, disable, rotate
  an operator client's secret;
- the audit log, searchable by actor, object and action;
- the working-day calendar: the years entered, and a form for the next;
- the registry: methodology versions (retire one with public reasons), registered
  scenarios and projects (deregister one on the centre's own finding), and the latest
  nightly double-claiming check.
"""

from __future__ import annotations

import re
from datetime import date

from flask import Blueprint, jsonify, redirect, request, url_for

from backend.applications import notices, review
from backend.applications import schemas as app_schemas
from backend.applications.models import STATUSES, TYPES, Application
from backend.audit import log as audit_log
from backend.audit import schemas as audit_schemas
from backend.audit.models import AuditRecord
from backend.auth import clients, revocation, users
from backend.auth import schemas as auth_schemas
from backend.auth.models import OperatorClient, User
from backend.auth.roles import ADMIN, ANY_STAFF, AUDITOR, EXPERT, FINANCE, REVIEWER, STAFF_ROLES
from backend.console import overview
from backend.errors import ApiError, Invalid
from backend.reconciliation import drilldown
from backend.reconciliation import report as reconciliation
from backend.reconciliation.models import ReconciliationReport
from backend.reductions import schemas as reduction_schemas
from backend.reductions import transfers, uses
from backend.reductions.models import Transfer, Use
from backend.registry import deregistration, duplicates, methodologies, organizations, projects
from backend.registry import scenarios as registry_scenarios
from backend.registry import schemas as registry_schemas
from backend.registry.models import Methodology, Organization, Project, Scenario
from backend.sanctions import freeze
from backend.sanctions import schemas as sanction_schemas
from backend.sanctions.models import Sanction
from backend.web import guards
from backend.web.guards import current_principal, page
from backend.workdays import calendar
from backend.workdays import schemas as calendar_schemas
from mall import orders, settlement
from mall import schemas as mall_schemas
from mall.models import Order, SettlementBatch

blp = guards.install(Blueprint("console", __name__, url_prefix="/console"))
blueprints = [blp]

STAFF = "staff"
# Who sees what: the roles of the API route each page stands for.
QUEUE = (REVIEWER, EXPERT, AUDITOR)
MONEY = (FINANCE, AUDITOR)
ACCOUNTS = (ADMIN, AUDITOR)
AUDIT = (AUDITOR, ADMIN)
DUPLICATES = (REVIEWER, AUDITOR)
# The causes staff may give (an owner's request comes as an application instead).
STAFF_CAUSES = tuple(c for c in deregistration.CAUSES if c != "on_request")

# What a `?done=` after a redirect says (fixed texts: nothing from the URL is echoed).
DONE = {
    "accept": "已受理 · Accepted for review.",
    "return": "已退回申请方 · Returned to the applicant with the reasons.",
    "opinion": "意见已记录 · Your opinion is recorded.",
    "notice": "公示已开始 · The public notice has started.",
    "approve": "已批准并公布 · Approved and published.",
    "reject": "已驳回 · Rejected.",
    "resolve": "异议已处理，结果已公开 · The objection is resolved; its outcome is public.",
    "settlement-approved": "结算已批准并入账 · Settlement approved and posted.",
    "settlement-retried": "结算已重新提交 · Settlement sent again.",
    "transfer-executed": "转让已执行 · Transfer executed.",
    "use-approved": "已批准，证书已签发 · Approved; the certificate is issued.",
    "use-rejected": "已驳回，预留的减排量已退回 · Rejected; the reserved grams are back.",
    "organization-created": "机构已登记 · Organisation registered.",
    "frozen": "已冻结 · Frozen.",
    "unfrozen": "已解冻 · Unfrozen.",
    "user-created": "登录已创建 · Login created.",
    "disabled": "登录已停用，其会话立即失效 · Login disabled; its sessions ended.",
    "enabled": "登录已启用 · Login enabled.",
    "client-disabled": "客户端已停用 · Client disabled.",
    "client-enabled": "客户端已启用 · Client enabled.",
    "staff-created": "工作人员登录已创建 · Staff login created.",
    "year-entered": "年度工作日历已录入 · The year is entered.",
    "retired": "方法学版本已废止，理由已公开 · The version is retired; the reasons are public.",
    "deregistered": "已注销，其上传与签发即时停止 · Deregistered; its uploads and issuance stop.",
}


def _done() -> str | None:
    return DONE.get(request.args.get("done", ""))


def _me() -> int:
    return int(current_principal().id)


def _actor() -> str:
    return current_principal().actor


def _back(endpoint: str, done: str, **values):
    return redirect(url_for(endpoint, done=done, **values), 303)


def _refused(err: ApiError, render, **context):
    """Show the page again with the refusal; nothing the failed act wrote stays."""
    guards.rollback()
    return render(status=err.status, error=err, **context)


# --- overview ----------------------------------------------------------------------


@blp.get("")
@blp.get("/")
@page(STAFF, roles=ANY_STAFF)
def home():
    latest = reconciliation.latest_stored()
    return guards.render(
        "console/home.html",
        section="console",
        waiting=overview.waiting(),
        latest=latest,
        statuses=review.counts_by_status(),
        doubles=duplicates.latest() if guards.has_role(*DUPLICATES) else None,
    )


# --- applications ------------------------------------------------------------------


@blp.get("/applications")
@page(STAFF, roles=QUEUE)
def applications():
    args = guards.load_query(app_schemas.ApplicationQuery)
    listing = guards.listing(
        review.staff_query(args.get("status"), args.get("type")), Application.id
    )
    template = "console/_queue.html" if guards.is_htmx() else "console/applications.html"
    return guards.render(
        template,
        section="console",
        page=listing,
        args=args,
        types=TYPES,
        statuses=STATUSES,
    )


def _application_page(application_id: int, *, status: int = 200, **context):
    app = review.get(application_id)
    principal = current_principal()
    return guards.render(
        "console/application.html",
        status=status,
        section="console",
        app=app,
        can=review.staff_actions(app, principal.roles, int(principal.id)),
        message=_done(),
        **context,
    )


@blp.get("/applications/<int:application_id>")
@page(STAFF, roles=QUEUE)
def application(application_id):
    return _application_page(application_id)


def _application_act(application_id: int, action: str, act):
    try:
        act()
    except ApiError as err:
        return _refused(err, _application_page, application_id=application_id)
    return _back("console.application", action, application_id=application_id)


@blp.post("/applications/<int:application_id>/pre-review")
@page(STAFF, roles=(REVIEWER,))
def pre_review(application_id):
    decision = request.form.get("decision", "")

    def act():
        data = guards.load_form(app_schemas.PreReviewIn, guards.form_fields("decision", "reasons"))
        review.pre_review(application_id, data["decision"], data["reasons"], actor=_actor())

    done = decision if decision in ("accept", "return") else "accept"
    return _application_act(application_id, done, act)


@blp.post("/applications/<int:application_id>/opinions")
@page(STAFF, roles=(EXPERT,))
def give_opinion(application_id):
    def act():
        data = guards.load_form(app_schemas.OpinionIn, guards.form_fields("conclusion", "text"))
        review.add_opinion(application_id, _me(), data["conclusion"], data["text"], actor=_actor())

    return _application_act(application_id, "opinion", act)


@blp.post("/applications/<int:application_id>/notice")
@page(STAFF, roles=(REVIEWER,))
def start_notice(application_id):
    return _application_act(
        application_id, "notice", lambda: review.start_notice(application_id, actor=_actor())
    )


@blp.post("/applications/<int:application_id>/decide")
@page(STAFF, roles=(REVIEWER,))
def decide(application_id):
    decision = request.form.get("decision", "")

    def act():
        data = guards.load_form(app_schemas.DecisionIn, guards.form_fields("decision", "reasons"))
        review.decide(application_id, data["decision"], data["reasons"], actor=_actor())

    done = decision if decision in ("approve", "reject") else "approve"
    return _application_act(application_id, done, act)


@blp.post("/objections/<int:objection_id>/resolve")
@page(STAFF, roles=(REVIEWER,))
def resolve_objection(objection_id):
    application_id = request.form.get("application_id", type=int)
    try:
        data = guards.load_form(app_schemas.ResolveIn, guards.form_fields("outcome", "text"))
        objection = notices.resolve(objection_id, data["outcome"], data["text"], actor=_actor())
    except ApiError as err:
        if application_id is None:
            raise
        return _refused(err, _application_page, application_id=application_id)
    return _back("console.application", "resolve", application_id=objection.application_id)


# --- settlements, transfers, uses -------------------------------------------------


@blp.get("/settlements")
@page(STAFF, roles=MONEY)
def settlements():
    args = guards.load_query(mall_schemas.SettlementQuery)
    listing = guards.listing(settlement.query(None, args.get("status")), SettlementBatch.id)
    names = organizations.names(b.merchant_id for b in listing["items"])
    return guards.render(
        "console/settlements.html",
        section="console",
        page=listing,
        names=names,
        which=args.get("status"),
        message=_done(),
    )


def _settlement_page(batch_id: int, *, status: int = 200, **context):
    batch = settlement.get(batch_id)
    return guards.render(
        "console/settlement.html",
        status=status,
        section="console",
        batch=batch,
        merchant=organizations.get(batch.merchant_id),
        orders=guards.listing(orders.of_settlement(batch_id), Order.id, limit=200),
        message=_done(),
        **context,
    )


@blp.get("/settlements/<int:batch_id>")
@page(STAFF, roles=MONEY)
def settlement_detail(batch_id):
    return _settlement_page(batch_id)


@blp.post("/settlements/<int:batch_id>/approve")
@page(STAFF, roles=(FINANCE,))
def approve_settlement(batch_id):
    try:
        settlement.approve(batch_id, actor=_actor())
    except ApiError as err:
        return _refused(err, _settlement_page, batch_id=batch_id)
    return _back("console.settlement_detail", "settlement-approved", batch_id=batch_id)


@blp.post("/settlements/<int:batch_id>/retry")
@page(STAFF, roles=(FINANCE,))
def retry_settlement(batch_id):
    try:
        settlement.retry(batch_id, actor=_actor())
    except ApiError as err:
        return _refused(err, _settlement_page, batch_id=batch_id)
    return _back("console.settlement_detail", "settlement-retried", batch_id=batch_id)


def _status_arg(allowed: tuple[str, ...]) -> str | None:
    status = request.args.get("status") or None
    if status is not None and status not in allowed:
        raise Invalid(errors={"status": [f"One of {', '.join(allowed)}."]})
    return status


def _transfers_page(*, status: int = 200, **context):
    which = _status_arg(("proposed", "accepted", "executed", "cancelled"))
    listing = guards.listing(transfers.staff_query(which), Transfer.id)
    return guards.render(
        "console/transfers.html",
        status=status,
        section="console",
        page=listing,
        which=which,
        message=_done(),
        **context,
    )


@blp.get("/transfers")
@page(STAFF, roles=MONEY)
def transfer_list():
    return _transfers_page()


@blp.post("/transfers/<int:transfer_id>/execute")
@page(STAFF, roles=(FINANCE,))
def execute_transfer(transfer_id):
    try:
        transfers.execute(transfer_id, actor=_actor())
    except ApiError as err:
        return _refused(err, _transfers_page)
    return _back("console.transfer_list", "transfer-executed", status="executed")


def _uses_page(*, status: int = 200, **context):
    which = _status_arg(("pending", "approved", "rejected"))
    listing = guards.listing(uses.staff_query(which), Use.id)
    return guards.render(
        "console/uses.html",
        status=status,
        section="console",
        page=listing,
        which=which,
        message=_done(),
        **context,
    )


@blp.get("/uses")
@page(STAFF, roles=MONEY)
def use_list():
    return _uses_page()


@blp.post("/uses/<int:use_id>/approve")
@page(STAFF, roles=(FINANCE,))
def approve_use(use_id):
    try:
        data = guards.load_form(
            reduction_schemas.ApproveUseIn, guards.form_fields("beneficiary_name")
        )
        uses.approve(use_id, actor=_actor(), beneficiary_name=data["beneficiary_name"])
    except ApiError as err:
        return _refused(err, _uses_page)
    return _back("console.use_list", "use-approved", status="approved")


@blp.post("/uses/<int:use_id>/reject")
@page(STAFF, roles=(FINANCE,))
def reject_use(use_id):
    try:
        data = guards.load_form(reduction_schemas.RejectUseIn, guards.form_fields("reasons"))
        uses.reject(use_id, data["reasons"], actor=_actor())
    except ApiError as err:
        return _refused(err, _uses_page)
    return _back("console.use_list", "use-rejected", status="rejected")


# --- reconciliation ----------------------------------------------------------------


@blp.get("/reconciliation")
@page(STAFF, roles=MONEY)
def reconciliation_page():
    fresh = request.args.get("fresh") == "1"
    stored = None
    if fresh:
        shown = reconciliation.compute()
    else:
        report_id = request.args.get("report", type=int)
        stored = (
            reconciliation.get_stored(report_id) if report_id else reconciliation.latest_stored()
        )
        shown = stored.report if stored is not None else None
    return guards.render(
        "console/reconciliation.html",
        section="console",
        report=shown,
        stored=stored,
        fresh=fresh,
        offenders=drilldown.offenders(shown) if shown else [],
        reports=guards.listing(reconciliation.stored(), ReconciliationReport.id, limit=30),
    )


@blp.get("/reconciliation/history.json")
@page(STAFF, roles=MONEY)
def reconciliation_history():
    days = max(1, min(request.args.get("days", 90, type=int), 366))
    response = jsonify(reconciliation.history(days))
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.get("/reconciliation/accounts/<int:account_id>")
@page(STAFF, roles=MONEY)
def reconciliation_account(account_id):
    return guards.render("console/account.html", section="console", **drilldown.account(account_id))


@blp.get("/reconciliation/owned/<string:kind>/<int:owner_id>")
@page(STAFF, roles=MONEY)
def reconciliation_owned(kind, owner_id):
    found = drilldown.account_of(kind, owner_id)
    return redirect(url_for("console.reconciliation_account", account_id=found.id), 303)


@blp.get("/reconciliation/orders/<int:order_id>")
@page(STAFF, roles=MONEY)
def reconciliation_order(order_id):
    return guards.render("console/order.html", section="console", **drilldown.order(order_id))


# --- organisations and logins --------------------------------------------------------


def _organizations_page(*, status: int = 200, **context):
    args = guards.load_query(registry_schemas.OrganizationQuery)
    listing = guards.listing(
        organizations.list_query(args.get("kind"), args.get("credit_code")), Organization.id
    )
    return guards.render(
        "console/organizations.html",
        status=status,
        section="console",
        page=listing,
        args=args,
        kinds=registry_schemas.ORG_KINDS,
        message=_done(),
        **context,
    )


@blp.get("/organizations")
@page(STAFF, roles=ACCOUNTS)
def organization_list():
    return _organizations_page()


@blp.post("/organizations")
@page(STAFF, roles=(ADMIN,))
def create_organization():
    form = guards.form_fields("name", "kind", "credit_code")
    try:
        data = guards.load_form(registry_schemas.OrganizationIn, form)
        org = organizations.register(**data)
    except ApiError as err:
        return _refused(err, _organizations_page, form=form)
    return _back("console.organization", "organization-created", org_id=org.id)


def _organization_page(org_id: int, *, status: int = 200, **context):
    org = organizations.get(org_id)
    return guards.render(
        "console/organization.html",
        status=status,
        section="console",
        org=org,
        logins=guards.listing(users.of_organization(org_id), User.id, limit=100),
        clients=guards.listing(clients.query(org_id), OperatorClient.id, limit=100),
        sanctions=guards.listing(freeze.of_subject("organization", org_id), Sanction.id, limit=20),
        message=_done(),
        **context,
    )


@blp.get("/organizations/<int:org_id>")
@page(STAFF, roles=ACCOUNTS)
def organization(org_id):
    return _organization_page(org_id)


@blp.post("/organizations/<int:org_id>/freeze")
@page(STAFF, roles=(ADMIN,))
def freeze_organization(org_id):
    try:
        data = guards.load_form(sanction_schemas.ReasonIn, guards.form_fields("reason"))
        freeze.freeze_organization(org_id, data["reason"], actor=_actor())
    except ApiError as err:
        return _refused(err, _organization_page, org_id=org_id)
    return _back("console.organization", "frozen", org_id=org_id)


@blp.post("/organizations/<int:org_id>/unfreeze")
@page(STAFF, roles=(ADMIN,))
def unfreeze_organization(org_id):
    try:
        data = guards.load_form(sanction_schemas.ReasonIn, guards.form_fields("reason"))
        freeze.unfreeze_organization(org_id, data["reason"], actor=_actor())
    except ApiError as err:
        return _refused(err, _organization_page, org_id=org_id)
    return _back("console.organization", "unfrozen", org_id=org_id)


@blp.post("/organizations/<int:org_id>/logins")
@page(STAFF, roles=(ADMIN,))
def create_login(org_id):
    form = guards.form_fields("login", "password")
    try:
        data = guards.load_form(auth_schemas.MerchantUserIn, {**form, "organization_id": org_id})
        users.create_org_user(**data)
    except ApiError as err:
        return _refused(err, _organization_page, org_id=org_id, login_form=form)
    return _back("console.organization", "user-created", org_id=org_id)


@blp.post("/organizations/<int:org_id>/operator-clients")
@page(STAFF, roles=(ADMIN,))
def create_operator_client(org_id):
    try:
        data = guards.load_form(
            auth_schemas.OperatorClientIn,
            {**guards.form_fields("scenario_code"), "organization_id": org_id},
        )
        created = clients.create_for_scenario(data["organization_id"], data["scenario_code"])
    except ApiError as err:
        return _refused(err, _organization_page, org_id=org_id)
    return _organization_page(org_id, secret=created)


@blp.post("/operator-clients/<string:client_id>/rotate-secret")
@page(STAFF, roles=(ADMIN,))
def rotate_secret(client_id):
    org_id = request.form.get("organization_id", type=int)
    try:
        rotated = revocation.rotate_secret(client_id)
    except ApiError as err:
        if org_id is None:
            raise
        return _refused(err, _organization_page, org_id=org_id)
    return _organization_page(clients.get(client_id).organization_id, secret=rotated)


@blp.post("/operator-clients/<string:client_id>/<any(disable, enable):change>")
@page(STAFF, roles=(ADMIN,))
def set_client_active(client_id, change):
    client = revocation.set_client_active(client_id, change == "enable")
    return _back("console.organization", f"client-{change}d", org_id=client.organization_id)


LOGIN_KINDS = ("staff", "merchant", "org")


@blp.post("/logins/<int:user_id>/<any(disable, enable):change>")
@page(STAFF, roles=(ADMIN,))
def set_login_active(user_id, change):
    kind = request.form.get("kind", "")
    if kind not in LOGIN_KINDS:
        raise Invalid(errors={"kind": [f"One of {', '.join(LOGIN_KINDS)}."]})
    user = revocation.set_user_active(kind, user_id, change == "enable", acting_user_id=_me())
    done = f"{change}d"
    if user.organization_id is not None:
        return _back("console.organization", done, org_id=user.organization_id)
    return _back("console.staff", done)


def _staff_page(*, status: int = 200, **context):
    return guards.render(
        "console/staff.html",
        status=status,
        section="console",
        page=guards.listing(users.staff_query(), User.id, limit=100),
        roles=STAFF_ROLES,
        residents=guards.listing(freeze.staff_query("resident", True), Sanction.id, limit=50),
        message=_done(),
        **context,
    )


@blp.get("/staff")
@page(STAFF, roles=ACCOUNTS)
def staff():
    return _staff_page()


@blp.post("/staff")
@page(STAFF, roles=(ADMIN,))
def create_staff():
    form = {**guards.form_fields("login", "password"), "roles": request.form.getlist("roles")}
    try:
        data = guards.load_form(auth_schemas.StaffIn, form)
        users.create_staff(data["login"], data["password"], data["roles"])
    except ApiError as err:
        return _refused(err, _staff_page, form=form)
    return _back("console.staff", "staff-created")


@blp.post("/residents/<any(freeze, unfreeze):change>")
@page(STAFF, roles=(ADMIN,))
def change_resident(change):
    resident_id = request.form.get("resident_id", type=int)
    try:
        if resident_id is None or resident_id < 1:
            raise Invalid(errors={"resident_id": ["A resident's id (a whole number)."]})
        data = guards.load_form(sanction_schemas.ReasonIn, guards.form_fields("reason"))
        rule = freeze.freeze_resident if change == "freeze" else freeze.unfreeze_resident
        rule(resident_id, data["reason"], actor=_actor())
    except ApiError as err:
        return _refused(err, _staff_page)
    return _back("console.staff", "frozen" if change == "freeze" else "unfrozen")


# --- the audit log ------------------------------------------------------------------


@blp.get("/audit")
@page(STAFF, roles=AUDIT)
def audit():
    args = guards.load_query(audit_schemas.AuditQuery)
    listing = guards.listing(
        audit_log.query(
            args.get("actor"), args.get("object_type"), args.get("object_id"), args.get("action")
        ),
        AuditRecord.id,
    )
    template = "console/_audit_rows.html" if guards.is_htmx() else "console/audit.html"
    return guards.render(template, section="console", page=listing, args=args)


# --- the working-day calendar ----------------------------------------------------------

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _days(field: str) -> list[str]:
    """Dates typed one per line (or separated by commas or spaces), as ISO strings."""
    return _DAY.findall(request.form.get(field, ""))


def _calendar_page(*, status: int = 200, **context):
    known = calendar.overview()
    years = [y.year for y in known["entered"]] + [known["package"]["last_year"]]
    return guards.render(
        "console/calendar.html",
        status=status,
        section="console",
        overview=known,
        next_year=max(max(years) + 1, date.today().year),
        message=_done(),
        **context,
    )


@blp.get("/calendar")
@page(STAFF, roles=ANY_STAFF)
def calendar_page():
    return _calendar_page()


@blp.post("/calendar")
@page(STAFF, roles=(REVIEWER, ADMIN))
def enter_year():
    year = request.form.get("year", type=int)
    form = {
        "holidays": _days("holidays"),
        "makeup_workdays": _days("makeup_workdays"),
        "notice_title": request.form.get("notice_title", "").strip(),
    }
    try:
        if year is None:
            raise Invalid(errors={"year": ["The year (e.g. 2027)."]})
        data = guards.load_form(calendar_schemas.CalendarYearIn, form)
        calendar.enter_year(year, **data, entered_by=_me())
    except ApiError as err:
        return _refused(err, _calendar_page, form=request.form)
    return _back("console.calendar_page", "year-entered")


# --- the registry: methodologies, deregistration, the double-claiming check -------------


def _methodologies_page(*, status: int = 200, **context):
    args = guards.load_query(registry_schemas.MethodologyQuery)
    listing = guards.listing(methodologies.listed(args["status"]), Methodology.id)
    return guards.render(
        "console/methodologies.html",
        status=status,
        section="console",
        page=listing,
        which=args["status"],
        message=_done(),
        **context,
    )


@blp.get("/methodologies")
@page(STAFF, roles=(REVIEWER,))
def methodology_list():
    return _methodologies_page()


@blp.post("/methodologies/<string:code>/<string:version>/retire")
@page(STAFF, roles=(REVIEWER,))
def retire_methodology(code, version):
    try:
        data = guards.load_form(app_schemas.RetireIn, guards.form_fields("reasons"))
        methodologies.retire(code, version, data["reasons"])
    except ApiError as err:
        return _refused(err, _methodologies_page)
    return _back("console.methodology_list", "retired", status="retired")


def _deregistrations_page(*, status: int = 200, **context):
    context.setdefault("form", {"subject_code": request.args.get("code", "")[:40]})
    return guards.render(
        "console/deregistrations.html",
        status=status,
        section="console",
        scenarios=guards.listing(registry_scenarios.registered(), Scenario.id, limit=200),
        projects=guards.listing(projects.registered(), Project.id, limit=200),
        causes=STAFF_CAUSES,
        message=_done(),
        **context,
    )


@blp.get("/deregistrations")
@page(STAFF, roles=(REVIEWER,))
def deregistration_list():
    return _deregistrations_page()


@blp.post("/deregistrations")
@page(STAFF, roles=(REVIEWER,))
def deregister():
    form = guards.form_fields("subject_code", "cause", "reasons")
    try:
        data = guards.load_form(app_schemas.StaffDeregistrationIn, form)
        deregistration.deregister(
            data["subject_code"], cause=data["cause"], reasons=data["reasons"]
        )
    except ApiError as err:
        return _refused(err, _deregistrations_page, form=form)
    return _back("console.deregistration_list", "deregistered")


@blp.get("/duplicates")
@page(STAFF, roles=DUPLICATES)
def duplicate_report():
    return guards.render("console/duplicates.html", section="console", report=duplicates.latest())
