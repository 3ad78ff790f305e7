"""Use cases for tenants (companies)."""

from __future__ import annotations

from attendance.core.domain.model import DomainError, Tenant, check_timezone, new_id
from attendance.core.errors import Conflict, NotFound, ServiceError
from attendance.core.messages import CreateTenant
from attendance.core.ports import AlreadyExists, TenantRepository


async def create_tenant(cmd: CreateTenant, *, tenants: TenantRepository) -> Tenant:
    name = cmd.name.strip()
    if not name:
        raise ServiceError("a tenant needs a name")
    try:
        tenant = Tenant(
            id=new_id(),
            name=name,
            timezone=check_timezone(cmd.timezone),
            slack_team_ids=tuple(dict.fromkeys(t.strip() for t in cmd.slack_team_ids if t.strip())),
            teams_tenant_ids=tuple(dict.fromkeys(t.strip() for t in cmd.teams_tenant_ids if t.strip())),
        )
    except DomainError as exc:
        raise ServiceError(str(exc)) from exc
    try:
        await tenants.add(tenant)
    except AlreadyExists as exc:
        raise Conflict(f"tenant {name!r} (or one of its Slack/Teams ids) already exists") from exc
    return tenant


async def tenant_by_name(name: str, *, tenants: TenantRepository) -> Tenant:
    tenant = await tenants.by_name(name)
    if tenant is None:
        raise NotFound(f"no tenant named {name!r} (see `attendance tenants list`)")
    return tenant
