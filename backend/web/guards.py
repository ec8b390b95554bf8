"""The pages' guard (HTTP layer): the browser session from its cookie, CSRF on every
unsafe request, who may see a page, and rendering a page under its Content-Security-
Policy.

- **The session cookie** (`sip_session`; `__Host-sip_session` over HTTPS, then also
  Secure) is HttpOnly and SameSite=Strict and holds only a random token; the row behind
  it (`backend.web.sessions`) is server-side. Every page request re-checks the user
  exactly as the API's guard does (`backend.auth.subjects.load`): a disabled login, or
  one signed out everywhere, is sent to sign in again; a frozen one (or one of a frozen
  organisation) gets 403 at once.
- **CSRF:** every POST (PUT, PATCH, DELETE) to a page blueprint must carry the token,
  as the form field `csrf_token` or the header `X-CSRF-Token` (htmx sends it from the
  `hx-headers` of the page's body). Signed in, the token is the session's own
  (synchronizer token); before signing in (the sign-in form, the public objection
  form) it is an HMAC of a random nonce kept in an HttpOnly cookie (signed double
  submit). A request without it, or with a wrong one, is refused: 403 `csrf_refused`.
- **Who may see a page:** `page("staff", roles=(REVIEWER, AUDITOR))` names the kinds of
  login and the staff roles a page admits, as `backend.auth.guards.require` does for
  the API; any other signed-in login gets 403, in the browser too.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, g, make_response, render_template, request
from marshmallow import ValidationError

from backend.audit.context import Actor, set_actor
from backend.auth import roles as staff_roles
from backend.auth import subjects
from backend.auth.tokens import Principal
from backend.db import db, rollback_quietly
from backend.errors import ApiError, Forbidden, Invalid, Unauthorized
from backend.http import CHINA, HTML_CSP, cursor_page
from backend.web import sessions

SESSION_COOKIE = "sip_session"
CSRF_COOKIE = "sip_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PAGE_KINDS = sessions.KINDS
_NONCE_MAX = 100


class CsrfRefused(Forbidden):
    code, title = "csrf_refused", "The form's security token is missing or wrong"


class SignInNeeded(Unauthorized):
    code, title = "sign_in_needed", "Sign in first"


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def cookie_name(base: str) -> str:
    """`__Host-` cookies are Secure, host-only and for the whole site: over HTTPS."""
    return f"__Host-{base}" if request.is_secure else base


def set_cookie(response: Response, base: str, value: str, *, max_age: int | None = None) -> None:
    response.set_cookie(
        cookie_name(base),
        value,
        max_age=max_age,
        path="/",
        secure=request.is_secure,
        httponly=True,
        samesite="Strict",
    )


def clear_cookie(response: Response, base: str) -> None:
    response.delete_cookie(
        cookie_name(base), path="/", secure=request.is_secure, httponly=True, samesite="Strict"
    )


def web_session() -> sessions.LiveSession | None:
    """The live browser session of this request (looked up once)."""
    if "web_session" not in g:
        g.web_session = sessions.find(request.cookies.get(cookie_name(SESSION_COOKIE)))
    return g.web_session


# --- CSRF ------------------------------------------------------------------------------


def _anonymous_token(nonce: str) -> str:
    key = current_app.config["JWT_SECRET"].encode()
    return hmac.new(key, b"sip-web-csrf\0" + nonce.encode(), hashlib.sha256).hexdigest()


def _cookie_nonce() -> str | None:
    nonce = request.cookies.get(cookie_name(CSRF_COOKIE))
    return nonce if nonce and len(nonce) <= _NONCE_MAX else None


def csrf_token() -> str:
    """The token this page's forms must carry (templates call it)."""
    session = web_session()
    if session is not None:
        return session.csrf_token
    nonce = _cookie_nonce() or g.get("new_csrf_nonce")
    if nonce is None:
        nonce = g.new_csrf_nonce = secrets.token_urlsafe(24)
    return _anonymous_token(nonce)


