"""A year of the working-day calendar entered by staff from the State Council's notice
(国务院办公厅关于XXXX年部分节假日安排的通知). Such a year wins over the package."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import BigId, UTCDateTime, db, utcnow


class CalendarYear(db.Model):
    __tablename__ = "calendar_years"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    year: Mapped[int] = mapped_column(Integer, unique=True)
    # ISO dates ("2027-01-01"), sorted: days off, and weekend days that are working days
    holidays: Mapped[list] = mapped_column(JSON)
    makeup_workdays: Mapped[list] = mapped_column(JSON)
    notice_title: Mapped[str] = mapped_column(String(200))
    entered_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def holiday_dates(self) -> list[date]:
        return [date.fromisoformat(d) for d in self.holidays]

    @property
    def makeup_dates(self) -> list[date]:
        return [date.fromisoformat(d) for d in self.makeup_workdays]
