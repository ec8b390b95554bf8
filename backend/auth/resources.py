"""/api/v1/auth: register, login, refresh, logout, operator client tokens."""

from __future__ import annotations

from backend.auth import schemas, services
from backend.extensions import auth_limit, limiter
from backend.http import Blueprint

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Log in and tokens")


@blp.route("/register", methods=["POST"])
@limiter.limit(auth_limit)
@blp.arguments(schemas.RegisterIn)
@blp.response(201, schemas.IdOut)
@blp.alt_response(409, description="phone_taken")
def register(body):
    """Register a resident with a mainland mobile number and a password."""
    user = services.register_resident(body["phone"], body["password"], body["display_name"])
    return {"id": user.id}


@blp.route("/login", methods=["POST"])
@limiter.limit(auth_limit)
@blp.arguments(schemas.LoginIn)
@blp.response(200, schemas.TokenPairOut)
@blp.alt_response(401, description="bad_credentials")
def login(body):
    """Log in with a phone (residents) or a staff / merchant login."""
    return services.login(body["login"], body["password"])


@blp.route("/refresh", methods=["POST"])
@limiter.limit(auth_limit)
@blp.arguments(schemas.RefreshIn)
@blp.response(200, schemas.TokenPairOut)
@blp.alt_response(401, description="bad_refresh_token, refresh_token_reused")
def refresh(body):
    """Trade a refresh token for a new pair; the old one is spent."""
    return services.refresh(body["refresh_token"])


@blp.route("/logout", methods=["POST"])
@blp.arguments(schemas.RefreshIn)
@blp.response(204)
def logout(body):
    """Revoke the refresh token's family."""
    services.logout(body["refresh_token"])


@blp.route("/token", methods=["POST"])
@limiter.limit(auth_limit)
@blp.arguments(schemas.ClientCredentialsIn)
@blp.response(200, schemas.AccessTokenOut)
@blp.alt_response(401, description="bad_credentials")
def client_token(body):
    """Operator machine clients: client credentials for an access token."""
    return services.client_token(body["client_id"], body["client_secret"])
