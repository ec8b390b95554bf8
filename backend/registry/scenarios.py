"""Scenarios (减排场景, Art. 11-14): registered scenarios of personal reductions."""

from __future__ import annotations

from sqlalchemy import Select, select

from backend.registry.models import Scenario


def registered() -> Select:
    return select(Scenario).where(Scenario.status == "registered")
