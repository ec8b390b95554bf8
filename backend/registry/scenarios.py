"""Scenarios (减排场景, Art. 11-14): registered scenarios of personal reductions."""

from __future__ import annotations

from sqlalchemy import Select, select

from backend.db import db
from backend.errors import Conflict, text
from backend.registry.models import Scenario


def registered() -> Select:
    return select(Scenario).where(Scenario.status == "registered")


class ScenarioNotRegistered(Conflict):
    code, title = "scenario_not_registered", "The scenario is not registered"
    extras = {
        "current_status": text("The scenario's state (null: no such scenario).", "deregistered")
        | {"nullable": True}
    }


def require_registered(scenario_id: int) -> Scenario:
    """The scenario, which must be registered: an operator of a scenario that is not (or
    no longer) registered can neither bind residents nor upload (Art. 12, 14)."""
    scenario = db.session.get(Scenario, scenario_id)
    if scenario is None or scenario.status != "registered":
        raise ScenarioNotRegistered(
            "The scenario is not registered (or was deregistered): no binding, no uploads.",
            extra={"current_status": scenario.status if scenario else None},
        )
    return scenario
