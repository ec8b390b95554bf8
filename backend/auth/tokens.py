"""JWT access tokens (pinned algorithm, issuer, audience, expiry) and opaque secrets."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import jwt
from flask import current_app

from backend.db import utcnow
from backend.errors import Unauthorized


class TokenExpired(Unauthorized):
    code, title = "token_expired", "The access token has expired"


class BadToken(Unauthorized):
    code, title = "bad_token", "The access token is not valid"


@dataclass(frozen=True)
class Principal:
    kind: str  # resident | staff | merchant | org | operator
    id: int | str
    roles: tuple[str, ...] = field(default_factory=tuple)
    organization_id: int | None = None
    scenario_id: int | None = None
    gen: int = 0  # the subject's token generation when the token was issued

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True)
class TokenConfig:
    secret: str
    issuer: str
    audience: str
    algorithm: str
    access_seconds: int


def issue_access(cfg: TokenConfig, p: Principal) -> str:
    now = utcnow()
    claims = {
        "iss": cfg.issuer,
        "aud": cfg.audience,
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(seconds=cfg.access_seconds),
        "sub": str(p.id),
        "jti": uuid.uuid4().hex,
        "role": p.kind,
        "gen": p.gen,
    }
    if p.roles:
        claims["roles"] = list(p.roles)
    if p.organization_id is not None:
        claims["org"] = p.organization_id
    if p.scenario_id is not None:
        claims["scn"] = p.scenario_id
    return jwt.encode(claims, cfg.secret, algorithm=cfg.algorithm)


def read_access(cfg: TokenConfig, token: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            cfg.secret,
            algorithms=[cfg.algorithm],
            audience=cfg.audience,
            issuer=cfg.issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenExpired("The token has expired.") from exc
    except jwt.PyJWTError as exc:
        raise BadToken("The token is not valid.") from exc
    kind = claims.get("role")
    if kind not in {"resident", "staff", "merchant", "org", "operator"}:
        raise BadToken("The token is not valid.")
    sub = claims["sub"]
    try:
        ident: int | str = sub if kind == "operator" else int(sub)
    except ValueError as exc:
        raise BadToken("The token is not valid.") from exc
    roles = claims.get("roles") or []
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise BadToken("The token is not valid.")
    gen = claims.get("gen", 0)
    if type(gen) is not int:
        raise BadToken("The token is not valid.")
    return Principal(
        kind=kind,
        id=ident,
        roles=tuple(roles),
        organization_id=claims.get("org"),
        scenario_id=claims.get("scn"),
        gen=gen,
    )


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def config_from_app() -> TokenConfig:
    """The running app's token settings."""
    c = current_app.config
    return TokenConfig(
        secret=c["JWT_SECRET"],
        issuer=c["JWT_ISSUER"],
        audience=c["JWT_AUDIENCE"],
        algorithm=c["JWT_ALGORITHM"],
        access_seconds=c["ACCESS_TOKEN_SECONDS"],
    )
