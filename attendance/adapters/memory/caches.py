"""In-process read-through caches for the dashboard and the API (adapters of the same ports).

The embedded database reads every document that matches a query, so a board of 1,000 people
or a page of a week's events costs a scan each time. These caches keep what the web reads
most, per process, for seconds:

* ``CachedAttendanceStore``: a tenant's events per UTC day. Days of the last 48 hours are read
  again after ``recent_ttl_s`` (check-ins arrive from the worker, another process), older days
  after ``past_ttl_s`` (only corrections change them). Writes through it drop the day they touch.
  Queries for one employee go straight to the database (its index makes them cheap).
* ``CachedEmployeeRepository``: a tenant's staff list, read again after ``ttl_s``; writes drop it.
  ``get`` (whose roles a request has) is never cached.

A load is shared by concurrent requests for the same key (no stampede), and the cache holds at
most ``max_events`` events (least recently used days go first).
"""

from __future__ import annotations

import asyncio
import bisect
import builtins
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Generic, TypeVar

from attendance.core.domain.checkins import AttendanceEvent
from attendance.core.domain.deliveries import OutboxMessage
from attendance.core.domain.model import Employee, WorkSchedule
from attendance.core.ports import AttendanceStore, Clock, EmployeeRepository, Fingerprint

T = TypeVar("T")
K = TypeVar("K")


class _Entries(Generic[K, T]):
    def __init__(self, clock: Clock, size: Callable[[T], int], max_size: int) -> None:
        self._clock, self._size, self._max = clock, size, max_size
        self._data: OrderedDict[K, tuple[datetime, T]] = OrderedDict()
        self._loading: dict[K, asyncio.Future[T]] = {}
        self._total = 0

    async def get(self, key: K, ttl_s: float, load: Callable[[], Awaitable[T]]) -> T:
        found = self._data.get(key)
        now = self._clock.now()
        if found is not None and (now - found[0]).total_seconds() < ttl_s:
            self._data.move_to_end(key)
            return found[1]
        pending = self._loading.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            value = await load()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: nobody else may be waiting
            raise
        finally:
            self._loading.pop(key, None)
        future.set_result(value)
        self.drop(key)
        self._data[key] = (now, value)
        self._total += self._size(value)
        while self._total > self._max and len(self._data) > 1:
            _, (_, old) = self._data.popitem(last=False)
            self._total -= self._size(old)
        return value

    def drop(self, key: K) -> None:
        old = self._data.pop(key, None)
        if old is not None:
            self._total -= self._size(old[1])

    def drop_where(self, match: Callable[[K], bool]) -> None:
        for key in [k for k in self._data if match(k)]:
            self.drop(key)


def _utc_day(at: datetime) -> date:
    return at.astimezone(UTC).date()


class _Bucket:
    """One UTC day of a tenant's events: in (time, id) order, and by employee."""

    __slots__ = ("by_employee", "events")

    def __init__(self, events: list[AttendanceEvent]) -> None:
        self.events = sorted(events, key=lambda e: (e.at, e.id))
        self.by_employee: dict[str, list[AttendanceEvent]] = {}
        for e in self.events:
            self.by_employee.setdefault(e.employee_id, []).append(e)

    def __len__(self) -> int:
        return len(self.events)


