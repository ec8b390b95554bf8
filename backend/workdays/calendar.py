"""Chinese working days, and the end of a public notice of N of them (Art. 13 of the
measures: a notice of at least 5 working days).

The rules (Civil Code Art. 201, 203):
- the day of publication does not count: the period starts the next day;
- weekends and public holidays do not count; make-up working days (调休, a Saturday or
  Sunday the State Council's notice makes a working day) do;
- the notice ends at 24:00 Asia/Shanghai of the Nth working day, i.e. at 00:00 of the
  day after it.

Which day is a working day comes from the `chinesecalendar` package (2004-2026 in 1.11)
and from the years staff entered from the State Council's notice (`CalendarYear`); a
year staff entered wins over the package. A day in neither is never guessed: the
computation that needs it is refused with 409 `calendar_unknown`.

The package is asked one day at a time (`chinese_calendar.is_workday`). Two of its
helpers are wrong for this and not used: `find_workday(n, d)` lands a day late when `d`
is a holiday, and `get_workdays(..., include_weekends=False)` drops make-up Saturdays.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from importlib import metadata
from typing import NamedTuple
from zoneinfo import ZoneInfo

import chinese_calendar
from chinese_calendar import constants as package_data
from sqlalchemy import select

from backend.audit import log as audit
from backend.db import db, dialect_insert, utcnow
from backend.errors import Conflict, Invalid, NotFound, integer
from backend.workdays.models import CalendarYear

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOTICE_WORKING_DAYS = 5  # Art. 13: at least 5 working days

PACKAGE = "chinesecalendar"
PACKAGE_FIRST_YEAR = min(package_data.holidays).year
PACKAGE_LAST_YEAR = max(package_data.holidays).year

# Years staff may enter (a typo such as 20277 is refused, not stored).
FIRST_ENTERABLE_YEAR, LAST_ENTERABLE_YEAR = 2000, 2100
# Holidays on fixed dates that every State Council notice keeps (全国年节及纪念日放假办法
# Art. 2): New Year's Day, Labour Day, National Day; Labour Day has 2 days from 2025
# (State Council Decree No. 795 of 2024). A year without them was mistyped.
FIXED_HOLIDAYS = ((1, 1), (5, 1), (10, 1), (10, 2), (10, 3))
FIXED_HOLIDAYS_FROM_2025 = ((5, 2),)


class CalendarUnknown(Conflict):
    code, title = "calendar_unknown", "No working-day calendar for that year"
    extras = {"year": integer("The year no calendar covers.", 2031)}

    def __init__(self, year: int):
        super().__init__(
            f"No working-day calendar for {year}: the {PACKAGE} package covers "
            f"{PACKAGE_FIRST_YEAR}-{PACKAGE_LAST_YEAR} and staff have not entered {year} "
            "from the State Council's holiday notice.",
            extra={"year": year},
        )
        self.year = year


class YearUnknown(NotFound):
    code, title = "calendar_unknown", "No working-day calendar for that year"
    extras = {"year": integer("The year no calendar covers.", 2031)}


class NoticePeriod(NamedTuple):
    starts_at: datetime  # the publication moment (the notice is open from then)
    ends_at: datetime  # 00:00 Asia/Shanghai after the last working day (24:00 of it)


class _StaffYear(NamedTuple):
    holidays: frozenset[date]
    makeup_workdays: frozenset[date]

    def is_workday(self, day: date) -> bool:
        return day in self.makeup_workdays or (day.weekday() < 5 and day not in self.holidays)


class Calendar:
    """The working days as one computation sees them: each staff-entered year is read
    once, the package answers for the others."""

    def __init__(self) -> None:
        self._staff: dict[int, _StaffYear | None] = {}

    def _staff_year(self, year: int) -> _StaffYear | None:
        if year not in self._staff:
            row = db.session.scalar(select(CalendarYear).where(CalendarYear.year == year))
            self._staff[year] = (
                None
                if row is None
                else _StaffYear(frozenset(row.holiday_dates), frozenset(row.makeup_dates))
            )
        return self._staff[year]

    def is_workday(self, day: date) -> bool:
        staff = self._staff_year(day.year)
        if staff is not None:
            return staff.is_workday(day)
        if PACKAGE_FIRST_YEAR <= day.year <= PACKAGE_LAST_YEAR:
            try:
                return chinese_calendar.is_workday(day)
            except NotImplementedError:
                pass
        raise CalendarUnknown(day.year)

    def nth_workday_after(self, day: date, n: int) -> date:
        """The nth working day after `day` (`day` itself never counts)."""
        if n < 1:
            raise ValueError("n must be at least 1")
        counted = 0
        while counted < n:
            day += timedelta(days=1)
            if self.is_workday(day):
                counted += 1
        return day


def is_workday(d: date) -> bool:
    """Is `d` a Chinese working day? 409 `calendar_unknown` for a year nobody covers."""
    if isinstance(d, datetime):
        raise TypeError("is_workday takes a date; convert the moment to Asia/Shanghai first")
    return Calendar().is_workday(d)


def nth_workday_after(day: date, n: int) -> date:
    return Calendar().nth_workday_after(day, n)


def notice_period(published_at: datetime, working_days: int = NOTICE_WORKING_DAYS) -> NoticePeriod:
    """A public notice published at `published_at` (timezone-aware) that runs at least
    `working_days` working days: `(starts_at, ends_at)`, both Asia/Shanghai. The day of
    publication is the Asia/Shanghai day of `published_at`; it does not count."""
    if published_at.tzinfo is None or published_at.utcoffset() is None:
        raise ValueError("published_at must be timezone-aware")
    if working_days < 1:
        raise ValueError("a notice runs at least one working day")
    starts_at = published_at.astimezone(SHANGHAI)
    last = Calendar().nth_workday_after(starts_at.date(), working_days)
    ends_at = datetime.combine(last + timedelta(days=1), time(0), tzinfo=SHANGHAI)
    return NoticePeriod(starts_at, ends_at)


# -- the years: what the package covers, what staff entered -----------------------------


def package_coverage() -> dict:
    return {
        "name": PACKAGE,
        "version": metadata.version(PACKAGE),
        "first_year": PACKAGE_FIRST_YEAR,
        "last_year": PACKAGE_LAST_YEAR,
    }


def entered_years() -> list[CalendarYear]:
    return list(db.session.scalars(select(CalendarYear).order_by(CalendarYear.year)))


def overview() -> dict:
    return {"package": package_coverage(), "entered": entered_years()}


def year_schedule(year: int) -> dict:
    """The days off and make-up working days of `year` as the calendar uses them, and
    where they come from (`staff` wins over `package`)."""
    row = None
    if FIRST_ENTERABLE_YEAR <= year <= LAST_ENTERABLE_YEAR:  # else no column could hold it
        row = db.session.scalar(select(CalendarYear).where(CalendarYear.year == year))
    if row is not None:
        return {
            "year": year,
            "source": "staff",
            "holidays": row.holiday_dates,
            "makeup_workdays": row.makeup_dates,
            "notice_title": row.notice_title,
            "entered_by": row.entered_by,
            "entered_at": row.entered_at,
        }
    if not PACKAGE_FIRST_YEAR <= year <= PACKAGE_LAST_YEAR:
        raise YearUnknown(CalendarUnknown(year).detail, extra={"year": year})
    return {
        "year": year,
        "source": "package",
        "holidays": sorted(d for d in package_data.holidays if d.year == year),
        "makeup_workdays": sorted(d for d in package_data.workdays if d.year == year),
        "notice_title": None,
        "entered_by": None,
        "entered_at": None,
    }


def _check_year(
    year: int, holidays: list[date], makeup_workdays: list[date], notice_title: str
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if not FIRST_ENTERABLE_YEAR <= year <= LAST_ENTERABLE_YEAR:
        add("year", f"Enter a year from {FIRST_ENTERABLE_YEAR} to {LAST_ENTERABLE_YEAR}.")
        return errors
    for field, days in (("holidays", holidays), ("makeup_workdays", makeup_workdays)):
        outside = sorted({d.isoformat() for d in days if d.year != year})
        if outside:
            add(field, f"Not in {year}: {', '.join(outside)}.")
        repeated = sorted({d.isoformat() for d in days if days.count(d) > 1})
        if repeated:
            add(field, f"Listed more than once: {', '.join(repeated)}.")
    both = sorted({d.isoformat() for d in set(holidays) & set(makeup_workdays)})
    if both:
        add("makeup_workdays", f"Both a holiday and a make-up working day: {', '.join(both)}.")
    # A make-up working day turns a weekend day into a working day; a weekday already is.
    weekdays = sorted({d.isoformat() for d in makeup_workdays if d.weekday() < 5})
    if weekdays:
        add("makeup_workdays", f"Not a Saturday or Sunday: {', '.join(weekdays)}.")
    # Holidays may fall on a weekend: notices give whole ranges ("1月1日至3日放假").
    fixed = FIXED_HOLIDAYS + (FIXED_HOLIDAYS_FROM_2025 if year >= 2025 else ())
    missing = [date(year, m, d) for m, d in fixed if date(year, m, d) not in set(holidays)]
    if missing:
        add(
            "holidays",
            "The statutory holidays on fixed dates are missing: "
            + ", ".join(d.isoformat() for d in missing)
            + ".",
        )
    if str(year) not in notice_title:
        add("notice_title", f"The State Council's notice for {year} names the year ({year}年).")
    return errors


def _iso(days: Iterable[date]) -> list[str]:
    return sorted(d.isoformat() for d in days)


def enter_year(
    year: int,
    *,
    holidays: list[date],
    makeup_workdays: list[date],
    notice_title: str,
    entered_by: int,
) -> tuple[CalendarYear, bool]:
    """Store (or replace) `year` as the State Council's notice gives it; returns the row
    and whether it is new. Notices computed before keep the dates they were given."""
    errors = _check_year(year, holidays, makeup_workdays, notice_title)
    if errors:
        raise Invalid(errors=errors)
    values = {
        "holidays": _iso(holidays),
        "makeup_workdays": _iso(makeup_workdays),
        "notice_title": notice_title,
        "entered_by": entered_by,
        "entered_at": utcnow(),
    }
    # Insert, or lock the row that is there and replace it: two staff entering the same
    # year at once give one row (the later write wins), never a unique-key error.
    inserted = db.session.execute(
        dialect_insert(CalendarYear)
        .values(year=year, **values)
        .on_conflict_do_nothing(index_elements=["year"])
        .returning(CalendarYear.id)
    ).scalar()
    if inserted is not None:
        audit.record("calendar_year.enter", "calendar_year", year, after=_public(values))
        return db.session.get(CalendarYear, inserted), True
    row = db.session.scalar(select(CalendarYear).where(CalendarYear.year == year).with_for_update())
    before = _public(
        {
            "holidays": row.holidays,
            "makeup_workdays": row.makeup_workdays,
            "notice_title": row.notice_title,
        }
    )
    for name, value in values.items():
        setattr(row, name, value)
    db.session.flush()
    audit.record(
        "calendar_year.replace", "calendar_year", year, before=before, after=_public(values)
    )
    return row, False


def _public(values: dict) -> dict:
    return {k: values[k] for k in ("holidays", "makeup_workdays", "notice_title")}
