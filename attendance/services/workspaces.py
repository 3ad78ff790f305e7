"""A Slack workspace installed the app: it gets a tenant (unless one already claims its team
id), and the person who installed it becomes the first admin of a tenant that the install created.

Reinstalling the app into a workspace that already has a tenant changes nobody's roles and adds
nobody: any member of a workspace may be allowed to install apps, and that must not make them
an admin of the company's attendance (its admins add people to the staff list)."""

from __future__ import annotations

import logging

from attendance.core.domain.model import ChatIdentity, DomainError, Employee, Role, Tenant, new_id, normalise_email
from attendance.core.errors import Conflict
from attendance.core.messages import CreateTenant, WorkspaceInstalled
from attendance.core.ports import AuditLog, ChatIdentityRepository, Clock, EmployeeRepository, TenantRepository
from attendance.services.directory import tenant_for
from attendance.services.tenants import create_tenant

log = logging.getLogger(__name__)


async def on_workspace_installed(
    msg: WorkspaceInstalled,
    *,
    tenants: TenantRepository,
    employees: EmployeeRepository,
    identities: ChatIdentityRepository,
    audit: AuditLog,
    clock: Clock,
) -> Tenant:
    tenant = await tenant_for("slack", msg.team_id, tenants=tenants, identities=identities)
    created = tenant is None
    if tenant is None:
        name = msg.team_name.strip() or msg.team_id
        chats = (ChatIdentity("slack", msg.team_id),)
        try:
            tenant = await create_tenant(CreateTenant(name=name, chats=chats), tenants=tenants, identities=identities)
        except Conflict:  # another company has that name: keep both apart
            tenant = await create_tenant(
                CreateTenant(name=f"{name} ({msg.team_id})", chats=chats), tenants=tenants, identities=identities
            )
        log.info("tenant created for slack team=%s tenant=%s", msg.team_id, tenant.id)
    if created and msg.installer_email and msg.installer_user_id:
        try:
            email = normalise_email(msg.installer_email)
        except DomainError:
            return tenant
        existing = await employees.by_email(tenant.id, email)
        if existing is None:
            installer = await employees.upsert(
                Employee(
                    id=new_id(),
                    tenant_id=tenant.id,
                    name=msg.installer_name or email.split("@")[0],
                    email=email,
                    roles=frozenset({Role.EMPLOYEE, Role.ADMIN}),
                )
            )
            who = ChatIdentity("slack", msg.team_id, msg.installer_user_id)
            await identities.link_user(tenant.id, installer.id, who)
    await audit.record(
        tenant_id=tenant.id,
        actor=msg.installer_user_id or "slack",
        action="slack.installed" if created else "slack.reinstalled",
        subject=msg.team_id,
        at=clock.now(),
    )
    return tenant
