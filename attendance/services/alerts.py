"""``ChatAdminAlerts`` (the ``AdminAlerts`` port): an alert is stored in ``admin_alerts`` (the
dashboard and `attendance deliveries alerts` show them), logged, and sent in chat to each admin
of the tenant that the service can reach (Slack, when it is configured; Teams, where the admin has
written to the bot)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from attendance.core.domain.model import Employee, Role, Tenant
from attendance.core.ports import DeliveryRepository, EmployeeRepository, TenantRepository

log = logging.getLogger(__name__)

SendToAdmins = Callable[[Tenant, list[Employee], str], Awaitable[None]]


class ChatAdminAlerts:
    def __init__(
        self,
        store: DeliveryRepository,
        tenants: TenantRepository,
        employees: EmployeeRepository,
        send: SendToAdmins | None = None,
    ) -> None:
        self._store, self._tenants, self._employees, self._send = store, tenants, employees, send

    async def alert(self, tenant_id: str, text: str, now: datetime) -> None:
        await self._store.record_alert(tenant_id, text, now)
        log.error("admin alert tenant=%s: %s", tenant_id, text)
        if self._send is None:
            return
        tenant = await self._tenants.get(tenant_id)
        if tenant is None:
            return
        admins = [p for p in await self._employees.list(tenant_id) if Role.ADMIN in p.roles]
        try:
            await self._send(tenant, admins, text)
        except Exception:
            log.warning("admin alert tenant=%s could not be sent in chat", tenant_id, exc_info=True)
