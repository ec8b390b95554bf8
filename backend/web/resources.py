"""Signing in and out of the pages (/login, /logout), for the staff console and the
merchants' till: the same logins, passwords, lockout and subject checks as the API's
`/auth/login`, but the browser gets a server-side session behind an HttpOnly cookie
instead of tokens."""

from __future__ import annotations

from flask import Blueprint, redirect, request

from backend.auth import lockout
from backend.auth import sessions as auth_sessions
from backend.errors import ApiError
from backend.extensions import auth_limit, limiter, login_name_limit
from backend.web import guards
from backend.web import sessions as web_sessions

blp = guards.install(Blueprint("web", __name__))
blueprints = [blp]

HOME = {"staff": "/console", "merchant": "/merchant"}


def _safe_next(target: str | None) -> str | None:
    """Only a path of this site (never `//host` or a scheme): no open redirect."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    if any(c in target for c in "\r\n\\") or len(target) > 500:
        return None
    return target


def _form_login_name() -> str:
    from flask_limiter.util import get_remote_address

    name = request.form.get("login", "")
    if not name:
        return "login-name:?" + get_remote_address()
    return "login-name:" + lockout.name_key(name)


@blp.get("/login")
def sign_in_form():
    session = guards.web_session()
    if session is not None:
        return redirect(_safe_next(request.args.get("next")) or HOME[session.kind], 303)
    return guards.render(
        "login.html",
        next=_safe_next(request.args.get("next")) or "",
        bye=request.args.get("bye") == "1",
    )


@blp.post("/login")
@limiter.limit(auth_limit)
@limiter.limit(login_name_limit, key_func=_form_login_name)
def sign_in():
    login_name = request.form.get("login", "").strip()
    password = request.form.get("password", "")
    target = _safe_next(request.form.get("next"))
    if not login_name or not password:
        return guards.render(
            "login.html",
            status=422,
            next=target or "",
            login=login_name,
            message="请填写登录名和密码 · Enter your login and password.",
        )
    try:
        user = auth_sessions.authenticate(login_name, password)
        token, session = web_sessions.open_for(user)
    except ApiError as err:
        response = guards.render(
            "login.html", status=err.status, next=target or "", login=login_name, error=err
        )
        for name, value in err.headers.items():
            response.headers[name] = value
        return response
    response = redirect(target or HOME[session.kind], 303)
    guards.set_cookie(response, guards.SESSION_COOKIE, token)
    return response


@blp.post("/logout")
def sign_out():
    session = guards.web_session()
    if session is not None:
        web_sessions.end(session)
    response = redirect("/login?bye=1", 303)
    guards.clear_cookie(response, guards.SESSION_COOKIE)
    return response


@blp.get("/console/login")
@blp.get("/merchant/login")
def section_sign_in():
    return redirect("/login?next=" + request.path.removesuffix("/login"), 303)
