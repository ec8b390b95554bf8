"""/api/v1/auth (register, log in, refresh, log out, operator client tokens); the
staff routes over logins (/api/v1/admin/staff, /operator-clients, /merchant-users,
/residents: creating, disabling and enabling, rotating secrets; /admin/me); and
/api/v1/merchant/me."""

from __future__ import annotations

from backend.auth import clients, lockout, revocation, schemas, sessions, users
from backend.auth.guards import current_principal, require
from backend.auth.models import OperatorClient, User
from backend.auth.roles import ADMIN, ANY_STAFF, AUDITOR
from backend.extensions import auth_limit, limiter, login_name_limit
from backend.http import Blueprint, PageArgs, page_schema

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Log in and tokens")
staff = Blueprint(
    "staff_accounts",
    __name__,
    url_prefix="/api/v1/admin",
    description="Staff: staff logins, operator clients, organisation logins, residents",
)
merchant = Blueprint(
    "merchant_accounts", __name__, url_prefix="/api/v1/merchant", description="Merchants' staff"
)
org = Blueprint(
    "org_accounts", __name__, url_prefix="/api/v1/org", description="Organisation users"
)
blueprints = [blp, staff, merchant, org]

StaffPage = page_schema(schemas.StaffOut, "StaffPage")
OperatorClientPage = page_schema(schemas.OperatorClientInfoOut, "OperatorClientPage")


@blp.route("/register", methods=["POST"])
@limiter.limit(auth_limit)
@blp.arguments(schemas.RegisterIn)
@blp.response(201, schemas.IdOut)
@blp.problems(409, "phone_taken")
def register(body):
    """Register a resident with a mainland mobile number and a password."""
    user = users.register_resident(body["phone"], body["password"], body["display_name"])
    return {"id": user.id}


def _login_name() -> str:
    """The rate-limit key of a login attempt: its login name, as a keyed hash."""
    from flask import request
    from flask_limiter.util import get_remote_address

    body = request.get_json(silent=True)
    name = body.get("login") if isinstance(body, dict) else None
    if not isinstance(name, str) or not name:  # refused anyway; counted by address
        return "login-name:?" + get_remote_address()
    return "login-name:" + lockout.name_key(name)


@blp.route("/login", methods=["POST"])
@limiter.limit(auth_limit)
@limiter.limit(login_name_limit, key_func=_login_name)
@blp.arguments(schemas.LoginIn)
@blp.response(200, schemas.TokenPairOut)
@blp.problems(401, "bad_credentials")
@blp.problems(403, "account_frozen", "organization_frozen")
@blp.problems(429, "rate_limited", "login_locked")
def login(body):
    """Log in with a phone (residents) or a staff / merchant login."""
    return sessions.login(body["login"], body["password"])


@blp.route("/refresh", methods=["POST"])
@limiter.limit(auth_limit)
@blp.arguments(schemas.RefreshIn)
@blp.response(200, schemas.TokenPairOut)
@blp.problems(401, "bad_refresh_token", "refresh_token_reused")
@blp.problems(403, "account_frozen", "organization_frozen")
def refresh(body):
    """Trade a refresh token for a new pair; the old one is spent."""
    return sessions.refresh(body["refresh_token"])


@blp.route("/logout", methods=["POST"])
@limiter.limit(auth_limit)
@blp.arguments(schemas.RefreshIn)
@blp.response(204)
def logout(body):
    """Revoke the refresh token's family."""
    sessions.logout(body["refresh_token"])


@blp.route("/token", methods=["POST"])
@limiter.limit(auth_limit)
@blp.arguments(schemas.ClientCredentialsIn)
@blp.response(200, schemas.AccessTokenOut)
@blp.problems(401, "bad_credentials")
@blp.problems(403, "organization_frozen")
def client_token(body):
    """Operator machine clients: client credentials for an access token."""
    return clients.client_token(body["client_id"], body["client_secret"])


@staff.route("/operator-clients", methods=["POST"])
@require("staff", roles=(ADMIN,))
@staff.arguments(schemas.OperatorClientIn)
@staff.response(201, schemas.OperatorClientOut)
@staff.problems(404, "organization_not_found", "scenario_not_found")
@staff.problems(409, "scenario_not_registered")
def create_operator_client(body):
    """A machine client for an operator's scenario; the secret is shown only here."""
    return clients.create_for_scenario(body["organization_id"], body["scenario_code"])


@staff.route("/merchant-users", methods=["POST"])
@require("staff", roles=(ADMIN,))
@staff.arguments(schemas.MerchantUserIn)
@staff.response(201, schemas.IdOut)
@staff.problems(409, "login_taken")
@staff.problems(404, "organization_not_found")
def create_merchant_user(body):
    """A login for a merchant's staff, bound to that merchant."""
    return {"id": users.create_merchant_user(**body)}


@staff.route("/org-users", methods=["POST"])
@require("staff", roles=(ADMIN,))
@staff.arguments(schemas.MerchantUserIn)
@staff.response(201, schemas.IdOut)
@staff.problems(409, "login_taken")
@staff.problems(404, "organization_not_found")
def create_org_user(body):
    """A login for an organisation's staff (of a merchant: also its till login)."""
    return {"id": users.create_org_user(**body)}


@org.route("/me", methods=["GET"])
@require("org")
@org.response(200, schemas.WhoAmIOut)
def org_me():
    """Who am I: the login and its organisation (with its status)."""
    return users.whoami(int(current_principal().id))


