"""Admin commands: tenants, employees (import, list, show, erase), keys."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from attendance.adapters.crypto.cipher import TemplateKeyError
from attendance.adapters.embedded.secantus import EmbeddedDatabaseError
from attendance.core.domain.faces import PhotoRefused
from attendance.core.domain.model import ChatIdentity, DomainError, Employee
from attendance.core.errors import NotFound, ServiceError
from attendance.core.messages import CreateTenant, EraseFaceData
from attendance.entrypoints.bootstrap import build, generate_template_key
from attendance.entrypoints.cli.context import for_tenant
from attendance.services.employees import import_employees
from attendance.services.enrollment import erase_face_data
from attendance.services.tenants import create_tenant, tenant_by_name
from attendance.settings import ConfigurationError, Settings

USER_ERRORS = (
    ConfigurationError,
    ServiceError,
    PhotoRefused,
    EmbeddedDatabaseError,
    TemplateKeyError,
    FileNotFoundError,
    PermissionError,
    IsADirectoryError,
)
MAX_CSV_BYTES = 20_000_000


def add_commands(sub: Any) -> None:
    tenants = sub.add_parser("tenants", help="create and list tenants (companies)").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = tenants.add_parser("create", help="create a tenant")
    p.add_argument("name")
    p.add_argument("--slack-team", action="append", default=[], metavar="TEAM_ID", help="a Slack team id it owns")
    p.add_argument("--teams-tenant", action="append", default=[], metavar="ID", help="a Teams/Entra tenant id")
    p.add_argument("--timezone", default="UTC", metavar="TZ", help="IANA time zone (default UTC)")
    p.set_defaults(handler=tenants_create)
    tenants.add_parser("list", help="list tenants").set_defaults(handler=tenants_list)
    from attendance.entrypoints.cli.records import add_tenant_policy

    add_tenant_policy(tenants)

    employees = sub.add_parser("employees", help="import, list, show and erase employees").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = employees.add_parser("import", help="import employees from a CSV file")
    p.add_argument("file", type=Path)
    p.add_argument("--tenant", required=True)
    p.add_argument("--photos", type=Path, metavar="DIR", help="folder the CSV's photo column is relative to")
    p.add_argument(
        "--consent-recorded-by",
        metavar="EMAIL",
        help="who holds the employees' signed consent forms; without it no photo is enrolled",
    )
    p.set_defaults(handler=employees_import)
    p = employees.add_parser("list", help="list a tenant's employees")
    p.add_argument("--tenant", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=employees_list)
    p = employees.add_parser("show", help="show one employee (never their face data)")
    p.add_argument("email")
    p.add_argument("--tenant", required=True)
    p.set_defaults(handler=employees_show)
    p = employees.add_parser("erase", help="erase an employee's face data now (attendance history stays)")
    p.add_argument("email")
    p.add_argument("--tenant", required=True)
    p.add_argument("--by", default="admin-cli", metavar="WHO", help="who asked for the erasure (audit log)")
    p.set_defaults(handler=employees_erase)
    from attendance.entrypoints.cli.workforce import add_employee_commands

    add_employee_commands(employees)
    p = employees.add_parser("enrollment-code", help="a one-time code to enroll the person's face at a kiosk (24 h)")
    p.add_argument("email")
    p.add_argument("--tenant", required=True)
    p.add_argument("--by", default="admin-cli", metavar="WHO", help="who issued the code (audit log)")
    p.set_defaults(handler=employees_enrollment_code)

    admin = sub.add_parser("admin", help="dashboard accounts").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = admin.add_parser("create-user", help="a local dashboard account (for sign-in without Slack or Entra)")
    p.add_argument("--tenant", required=True)
    p.add_argument("--email", required=True)
    p.add_argument(
        "--role",
        action="append",
        choices=["admin", "payroll", "manager"],
        default=[],
        help="repeat for several (default: admin)",
    )
    p.add_argument(
        "--password-file",
        type=Path,
        metavar="FILE",
        help="read the password from a file (default: ATTENDANCE_PASSWORD, else asked for)",
    )
    p.set_defaults(handler=admin_create_user)

    p = sub.add_parser("demo", help="a demo company with a month of attendance and an admin account (safe to repeat)")
    p.add_argument(
        "--playground",
        action="store_true",
        help="also answer the Agents Playground (its Teams organisation, its user Alex Wilber)",
    )
    p.set_defaults(handler=demo)

    keys = sub.add_parser("keys", help="encryption keys").add_subparsers(dest="action", required=True, metavar="ACTION")
    keys.add_parser("generate", help="print a new template key for ATTENDANCE_CRYPTO__TEMPLATE_KEY").set_defaults(
        handler=keys_generate
    )
    p = keys.add_parser(
        "rotate", help="re-encrypt templates, chat tokens and webhook secrets under the active key (docs/operations.md)"
    )
    p.add_argument("--check", action="store_true", help="only count what is still under an older key")
    p.set_defaults(handler=keys_rotate)


def _password(args: argparse.Namespace) -> str:
    import getpass
    import os

    if args.password_file is not None:
        return str(args.password_file.read_text(encoding="utf-8")).strip()
    if os.environ.get("ATTENDANCE_PASSWORD"):
        return os.environ["ATTENDANCE_PASSWORD"]
    first = getpass.getpass("Password (12 characters or more): ")
    if getpass.getpass("Again: ") != first:
        raise ServiceError("the two passwords differ")
    return first


async def admin_create_user(args: argparse.Namespace, settings: Settings) -> int:
    from attendance.core.domain.model import Role
    from attendance.entrypoints.bootstrap import access_deps
    from attendance.services.access import create_local_user

    password = await asyncio.to_thread(_password, args)
    async with build(settings) as c:
        user = await create_local_user(
            args.tenant, args.email, password, [Role(r) for r in args.role or ["admin"]], deps=access_deps(c)
        )
    roles = ", ".join(sorted(r.value for r in user.roles))
    linked = "linked to the employee with that email" if user.employee_id else "not an employee"
    print(f"created the account {user.email} ({roles}; {linked}); sign in at /signin")
    return 0


async def demo(args: argparse.Namespace, settings: Settings) -> int:
    from attendance.entrypoints.bootstrap import access_deps, enrollment_codes
    from attendance.services.demo import PLAYGROUND_USER, demo_kiosk, seed_demo

    async with build(settings) as c:
        made = await seed_demo(
            tenants=c.deps.tenants,
            employees=c.deps.employees,
            store=c.store,
            reviews=c.chat.reviews,
            access=access_deps(c),
            playground=args.playground,
        )
        kiosk = await demo_kiosk(made.tenant, access=access_deps(c), chat=c.chat, codes=enrollment_codes(c))
    added = f"{made.events} check-ins added" if made.events else "nothing new to add"
    print(f"{made.tenant.name}: {made.people} people in two teams, a month of attendance ({added}).")
    print(
        f"Start the service with `make run` (or `attendance run`), then open http://{settings.http.host}:"
        f"{settings.http.port}/ and sign in as {made.admin_email}"
    )
    if made.admin_password:
        print(f"  password: {made.admin_password}   (shown only now)")
    else:
        print(
            "  with the password printed when the demo was first made (or make another account with "
            "`attendance admin create-user --tenant 'Demo Company' --email you@example.com`)."
        )
    base = f"http://{settings.http.host}:{settings.http.port}"
    if kiosk.device_secret:
        print(
            f"Kiosk: open {base}/kiosk and pair it with {kiosk.device_secret}   (shown only now; "
            "a new one: Access page)"
        )
    else:
        print(f"Kiosk: open {base}/kiosk (paired before; a new device token: Access page)")
    print(
        f"Nobody has face data. At the kiosk, tap *Enroll me* and type {kiosk.code.code} to enroll your face as "
        f"{kiosk.code.employee.name} (works once, for 24 hours), then check in there."
    )
    if args.playground:
        name, email = PLAYGROUND_USER
        print(
            f"Teams: the Agents Playground's user {name} ({email}) is a manager and admin here; "
            "`make playground` starts both."
        )
    return 0


async def tenants_create(args: argparse.Namespace, settings: Settings) -> int:
    try:
        chats = (
            *(ChatIdentity("slack", t.strip()) for t in args.slack_team if t.strip()),
            *(ChatIdentity("teams", t.strip()) for t in args.teams_tenant if t.strip()),
        )
    except DomainError as exc:
        raise ServiceError(str(exc)) from exc
    async with build(settings) as c:
        tenant = await create_tenant(
            CreateTenant(name=args.name, timezone=args.timezone, chats=chats),
            tenants=c.deps.tenants,
            identities=c.deps.identities,
        )
    print(f"created tenant {tenant.name!r} (id {tenant.id}, time zone {tenant.timezone})")
    return 0


async def tenants_list(args: argparse.Namespace, settings: Settings) -> int:
    async with build(settings) as c:
        for t in await c.deps.tenants.list():
            chats = ", ".join(f"{ws.platform}:{ws.workspace}" for ws in await c.deps.identities.workspaces(t.id))
            print(f"{t.name}\t{t.id}\t{t.timezone}\t{chats or '-'}")
    return 0


class PhotoFolder:
    """The ``PhotoFiles`` port over a local folder; names may not leave it."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self._root = root
        self._max = max_bytes

    def read(self, name: str) -> bytes:
        relative = Path(name)
        if relative.is_absolute() or ".." in relative.parts:
            raise ValueError("the photo path leaves the photo folder")
        path = self._root / relative
        if path.stat().st_size > self._max:
            raise ValueError(f"the file is over {self._max // 1_000_000} MB")
        return path.read_bytes()


