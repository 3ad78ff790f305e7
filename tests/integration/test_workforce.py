"""The working day through the real database: public holidays, time off, a personal schedule and
a leaver are never "absent" on the board, in timesheets or in reports; a leaver cannot check in.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from attendance.adapters.embedded.secantus import EmbeddedMongo
from attendance.core.domain.access import Principal, PrincipalKind
from attendance.core.domain.checkins import AttendanceEvent, CheckInJob, Direction, OutcomeKind, PhotoRef, Requested
from attendance.core.domain.model import Employee, Role, new_id
from attendance.core.domain.workdays import DayStatus
from attendance.core.errors import ServiceError
from attendance.core.messages import CreateTenant
from attendance.entrypoints.bootstrap import Container, build
from attendance.services import dashboard, workforce
from attendance.services.checkin import decide_job
from attendance.services.exports import to_csv
from attendance.services.tenants import create_tenant
from attendance.settings import Settings
from tests.fakes.clock import FixedClock

BERLIN = ZoneInfo("Europe/Berlin")
THU = date(2026, 12, 24)  # a working day in Germany (Christmas Eve is no public holiday there)
FRI = date(2026, 12, 25)  # Christmas Day: a public holiday in DE


@pytest.fixture
async def c(settings: Settings, mongo_server: EmbeddedMongo, engine: Any) -> Any:
    clock = FixedClock(datetime.combine(THU, time(11, 0), tzinfo=BERLIN).astimezone(UTC))
    async with build(settings, uri=mongo_server.uri, engine=engine, clock=clock) as container:
        yield container
        await container.client.drop_database(settings.database.name)


async def _staff(c: Container) -> tuple[Any, dict[str, Employee]]:
    tenant = await create_tenant(CreateTenant(name="Acme", timezone="Europe/Berlin"), tenants=c.deps.tenants)
    await workforce.set_tenant_holidays(tenant, "de", by="test", deps=c.workforce)
    tenant = await c.deps.tenants.get(tenant.id)
    people = {}
    for name in ("ada", "vic", "pat", "leo", "rob", "boss"):
        people[name] = await c.deps.employees.upsert(
            Employee(
                id=new_id(),
                tenant_id=tenant.id,
                name=name.title(),
                email=f"{name}@acme.example",
                roles=frozenset({Role.EMPLOYEE, Role.ADMIN}) if name == "boss" else frozenset({Role.EMPLOYEE}),
            )
        )
    w = c.workforce
    await workforce.add_time_off(
        tenant, people["vic"], date(2026, 12, 21), date(2026, 12, 31), by="test", approved=True, deps=w
    )
    await workforce.set_person_schedule(  # part time: Monday to Wednesday
        tenant, people["pat"], days="mon-wed", hours="09:00-13:00", grace=None, weekly_hours=20, by="test", deps=w
    )
    await workforce.deactivate(tenant, people["leo"], on=date(2026, 12, 22), by="test", deps=w, enrollment=c.deps)
    ada_in = datetime.combine(THU, time(8, 55), tzinfo=BERLIN)
    await c.store.append(
        AttendanceEvent(
            id=new_id(),
            tenant_id=tenant.id,
            employee_id=people["ada"].id,
            direction=Direction.IN,
            at=ada_in.astimezone(UTC),
            timezone="Europe/Berlin",
            channel="kiosk",
            job_id=None,
        ),
        1,
        [],
        None,
    )
    staff = {p.email.split("@")[0]: p for p in await c.deps.employees.list(tenant.id)}
    return tenant, staff


def _admin(tenant_id: str, boss: Employee) -> Principal:
    return Principal(
        tenant_id=tenant_id,
        kind=PrincipalKind.SESSION,
        actor=boss.id,
        name="boss",
        roles=frozenset({Role.ADMIN}),
        employee_id=boss.id,
    )


async def test_holidays_time_off_days_off_and_leavers_are_never_absent(c: Container) -> None:
    tenant, staff = await _staff(c)
    admin = _admin(tenant.id, staff["boss"])
    board = await dashboard.today_board(admin, deps=c.chat.reads)
    state = {r.employee.name: r.status for r in board.rows()}
    assert state == {"Ada": "in", "Vic": "time_off", "Pat": "off", "Rob": "absent", "Boss": "absent"}
    assert "Leo" not in state  # a leaver is on no board
    assert board.counts["absent"] == 2 and board.counts["time_off"] == 1

    _, rows = await dashboard.timesheet(admin, THU, FRI, deps=c.chat.reads)
    statuses = {r.employee.name: [v.status for v in r.statuses] for r in rows}
    assert statuses["Ada"] == [DayStatus.PRESENT, DayStatus.HOLIDAY]
    assert statuses["Vic"] == [DayStatus.TIME_OFF, DayStatus.HOLIDAY]
    assert statuses["Pat"] == [DayStatus.NOT_SCHEDULED, DayStatus.HOLIDAY]
    assert statuses["Leo"] == [DayStatus.INACTIVE, DayStatus.INACTIVE]
    assert statuses["Rob"] == [DayStatus.ABSENT, DayStatus.HOLIDAY]
    christmas = next(r for r in rows if r.employee.name == "Rob").statuses[1]
    assert christmas.holiday_name == "Christmas Day"
    vic = next(r for r in rows if r.employee.name == "Vic")
    assert vic.totals.days_off == 1 and vic.totals.holidays == 1 and vic.totals.days_absent == 0
    data, _ = to_csv(rows)  # the export lists leave and holidays too, with the same status words
    exported = [line.split(",") for line in data.decode().splitlines()]
    vic_rows = [(r[0], r[-2], r[-1]) for r in exported if r[2] == "vic@acme.example"]
    assert vic_rows == [("2026-12-24", "time_off", "vacation"), ("2026-12-25", "holiday", "Christmas Day")]
    assert [r[0] for r in exported if r[2] == "rob@acme.example"] == ["2026-12-25"]  # his absence is no row


async def test_a_leaver_cannot_check_in_and_their_face_data_is_gone(c: Container) -> None:
    tenant, staff = await _staff(c)
    leo = staff["leo"]
    assert leo.inactive_from == date(2026, 12, 22)
    assert await c.deps.templates.count(tenant.id, leo.id) == 0
    job = CheckInJob(
        id=new_id(),
        tenant_id=tenant.id,
        channel="api",
        identity_kind="employee",
        identity=leo.id,
        photo=PhotoRef(kind="url", ref="http://127.0.0.1:9/never-fetched"),
        requested=Requested.AUTO,
        received_at=c.deps.clock.now(),
        idempotency_key=new_id(),
    )
    assert (await decide_job(job, deps=c.checkin)).kind is OutcomeKind.INACTIVE  # refused before the photo
    await workforce.reactivate(tenant, leo, by="test", deps=c.workforce)
    back = await c.deps.employees.get(tenant.id, leo.id)
    assert back is not None and back.inactive_from is None


async def test_time_off_is_refused_when_it_overlaps_and_a_region_must_exist(c: Container) -> None:
    tenant, staff = await _staff(c)
    with pytest.raises(ServiceError, match="already has time off"):
        await workforce.add_time_off(
            tenant, staff["vic"], date(2026, 12, 30), date(2027, 1, 2), by="t", approved=True, deps=c.workforce
        )
    with pytest.raises(ServiceError, match="no public holiday calendar"):
        await workforce.set_tenant_holidays(tenant, "XX", by="t", deps=c.workforce)
    with pytest.raises(ServiceError, match="not a region"):
        await workforce.set_tenant_holidays(tenant, "Germany!", by="t", deps=c.workforce)
    # the approved time off went to payroll's outbox as attendance.time_off.approved
    rows = [d async for d in c.db["outbox"].find({"tenant_id": tenant.id, "type": "attendance.time_off.approved"})]
    assert len(rows) == 1 and rows[0]["payload"]["first_date"] == "2026-12-21" and rows[0]["payload"]["days"] == 11


def test_the_command_line_sets_holidays_time_off_schedules_and_leavers(cli: Any, tmp_path: Path) -> None:
    assert cli("tenants", "create", "Acme", "--timezone", "Europe/Berlin").returncode == 0
    path = tmp_path / "people.csv"
    path.write_text(
        "name,email,work_days\nAda,ada@example.com,\nPat,pat@example.com,\nLeo,leo@example.com,\nNia,nia@example.com,mon-tue\n"
    )
    assert cli("employees", "import", str(path), "--tenant", "Acme").returncode == 0
    policy = cli("tenants", "policy", "Acme", "--holidays", "de-by", "--weekly-hours", "38.5")
    assert policy.returncode == 0 and json.loads(policy.stdout)["holidays"] == "DE-BY"
    bad = cli("tenants", "policy", "Acme", "--holidays", "Narnia")
    assert bad.returncode == 1 and "not a region" in bad.stderr
    ada = ("--tenant", "Acme", "--employee", "ada@example.com")
    added = cli("timeoff", "add", *ada, "--from", "2026-12-28", "--to", "2026-12-30", "--kind", "vacation")
    assert added.returncode == 0 and "approved" in added.stdout
    december = ("--from", "2026-12-01", "--to", "2026-12-31")
    listed = json.loads(cli("timeoff", "list", "--tenant", "Acme", *december, "--json").stdout)
    assert [(t["employee"], t["from"], t["to"], t["status"]) for t in listed] == [
        ("ada@example.com", "2026-12-28", "2026-12-30", "approved")
    ]
    part_time = ("--days", "mon,tue,wed", "--hours", "09:00-13:00")
    sched = cli("employees", "schedule", "pat@example.com", "--tenant", "Acme", *part_time)
    assert sched.returncode == 0 and json.loads(sched.stdout)["days"] == "mon,tue,wed"
    gone = cli("employees", "deactivate", "leo@example.com", "--tenant", "Acme", "--on", "2026-12-01")
    assert gone.returncode == 0 and "inactive from 2026-12-01" in gone.stdout
    report = json.loads(cli("report", "week", "--tenant", "Acme", "--date", "2026-12-28", "--json").stdout)
    days = {p["employee"]: [d["status"] for d in p["days"]] for p in report["people"]}
    assert days["ada@example.com"][:3] == ["time_off"] * 3
    assert days["pat@example.com"][3:5] == ["not_scheduled", "holiday"]  # Thursday; New Year's Day
    assert set(days["leo@example.com"]) == {"inactive"}
    assert days["nia@example.com"][2] == "not_scheduled"  # her own days, from the CSV
    removed = cli("timeoff", "remove", listed[0]["id"], "--tenant", "Acme")
    assert removed.returncode == 0
