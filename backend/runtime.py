"""The running app's settings, for services and jobs (app context, never request state)."""

from __future__ import annotations

from flask import current_app

from backend.auth.tokens import TokenConfig


def setting(name: str):
    return current_app.config[name]


def token_config() -> TokenConfig:
    c = current_app.config
    return TokenConfig(
        secret=c["JWT_SECRET"],
        issuer=c["JWT_ISSUER"],
        audience=c["JWT_AUDIENCE"],
        algorithm=c["JWT_ALGORITHM"],
        access_seconds=c["ACCESS_TOKEN_SECONDS"],
    )
