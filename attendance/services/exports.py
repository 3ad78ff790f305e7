"""The one timesheet export, used by every channel (the dashboard and API, Slack and Teams):
the same columns, and every text cell guarded against spreadsheet formulas. CSV, and XLSX
(XlsxWriter, in memory). Pure, but for ``month_csv``, which reads through the one read side
(``services.dashboard``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import xlsxwriter  # type: ignore[import-untyped]

from attendance.core.domain.access import Principal
from attendance.core.domain.workdays import DayStatus, DayVerdict
from attendance.core.errors import ServiceError
from attendance.services.dashboard import (
    Reads,
    SheetRow,
    month_bounds,
    record_export,
    team_view,
    timesheet,
)

HEADER = [
    "date",
    "name",
    "email",
    "first_in",
    "last_out",
    "worked_minutes",
    "break_minutes",
    "breaks",
    "late_minutes",
    "missing_check_out",
    "timezone",
    "status",
    "note",
]
LISTED_WITHOUT_CHECK_IN = (DayStatus.HOLIDAY, DayStatus.TIME_OFF)  # payroll wants these days too
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "|")


def safe_cell(text: str) -> str:
    """No formula injection when the file is opened in a spreadsheet (OWASP's rule: a leading quote)."""
    return "'" + text if text[:1] in FORMULA_STARTS else text


def _minutes(d: timedelta) -> int:
    return int(d.total_seconds() // 60)


def _local(at: datetime | None, zone: str) -> str:
    return at.astimezone(ZoneInfo(zone)).strftime("%H:%M") if at else ""


def rows(people: Sequence[SheetRow]) -> list[list[object]]:
    out: list[list[object]] = []
    for person in people:
        verdicts = person.statuses or [DayVerdict(None)] * len(person.days)
        for d, v in zip(person.days, verdicts, strict=True):
            if d.events == 0 and v.status not in LISTED_WITHOUT_CHECK_IN:
                continue
            note = v.holiday_name or (v.time_off_kind.value if v.time_off_kind else "")
            out.append(
                [
                    d.day.isoformat(),
                    safe_cell(person.employee.name),
                    safe_cell(person.employee.email),
                    _local(d.first_in, d.timezone),
                    _local(d.last_out, d.timezone),
                    d.worked_minutes,
                    sum(_minutes(b) for b in d.breaks),
                    len(d.breaks),
                    _minutes(d.late_by) if d.late_by else 0,
                    "yes" if d.missing_check_out else "no",
                    safe_cell(d.timezone),
                    v.status.value if v.status else "",
                    safe_cell(note),
                ]
            )
    return sorted(out, key=lambda r: (str(r[0]), str(r[1]).casefold()))


def filename(first: date, last: date, ext: str) -> str:
    return f"timesheet-{first.isoformat()}-to-{last.isoformat()}.{ext}"


def to_csv(people: Sequence[SheetRow]) -> tuple[bytes, int]:
    """The CSV and how many rows it has."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    body = rows(people)
    writer.writerows(body)
    return out.getvalue().encode(), len(body)


def to_xlsx(people: Sequence[SheetRow]) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    sheet = book.add_worksheet("Timesheet")
    bold = book.add_format({"bold": True})
    sheet.write_row(0, 0, HEADER, bold)
    for n, values in enumerate(rows(people), start=1):
        sheet.write_row(n, 0, values)
    totals = book.add_worksheet("Totals")
    head = [
        "name",
        "email",
        "worked_hours",
        "days_present",
        "late_days",
        "overtime_hours",
        "missing_check_outs",
        "weekly_overtime_hours",
        "days_absent",
        "days_off",
        "holidays",
    ]
    totals.write_row(0, 0, head, bold)
    for n, p in enumerate(people, start=1):
        t = p.totals
        totals.write_row(
            n,
            0,
            [
                safe_cell(p.employee.name),
                safe_cell(p.employee.email),
                round(t.worked.total_seconds() / 3600, 2),
                t.days_present,
                t.late_days,
                round(t.overtime.total_seconds() / 3600, 2),
                t.missing_check_outs,
                round(t.weekly_overtime.total_seconds() / 3600, 2),
                t.days_absent,
                t.days_off,
                t.holidays,
            ],
        )
    sheet.freeze_panes(1, 0)
    book.close()
    return out.getvalue()


async def month_csv(principal: Principal, year: int, month: int, *, deps: Reads) -> tuple[str, bytes, int]:
    """A month's timesheet of everyone the principal may see, as the CSV above (the chat apps'
    ``export``): (file name, bytes, rows); audited like every export."""
    if not 1 <= month <= 12 or not 2000 <= year <= 2100:
        raise ServiceError("Give the month as YYYY-MM, for example 2026-11.")
    await team_view(principal, deps=deps)
    first, last = month_bounds(date(year, month, 1))
    _, people = await timesheet(principal, first, last, deps=deps)
    name = filename(first, last, "csv")
    await record_export(principal, name, deps=deps)
    data, count = to_csv(people)
    return name, data, count