class CachedAttendanceStore:
    def __init__(
        self,
        inner: AttendanceStore,
        clock: Clock,
        *,
        recent_ttl_s: float = 5.0,
        past_ttl_s: float = 60.0,
        max_events: int = 500_000,
    ) -> None:
        self._inner, self._clock = inner, clock
        self._recent, self._past = recent_ttl_s, past_ttl_s
        self._days: _Entries[tuple[str, date], _Bucket] = _Entries(clock, len, max_events)

    async def _bucket(self, tenant_id: str, day: date) -> _Bucket:
        start = datetime.combine(day, time(0), tzinfo=UTC)
        recent = day >= _utc_day(self._clock.now()) - timedelta(days=2)

        async def load() -> _Bucket:
            return _Bucket(await self._inner.events(tenant_id, start, start + timedelta(days=1)))

        return await self._days.get((tenant_id, day), self._recent if recent else self._past, load)

    async def _day(self, tenant_id: str, day: date) -> list[AttendanceEvent]:
        return (await self._bucket(tenant_id, day)).events

    async def _buckets(self, tenant_id: str, start: datetime, end: datetime) -> list[_Bucket]:
        out = []
        day, last = _utc_day(start), _utc_day(end - timedelta(microseconds=1))
        while day <= last:
            out.append(await self._bucket(tenant_id, day))
            day += timedelta(days=1)
        return out

    async def _span(self, tenant_id: str, start: datetime, end: datetime) -> list[AttendanceEvent]:
        return [e for b in await self._buckets(tenant_id, start, end) for e in b.events]

    async def events_for(
        self, tenant_id: str, start: datetime, end: datetime, employee_ids: Sequence[str]
    ) -> list[AttendanceEvent]:
        if end <= start:
            return []
        out = [
            e
            for b in await self._buckets(tenant_id, start, end)
            for i in set(employee_ids)
            for e in b.by_employee.get(i, ())
            if start <= e.at < end
        ]
        return sorted(out, key=lambda e: (e.at, e.id))

    async def events(
        self, tenant_id: str, start: datetime, end: datetime, employee_id: str | None = None
    ) -> list[AttendanceEvent]:
        if employee_id is not None or end <= start:
            return await self._inner.events(tenant_id, start, end, employee_id)
        return [e for e in await self._span(tenant_id, start, end) if start <= e.at < end]

    async def page(
        self,
        tenant_id: str,
        start: datetime,
        end: datetime,
        *,
        employee_ids: Sequence[str] | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[AttendanceEvent]:
        if end <= start:
            return []
        wanted = set(employee_ids) if employee_ids is not None else None
        out: list[AttendanceEvent] = []
        day, last = (
            _utc_day(after[0] if after and after[0] > start else start),
            _utc_day(end - timedelta(microseconds=1)),
        )
        while day <= last and len(out) < limit:
            events = await self._day(tenant_id, day)
            i = bisect.bisect_right(events, after, key=lambda e: (e.at, e.id)) if after else 0
            for e in events[i:]:
                if start <= e.at < end and (wanted is None or e.employee_id in wanted):
                    out.append(e)
                    if len(out) == limit:
                        break
            day += timedelta(days=1)
        return out

    # ------------------------------------------------------------ straight through

    async def day(
        self, tenant_id: str, employee_id: str, start: datetime, end: datetime
    ) -> tuple[int, list[AttendanceEvent]]:
        return await self._inner.day(tenant_id, employee_id, start, end)

    async def append(
        self, event: AttendanceEvent, seq: int, outbox: Sequence[OutboxMessage], fingerprint: Fingerprint | None
    ) -> None:
        await self._inner.append(event, seq, outbox, fingerprint)
        self._days.drop((event.tenant_id, _utc_day(event.at)))

    async def complete(
        self, event: AttendanceEvent, outbox: Sequence[OutboxMessage], fingerprint: Fingerprint | None
    ) -> None:
        await self._inner.complete(event, outbox, fingerprint)

    async def event(self, tenant_id: str, event_id: str) -> AttendanceEvent | None:
        return await self._inner.event(tenant_id, event_id)

    async def is_superseded(self, tenant_id: str, event_id: str) -> bool:
        return await self._inner.is_superseded(tenant_id, event_id)

    async def last_at(self, tenant_id: str, employee_id: str) -> datetime | None:
        return await self._inner.last_at(tenant_id, employee_id)

    async def delete_before(self, tenant_id: str, before: datetime) -> int:
        deleted = await self._inner.delete_before(tenant_id, before)
        self._days.drop_where(lambda key: key[0] == tenant_id)
        return deleted


class CachedEmployeeRepository:
    def __init__(self, inner: EmployeeRepository, clock: Clock, *, ttl_s: float = 5.0) -> None:
        self._inner, self._ttl = inner, ttl_s
        self._lists: _Entries[str, list[Employee]] = _Entries(clock, len, 2_000_000)

    async def list(self, tenant_id: str) -> list[Employee]:
        async def load() -> list[Employee]:
            return sorted(await self._inner.list(tenant_id), key=lambda e: e.id)

        return await self._lists.get(tenant_id, self._ttl, load)

    async def page(
        self, tenant_id: str, *, after: str | None, limit: int, visible_to: str | None = None
    ) -> builtins.list[Employee]:
        people = await self.list(tenant_id)
        i = bisect.bisect_right(people, after, key=lambda e: e.id) if after is not None else 0
        if visible_to is not None:
            return [e for e in people[i:] if visible_to in (e.id, e.manager_id)][:limit]
        return people[i : i + limit]

    # ------------------------------------------------------------ straight through (writes drop the list)

    async def upsert(self, employee: Employee) -> Employee:
        stored = await self._inner.upsert(employee)
        self._lists.drop(employee.tenant_id)
        return stored

    async def get(self, tenant_id: str, employee_id: str) -> Employee | None:
        return await self._inner.get(tenant_id, employee_id)

    async def by_email(self, tenant_id: str, email: str) -> Employee | None:
        return await self._inner.by_email(tenant_id, email)

    async def set_manager(self, tenant_id: str, employee_id: str, manager_id: str | None) -> None:
        await self._inner.set_manager(tenant_id, employee_id, manager_id)
        self._lists.drop(tenant_id)

    async def set_schedule(
        self, tenant_id: str, employee_id: str, schedule: WorkSchedule | None, weekly_hours: float | None
    ) -> None:
        await self._inner.set_schedule(tenant_id, employee_id, schedule, weekly_hours)
        self._lists.drop(tenant_id)

    async def set_holidays(self, tenant_id: str, employee_id: str, region: str | None) -> None:
        await self._inner.set_holidays(tenant_id, employee_id, region)
        self._lists.drop(tenant_id)

    async def set_reminders(self, tenant_id: str, employee_id: str, on: bool) -> None:
        await self._inner.set_reminders(tenant_id, employee_id, on)
        self._lists.drop(tenant_id)

    async def set_inactive_from(self, tenant_id: str, employee_id: str, day: date | None) -> None:
        await self._inner.set_inactive_from(tenant_id, employee_id, day)
        self._lists.drop(tenant_id)