def _read_csv(path: Path) -> str:
    if path.stat().st_size > MAX_CSV_BYTES:
        raise ServiceError(f"{path} is larger than {MAX_CSV_BYTES // 1_000_000} MB")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ServiceError(f"{path} is not a UTF-8 text file") from exc


async def employees_import(args: argparse.Namespace, settings: Settings) -> int:
    text = await asyncio.to_thread(_read_csv, args.file)
    if args.photos is not None and not args.photos.is_dir():
        raise ServiceError(f"--photos {args.photos} is not a folder")
    async with for_tenant(settings, args.tenant) as (c, tenant):
        report = await import_employees(
            text,
            tenant=tenant,
            deps=c.deps,
            photos=PhotoFolder(args.photos, settings.face.max_bytes) if args.photos else None,
            consent_recorded_by=args.consent_recorded_by,
            notice_version=settings.consent_notice_version,
        )
    print(
        f"imported {report.imported} employees, enrolled {report.photos_enrolled} photos, "
        f"{len(report.failures)} problems"
    )
    for line, who, why in report.failures:
        print(f"  line {line} ({who}): {why}")
    return 0 if not report.failures else 3


def _employee_row(e: Employee, chats: list[ChatIdentity]) -> dict[str, Any]:
    user = {who.platform: who.user for who in chats}
    return {
        "id": e.id,
        "name": e.name,
        "email": e.email,
        "slack_user_id": user.get("slack"),
        "teams_user_id": user.get("teams"),
        "worker_id": e.worker_id,
        "manager_id": e.manager_id,
        "timezone": e.timezone,
        "roles": sorted(r.value for r in e.roles),
    }


