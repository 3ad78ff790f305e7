"""Two people deciding the same thing at the same moment write one event: concurrent approvals of
a correction request (a double click, a manager and an admin), and a double *Undo*. Real
database, the services run concurrently with ``asyncio.gather``."""

from __future__ import annotations

import asyncio
from datetime import UTC, timedelta
from typing import Any

from attendance.core.domain.access import PrincipalKind
from attendance.core.domain.checkins import AttendanceEvent, Direction
from attendance.core.domain.corrections import RequestStatus
from attendance.core.domain.model import Employee, Role, new_id
from attendance.core.errors import ServiceError
from attendance.core.messages import CreateTenant
from attendance.entrypoints.bootstrap import Container, dashboard_deps
from attendance.services.access import employee_principal
from attendance.services.chat import undo
from attendance.services.corrections import decide_correction, request_correction
from attendance.services.tenants import create_tenant


async def _staff(c: Container) -> tuple[Any, dict[str, Employee]]:
    tenant = await create_tenant(
        CreateTenant(name=f"Acme {new_id()[:6]}", timezone="Europe/Berlin"), tenants=c.deps.tenants
    )
    people = {}
    for role, roles in (("admin", {Role.ADMIN}), ("manager", {Role.MANAGER}), ("employee", set())):
        people[role] = await c.deps.employees.upsert(
            Employee(
                id=new_id(),
                tenant_id=tenant.id,
                name=role.title(),
                email=f"{role}@acme.example",
                roles=frozenset({Role.EMPLOYEE, *roles}),
            )
        )
    await c.deps.employees.set_manager(tenant.id, people["employee"].id, people["manager"].id)
    people["employee"] = await c.deps.employees.get(tenant.id, people["employee"].id)  # type: ignore[assignment]
    return tenant, people


async def _events(c: Container, employee: Employee) -> list[dict[str, Any]]:
    return [d async for d in c.db["attendance_events"].find({"employee_id": employee.id})]


async def test_two_approvals_of_one_request_at_once_write_one_event(container: Container) -> None:
    c = container
    _, people = await _staff(c)
    dash = dashboard_deps(c)
    at = (c.deps.clock.now() - timedelta(days=1)).strftime("%Y-%m-%dT08:30")
    for attempt in range(3):  # a race is a race: several rounds
        request = await request_correction(
            employee_principal(people["employee"], kind=PrincipalKind.SESSION),
            direction="in",
            at=at,
            supersedes=None,
            void=False,
            reason=f"forgot my phone {attempt}",
            deps=dash,
        )
        deciders = [employee_principal(people[r], kind=PrincipalKind.SESSION) for r in ("manager", "admin", "admin")]
        results = await asyncio.gather(
            *(decide_correction(p, request.id, approve=True, note=None, deps=dash) for p in deciders),
            return_exceptions=True,
        )
        won = [r for r in results if not isinstance(r, BaseException)]
        lost = [r for r in results if isinstance(r, BaseException)]
        assert len(won) == 1 and all(isinstance(e, ServiceError) for e in lost), results
        assert won[0].status is RequestStatus.APPROVED
    events = await _events(c, people["employee"])
    assert len(events) == 3 and all(e["channel"] == "correction" for e in events)
    requests = [d async for d in c.db["correction_requests"].find({"employee_id": people["employee"].id})]
    assert sorted(r["event_id"] for r in requests) == sorted(e["_id"] for e in events)


async def test_a_double_undo_voids_the_check_in_once(container: Container) -> None:
    c = container
    tenant, people = await _staff(c)
    person = people["employee"]
    for n in range(3):
        event = AttendanceEvent(
            id=new_id(),
            tenant_id=tenant.id,
            employee_id=person.id,
            direction=Direction.IN,
            at=c.deps.clock.now().astimezone(UTC) - timedelta(minutes=1) + timedelta(seconds=n),
            timezone="Europe/Berlin",
            channel="slack",
            job_id=None,
        )
        last, _ = await c.store.day(tenant.id, person.id, event.at, event.at)
        await c.store.append(event, last + 1, [], None)
        results = await asyncio.gather(
            *(undo(tenant, person, event.id, deps=c.chat) for _ in range(3)), return_exceptions=True
        )
        assert any(not isinstance(r, BaseException) for r in results), results
        assert all(isinstance(r, ServiceError) for r in results if isinstance(r, BaseException)), results
        voids = [d async for d in c.db["attendance_events"].find({"supersedes": event.id})]
        assert len(voids) == 1 and voids[0]["void"] is True
    outbox = [d async for d in c.db["outbox"].find({"employee_id": person.id})]
    assert len(outbox) == len({d["_id"] for d in outbox})  # no doubled delivery rows either
