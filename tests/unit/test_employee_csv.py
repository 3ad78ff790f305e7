from __future__ import annotations

import pytest

from attendance.core.domain.model import Role
from attendance.core.errors import ServiceError
from attendance.services.employees import ImportReport, parse_employee_csv

CSV = """name,email,slack_user_id,teams_user_id,manager_email,roles,photo
Ada Lovelace,ADA@example.com,U1,,grace@example.com,manager,ada.jpg
,nobody@example.com,,,,,
Bad Email,not-an-email,,,,,
Ada Again,ada@example.com,,,,,
Odd Role,odd@example.com,,,,wizard,
Grace Hopper,grace@example.com,,29:abc,,admin;payroll,
"""


def test_good_rows_parse_and_bad_rows_are_reported_with_their_line() -> None:
    report = ImportReport()
    rows = parse_employee_csv(CSV, "t1", report)
    assert [r.employee.email for r in rows] == ["ada@example.com", "grace@example.com"]
    ada, grace = rows
    assert ada.chat_users == {"slack": "U1", "teams": None} and ada.manager_email == "grace@example.com"
    assert ada.photos == ("ada.jpg",) and ada.employee.roles == {Role.EMPLOYEE, Role.MANAGER}
    assert grace.chat_users == {"slack": None, "teams": "29:abc"}
    assert grace.employee.roles == {Role.EMPLOYEE, Role.ADMIN, Role.PAYROLL}
    lines = {line: why for line, _, why in report.failures}
    assert set(lines) == {3, 4, 5, 6}
    assert "name is empty" in lines[3]
    assert "not an email" in lines[4]
    assert "appears twice" in lines[5]
    assert "unknown role 'wizard'" in lines[6]


def test_a_file_without_the_header_is_refused_whole() -> None:
    with pytest.raises(ServiceError, match="header row"):
        parse_employee_csv("Ada,ada@example.com\n", "t1", ImportReport())


def test_a_byte_order_mark_and_quoted_fields_are_fine() -> None:
    text = '\ufeffname,email,roles\n"Lovelace, Ada",ada@example.com,"manager, admin"\n'
    rows = parse_employee_csv(text, "t1", ImportReport())
    assert rows[0].employee.name == "Lovelace, Ada"
    assert rows[0].employee.roles == {Role.EMPLOYEE, Role.MANAGER, Role.ADMIN}


def test_a_file_without_a_chat_column_leaves_that_platforms_links_alone() -> None:
    report = ImportReport()
    (row,) = parse_employee_csv("name,email,slack_user_id\nAda,ada@example.com,\n", "t1", report)
    assert row.chat_users == {"slack": None}  # the column is there and empty: unlink Slack, not Teams
    (row,) = parse_employee_csv("name,email\nAda,ada@example.com\n", "t1", report)
    assert row.chat_users == {} and not report.failures


def test_optional_work_days_and_hours_give_a_person_their_own_schedule() -> None:
    from datetime import time

    report = ImportReport()
    text = "name,email,work_days,work_hours\nPat,pat@example.com,mon-wed,09:00-13:00\nNia,nia@example.com,,\n"
    text += "Bad,bad@example.com,someday,\nWorse,worse@example.com,,9 to 5\n"
    pat, nia = parse_employee_csv(text, "t1", report)
    assert pat.schedule == (frozenset({0, 1, 2}), (time(9), time(13))) and nia.schedule == (None, None)
    why = {line: text for line, _, text in report.failures}
    assert "'someday' is not a day" in why[4] and "is not a time range" in why[5]


def test_a_photo_cell_names_up_to_three_photos() -> None:
    report = ImportReport()
    text = (
        "name,email,photo\n"
        "Ada,ada@example.com,ada-1.jpg; ada-2.jpg ;ada-3.jpg\n"
        "Bo,bo@example.com,\n"
        "Cy,cy@example.com,1.jpg;2.jpg;3.jpg;4.jpg\n"
    )
    rows = parse_employee_csv(text, "t1", report)
    assert [r.photos for r in rows] == [("ada-1.jpg", "ada-2.jpg", "ada-3.jpg"), ()]
    ((line, who, why),) = report.failures
    assert (line, who) == (4, "cy@example.com") and "names 4 files; at most 3" in why
