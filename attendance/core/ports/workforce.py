"""Ports of the working day: time off, and the public holiday calendars."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from datetime import date, datetime
from typing import Protocol

from attendance.core.domain.workdays import TimeOff, TimeOffStatus


class TimeOffRepository(Protocol):
    async def add(self, time_off: TimeOff) -> None: ...
    async def get(self, tenant_id: str, time_off_id: str) -> TimeOff | None: ...
    async def overlapping(
        self, tenant_id: str, first: date, last: date, employee_ids: Iterable[str] | None = None
    ) -> builtins.list[TimeOff]:
        """Time off of any status that has a day in ``first``..``last`` (of those people)."""
        ...

    async def pending(self, tenant_id: str) -> builtins.list[TimeOff]:
        """Requests not decided yet, oldest first."""
        ...

    async def decide(
        self, tenant_id: str, time_off_id: str, status: TimeOffStatus, by: str, at: datetime
    ) -> TimeOff | None:
        """Approve, reject or cancel a request not decided yet (or cancel an approved one);
        None when it is not there or was decided already."""
        ...

    async def remove(self, tenant_id: str, time_off_id: str) -> bool: ...


class HolidayCalendar(Protocol):
    def known(self, region: str) -> bool:
        """Whether there is a calendar for ``COUNTRY[-SUBDIVISION]``."""
        ...

    def holiday(self, region: str, day: date) -> str | None:
        """The name of the public holiday on ``day`` in that region, if it is one."""
        ...
