"""`attendance demo`: a company to look around in, the same after a second run, with what a real
month has (late mornings, a forgotten check-out, a correction, a flagged check-in) and an admin who
can sign in. Real database; the CLI itself in a subprocess."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from attendance.core.domain.model import ChatIdentity, Role
from attendance.entrypoints.bootstrap import Container, access_deps
from attendance.services.access import password_sign_in
from attendance.services.demo import ADMIN_EMAIL, NAME, PLAYGROUND_TENANT, PLAYGROUND_USER, seed_demo
from attendance.services.reports import summaries


async def test_the_demo_has_a_realistic_month_and_a_second_run_adds_nothing(container: Container) -> None:
    c = container
    deps: dict[str, Any] = {
        "tenants": c.deps.tenants,
        "employees": c.deps.employees,
        "store": c.store,
        "reviews": c.chat.reviews,
        "access": access_deps(c),
    }
    first = await seed_demo(**deps)
    assert first.people == 12 and first.events > 300 and first.admin_password
    counts = {
        name: await c.db[name].count_documents({})
        for name in ("employees", "attendance_events", "outbox", "review_queue", "local_users", "tenants")
    }
    again = await seed_demo(**deps)
    assert again.events == 0 and again.admin_password is None and again.tenant.id == first.tenant.id
    assert counts == {name: await c.db[name].count_documents({}) for name in counts}

    tenant = first.tenant
    today = c.deps.clock.now().date()
    days = [
        d
        for pd in await summaries(tenant, today - timedelta(days=30), today, store=c.store, employees=c.deps.employees)
        for d in pd.days
        if d.events
    ]
    assert any(d.late_by for d in days) and any(d.missing_check_out for d in days)
    assert await c.db["attendance_events"].count_documents({"tenant_id": tenant.id, "channel": "correction"}) == 1
    [flagged] = [d async for d in c.db["review_queue"].find({"tenant_id": tenant.id})]
    assert flagged["status"] == "open" and flagged["kind"] == "other_person"
    staff = await c.deps.employees.list(tenant.id)
    assert len([p for p in staff if p.manager_id]) == 8 and await c.db["face_templates"].count_documents({}) == 0
    principal = await password_sign_in(ADMIN_EMAIL, first.admin_password, deps=access_deps(c))
    assert principal.tenant_id == tenant.id and principal.is_admin and tenant.name == NAME

    # for the Agents Playground (only when asked for): its Teams organisation and its user, nothing else
    assert await c.deps.identities.tenant_of("teams", PLAYGROUND_TENANT) is None
    assert (await seed_demo(**deps, playground=True)).events == 0
    assert await c.deps.identities.tenant_of("teams", PLAYGROUND_TENANT) == tenant.id
    assert await c.deps.identities.workspaces(tenant.id) == [ChatIdentity("teams", PLAYGROUND_TENANT)]
    assert (await seed_demo(**deps, playground=True)).events == 0  # a second run links nothing twice
    assert await c.deps.identities.workspaces(tenant.id) == [ChatIdentity("teams", PLAYGROUND_TENANT)]
    alex = await c.deps.employees.by_email(tenant.id, PLAYGROUND_USER[1])
    assert alex is not None and alex.name == PLAYGROUND_USER[0] and {Role.MANAGER, Role.ADMIN} <= alex.roles
    assert len(await c.deps.employees.list(tenant.id)) == len(staff) + 1


def test_the_demo_command_prints_where_to_sign_in_and_the_password_once(cli: Any) -> None:
    made = cli("demo")
    assert made.returncode == 0, made.stderr
    assert "Demo Company: 12 people" in made.stdout and "password: " in made.stdout
    assert re.search(r"/kiosk and pair it with attd_\S+ ", made.stdout)
    first_code = re.search(r"type ([A-Z2-9]{4}-[A-Z2-9]{4}) to enroll your face as Amara Okafor", made.stdout)
    again = cli("demo")
    assert again.returncode == 0 and "nothing new to add" in again.stdout and "password: " not in again.stdout
    assert "attd_" not in again.stdout and "(paired before" in again.stdout  # one kiosk, its token shown once
    second_code = re.search(r"type ([A-Z2-9]{4}-[A-Z2-9]{4}) to enroll", again.stdout)
    assert first_code and second_code and first_code[1] != second_code[1]  # a fresh code, the old one replaced


async def test_the_readmes_example_staff_list_imports_without_a_problem(container: Container) -> None:
    from pathlib import Path

    from attendance.core.messages import CreateTenant
    from attendance.services.employees import import_employees
    from attendance.services.tenants import create_tenant

    example = Path(__file__).resolve().parents[2] / "examples" / "people.csv"
    tenant = await create_tenant(CreateTenant(name="Acme", timezone="Europe/Berlin"), tenants=container.deps.tenants)
    report = await import_employees(
        example.read_text(encoding="utf-8"),
        tenant=tenant,
        deps=container.deps,
        photos=None,
        consent_recorded_by=None,
        notice_version="2026-12",
    )
    assert not report.failures and report.imported == 5, report.failures
    staff = {p.email: p for p in await container.deps.employees.list(tenant.id)}
    assert len(staff) == 5 and staff["alan@example.com"].manager_id == staff["grace@example.com"].id
