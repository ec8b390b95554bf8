"""/api/v1/admin/calendar (staff): the working-day years entered from the State
Council's holiday notices, and what the chinesecalendar package covers."""

from __future__ import annotations

from backend.auth.guards import current_principal, require
from backend.auth.roles import ADMIN, ANY_STAFF, REVIEWER
from backend.http import Blueprint
from backend.workdays import calendar
from backend.workdays import schemas as s

staff = Blueprint(
    "staff_calendar",
    __name__,
    url_prefix="/api/v1/admin",
    description="Staff: the Chinese working-day calendar for public notices",
)
blueprints = [staff]


@staff.route("/calendar/<int:year>", methods=["POST"])
@require("staff", roles=(REVIEWER, ADMIN))
@staff.arguments(s.CalendarYearIn)
@staff.response(201, s.CalendarYearOut, description="The year, newly entered")
@staff.alt_response(200, schema=s.CalendarYearOut, description="The year, replaced")
def enter_year(body, year):
    """Enter (or replace) a year's days off and make-up working days from the State
    Council's notice; it wins over the package for that year."""
    row, created = calendar.enter_year(year, **body, entered_by=int(current_principal().id))
    return row, 201 if created else 200


@staff.route("/calendar", methods=["GET"])
@require("staff", roles=ANY_STAFF)
@staff.response(200, s.CalendarOverviewOut)
def overview():
    """The years staff entered, and the years the chinesecalendar package covers."""
    return calendar.overview()


@staff.route("/calendar/<int:year>", methods=["GET"])
@require("staff", roles=ANY_STAFF)
@staff.response(200, s.YearScheduleOut)
@staff.problems(404, "calendar_unknown")
def year_schedule(year):
    """One year's days off and make-up working days as notices count them, and their
    source (`staff` wins over `package`)."""
    return calendar.year_schedule(year)
