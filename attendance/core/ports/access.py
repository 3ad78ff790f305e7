"""Ports of who may do what on the web: API tokens, enrollment codes, used request keys,
local accounts, correction requests."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from attendance.core.domain.access import ApiToken, EnrollmentCode, LocalUser
from attendance.core.domain.corrections import CorrectionRequest, RequestStatus


class ApiTokenRepository(Protocol):
    async def add(self, token: ApiToken) -> None: ...
    async def by_hash(self, secret_hash: str) -> ApiToken | None: ...
    async def get(self, tenant_id: str, token_id: str) -> ApiToken | None: ...
    async def list(self, tenant_id: str) -> builtins.list[ApiToken]: ...
    async def revoke(self, tenant_id: str, token_id: str, at: datetime) -> bool: ...
    async def touch(self, token_id: str, at: datetime) -> None: ...


class EnrollmentCodes(Protocol):
    """Kiosk enrollment codes, by the hash of the code; gone once used, replaced or expired."""

    async def replace(self, code: EnrollmentCode) -> None:
        """Store ``code``; any earlier code of the same person stops working."""
        ...

    async def valid(self, tenant_id: str, code_hash: str, now: datetime) -> EnrollmentCode | None: ...
    async def use(self, tenant_id: str, code_hash: str) -> bool:
        """Spend the code; False when it was spent already (by a concurrent enrollment)."""
        ...


class UsedKeys(Protocol):
    """Keys marked once and remembered until a time: signed-out session ids (until the cookie would
    have expired), sign-in states already used (single use)."""

    async def mark(self, key: str, until: datetime) -> bool:
        """Remember ``key``; True when it was not marked before (the first use)."""
        ...

    async def marked(self, key: str) -> bool: ...


class LocalUserRepository(Protocol):
    async def add(self, user: LocalUser) -> None:
        """``AlreadyExists`` if the email has an account."""
        ...

    async def by_email(self, email: str) -> LocalUser | None: ...
    async def get(self, tenant_id: str, user_id: str) -> LocalUser | None: ...


class CorrectionRequests(Protocol):
    async def add(self, request: CorrectionRequest) -> None: ...
    async def get(self, tenant_id: str, request_id: str) -> CorrectionRequest | None: ...
    async def page(
        self,
        tenant_id: str,
        *,
        employee_ids: Sequence[str] | None,
        status: RequestStatus | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> builtins.list[CorrectionRequest]: ...

    async def decide(
        self,
        tenant_id: str,
        request_id: str,
        *,
        status: RequestStatus,
        by: str,
        at: datetime,
        note: str | None,
        event_id: str | None,
    ) -> bool:
        """Close an open request; False if it was decided already."""
        ...

    async def reopen(self, tenant_id: str, request_id: str) -> None:
        """An approval whose correction could not be written is open again."""
        ...
