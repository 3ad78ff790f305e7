"""Import employees from a CSV file, and enroll their photos when consent is on file.

Columns: ``name,email,slack_user_id,teams_user_id,manager_email,roles,photo,worker_id``, and optionally
``work_days`` (``mon,tue,wed``) and ``work_hours`` (``09:00-13:00``): the person's own schedule. ``photo``
names up to three files separated by ``;`` (three photos taken a moment apart make check-ins
faster; one is enough), each held to the earlier ones (``enroll_photo``'s self-consistency check).
Every row that can be imported is; every row (or photo) that fails is reported with its line and the reason.
Importing the same file again updates the same employees (matched by email). The two chat
columns set the person's Slack and Teams user ids (an empty cell unlinks them; a file without
the column leaves that platform's links as they are); the ids are
kept as chat identities (``ChatIdentityRepository``), in the tenant's workspace of that platform
when it has exactly one.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from dataclasses import dataclass, field
from datetime import time

from attendance.core.domain.faces import PhotoRefused
from attendance.core.domain.model import (
    MAX_NAME,
    MAX_TEMPLATES_PER_PERSON,
    ChatIdentity,
    DomainError,
    Employee,
    Tenant,
    new_id,
    normalise_email,
    parse_roles,
)
from attendance.core.errors import ServiceError
from attendance.core.messages import EnrollPhoto, RecordConsent
from attendance.core.ports import AlreadyExists, PhotoFiles
from attendance.services.enrollment import EnrollmentDeps, enroll_photo, record_consent
from attendance.services.workforce import parse_days, parse_hours

COLUMNS = (
    "name",
    "email",
    "slack_user_id",
    "teams_user_id",
    "manager_email",
    "roles",
    "photo",
    "worker_id",
    "work_days",
    "work_hours",
)
CHAT_COLUMNS = {"slack_user_id": "slack", "teams_user_id": "teams"}
REQUIRED = ("name", "email")
MAX_ROWS = 50_000


@dataclass(frozen=True, slots=True)
class ImportRow:
    line: int
    employee: Employee
    manager_email: str | None
    photos: tuple[str, ...]  # up to MAX_TEMPLATES_PER_PERSON file names
    chat_users: dict[str, str | None]  # platform -> user id (None: unlink); platforms of the file's columns
    schedule: tuple[frozenset[int] | None, tuple[time, time] | None] = (None, None)  # own days, hours


@dataclass(slots=True)
class ImportReport:
    imported: int = 0
    photos_enrolled: int = 0
    failures: list[tuple[int, str, str]] = field(default_factory=list)  # line, who, why

    def fail(self, line: int, who: str, why: str) -> None:
        self.failures.append((line, who, why))


def parse_employee_csv(text: str, tenant_id: str, report: ImportReport) -> list[ImportRow]:
    """Pure: rows that are well-formed; the others go to ``report``."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ServiceError(
            f"the CSV file needs a header row with the columns {', '.join(COLUMNS)} (missing: {', '.join(missing)})"
        )
    reader.fieldnames = header
    rows: list[ImportRow] = []
    seen: set[str] = set()
    for record in reader:
        line = reader.line_num
        if len(rows) >= MAX_ROWS:
            raise ServiceError(f"the CSV file has more than {MAX_ROWS} rows; split it")
        cell = {k: (v or "").strip() for k, v in record.items() if isinstance(k, str) and isinstance(v, str)}
        who = cell.get("email") or cell.get("name") or "?"
        try:
            if not cell.get("name"):
                raise DomainError("the name is empty")
            if len(cell["name"]) > MAX_NAME:
                raise DomainError(f"the name is longer than {MAX_NAME} characters")
            email = normalise_email(cell.get("email", ""))
            if email in seen:
                raise DomainError("this email appears twice in the file; the first row was used")
            manager = normalise_email(cell["manager_email"]) if cell.get("manager_email") else None
            roles = parse_roles(cell.get("roles", ""))
            chat_users = {p: cell.get(column) or None for column, p in CHAT_COLUMNS.items() if column in header}
            photos = tuple(name.strip() for name in cell.get("photo", "").split(";") if name.strip())
            if len(photos) > MAX_TEMPLATES_PER_PERSON:
                raise DomainError(
                    f"the photo cell names {len(photos)} files; at most {MAX_TEMPLATES_PER_PERSON} "
                    "(separated by ';') are enrolled per person"
                )
            days = parse_days(cell["work_days"]) if cell.get("work_days") else None
            hours = parse_hours(cell["work_hours"]) if cell.get("work_hours") else None
            for platform, user in chat_users.items():
                if user is not None:
                    ChatIdentity(platform, "", user)  # refuses what cannot be an id
        except (DomainError, ServiceError) as exc:
            report.fail(line, who, str(exc))
            continue
        seen.add(email)
        employee = Employee(
            id=new_id(),
            tenant_id=tenant_id,
            name=cell["name"],
            email=email,
            worker_id=cell.get("worker_id") or None,
            roles=roles,
        )
        rows.append(ImportRow(line, employee, manager, photos, chat_users, (days, hours)))
    return rows


