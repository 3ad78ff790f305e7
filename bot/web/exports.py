"""Timesheet files: CSV (formula-safe cells) and XLSX (XlsxWriter, in memory)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date

import xlsxwriter  # type: ignore[import-untyped]

from attendance.services.chat import safe_cell
from attendance.services.dashboard import SheetRow
from bot.web.serialise import day as day_json

HEADER = ["date", "name", "email", "first_in", "last_out", "worked_minutes", "break_minutes", "breaks",
          "late_minutes", "missing_check_out", "timezone"]  # fmt: skip


def _rows(rows: Sequence[SheetRow]) -> list[list[object]]:
    out: list[list[object]] = []
    for row in rows:
        for d in row.days:
            if d.events == 0:
                continue
            j = day_json(d)
            out.append([j["date"], safe_cell(row.employee.name), safe_cell(row.employee.email), j["first_in"] or "",
                        j["last_out"] or "", j["worked_minutes"], j["break_minutes"], j["breaks"], j["late_minutes"],
                        "yes" if j["missing_check_out"] else "no", j["timezone"]])  # fmt: skip
    return sorted(out, key=lambda r: (str(r[0]), str(r[1]).casefold()))


def filename(first: date, last: date, ext: str) -> str:
    return f"timesheet-{first.isoformat()}-to-{last.isoformat()}.{ext}"


def to_csv(rows: Sequence[SheetRow]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(_rows(rows))
    return out.getvalue().encode()


def to_xlsx(rows: Sequence[SheetRow]) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    sheet = book.add_worksheet("Timesheet")
    bold = book.add_format({"bold": True})
    sheet.write_row(0, 0, HEADER, bold)
    for n, values in enumerate(_rows(rows), start=1):
        sheet.write_row(n, 0, values)
    totals = book.add_worksheet("Totals")
    head = ["name", "email", "worked_hours", "days_present", "late_days", "overtime_hours", "missing_check_outs"]
    totals.write_row(0, 0, head, bold)
    for n, row in enumerate(rows, start=1):
        t = row.totals
        totals.write_row(n, 0, [row.employee.name, row.employee.email, round(t.worked.total_seconds() / 3600, 2),
                                t.days_present, t.late_days, round(t.overtime.total_seconds() / 3600, 2),
                                t.missing_check_outs])  # fmt: skip
    sheet.freeze_panes(1, 0)
    book.close()
    return out.getvalue()
