"""``attendance.day.summary`` events: after a tenant's local day has ended, one outbox row per
person who has attendance that day (first in, last out, worked minutes, breaks, lateness, a
missing check-out). Idempotent: the row's id is derived from the tenant, person and day, and a
per-tenant mark says which days are done, so a dispatcher that dies halfway just does it again.

*Decision:* a summary goes out once, after the day; a correction made later is its own
``attendance.event.corrected`` event (receivers recompute), and no second summary is sent.
The day ends at midnight in the tenant's time zone plus ``SETTLE`` (for the last check-outs to
land); people with a time zone of their own are summarised on their own local day then too.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from attendance.core.domain.checkins import DaySummary
from attendance.core.domain.deliveries import OutboxMessage
from attendance.core.domain.model import Employee, Tenant
from attendance.core.ports import AttendanceStore, DeliveryRepository, EmployeeRepository, TenantRepository
from attendance.services.reports import summaries

SUMMARY_TYPE = "attendance.day.summary"
SETTLE = timedelta(minutes=10)
CATCH_UP_DAYS = 7  # a dispatcher that was down catches up on at most this many days


def last_finished_day(tenant: Tenant, now: datetime) -> date:
    """The latest local day of the tenant that has ended (and settled) at ``now``."""
    return (now.astimezone(ZoneInfo(tenant.timezone)) - SETTLE).date() - timedelta(days=1)


def _times(at: datetime | None, zone: ZoneInfo) -> tuple[str | None, str | None]:
    return (at.astimezone(UTC).isoformat(), at.astimezone(zone).isoformat()) if at else (None, None)


def summary_row(tenant: Tenant, person: Employee, day: DaySummary, created_at: datetime) -> OutboxMessage:
    zone = ZoneInfo(day.timezone)
    first_utc, first_local = _times(day.first_in, zone)
    last_utc, last_local = _times(day.last_out, zone)
    summary_id = f"summary:{tenant.id}:{person.id}:{day.day.isoformat()}"
    end_of_day = datetime.combine(day.day + timedelta(days=1), datetime.min.time(), tzinfo=zone).astimezone(UTC)
    payload: dict[str, object] = {
        "type": SUMMARY_TYPE,
        "version": 1,
        "event_id": summary_id,
        "tenant_id": tenant.id,
        "employee": {"id": person.id, "email": person.email, "name": person.name, "worker_id": person.worker_id},
        "local_date": day.day.isoformat(),
        "timezone": day.timezone,
        "first_in_utc": first_utc,
        "first_in_local": first_local,
        "last_out_utc": last_utc,
        "last_out_local": last_local,
        "worked_minutes": day.worked_minutes,
        "break_minutes": [int(b.total_seconds() // 60) for b in day.breaks],
        "late_minutes": int(day.late_by.total_seconds() // 60) if day.late_by else 0,
        "missing_check_out": day.missing_check_out,
        "events": day.events,
    }
    return OutboxMessage(
        id=f"{summary_id}:{SUMMARY_TYPE}",
        tenant_id=tenant.id,
        employee_id=person.id,
        event_id=summary_id,
        type=SUMMARY_TYPE,
        occurred_at=end_of_day,
        payload=payload,
        created_at=created_at,
    )


async def emit_day_summaries(
    now: datetime,
    *,
    tenants: TenantRepository,
    employees: EmployeeRepository,
    store: AttendanceStore,
    outbox: DeliveryRepository,
) -> int:
    """Write the summary rows of every tenant's finished days not done yet; returns how many."""
    written = 0
    for tenant in await tenants.list():
        last = last_finished_day(tenant, now)
        done = await outbox.summary_mark(tenant.id)
        first = last if done is None else max(done + timedelta(days=1), last - timedelta(days=CATCH_UP_DAYS - 1))
        if first > last:
            continue
        rows = []
        for person_days in await summaries(tenant, first, last, store=store, employees=employees):
            rows += [summary_row(tenant, person_days.employee, d, now) for d in person_days.days if d.events]
        await outbox.add_outbox(rows)
        await outbox.set_summary_mark(tenant.id, last)
        written += len(rows)
    return written