@staff.route("/operator-clients", methods=["GET"])
@require("staff", roles=(ADMIN, AUDITOR))
@staff.arguments(schemas.OperatorClientQuery, location="query")
@staff.response(200, OperatorClientPage)
@staff.cursor_page(OperatorClient.id)
def list_operator_clients(args):
    """Operator clients (never their secrets), by organisation."""
    return clients.query(args.get("organization_id"))


@staff.route("/operator-clients/<string:client_id>/rotate-secret", methods=["POST"])
@require("staff", roles=(ADMIN,))
@staff.response(200, schemas.OperatorClientOut)
@staff.problems(404, "operator_client_not_found")
def rotate_operator_secret(client_id):
    """A new secret for the client, shown only here; the old one and every token it
    was given stop working at once."""
    return revocation.rotate_secret(client_id)


@staff.route("/operator-clients/<string:client_id>/disable", methods=["POST"])
@require("staff", roles=(ADMIN,))
@staff.response(200, schemas.OperatorClientInfoOut)
@staff.problems(404, "operator_client_not_found")
def disable_operator_client(client_id):
    """Disable an operator client: its tokens stop at once."""
    return revocation.set_client_active(client_id, False)


@staff.route("/operator-clients/<string:client_id>/enable", methods=["POST"])
@require("staff", roles=(ADMIN,))
@staff.response(200, schemas.OperatorClientInfoOut)
@staff.problems(404, "operator_client_not_found")
def enable_operator_client(client_id):
    """Enable an operator client again (it needs a new token)."""
    return revocation.set_client_active(client_id, True)


@staff.route("/staff", methods=["POST"])
@require("staff", roles=(ADMIN,))
@staff.arguments(schemas.StaffIn)
@staff.response(201, schemas.StaffOut)
@staff.problems(409, "login_taken")
def create_staff(body):
    """A staff login with its roles (admin, reviewer, expert, finance, auditor)."""
    return users.create_staff(body["login"], body["password"], body["roles"])


@staff.route("/staff", methods=["GET"])
@require("staff", roles=(ADMIN, AUDITOR))
@staff.arguments(PageArgs, location="query")
@staff.response(200, StaffPage)
@staff.cursor_page(User.id)
def list_staff(args):
    """Staff logins and their roles."""
    return users.staff_query()


@staff.route("/me", methods=["GET"])
@require("staff", roles=ANY_STAFF)
@staff.response(200, schemas.WhoAmIOut)
def staff_me():
    """Who am I: the staff login and its roles."""
    return users.whoami(current_principal().id)


def _set_active(kind: str, user_id: int, active: bool):
    return revocation.set_user_active(
        kind, user_id, active, acting_user_id=int(current_principal().id)
    )


@staff.route("/staff/<int:user_id>/disable", methods=["POST"])
@require("staff", roles=(ADMIN,))
@staff.response(200, schemas.LoginStateOut)
@staff.problems(404, "staff_not_found")
@staff.problems(409, "cannot_disable_self")
def disable_staff(user_id):
    """Disable a staff login: its sessions end at once."""
    return _set_active("staff", user_id, False)


@staff.route("/staff/<int:user_id>/enable", methods=["POST"])
@require("staff", roles=(ADMIN,))
@staff.response(200, schemas.LoginStateOut)
@staff.problems(404, "staff_not_found")
def enable_staff(user_id):
    """Enable a staff login again."""
    return _set_active("staff", user_id, True)


@staff.route("/merchant-users/<int:user_id>/disable", methods=["POST"])
@require("staff", roles=(ADMIN,))
@staff.response(200, schemas.LoginStateOut)
@staff.problems(404, "merchant_not_found")
def disable_merchant_user(user_id):
    """Disable a merchant user: its sessions end at once."""
    return _set_active("merchant", user_id, False)


@staff.route("/merchant-users/<int:user_id>/enable", methods=["POST"])
@require("staff", roles=(ADMIN,))
@staff.response(200, schemas.LoginStateOut)
@staff.problems(404, "merchant_not_found")
def enable_merchant_user(user_id):
    """Enable a merchant user again."""
    return _set_active("merchant", user_id, True)


@staff.route("/residents/<int:user_id>", methods=["GET"])
@require("staff", roles=(ADMIN, AUDITOR))
@staff.response(200, schemas.ResidentOut)
@staff.problems(404, "resident_not_found")
def get_resident(user_id):
    """A resident's account state (the phone masked)."""
    return users.get_of_kind("resident", user_id)


@staff.route("/residents/<int:user_id>/disable", methods=["POST"])
@require("staff", roles=(ADMIN,))
@staff.response(200, schemas.LoginStateOut)
@staff.problems(404, "resident_not_found")
def disable_resident(user_id):
    """Disable a resident's login: its sessions end at once (balances stay)."""
    return _set_active("resident", user_id, False)


@staff.route("/residents/<int:user_id>/enable", methods=["POST"])
@require("staff", roles=(ADMIN,))
@staff.response(200, schemas.LoginStateOut)
@staff.problems(404, "resident_not_found")
def enable_resident(user_id):
    """Enable a resident's login again."""
    return _set_active("resident", user_id, True)


@merchant.route("/me", methods=["GET"])
@require("merchant")
@merchant.response(200, schemas.WhoAmIOut)
def merchant_me():
    """Who am I: the merchant login and its organisation."""
    return users.whoami(current_principal().id)
