"""What most admin commands start with: the composition root and the tenant named on the command line."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from attendance.core.domain.model import Tenant
from attendance.entrypoints.bootstrap import Container, build
from attendance.services.tenants import tenant_by_name
from attendance.settings import Settings


@contextlib.asynccontextmanager
async def for_tenant(settings: Settings, name: str) -> AsyncIterator[tuple[Container, Tenant]]:
    """``async with for_tenant(settings, args.tenant) as (c, tenant): ...``; an unknown name is a
    ``NotFound`` with the names to choose from, as ``tenant_by_name`` says."""
    async with build(settings) as c:
        yield c, await tenant_by_name(name, tenants=c.deps.tenants)
