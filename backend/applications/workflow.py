"""The steps of each type of application, in one transition table: which action may
happen in which status, and the status it leads to. A step can't be skipped: any other
action is 409 `step_not_allowed`, naming the actions the current status allows.

    methodology, methodology_revision, scenario, project (expert review and notice):
      submitted --accept--> accepted --opinion--> in_review --notice--> in_notice
                --return--> returned (ends)    in_review --reject--> rejected
      in_notice --approve--> approved | --reject--> rejected (both after the notice
      ends, with no objection open) | --objection_upheld--> rejected
    deregistration, issuance (review and decision, Art. 14, 16):
      submitted --accept--> accepted --approve|reject--> approved | rejected
                --return--> returned
    any status before a decision --withdraw--> withdrawn
"""

from __future__ import annotations

from backend.errors import CURRENT_STATUS, Conflict

FULL_TYPES = frozenset({"methodology", "methodology_revision", "scenario", "project"})
SHORT_TYPES = frozenset({"deregistration", "issuance"})

_FULL = {
    ("submitted", "accept"): "accepted",
    ("submitted", "return"): "returned",
    ("accepted", "opinion"): "in_review",
    ("in_review", "opinion"): "in_review",
    ("in_review", "notice"): "in_notice",
    ("in_review", "reject"): "rejected",
    ("in_notice", "approve"): "approved",
    ("in_notice", "reject"): "rejected",
    ("in_notice", "objection_upheld"): "rejected",
}
_SHORT = {
    ("submitted", "accept"): "accepted",
    ("submitted", "return"): "returned",
    ("accepted", "approve"): "approved",
    ("accepted", "reject"): "rejected",
}
WITHDRAWABLE = frozenset({"submitted", "accepted", "in_review", "in_notice"})
FINAL = frozenset({"returned", "approved", "rejected", "withdrawn"})


class StepNotAllowed(Conflict):
    code, title = "step_not_allowed", "This step is not allowed now"
    extras = CURRENT_STATUS | {
        "allowed": {
            "type": "array",
            "items": {"type": "string"},
            "description": "The steps the application can take now.",
            "example": ["withdraw"],
        }
    }


def _table(app_type: str) -> dict[tuple[str, str], str]:
    if app_type in FULL_TYPES:
        return _FULL
    if app_type in SHORT_TYPES:
        return _SHORT
    raise ValueError(f"unknown application type {app_type!r}")


def allowed_actions(app_type: str, status: str) -> list[str]:
    actions = [action for (state, action) in _table(app_type) if state == status]
    if status in WITHDRAWABLE:
        actions.append("withdraw")
    return actions


def next_status(app_type: str, status: str, action: str) -> str:
    """The status `action` leads to, or StepNotAllowed."""
    if action == "withdraw" and status in WITHDRAWABLE:
        return "withdrawn"
    target = _table(app_type).get((status, action))
    if target is None:
        allowed = allowed_actions(app_type, status)
        raise StepNotAllowed(
            f"A {app_type} application that is {status} cannot take '{action}'"
            + (f"; it can take: {', '.join(allowed)}." if allowed else "; it is closed."),
            extra={"current_status": status, "allowed": allowed},
        )
    return target


def takes_notice(app_type: str) -> bool:
    return app_type in FULL_TYPES
