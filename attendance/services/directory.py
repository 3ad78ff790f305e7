"""Who a chat message is from: its workspace's tenant and its user's employee, through the chat
identities (``ChatIdentityRepository``), the one place that knows chat ids."""

from __future__ import annotations

from attendance.core.domain.model import ChatIdentity, Employee, Tenant
from attendance.core.ports import ChatIdentityRepository, EmployeeRepository, TenantRepository


async def tenant_for(
    platform: str, workspace: str, *, tenants: TenantRepository, identities: ChatIdentityRepository
) -> Tenant | None:
    """The tenant a chat workspace belongs to, if any."""
    tenant_id = await identities.tenant_of(platform, workspace) if workspace else None
    return None if tenant_id is None else await tenants.get(tenant_id)


async def employee_for(
    tenant_id: str, platform: str, user: str, *, employees: EmployeeRepository, identities: ChatIdentityRepository
) -> Employee | None:
    """The employee a chat user id is linked to, if any."""
    employee_id = await identities.employee_of(tenant_id, platform, user) if user else None
    return None if employee_id is None else await employees.get(tenant_id, employee_id)


async def chat_user(
    tenant_id: str, employee_id: str, platform: str, *, identities: ChatIdentityRepository
) -> ChatIdentity | None:
    """The employee's identity on that platform, if linked."""
    found = await identities.of_employees(tenant_id, [employee_id])
    return next((i for i in found.get(employee_id, []) if i.platform == platform), None)
