"""SHIM (registry branch only; the workdays branch brings the real calendar)."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

from backend.errors import Conflict

SHANGHAI = ZoneInfo("Asia/Shanghai")


def notice_period(published_at: datetime, working_days: int = 5):
    day = published_at.astimezone(SHANGHAI).date()
    counted = 0
    while counted < working_days:
        day += timedelta(days=1)
        try:
            if chinese_calendar.is_workday(day):
                counted += 1
        except NotImplementedError as exc:
            raise Conflict("unknown year", code="calendar_unknown") from exc
    ends = datetime.combine(day + timedelta(days=1), time(0), SHANGHAI)
    return published_at, ends