async def employees_list(args: argparse.Namespace, settings: Settings) -> int:
    async with for_tenant(settings, args.tenant) as (c, tenant):
        rows = []
        chats = await c.deps.identities.of_employees(tenant.id)
        for e in await c.deps.employees.list(tenant.id):
            row = _employee_row(e, chats.get(e.id, []))
            rows.append({**row, "face_templates": await c.deps.templates.count(tenant.id, e.id)})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            print(f"{r['email']}\t{r['name']}\t{','.join(r['roles'])}\tfaces:{r['face_templates']}")
    return 0


async def _employee(c: Any, tenant_name: str, email: str) -> tuple[Any, Employee]:
    tenant = await tenant_by_name(tenant_name, tenants=c.deps.tenants)
    employee = await c.deps.employees.by_email(tenant.id, email)
    if employee is None:
        raise NotFound(f"no employee with email {email!r} in {tenant.name!r}")
    return tenant, employee


async def employees_show(args: argparse.Namespace, settings: Settings) -> int:
    async with build(settings) as c:
        tenant, e = await _employee(c, args.tenant, args.email)
        templates = await c.deps.templates.for_employee(tenant.id, e.id)
        consent = await c.deps.consents.active(tenant.id, e.id)
        chats = await c.deps.identities.of_employees(tenant.id, [e.id])
    row = _employee_row(e, chats.get(e.id, []))
    row["face_templates"] = [
        {"id": t.id, "model": t.model_id, "created_at": t.created_at.isoformat(), "face_px": t.quality.face_px}
        for t in templates
    ]
    row["consent"] = (
        None
        if consent is None
        else {
            "notice_version": consent.notice_version,
            "given_at": consent.given_at.isoformat(),
            "recorded_by": consent.recorded_by,
            "method": consent.method,
        }
    )
    print(json.dumps(row, indent=2))
    return 0


