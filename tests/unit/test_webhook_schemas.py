"""The published JSON Schemas (docs/schemas) describe what the code sends, and the examples in
docs/webhooks.md are valid instances of them."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from attendance.core.domain.checkins import AttendanceEvent, DaySummary, Direction
from attendance.core.domain.model import Employee, Tenant
from attendance.core.domain.webhooks import EVENT_TYPES
from attendance.services.checkin import correction_rows, outbox_rows
from attendance.services.day_summaries import summary_row

DOCS = Path(__file__).resolve().parents[2] / "docs"
AT = datetime(2026, 12, 2, 8, 2, 11, 412000, tzinfo=UTC)


def _validator(event_type: str) -> Draft202012Validator:
    schema = json.loads((DOCS / "schemas" / f"{event_type}.v1.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _check(payload: dict[str, Any]) -> None:
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in _validator(payload["type"]).iter_errors(payload)]
    assert errors == []
    for key, value in payload.items():  # every time is ISO 8601 with an offset
        if key.endswith(("_utc", "_local")) and value is not None:
            assert datetime.fromisoformat(value).tzinfo is not None, key


def _employee(worker_id: str | None = "21004") -> Employee:
    return Employee(id="e1", tenant_id="t1", name="Ada Lovelace", email="ada@example.com", worker_id=worker_id)


def _event(direction: Direction, **kw: Any) -> AttendanceEvent:
    return AttendanceEvent(
        id="ev1",
        tenant_id="t1",
        employee_id="e1",
        direction=direction,
        at=AT,
        timezone="Europe/Berlin",
        channel="slack",
        job_id="j1",
        **kw,
    )


def test_there_is_a_schema_for_every_event_type() -> None:
    assert sorted(p.name for p in (DOCS / "schemas").glob("*.json")) == sorted(f"{t}.v1.json" for t in EVENT_TYPES)


@pytest.mark.parametrize("direction", [Direction.IN, Direction.OUT])
def test_check_in_and_check_out_payloads_match_their_schema(direction: Direction) -> None:
    for worker_id in ("21004", None):
        (row,) = outbox_rows(_event(direction), _employee(worker_id), AT)
        _check(row.payload)


def test_a_correction_payload_matches_its_schema() -> None:
    event = _event(Direction.OUT, supersedes="ev0", void=True, reason="checked out twice", decision="correction")
    (row,) = correction_rows(event, _employee(), AT)
    assert row.type == "attendance.event.corrected"
    payload: dict[str, Any] = row.payload
    assert payload["void"] is True and payload["supersedes"] == "ev0"
    _check(payload)


def test_a_day_summary_matches_its_schema_with_and_without_a_check_out() -> None:
    tenant = Tenant(id="t1", name="Acme", timezone="Europe/Berlin")
    for last_out in (AT + timedelta(hours=8), None):
        day = DaySummary(
            employee_id="e1",
            day=date(2026, 12, 2),
            timezone="Europe/Berlin",
            first_in=AT,
            last_out=last_out,
            worked=timedelta(hours=7, minutes=40),
            breaks=(timedelta(minutes=20),),
            late_by=timedelta(minutes=2),
            missing_check_out=last_out is None,
            events=3,
        )
        _check(summary_row(tenant, _employee(), day, AT).payload)


def test_a_payload_that_breaks_the_contract_is_caught() -> None:
    (row,) = outbox_rows(_event(Direction.IN), _employee(), AT)
    payload = dict(row.payload)
    del payload["at_utc"]
    payload["direction"] = "out"
    messages = {e.message for e in _validator("attendance.check_in.accepted").iter_errors(payload)}
    assert any("at_utc" in m for m in messages) and any("'out' is not one of" in m for m in messages)


def test_every_example_in_the_docs_is_valid() -> None:
    text = (DOCS / "webhooks.md").read_text()
    examples = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, re.S)]
    events = [e for e in examples if e.get("type") in EVENT_TYPES]
    assert sorted({e["type"] for e in events}) == sorted(EVENT_TYPES)
    for example in events:
        _check(example)


@pytest.mark.parametrize("half", [None, "pm"])
def test_an_approved_time_off_payload_matches_its_schema(half: str | None) -> None:
    from attendance.core.domain.workdays import HalfDay, TimeOff, TimeOffKind, TimeOffStatus
    from attendance.services.workforce import time_off_row

    last = date(2026, 12, 30) if half is None else date(2026, 12, 28)
    t = TimeOff(
        id="to1",
        tenant_id="t1",
        employee_id="e1",
        first=date(2026, 12, 28),
        last=last,
        kind=TimeOffKind.VACATION,
        status=TimeOffStatus.APPROVED,
        half_day=HalfDay(half) if half else None,
        requested_by="e1",
        created_at=AT,
        decided_by="m1",
        decided_at=AT,
    )
    row = time_off_row(t, _employee(), AT)
    assert row.id == "to1:attendance.time_off.approved" and row.payload["days"] == (3 if half is None else 0.5)
    _check(row.payload)
