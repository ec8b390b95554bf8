"""The running app's settings, for rules and jobs (app context, never request state)."""

from __future__ import annotations

from flask import current_app


def setting(name: str):
    return current_app.config[name]