async def employees_enrollment_code(args: argparse.Namespace, settings: Settings) -> int:
    from attendance.entrypoints.bootstrap import enrollment_codes
    from attendance.services.kiosk_enrollment import issue_enrollment_code

    async with build(settings) as c:
        tenant, e = await _employee(c, args.tenant, args.email)
        issued = await issue_enrollment_code(tenant, e.id, issued_by=args.by, deps=c.chat, codes=enrollment_codes(c))
    print(
        f"kiosk enrollment code for {e.email}: {issued.code} (works once, until "
        f"{issued.expires_at:%Y-%m-%d %H:%M} UTC; an earlier code of theirs no longer works)"
    )
    return 0


async def employees_erase(args: argparse.Namespace, settings: Settings) -> int:
    async with build(settings) as c:
        tenant, e = await _employee(c, args.tenant, args.email)
        erased = await erase_face_data(
            EraseFaceData(tenant_id=tenant.id, employee_id=e.id, requested_by=args.by), deps=c.deps
        )
    print(f"erased {erased.templates_deleted} face templates of {e.email} and withdrew their consent")
    return 0


async def keys_generate(args: argparse.Namespace, settings: Settings) -> int:
    print(generate_template_key())
    return 0


async def keys_rotate(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 0 when nothing is left under an older key (after a rotation, or a --check that finds none)."""
    from attendance.adapters.crypto.cipher import LOCAL_KEY_ID
    from attendance.services.keys import rotate_keys

    active = settings.crypto.template_key_id if settings.crypto.template_key is not None else LOCAL_KEY_ID
    async with build(settings) as c:
        try:
            found = await rotate_keys(c.sealed, dry_run=args.check)
        except TemplateKeyError as exc:  # an older key is not configured: say how to give it
            raise TemplateKeyError(
                f"{exc}. Keep the old key in ATTENDANCE_CRYPTO__OLD_TEMPLATE_KEYS (for example "
                '\'{"k1": "<the old key>"}\') and run this again: what was re-encrypted stays so, the rest is '
                "unchanged (docs/operations.md)"
            ) from exc
    left = 0
    for name, r in found.items():
        verb = "to re-encrypt" if args.check else "re-encrypted"
        print(f"{name}: {r.resealed} {verb}, {r.current} already under key {active!r}")
        left += r.resealed if args.check else 0
    if args.check:
        print("nothing is left under an older key" if left == 0 else f"{left} values are still under an older key")
        return 0 if left == 0 else 1
    print(f"done: every value is under key {active!r}; the old keys can be removed from OLD_TEMPLATE_KEYS")
    return 0