async def import_employees(
    text: str,
    *,
    tenant: Tenant,
    deps: EnrollmentDeps,
    photos: PhotoFiles | None,
    consent_recorded_by: str | None,
    notice_version: str,
) -> ImportReport:
    report = ImportReport()
    if consent_recorded_by is not None:
        try:
            consent_recorded_by = normalise_email(consent_recorded_by)
        except DomainError as exc:
            raise ServiceError(f"--consent-recorded-by: {exc}") from exc
    stored: list[tuple[ImportRow, Employee]] = []
    workspaces: dict[str, list[str]] = {}
    for ws in await deps.identities.workspaces(tenant.id):
        workspaces.setdefault(ws.platform, []).append(ws.workspace)
    for row in parse_employee_csv(text, tenant.id, report):
        employee = await deps.employees.upsert(row.employee)
        stored.append((row, employee))
        report.imported += 1
        for platform, user in row.chat_users.items():
            known = workspaces.get(platform, [])
            who = None if user is None else ChatIdentity(platform, known[0] if len(known) == 1 else "", user)
            try:
                await deps.identities.set_user(tenant.id, employee.id, platform, who)
            except AlreadyExists as exc:
                report.fail(row.line, employee.email, f"imported, but {exc}")
        days, hours = row.schedule
        if days is not None or hours is not None:  # their own working days and hours
            base = employee.schedule or tenant.schedule
            start, end = hours or (base.start, base.end)
            own = dataclasses.replace(base, weekdays=days or base.weekdays, start=start, end=end)
            await deps.employees.set_schedule(tenant.id, employee.id, own, employee.weekly_hours)

    for row, employee in stored:
        if row.manager_email:
            manager = await deps.employees.by_email(tenant.id, row.manager_email)
            if manager is None:
                report.fail(row.line, employee.email, f"imported, but the manager {row.manager_email} is unknown")
            else:
                await deps.employees.set_manager(tenant.id, employee.id, manager.id)

    for row, employee in stored:
        for name in row.photos:  # in order: each later photo is held to the earlier ones
            why = await _enroll_row_photo(
                name,
                employee=employee,
                deps=deps,
                photos=photos,
                consent_recorded_by=consent_recorded_by,
                notice_version=notice_version,
            )
            if why is None:
                report.photos_enrolled += 1
            else:
                which = f" {name!r}" if len(row.photos) > 1 else ""
                report.fail(row.line, employee.email, f"imported, photo{which} not enrolled: {why}")
    return report


async def _enroll_row_photo(
    name: str,
    *,
    employee: Employee,
    deps: EnrollmentDeps,
    photos: PhotoFiles | None,
    consent_recorded_by: str | None,
    notice_version: str,
) -> str | None:
    if consent_recorded_by is None:
        return "no consent on record (pass --consent-recorded-by with the email of who holds the signed forms)"
    if photos is None:
        return "no photo folder given (pass --photos DIR)"
    try:
        data = photos.read(name)
    except (OSError, ValueError) as exc:
        return f"cannot read {name!r}: {exc}"
    if await deps.consents.active(employee.tenant_id, employee.id) is None:
        await record_consent(
            RecordConsent(
                tenant_id=employee.tenant_id,
                employee_id=employee.id,
                notice_version=notice_version,
                recorded_by=consent_recorded_by,
                method="signed-form",
            ),
            deps=deps,
        )
    try:
        await enroll_photo(EnrollPhoto(tenant_id=employee.tenant_id, employee_id=employee.id, photo=data), deps=deps)
    except (PhotoRefused, ServiceError) as exc:
        return str(exc)
    return None
