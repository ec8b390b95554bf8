"""The Chinese working-day calendar for public notices (issue 10, "Working days").

A notice of at least 5 working days: the day of publication does not count (Civil Code
Art. 201), weekends and public holidays do not, make-up working days (调休) do, and the
notice ends at 24:00 Asia/Shanghai of the fifth working day (Art. 203), i.e. at 00:00
of the next day. Checked against the State Council's 2025 and 2026 holiday notices,
transcribed below; years nobody covers are refused (409 `calendar_unknown`) until staff
enter them.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from tests import helpers

SH = ZoneInfo("Asia/Shanghai")
CALENDAR = "/api/v1/admin/calendar"


def days(first: str, last: str | None = None) -> list[date]:
    start = date.fromisoformat(first)
    end = date.fromisoformat(last or first)
    return [start + timedelta(n) for n in range((end - start).days + 1)]


# 国务院办公厅关于2025年部分节假日安排的通知 (国办发明电〔2024〕12号)
NOTICE_2025 = {
    "title": "国务院办公厅关于2025年部分节假日安排的通知",
    "holidays": [
        *days("2025-01-01"),  # 元旦: 1月1日放假1天，不调休
        *days("2025-01-28", "2025-02-04"),  # 春节: 1月28日（除夕）至2月4日
        *days("2025-04-04", "2025-04-06"),  # 清明节
        *days("2025-05-01", "2025-05-05"),  # 劳动节
        *days("2025-05-31", "2025-06-02"),  # 端午节
        *days("2025-10-01", "2025-10-08"),  # 国庆节、中秋节
    ],
    # 1月26日（周日）、2月8日（周六）、4月27日（周日）、9月28日（周日）、10月11日（周六）上班
    "makeup": [*days("2025-01-26"), *days("2025-02-08"), *days("2025-04-27")]
    + [*days("2025-09-28"), *days("2025-10-11")],
}
# 国务院办公厅关于2026年部分节假日安排的通知 (国办发明电〔2025〕7号)
NOTICE_2026 = {
    "title": "国务院办公厅关于2026年部分节假日安排的通知",
    "holidays": [
        *days("2026-01-01", "2026-01-03"),  # 元旦
        *days("2026-02-15", "2026-02-23"),  # 春节: 2月15日（腊月二十八）至23日
        *days("2026-04-04", "2026-04-06"),  # 清明节
        *days("2026-05-01", "2026-05-05"),  # 劳动节
        *days("2026-06-19", "2026-06-21"),  # 端午节
        *days("2026-09-25", "2026-09-27"),  # 中秋节
        *days("2026-10-01", "2026-10-07"),  # 国庆节
    ],
    # 1月4日（周日）、2月14日（周六）、2月28日（周六）、5月9日（周六）、
    # 9月20日（周日）、10月10日（周六）上班
    "makeup": [*days("2026-01-04"), *days("2026-02-14"), *days("2026-02-28")]
    + [*days("2026-05-09"), *days("2026-09-20"), *days("2026-10-10")],
}

# 2027 as staff would enter it. Test data in the shape of a notice, NOT the State
# Council's 2027 schedule: the chinesecalendar 1.11 release does not have that year.
ENTRY_2027 = {
    "holidays": [
        *days("2027-01-01", "2027-01-03"),  # Fri-Sun
        *days("2027-02-05", "2027-02-13"),  # Fri-Sat
        *days("2027-05-01", "2027-05-05"),
        *days("2027-10-01", "2027-10-07"),
    ],
    "makeup": [*days("2027-02-20")],  # a Saturday
    "title": "国务院办公厅关于2027年部分节假日安排的通知",
}


def body(entry: dict) -> dict:
    return {
        "holidays": [d.isoformat() for d in entry["holidays"]],
        "makeup_workdays": [d.isoformat() for d in entry["makeup"]],
        "notice_title": entry["title"],
    }


def at(text: str) -> datetime:
    """A moment written in Asia/Shanghai local time."""
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def assert_problem(r, status: int, code: str) -> dict:
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True))
    assert r.mimetype == "application/problem+json"
    problem = json.loads(r.get_data(as_text=True))
    assert problem["code"] == code, problem
    return problem


@pytest.fixture()
def staff(app, client) -> dict:
    return helpers.staff_headers(app, client)


# -- the package agrees with the State Council's notices, day by day ---------------------


@pytest.mark.sqlite
@pytest.mark.parametrize("notice", [NOTICE_2025, NOTICE_2026], ids=["2025", "2026"])
def test_every_day_of_2025_and_2026_is_what_the_notice_says(ctx, notice):
    from chinese_calendar import constants

    from backend.workdays.calendar import is_workday

    year = notice["holidays"][0].year
    holidays, makeup = set(notice["holidays"]), set(notice["makeup"])
    # the package's data for the year is the notice, no more and no less
    assert {d for d in constants.holidays if d.year == year} == holidays
    assert {d for d in constants.workdays if d.year == year} == makeup
    assert all(d.weekday() >= 5 for d in makeup)
    working = 0
    for d in days(f"{year}-01-01", f"{year}-12-31"):
        expected = d in makeup or (d.weekday() < 5 and d not in holidays)
        assert is_workday(d) is expected, d
        working += expected
    # 2025: 261 weekdays - 18 holidays on weekdays + 5 make-up days; 2026: 261 - 19 + 6
    assert working == 248


# -- notice periods against the 2025 and 2026 notices -----------------------------------

CASES = [
    # Day before Spring Festival 2025 (Mon 27 Jan): Jan 28 - Feb 4 off; Feb 5 (1), 6 (2),
    # 7 (3), Sat Feb 8 make-up (4), Mon Feb 10 (5): ends 24:00 Feb 10.
    ("2025-01-27T10:00", "2025-02-11T00:00"),
    # Day before Spring Festival 2026 is itself a make-up Saturday (Feb 14): Feb 15-23
    # off; Feb 24 (1), 25 (2), 26 (3), 27 (4), Sat Feb 28 make-up (5).
    ("2026-02-14T09:30", "2026-03-01T00:00"),
    # Across the 2025 National Day / Mid-Autumn week, published on a Friday (Sep 26):
    # Sat 27 no, Sun Sep 28 make-up (1), 29 (2), 30 (3), Oct 1-8 off, Oct 9 (4), 10 (5).
    ("2025-09-26T15:00", "2025-10-11T00:00"),
    # The day before that week: Oct 9 (1), 10 (2), Sat Oct 11 make-up (3), Mon 13 (4),
    # Tue 14 (5).
    ("2025-09-30T11:00", "2025-10-15T00:00"),
    # Published on a holiday (National Day): the same five days, Oct 9 to Oct 14.
    ("2025-10-01T10:00", "2025-10-15T00:00"),
    # Published on the make-up Saturday Oct 11 2025: Sun 12 no; Oct 13 (1) ... 17 (5).
    ("2025-10-11T09:00", "2025-10-18T00:00"),
    # An ordinary Friday (Nov 14 2025): Nov 17 (1) ... Fri Nov 21 (5).
    ("2025-11-14T16:45", "2025-11-22T00:00"),
    # Across the 2026 National Day week: Oct 1-7 off; Oct 8 (1), 9 (2), Sat Oct 10
    # make-up (3), Mon 12 (4), Tue 13 (5).
    ("2026-09-30T10:00", "2026-10-14T00:00"),
    # Across New Year 2026: Dec 30 (1), 31 (2), Jan 1-3 off, Sun Jan 4 make-up (3), Jan 5
    # (4), Jan 6 (5).
    ("2025-12-29T10:00", "2026-01-07T00:00"),
    # The fifth working day is Thu Dec 31 2026: it ends at 00:00 on Jan 1 2027 without
    # needing any day of 2027 (Dec 25 (1), 28 (2), 29 (3), 30 (4), 31 (5)).
    ("2026-12-24T10:00", "2027-01-01T00:00"),
]


@pytest.mark.sqlite
@pytest.mark.parametrize(("published", "ends"), CASES, ids=[c[0] for c in CASES])
def test_notice_period_ends_at_24_00_of_the_fifth_working_day(ctx, published, ends):
    from backend.workdays.calendar import notice_period

    starts_at, ends_at = notice_period(at(published))
    assert ends_at == at(ends)
    assert ends_at.tzinfo == SH and ends_at.utcoffset() == timedelta(hours=8)
    assert (ends_at.hour, ends_at.minute, ends_at.second, ends_at.microsecond) == (0, 0, 0, 0)
    assert starts_at == at(published) and starts_at.tzinfo == SH


@pytest.mark.sqlite
def test_the_publication_day_is_the_shanghai_day_not_the_utc_day(ctx):
    from backend.workdays.calendar import notice_period

    # Both moments fall on Thu 13 Mar 2025 in UTC; in Shanghai the first is still
    # Thursday (23:59), the second is already Friday (00:01).
    thursday_night = datetime(2025, 3, 13, 15, 59, tzinfo=UTC)
    friday_morning = datetime(2025, 3, 13, 16, 1, tzinfo=UTC)
    # Thursday's notice: Fri 14 (1), Mon 17 (2), 18 (3), 19 (4), Thu 20 (5).
    assert notice_period(thursday_night).ends_at == datetime(2025, 3, 21, 0, 0, tzinfo=SH)
    # Friday's: Mon 17 (1) ... Fri 21 (5).
    assert notice_period(friday_morning).ends_at == datetime(2025, 3, 22, 0, 0, tzinfo=SH)
    assert notice_period(friday_morning).starts_at == at("2025-03-14T00:01")
    # the same end, as an instant: 16:00 UTC the day before
    assert notice_period(friday_morning).ends_at == datetime(2025, 3, 21, 16, 0, tzinfo=UTC)


@pytest.mark.sqlite
def test_the_number_of_working_days_is_a_parameter(ctx):
    from backend.workdays.calendar import notice_period, nth_workday_after

    # published on National Day 2025: the first working day after it is Oct 9 (the
    # package's find_workday(1, Oct 1) says Oct 10, one day late)
    assert nth_workday_after(date(2025, 10, 1), 1) == date(2025, 10, 9)
    assert notice_period(at("2025-10-01T10:00"), 1).ends_at == at("2025-10-10T00:00")
    # ten: Oct 9, 10, 11 (make-up), 13, 14, 15, 16, 17, 20, 21
    assert notice_period(at("2025-10-01T10:00"), 10).ends_at == at("2025-10-22T00:00")
    with pytest.raises(ValueError):
        notice_period(at("2025-10-01T10:00"), 0)
    with pytest.raises(ValueError):  # a naive moment has no Shanghai day
        notice_period(datetime(2025, 10, 1, 10, 0))


# -- years nobody covers: refused, then entered by staff --------------------------------


@pytest.mark.sqlite
def test_a_notice_ending_in_2027_is_refused_until_staff_enter_2027(app, client, staff):
    from backend.errors import from_api_error
    from backend.workdays.calendar import (
        PACKAGE_LAST_YEAR,
        CalendarUnknown,
        is_workday,
        notice_period,
    )

    assert PACKAGE_LAST_YEAR == 2026, "chinesecalendar covers 2027 now: use its first gap"
    published = at("2026-12-28T10:00")  # Monday
    with app.app_context():
        with pytest.raises(CalendarUnknown) as refused:
            notice_period(published)  # Dec 29 (1), 30 (2), 31 (3), then 2027: unknown
        assert (refused.value.status, refused.value.code, refused.value.year) == (
            409,
            "calendar_unknown",
            2027,
        )
        problem = json.loads(from_api_error(refused.value).get_data(as_text=True))
        assert problem["status"] == 409 and problem["code"] == "calendar_unknown"
        assert problem["year"] == 2027
        with pytest.raises(CalendarUnknown):
            is_workday(date(2027, 1, 4))

    r = client.post(f"{CALENDAR}/2027", json=body(ENTRY_2027), headers=staff)
    assert r.status_code == 201, r.get_json()
    entered = r.get_json()
    assert entered["year"] == 2027 and entered["source"] == "staff"
    assert entered["holidays"][:3] == ["2027-01-01", "2027-01-02", "2027-01-03"]
    assert entered["makeup_workdays"] == ["2027-02-20"]
    assert entered["notice_title"] == ENTRY_2027["title"]
    assert entered["entered_at"].endswith("+08:00")

    with app.app_context():
        # Dec 29 (1), 30 (2), 31 (3), Jan 1-3 off, Mon Jan 4 (4), Tue Jan 5 (5)
        assert notice_period(published).ends_at == at("2027-01-06T00:00")
        # the entered make-up Saturday counts: Feb 16 (1) ... 19 (4), Sat Feb 20 (5)
        assert notice_period(at("2027-02-15T10:00")).ends_at == at("2027-02-21T00:00")
        assert is_workday(date(2027, 2, 20)) and not is_workday(date(2027, 2, 8))
        # 2028: still nobody's
        with pytest.raises(CalendarUnknown) as later:
            notice_period(at("2027-12-28T10:00"))
        assert later.value.year == 2028


@pytest.mark.sqlite
def test_a_year_entered_from_the_notice_counts_like_the_package(app, client, staff):
    from backend.workdays.calendar import is_workday, notice_period

    r = client.post(f"{CALENDAR}/2025", json=body(NOTICE_2025), headers=staff)
    assert r.status_code == 201, r.get_json()
    r = client.get(f"{CALENDAR}/2025", headers=staff)
    assert r.get_json()["source"] == "staff"
    holidays, makeup = set(NOTICE_2025["holidays"]), set(NOTICE_2025["makeup"])
    with app.app_context():
        for d in days("2025-01-01", "2025-12-31"):
            assert is_workday(d) is (d in makeup or (d.weekday() < 5 and d not in holidays)), d
        assert notice_period(at("2025-09-26T15:00")).ends_at == at("2025-10-11T00:00")


@pytest.mark.sqlite
def test_a_year_staff_entered_wins_over_the_package_and_may_be_replaced(app, client, staff):
    from backend.workdays.calendar import notice_period

    published = at("2026-02-14T09:30")
    with app.app_context():
        assert notice_period(published).ends_at == at("2026-03-01T00:00")  # the package
    # Staff enter 2026 without the make-up Saturday Feb 28 (a test variant of the notice)
    variant = dict(NOTICE_2026, makeup=[d for d in NOTICE_2026["makeup"] if d.day != 28])
    r = client.post(f"{CALENDAR}/2026", json=body(variant), headers=staff)
    assert r.status_code == 201, r.get_json()
    with app.app_context():
        # Feb 24 (1), 25 (2), 26 (3), 27 (4), Sat 28 no longer, Mon Mar 2 (5)
        assert notice_period(published).ends_at == at("2026-03-03T00:00")
    # replaced by the notice as published: 200, one row, the make-up day is back
    r = client.post(f"{CALENDAR}/2026", json=body(NOTICE_2026), headers=staff)
    assert r.status_code == 200, r.get_json()
    assert "2026-02-28" in r.get_json()["makeup_workdays"]
    with app.app_context():
        assert notice_period(published).ends_at == at("2026-03-01T00:00")
    r = client.get(CALENDAR, headers=staff)
    assert [y["year"] for y in r.get_json()["entered"]] == [2026]


@pytest.mark.sqlite
def test_the_overview_names_the_package_years_and_the_entered_ones(app, client, staff):
    r = client.get(CALENDAR, headers=staff)
    assert r.status_code == 200
    overview = r.get_json()
    assert overview["entered"] == []
    package = overview["package"]
    assert package["name"] == "chinesecalendar"
    assert package["first_year"] == 2004 and package["last_year"] >= 2026
    assert package["version"].startswith("1.")

    assert_problem(client.get(f"{CALENDAR}/2099", headers=staff), 404, "calendar_unknown")
    # a year no column could hold: still a 404, never a 500
    assert_problem(client.get(f"{CALENDAR}/{2**62}", headers=staff), 404, "calendar_unknown")
    r = client.get(f"{CALENDAR}/2026", headers=staff)
    assert r.status_code == 200
    year = r.get_json()
    assert year["source"] == "package" and year["notice_title"] is None
    assert year["holidays"] == [d.isoformat() for d in NOTICE_2026["holidays"]]
    assert year["makeup_workdays"] == [d.isoformat() for d in NOTICE_2026["makeup"]]

    for y, entry in ((2027, ENTRY_2027), (2026, NOTICE_2026)):
        assert client.post(f"{CALENDAR}/{y}", json=body(entry), headers=staff).status_code == 201
    entered = client.get(CALENDAR, headers=staff).get_json()["entered"]
    assert [y["year"] for y in entered] == [2026, 2027]
    assert entered[1]["notice_title"] == ENTRY_2027["title"]
    assert entered[1]["holidays"] == [d.isoformat() for d in ENTRY_2027["holidays"]]
    assert isinstance(entered[1]["entered_by"], int)


# -- what staff may not enter ------------------------------------------------------------


def _with(**changes) -> dict:
    entry = body(ENTRY_2027)
    entry.update(changes)
    return entry


def _h(*extra: str) -> list[str]:
    return body(ENTRY_2027)["holidays"] + list(extra)


BAD_ENTRIES = [
    # a date of another year (the 2026 notice entered under 2027)
    (2027, _with(holidays=_h("2026-12-31")), "holidays"),
    (2027, _with(makeup_workdays=["2028-01-08"]), "makeup_workdays"),
    # a day both off and worked
    (2027, _with(makeup_workdays=["2027-01-02"]), "makeup_workdays"),
    # a make-up working day on a weekday: a weekday already is one
    (2027, _with(makeup_workdays=["2027-02-19"]), "makeup_workdays"),
    # the same day twice
    (2027, _with(holidays=_h("2027-05-01")), "holidays"),
    # New Year's Day, Labour Day (May 1-2) and National Day (Oct 1-3) are statutory
    (2027, _with(holidays=[d for d in _h() if d != "2027-05-02"]), "holidays"),
    (2027, _with(holidays=[]), "holidays"),
    # the title of another year's notice
    (2027, _with(notice_title=NOTICE_2026["title"]), "notice_title"),
    (2027, _with(notice_title=""), "notice_title"),
    (2027, _with(holidays=["2027-02-30"]), "holidays"),
    (2027, _with(holidays="2027-01-01"), "holidays"),
    (2027, _with(holidays=[f"2027-03-{d:02d}" for d in range(1, 32)] * 4), "holidays"),
    (2027, {"holidays": _h(), "notice_title": ENTRY_2027["title"]}, "makeup_workdays"),
    (1999, _with(), "year"),
    (2101, _with(), "year"),
]


@pytest.mark.sqlite
@pytest.mark.parametrize(("year", "entry", "field"), BAD_ENTRIES)
def test_a_mistyped_year_is_refused_and_nothing_is_stored(app, client, staff, year, entry, field):
    from backend.db import db
    from backend.workdays.models import CalendarYear

    r = client.post(f"{CALENDAR}/{year}", json=entry, headers=staff)
    problem = assert_problem(r, 422, "validation_failed")
    assert field in problem["errors"], problem
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CalendarYear)) == 0


@pytest.mark.sqlite
def test_a_refused_replacement_keeps_the_year_as_it_was(app, client, staff):
    assert client.post(f"{CALENDAR}/2027", json=body(ENTRY_2027), headers=staff).status_code == 201
    bad = _with(makeup_workdays=["2027-02-19"])
    r = client.post(f"{CALENDAR}/2027", json=bad, headers=staff)
    assert_problem(r, 422, "validation_failed")
    year = client.get(f"{CALENDAR}/2027", headers=staff).get_json()
    assert year["makeup_workdays"] == ["2027-02-20"]


@pytest.mark.sqlite
def test_only_staff_read_or_enter_the_calendar(app, client):
    resident = helpers.register_resident(client)
    for call in (
        lambda h: client.get(CALENDAR, headers=h),
        lambda h: client.get(f"{CALENDAR}/2026", headers=h),
        lambda h: client.post(f"{CALENDAR}/2027", json=body(ENTRY_2027), headers=h),
    ):
        assert_problem(call({}), 401, "missing_token")
        assert_problem(call(resident["headers"]), 403, "forbidden")


def test_two_staff_entering_the_same_year_at_once_leave_one_row(app, client, staff):
    from backend.db import db
    from backend.workdays.models import CalendarYear

    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def enter(entry: dict) -> None:
        c = app.test_client()
        barrier.wait()
        statuses.append(c.post(f"{CALENDAR}/2027", json=body(entry), headers=staff).status_code)

    other = dict(ENTRY_2027, makeup=[date(2027, 2, 21)])  # a Sunday instead
    threads = [threading.Thread(target=enter, args=(e,)) for e in (ENTRY_2027, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 201]
    with app.app_context():
        rows = db.session.scalars(select(CalendarYear)).all()
        assert len(rows) == 1 and rows[0].makeup_workdays in (["2027-02-20"], ["2027-02-21"])
