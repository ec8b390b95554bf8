"""/api/v1/operator: bind tokens and activity uploads (operator client tokens)."""

from __future__ import annotations

from backend.http import Blueprint

blp = Blueprint("operator", __name__, url_prefix="/api/v1/operator", description="Scenario operators")
