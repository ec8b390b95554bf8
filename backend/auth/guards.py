"""Route guards (HTTP layer): read the bearer token, re-check its subject in the
database, check the caller's kind and (staff) role, expose the caller, and put the
actor on the session for the audit log.

`require("staff", roles=(ADMIN, AUDITOR))` names the staff roles a route admits: no
role is a superuser, and a staff route without roles is refused when it is declared.
The guard runs before the body is parsed (put it above `@blp.arguments`), so a caller
who may not call a route learns nothing from it but 403. The roles (and the kinds of
caller) are written into the OpenAPI document: `x-roles`, `x-callers`, and a line of
the operation's description."""

from __future__ import annotations

import functools
from copy import deepcopy

from flask import g, request
from flask_smorest.utils import deepupdate, load_info_from_docstring

from backend.audit.context import Actor, set_actor
from backend.auth import roles as staff_roles
from backend.auth import subjects
from backend.auth.tokens import Principal, config_from_app, read_access
from backend.db import db
from backend.errors import Forbidden, Unauthorized

BEARER = [{"bearerAuth": []}]
KINDS = ("resident", "staff", "merchant", "org", "operator")


def current_principal() -> Principal:
    return g.principal


def _authenticate() -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("A bearer token is required.", code="missing_token")
    return read_access(config_from_app(), token.strip())


def _document(wrapper, fn, kinds: tuple[str, ...], roles: tuple[str, ...]) -> None:
    info = load_info_from_docstring(fn.__doc__ or "")
    line = f"Staff roles: {', '.join(roles)}." if roles else f"Callers: {', '.join(kinds)}."
    description = "\n\n".join(p for p in (info.get("description"), line) if p)
    doc: dict = {"security": BEARER, "x-callers": list(kinds), "description": description}
    if roles:
        doc["x-roles"] = list(roles)
    wrapper._apidoc = deepcopy(getattr(wrapper, "_apidoc", {}))
    wrapper._apidoc["manual_doc"] = deepupdate(deepcopy(wrapper._apidoc.get("manual_doc", {})), doc)


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
            # a merchant's till login is an organisation user too
            admitted = set(kinds) | ({"merchant"} if "org" in kinds else set())
            if claimed.kind not in admitted:
                raise Forbidden("This role may not call this route.")
            principal = subjects.load(claimed)
            acting: tuple[str, ...] = ()
            if principal.kind == "staff":
                acting = tuple(r for r in roles if r in principal.roles)
                if not acting:
                    raise Forbidden("This staff role may not call this route.")
            org_kinds = {"merchant", "org", "operator"}
            if principal.kind in org_kinds and principal.organization_id is None:
                raise Forbidden("This token is bound to no organisation.")
            g.principal = principal
            set_actor(
                db.session,
                Actor(principal.actor, ",".join(acting) or principal.kind, g.get("request_id")),
            )
            return fn(*args, **kwargs)

        _document(wrapper, fn, kinds, roles)
        return wrapper

    return decorator
