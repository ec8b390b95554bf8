"""What the API tells operators about their records, generated from the adapters so a new
adapter documents itself:
- the upload body of the OpenAPI document: each family's record (a component such as
  `TransitRecord`, `EvChargingRecord`) in a `oneOf` with a discriminator on
  `activity_type`, with the default limits and an example that uploads as it is once its
  `user_ref` is bound (its times are the day before the document was built);
- `GET /api/v1/operator/scenario`: the caller's scenario, with the record schema of each
  of its activity types under the limits of its methodology version."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import scenarios_adapters
from backend.db import db, utcnow
from backend.errors import NotFound
from backend.registry.models import Scenario

SHANGHAI = ZoneInfo("Asia/Shanghai")
_REF = "#/components/schemas/"


def example_start(now: datetime | None = None) -> datetime:
    """08:00 Asia/Shanghai the day before `now`: inside every window, never future."""
    day = (now or utcnow()).astimezone(SHANGHAI) - timedelta(days=1)
    return day.replace(hour=8, minute=0, second=0, microsecond=0)


def components(now: datetime | None = None) -> dict[str, dict]:
    """Component name -> JSON Schema of every family's record (default limits)."""
    return scenarios_adapters.documented_records(example_start(now))


def upload_body() -> dict:
    """The upload's request body schema (the upload is still parsed by hand: records are
    counted before any is validated, and one bad record never fails the batch)."""
    names = sorted(set(scenarios_adapters.documented_activity_types().values()))
    return {
        "type": "object",
        "required": ["records"],
        "additionalProperties": False,
        "properties": {
            "records": {
                "type": "array",
                "maxItems": 10000,
                "description": "Up to 10,000 records. Each gets a result: `accepted` (with "
                "`reduction_g`), `duplicate` (the first result again) or `rejected` with a "
                "`reason` and, per field, the rule broken (`errors`). A record is judged "
                "by the family of the scenario's methodology; `activity_type` picks the "
                "record's schema.",
                "items": {
                    "oneOf": [{"$ref": _REF + name} for name in names],
                    "discriminator": {
                        "propertyName": "activity_type",
                        "mapping": {
                            activity_type: _REF + name
                            for activity_type, name in sorted(
                                scenarios_adapters.documented_activity_types().items()
                            )
                        },
                    },
                },
            }
        },
    }


class ScenarioNotFound(NotFound):
    code, title = "scenario_not_found", "No such scenario"


def operator_scenario(scenario_id: int, now: datetime | None = None) -> dict:
    """The scenario an operator client uploads to, with the record schema of each of its
    activity types (limits from its methodology version's parameters)."""
    scenario = db.session.get(Scenario, scenario_id) if scenario_id else None
    if scenario is None:
        raise ScenarioNotFound("The client's scenario does not exist.")
    methodology = scenario.methodology
    start = example_start(now)
    return {
        "code": scenario.code,
        "title": scenario.title,
        "status": scenario.status,
        "window_days": scenario.window_days,
        "daily_cap_g": scenario.daily_cap_g,
        "activity_types": list(scenario.activity_types),
        "methodology": methodology.code,
        "methodology_version": methodology.version,
        "record_schemas": {
            activity_type: scenarios_adapters.record_schema(
                methodology.formula, methodology.parameters, [activity_type], start
            )
            for activity_type in scenario.activity_types
        },
    }
