"""Use cases for tenants (companies)."""

from __future__ import annotations

from attendance.core.domain.model import ChatIdentity, DomainError, Tenant, check_timezone, new_id
from attendance.core.errors import Conflict, NotFound, ServiceError
from attendance.core.messages import CreateTenant
from attendance.core.ports import AlreadyExists, ChatIdentityRepository, TenantRepository


async def create_tenant(
    cmd: CreateTenant, *, tenants: TenantRepository, identities: ChatIdentityRepository | None = None
) -> Tenant:
    """A new tenant, and the chat workspaces (``cmd.chats``) whose messages belong to it."""
    name = cmd.name.strip()
    if not name:
        raise ServiceError("a tenant needs a name")
    try:
        tenant = Tenant(id=new_id(), name=name, timezone=check_timezone(cmd.timezone))
    except DomainError as exc:
        raise ServiceError(str(exc)) from exc
    chats = tuple(dict.fromkeys(cmd.chats))
    if chats and identities is None:
        raise ServiceError("linking chat workspaces needs the chat identities")
    if identities is not None:
        for ws in chats:
            if await identities.tenant_of(ws.platform, ws.workspace) is not None:
                raise Conflict(f"the {ws.platform} workspace {ws.workspace} already belongs to a tenant")
    try:
        await tenants.add(tenant)
    except AlreadyExists as exc:
        raise Conflict(f"tenant {name!r} already exists") from exc
    if identities is not None:
        for ws in chats:
            await link_workspace(tenant, ws, identities=identities)
    return tenant


async def link_workspace(tenant: Tenant, workspace: ChatIdentity, *, identities: ChatIdentityRepository) -> None:
    """Messages from that chat workspace belong to ``tenant`` from now on."""
    try:
        await identities.link_workspace(tenant.id, workspace)
    except AlreadyExists as exc:
        raise Conflict(f"the {workspace.platform} workspace {workspace.workspace} belongs to another tenant") from exc


async def tenant_by_name(name: str, *, tenants: TenantRepository) -> Tenant:
    tenant = await tenants.by_name(name)
    if tenant is None:
        raise NotFound(f"no tenant named {name!r} (see `attendance tenants list`)")
    return tenant
