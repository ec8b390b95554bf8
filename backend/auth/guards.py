"""Route guards (HTTP layer): read the bearer token, re-check its subject in the
database, check the caller's kind and (staff) role, expose the caller, and put the
actor on the session for the audit log.

`require("staff", roles=(ADMIN, AUDITOR))` names the staff roles a route admits: no
role is a superuser, and a staff route without roles is refused when it is declared.
The guard runs before the body is parsed (put it above `@blp.arguments`), so a caller
who may not call a route learns nothing from it but 403, which names the callers and
roles the route admits (`callers`, `roles`). The guard records the kinds and roles on
the view (`x-callers`, `x-roles`, `security`); the OpenAPI document derives from them
who may call each operation and its 401 and 403 answers (`backend.apidoc`)."""

from __future__ import annotations

import functools

from flask import g, request

from backend.audit.context import Actor, set_actor
from backend.auth import roles as staff_roles
from backend.auth import subjects
from backend.auth.tokens import Principal, config_from_app, read_access
from backend.db import db
from backend.errors import Forbidden, Unauthorized
from backend.http import annotate

BEARER = [{"bearerAuth": []}]
KINDS = ("resident", "staff", "merchant", "org", "operator")
# How a 403 names the callers a route is for.
CALLER_NAMES = {
    "resident": "residents",
    "staff": "service-centre staff",
    "merchant": "merchants' staff",
    "org": "organisation users",
    "operator": "operator clients",
}


class MissingToken(Unauthorized):
    code, title = "missing_token", "A bearer token is required"


class NotForCaller(Forbidden):
    """A caller of another kind, or staff without one of the route's roles (code
    `forbidden`, as every 403 of the guard), told which callers and roles it needs."""

    extras = {
        "callers": {
            "type": "array",
            "items": {"type": "string", "enum": list(KINDS)},
            "description": "The kinds of caller the route admits.",
            "example": ["staff"],
        },
        "roles": {
            "type": "array",
            "items": {"type": "string"},
            "description": "For staff: the roles the route admits (any one of them).",
            "example": ["finance", "auditor"],
        },
    }


def current_principal() -> Principal:
    return g.principal


def _authenticate() -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise MissingToken("A bearer token is required.")
    return read_access(config_from_app(), token.strip())


def _admitted(kinds: tuple[str, ...]) -> set[str]:
    # a merchant's till login is an organisation user too
    return set(kinds) | ({"merchant"} if "org" in kinds else set())


def _not_for(kind: str, kinds: tuple[str, ...], roles: tuple[str, ...]) -> NotForCaller:
    names = " or ".join(CALLER_NAMES[k] for k in kinds)
    return NotForCaller(
        f"This route is for {names}; this token is of a {kind}.",
        extra={"callers": list(kinds), "roles": list(roles)},
    )


def _role_needed(held: tuple[str, ...], kinds, roles: tuple[str, ...]) -> NotForCaller:
    if len(roles) == 1:
        need = f"the staff role {roles[0]}"
    else:
        need = "one of the staff roles " + ", ".join(roles)
    return NotForCaller(
        f"This route needs {need}; this login holds {', '.join(held) or 'no role'}.",
        extra={"callers": list(kinds), "roles": list(roles)},
    )


def require(*kinds: str, roles: tuple[str, ...] = ()):
    """Admit callers whose token kind is one of `kinds`; staff must hold one of `roles`
    (required whenever staff are admitted)."""
    unknown = set(kinds) - set(KINDS)
    if unknown or not kinds:
        raise ValueError(f"unknown caller kinds {sorted(unknown)}")
    if "staff" in kinds:
        if not roles:
            raise ValueError("a staff route must name the staff roles it admits")
        roles = tuple(staff_roles.check(roles))
    elif roles:
        raise ValueError("roles are for staff routes")

    def decorator(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            claimed = _authenticate()
            if claimed.kind not in _admitted(kinds):
                raise _not_for(claimed.kind, kinds, roles)
            principal = subjects.load(claimed)
            acting: tuple[str, ...] = ()
            if principal.kind == "staff":
                acting = tuple(r for r in roles if r in principal.roles)
                if not acting:
                    raise _role_needed(principal.roles, kinds, roles)
            org_kinds = {"merchant", "org", "operator"}
            if principal.kind in org_kinds and principal.organization_id is None:
                raise Forbidden("This token is bound to no organisation.")
            g.principal = principal
            set_actor(
                db.session,
                Actor(principal.actor, ",".join(acting) or principal.kind, g.get("request_id")),
            )
            return fn(*args, **kwargs)

        doc: dict = {"security": BEARER, "x-callers": list(kinds)}
        if roles:
            doc["x-roles"] = list(roles)
        return annotate(wrapper, doc)

    return decorator
