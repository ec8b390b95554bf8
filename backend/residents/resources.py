"""/api/v1/me: a resident's own balances, consents, activities, ledger, conversions."""

from __future__ import annotations

from backend.http import Blueprint

blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="Residents")
