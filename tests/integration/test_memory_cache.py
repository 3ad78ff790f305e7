"""The web's read caches over the real database: the same answers as the database, stale for at
most their TTL when the database is written behind their back, fresh at once when written
through them, and one database read for many concurrent misses."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from attendance.adapters.memory.caches import CachedAttendanceStore, CachedEmployeeRepository
from attendance.core.domain.checkins import AttendanceEvent, Direction
from attendance.core.domain.model import Employee, new_id
from attendance.entrypoints.bootstrap import Container
from tests.fakes.clock import FixedClock

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


class CountingStore:
    """The real store, counting the tenant-wide reads that reach it."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.reads = inner, 0

    async def events(self, *args: Any, **kw: Any) -> list[AttendanceEvent]:
        self.reads += 1
        await asyncio.sleep(0)  # let concurrent callers arrive while this read is in flight
        return list(await self.inner.events(*args, **kw))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def seed(c: Container, tenant: str, people: list[str], days: int) -> list[AttendanceEvent]:
    made = []
    for p_n, person in enumerate(people):
        for d in range(days):
            at = NOW - timedelta(days=d, hours=2, minutes=p_n)
            e = AttendanceEvent(
                id=new_id(),
                tenant_id=tenant,
                employee_id=person,
                direction=Direction.IN,
                at=at,
                timezone="UTC",
                channel="test",
                job_id=None,
            )
            await c.store.append(e, d + 1 + 100 * p_n, [], None)
            made.append(e)
    return made


async def test_cached_events_and_pages_match_the_database_and_refresh_after_their_ttl(container: Any) -> None:
    c: Container = container
    tenant, people = new_id(), [new_id() for _ in range(4)]
    await seed(c, tenant, people, 5)
    clock = FixedClock(NOW)
    counting = CountingStore(c.store)
    cache = CachedAttendanceStore(counting, clock, recent_ttl_s=5, past_ttl_s=60)  # type: ignore[arg-type]
    start, end = NOW - timedelta(days=6), NOW + timedelta(hours=1)
    assert [e.id for e in await cache.events(tenant, start, end)] == [
        e.id for e in await c.store.events(tenant, start, end)
    ]
    walked, after = [], None
    while True:
        page = await cache.page(tenant, start, end, employee_ids=people[:3], after=after, limit=4)
        real = await c.store.page(tenant, start, end, employee_ids=people[:3], after=after, limit=4)
        assert [e.id for e in page] == [e.id for e in real]
        if not page:
            break
        walked += page
        after = (page[-1].at, page[-1].id)
    assert len(walked) == 15 and len({e.id for e in walked}) == 15
    some = people[1:3]
    assert [e.id for e in await cache.events_for(tenant, start, end, some)] == [
        e.id for e in await c.store.events_for(tenant, start, end, some)
    ]
    assert len(await cache.events_for(tenant, start, end, some)) == 10
    reads = counting.reads
    await cache.events(tenant, start, end)
    assert counting.reads == reads  # all from memory
    late = AttendanceEvent(
        id=new_id(),
        tenant_id=tenant,
        employee_id=people[0],
        direction=Direction.OUT,
        at=NOW - timedelta(minutes=5),
        timezone="UTC",
        channel="test",
        job_id=None,
    )
    await c.store.append(late, 50, [], None)  # behind the cache's back (the worker is another process)
    assert late.id not in {e.id for e in await cache.events(tenant, start, end)}
    clock.advance(timedelta(seconds=6))
    assert late.id in {e.id for e in await cache.events(tenant, start, end)}
    through = AttendanceEvent(
        id=new_id(),
        tenant_id=tenant,
        employee_id=people[1],
        direction=Direction.OUT,
        at=NOW - timedelta(days=4),
        timezone="UTC",
        channel="correction",
        job_id=None,
    )
    await cache.append(through, 60, [], None)  # an old day, written through the cache: seen at once
    assert through.id in {e.id for e in await cache.events(tenant, start, end)}


async def test_concurrent_misses_share_one_database_read(container: Any) -> None:
    c: Container = container
    tenant = new_id()
    await seed(c, tenant, [new_id()], 1)
    counting = CountingStore(c.store)
    cache = CachedAttendanceStore(counting, FixedClock(NOW))  # type: ignore[arg-type]
    day_start = NOW.replace(hour=0)
    results = await asyncio.gather(*(cache.events(tenant, day_start, day_start + timedelta(days=1)) for _ in range(20)))
    assert counting.reads == 1 and all(len(r) == 1 for r in results)


async def test_the_staff_list_is_cached_and_dropped_by_writes_through_it(container: Any) -> None:
    c: Container = container
    tenant = new_id()
    boss = await c.deps.employees.upsert(Employee(id=new_id(), tenant_id=tenant, name="Boss", email="b@x.example"))
    for i in range(5):
        await c.deps.employees.upsert(
            Employee(
                id=new_id(),
                tenant_id=tenant,
                name=f"P{i}",
                email=f"p{i}@x.example",
                manager_id=boss.id if i < 2 else None,
            )
        )
    clock = FixedClock(NOW)
    cache = CachedEmployeeRepository(c.deps.employees, clock, ttl_s=5)
    assert [e.id for e in await cache.page(tenant, after=None, limit=10)] == [
        e.id for e in await c.deps.employees.page(tenant, after=None, limit=10)
    ]
    team = await cache.page(tenant, after=None, limit=10, visible_to=boss.id)
    assert {e.name for e in team} == {"Boss", "P0", "P1"}
    await c.deps.employees.upsert(Employee(id=new_id(), tenant_id=tenant, name="Late", email="l@x.example"))
    assert len(await cache.list(tenant)) == 6  # not yet: within the TTL
    clock.advance(timedelta(seconds=5))
    assert len(await cache.list(tenant)) == 7
    await cache.upsert(Employee(id=new_id(), tenant_id=tenant, name="Through", email="t@x.example"))
    assert len(await cache.list(tenant)) == 8