def check_csrf() -> None:
    """Refuse an unsafe request that does not carry this browser's token."""
    if request.method not in UNSAFE:
        return
    presented = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD) or ""
    session = web_session()
    if session is not None:
        expected = session.csrf_token
    else:
        nonce = _cookie_nonce()
        expected = _anonymous_token(nonce) if nonce else ""
    if not presented or not expected or not hmac.compare_digest(presented, expected):
        raise CsrfRefused(
            "This form's security token is missing or out of date: reload the page and "
            "send it again."
        )


def _keep_new_nonce(response: Response) -> Response:
    nonce = g.pop("new_csrf_nonce", None)
    if nonce is not None:
        set_cookie(response, CSRF_COOKIE, nonce)
    return response


# --- who may see a page ----------------------------------------------------------------


def current_principal() -> Principal:
    return g.principal


def page(*kinds: str, roles: tuple[str, ...] = ()):
    """Admit signed-in logins of `kinds`; staff must hold one of `roles` (required
    whenever staff are admitted). Not signed in: off to the sign-in page."""
    if not kinds or set(kinds) - set(PAGE_KINDS):
        raise ValueError(f"pages are for {PAGE_KINDS}, not {kinds}")
    if "staff" in kinds:
        if not roles:
            raise ValueError("a staff page must name the staff roles it admits")
        roles = tuple(staff_roles.check(roles))
    elif roles:
        raise ValueError("roles are for staff pages")

    def decorator(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            session = web_session()
            if session is None:
                raise SignInNeeded("Sign in to see this page.")
            claimed = Principal(kind=session.kind, id=session.user_id, gen=session.token_gen)
            try:
                principal = subjects.load(claimed)
            except subjects.SubjectInactive as exc:
                raise SignInNeeded("Your session has ended; sign in again.") from exc
            g.principal = principal  # signed in, whatever this page says (the menu)
            if principal.kind not in kinds:
                raise Forbidden("This page is not for your login.")
            acting: tuple[str, ...] = ()
            if principal.kind == "staff":
                acting = tuple(r for r in roles if r in principal.roles)
                if not acting:
                    raise Forbidden("Your staff role may not see this page.")
            elif principal.organization_id is None:
                raise Forbidden("This login is bound to no organisation.")
            sessions.touch(session)
            set_actor(
                db.session,
                Actor(principal.actor, ",".join(acting) or principal.kind, g.get("request_id")),
            )
            return fn(*args, **kwargs)

        wrapper.page_kinds = kinds
        wrapper.page_roles = roles
        return wrapper

    return decorator


def has_role(*roles: str) -> bool:
    """Does the signed-in staff login hold one of `roles`? (What buttons a page shows;
    the routes behind them check again.)"""
    principal = g.get("principal")
    return bool(principal and principal.kind == "staff" and set(roles) & set(principal.roles))


# --- rendering ------------------------------------------------------------------------


def render(template: str, *, status: int = 200, csp: str = HTML_CSP, **context) -> Response:
    """A page (or an htmx fragment) under its Content-Security-Policy; a signed-in page
    is never stored by the browser or a proxy."""
    response = make_response(render_template(template, **context), status)
    response.headers["Content-Security-Policy"] = csp
    if g.get("principal") is not None or web_session() is not None:
        response.headers["Cache-Control"] = "no-store"
    return response


def listing(stmt, key, *, limit: int = 50, scalars: bool = True) -> dict:
    """One page of a list the rules built (`{"items", "next_cursor"}`), newest first, as
    the API's lists are: the page's `?cursor=` continues it."""
    cursor = request.args.get("cursor") or None
    if cursor is not None and len(cursor) > 200:
        cursor = None
    return cursor_page(stmt, key, {"limit": limit, "cursor": cursor}, scalars=scalars)


def form_fields(*names: str) -> dict:
    """The named fields of the posted form, without empty ones (an empty optional field
    is a missing one, as in a JSON body)."""
    return {n: request.form[n] for n in names if request.form.get(n, "").strip()}


def load_form(schema_cls, data: dict) -> dict:
    """The form validated by the API's own input schema: 422 `validation_failed` with
    the field messages, as the API answers."""
    try:
        return schema_cls().load(data)
    except ValidationError as err:
        raise Invalid("The form did not validate; see the fields.", errors=err.messages) from err


def load_query(schema_cls) -> dict:
    """The page's query string validated by the API's own query schema (unknown and
    empty arguments left out): 422 with the field messages when it does not validate."""
    fields = schema_cls().fields
    data = {k: v for k, v in request.args.items() if k in fields and v.strip()}
    data.pop("cursor", None)
    data.pop("limit", None)
    return load_form(schema_cls, data)


def rollback() -> None:
    """Undo what a refused action wrote before its page is shown again."""
    rollback_quietly()


def sign_in_url() -> str:
    target = request.full_path if request.method == "GET" else request.path
    return "/login?" + urlencode({"next": target.rstrip("?")})


def _error_page(err: ApiError) -> Response:
    # Nothing a refused request wrote may stay (the wrapper commits what is not an error).
    rollback_quietly()
    if isinstance(err, SignInNeeded):
        response = make_response("", 401 if is_htmx() else 303)
        if is_htmx():
            response.headers["HX-Redirect"] = sign_in_url()
        else:
            response.headers["Location"] = sign_in_url()
        clear_cookie(response, SESSION_COOKIE)
        return response
    response = render("error.html", status=err.status, error=err)
    for name, value in err.headers.items():
        response.headers[name] = value
    return response


class TooMany(ApiError):
    status, code, title = 429, "rate_limited", "Too many requests"


def _too_many(err) -> Response:
    """A rate limit (sign-in, objections) as a page, with its Retry-After."""
    response = _error_page(TooMany("Too many requests from here: wait a little and try again."))
    for name, value in err.get_headers() if hasattr(err, "get_headers") else ():
        if name.lower() == "retry-after":
            response.headers[name] = value
    return response


def install(blueprint: Blueprint) -> Blueprint:
    """Make `blueprint` a page blueprint: CSRF on every unsafe request, refusals and
    errors (rate limits too) as HTML pages."""
    blueprint.before_request(check_csrf)
    blueprint.register_error_handler(ApiError, _error_page)
    blueprint.register_error_handler(429, _too_many)
    return blueprint


def _local(value, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A moment in China Standard Time (what the pages show), or an ISO string as is."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if getattr(value, "tzinfo", None) is None:  # a date
        return value.isoformat()
    return value.astimezone(CHINA).strftime(fmt)


def _until(value) -> str:
    """The end of a period in China Standard Time; a midnight end is shown as 24:00 of
    the day before (a notice "ends at 24:00 on its fifth working day")."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    local = value.astimezone(CHINA)
    if (local.hour, local.minute, local.second) == (0, 0, 0):
        return (local - timedelta(days=1)).strftime("%Y-%m-%d") + " 24:00"
    return local.strftime("%Y-%m-%d %H:%M")


def _grams(value) -> str:
    return "" if value is None else f"{int(value):,}"


def _tco2e(value) -> str:
    if value is None:
        return ""
    grams = int(value)
    sign = "-" if grams < 0 else ""
    return f"{sign}{abs(grams) // 1_000_000:,}.{abs(grams) % 1_000_000:06d}"


def init_app(app) -> None:
    app.after_request(_keep_new_nonce)
    app.jinja_env.globals.update(
        csrf_token=csrf_token, has_role=has_role, CSRF_FIELD=CSRF_FIELD, is_htmx=is_htmx
    )
    app.jinja_env.filters.update(local=_local, until=_until, grams=_grams, tco2e=_tco2e)

    @app.context_processor
    def _who():
        principal = g.get("principal")
        session = g.get("web_session") if principal is not None else None
        return {"me": principal, "me_login": session.login if session else ""}
