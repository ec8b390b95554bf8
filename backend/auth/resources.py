"""/api/v1/auth (register, log in, refresh, log out, operator client tokens) and the
staff routes that create logins (/api/v1/admin/operator-clients, /merchant-users)."""

from __future__ import annotations

from backend.auth import clients, schemas, sessions, users
from backend.auth.guards import BEARER, current_principal, require
from backend.auth.roles import ADMIN
from backend.extensions import auth_limit, limiter
from backend.http import Blueprint

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Log in and tokens")
staff = Blueprint(
    "staff_accounts",
    __name__,
    url_prefix="/api/v1/admin",
    description="Staff: operator clients and organisation logins",
)
org = Blueprint(
    "org_accounts", __name__, url_prefix="/api/v1/org", description="Organisation users"
)
blueprints = [blp, staff, org]


@blp.route("/register", methods=["POST"])
@limiter.limit(auth_limit)
@blp.arguments(schemas.RegisterIn)
@blp.response(201, schemas.IdOut)
@blp.alt_response(409, description="phone_taken")
def register(body):
    """Register a resident with a mainland mobile number and a password."""
    user = users.register_resident(body["phone"], body["password"], body["display_name"])
    return {"id": user.id}


@blp.route("/login", methods=["POST"])
@limiter.limit(auth_limit)
@blp.arguments(schemas.LoginIn)
@blp.response(200, schemas.TokenPairOut)
@blp.alt_response(401, description="bad_credentials")
def login(body):
    """Log in with a phone (residents) or a staff / merchant login."""
    return sessions.login(body["login"], body["password"])


@blp.route("/refresh", methods=["POST"])
@limiter.limit(auth_limit)
@blp.arguments(schemas.RefreshIn)
@blp.response(200, schemas.TokenPairOut)
@blp.alt_response(401, description="bad_refresh_token, refresh_token_reused")
def refresh(body):
    """Trade a refresh token for a new pair; the old one is spent."""
    return sessions.refresh(body["refresh_token"])


@blp.route("/logout", methods=["POST"])
@blp.arguments(schemas.RefreshIn)
@blp.response(204)
def logout(body):
    """Revoke the refresh token's family."""
    sessions.logout(body["refresh_token"])


@blp.route("/token", methods=["POST"])
@limiter.limit(auth_limit)
@blp.arguments(schemas.ClientCredentialsIn)
@blp.response(200, schemas.AccessTokenOut)
@blp.alt_response(401, description="bad_credentials")
def client_token(body):
    """Operator machine clients: client credentials for an access token."""
    return clients.client_token(body["client_id"], body["client_secret"])


@staff.route("/operator-clients", methods=["POST"])
@staff.doc(security=BEARER)
@require("staff")
@staff.arguments(schemas.OperatorClientIn)
@staff.response(201, schemas.OperatorClientOut)
def create_operator_client(body):
    """A machine client for an operator's scenario; the secret is shown only here."""
    return clients.create_for_scenario(body["organization_id"], body["scenario_code"])


@staff.route("/merchant-users", methods=["POST"])
@staff.doc(security=BEARER)
@require("staff")
@staff.arguments(schemas.MerchantUserIn)
@staff.response(201, schemas.IdOut)
@staff.alt_response(409, description="login_taken")
def create_merchant_user(body):
    """A login for a merchant's staff, bound to that merchant."""
    return {"id": users.create_merchant_user(**body)}


@staff.route("/org-users", methods=["POST"])
@staff.doc(security=BEARER)
@require("staff", roles=(ADMIN,))
@staff.arguments(schemas.MerchantUserIn)
@staff.response(201, schemas.IdOut)
@staff.alt_response(409, description="login_taken")
def create_org_user(body):
    """A login for an organisation's staff (of a merchant: also its till login)."""
    return {"id": users.create_org_user(**body)}


@org.route("/me", methods=["GET"])
@org.doc(security=BEARER)
@require("org")
@org.response(200, schemas.OrgMeOut)
def org_me():
    """Who am I: the login and its organisation."""
    return users.org_user(int(current_principal().id))
