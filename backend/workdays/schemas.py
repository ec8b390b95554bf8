"""Marshmallow schemas of the working-day calendar."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate as v

from backend.http import LocalDateTime, ex

TITLE = ex("国务院办公厅关于2027年部分节假日安排的通知", "The State Council notice.")

DAYS = v.Length(max=100)  # a State Council notice lists about 30 days off, a few make-up days


class CalendarYearIn(ma.Schema):
    holidays = ma.fields.List(ma.fields.Date(), required=True, validate=DAYS)
    makeup_workdays = ma.fields.List(ma.fields.Date(), required=True, validate=DAYS)
    notice_title = ma.fields.String(
        required=True, validate=v.Length(min=1, max=200), metadata=TITLE
    )


class CalendarYearOut(ma.Schema):
    year = ma.fields.Integer()
    source = ma.fields.String(dump_default="staff", metadata=ex("staff", "staff or package"))
    holidays = ma.fields.List(ma.fields.Date(), attribute="holiday_dates")
    makeup_workdays = ma.fields.List(ma.fields.Date(), attribute="makeup_dates")
    notice_title = ma.fields.String(allow_none=True, metadata=TITLE)
    entered_by = ma.fields.Integer(allow_none=True, metadata=ex(3, "The staff user."))
    entered_at = LocalDateTime(allow_none=True)


class YearScheduleOut(CalendarYearOut):
    holidays = ma.fields.List(ma.fields.Date())
    makeup_workdays = ma.fields.List(ma.fields.Date())


class PackageOut(ma.Schema):
    name = ma.fields.String(metadata=ex("chinesecalendar"))
    version = ma.fields.String(metadata=ex("1.11.0"))
    first_year = ma.fields.Integer(metadata=ex(2004))
    last_year = ma.fields.Integer(metadata=ex(2026))


class CalendarOverviewOut(ma.Schema):
    package = ma.fields.Nested(PackageOut)
    entered = ma.fields.List(ma.fields.Nested(CalendarYearOut))
