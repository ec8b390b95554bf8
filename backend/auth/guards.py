"""Route guards (HTTP layer): read the bearer token, check the role, expose the caller."""

from __future__ import annotations

import functools

from flask import g, request

from backend.auth.tokens import Principal, config_from_app, read_access
from backend.errors import Forbidden, Unauthorized

BEARER = [{"bearerAuth": []}]


def current_principal() -> Principal:
    return g.principal


def _authenticate() -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("A bearer token is required.", code="missing_token")
    return read_access(config_from_app(), token.strip())


def require(*kinds: str, roles: tuple[str, ...] = ()):
    """Allow callers whose token kind is one of `kinds` (and, for staff, holds one of
    `roles` when given; `admin` may do everything staff may)."""

    def decorator(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            principal = _authenticate()
            # a merchant's till login is an organisation user too
            admitted = set(kinds) | ({"merchant"} if "org" in kinds else set())
            if principal.kind not in admitted:
                raise Forbidden("This role may not call this route.")
            staff_role_missing = (
                roles
                and principal.kind == "staff"
                and "admin" not in principal.roles
                and not set(roles) & set(principal.roles)
            )
            if staff_role_missing:
                raise Forbidden("This staff role may not call this route.")
            org_kinds = {"merchant", "org", "operator"}
            if principal.kind in org_kinds and principal.organization_id is None:
                raise Forbidden("This token is bound to no organisation.")
            g.principal = principal
            return fn(*args, **kwargs)

        return wrapper

    return decorator
