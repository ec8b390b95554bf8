"""A resident's accepted activities, as they read them."""

from __future__ import annotations

from sqlalchemy import Select, select

from backend.activity.models import Activity


def of_resident(user_id: int) -> Select:
    return select(Activity).where(Activity.user_id == user_id)
