"""What people do through a chat app, whichever it is: find who is talking, enroll with
consent, undo a check-in, report one that was not them, and the admin's settings and review
queue. Reading attendance is the one read side's (``services.dashboard``, through
``ChatDeps.reads``), with the person acting as a ``Principal`` (``chat_principal``) like a
signed-in user of the dashboard: the same people visible, the same refusals.

Refusals are ``errors.NotAllowed`` (the person's role does not allow it), re-exported here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from attendance.core.domain.access import Principal, PrincipalKind
from attendance.core.domain.checkins import (
    AttendanceEvent,
    Direction,
    ReviewItem,
    ReviewKind,
    current,
    decide_direction,
)
from attendance.core.domain.faces import PhotoRefused
from attendance.core.domain.model import (
    ChatIdentity,
    DomainError,
    Employee,
    Role,
    Tenant,
    WorkSchedule,
    check_timezone,
)
from attendance.core.errors import NotAllowed, NotFound, ServiceError
from attendance.core.messages import EnrollPhoto, EraseFaceData, RecordConsent
from attendance.core.ports import AttendanceStore, ReviewQueue
from attendance.services.access import require_admin
from attendance.services.dashboard import ReadDeps
from attendance.services.directory import employee_for
from attendance.services.enrollment import EnrollmentDeps, enroll_photo, erase_face_data, record_consent
from attendance.services.reports import aware, correct_event, events_in
from attendance.services.workforce import WorkforceDeps

log = logging.getLogger(__name__)

__all__ = ["NotAllowed"]  # the chat apps catch ``chat.NotAllowed``

UNDO_WINDOW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatDeps:
    enrollment: EnrollmentDeps
    store: AttendanceStore
    reviews: ReviewQueue
    reads: ReadDeps
    workforce: WorkforceDeps


def chat_principal(person: Employee) -> Principal:
    """Someone writing to a chat app acts with their own roles of the moment, as they would
    signed in to the dashboard."""
    return Principal(
        tenant_id=person.tenant_id,
        kind=PrincipalKind.CHAT,
        actor=person.id,
        name=person.name,
        roles=person.roles,
        employee_id=person.id,
    )


# ---------------------------------------------------------------- who is talking


async def resolve_person(
    tenant: Tenant, who: ChatIdentity, email_of: Callable[[], Awaitable[str | None]], *, deps: ChatDeps
) -> Employee | None:
    """The employee behind a chat user: by their linked id, else by the email the platform
    knows for them (then linked, so it is looked up once)."""
    employees, identities = deps.enrollment.employees, deps.enrollment.identities
    person = await employee_for(tenant.id, who.platform, who.user, employees=employees, identities=identities)
    if person is not None:
        return person
    email = await email_of()
    if not email:
        return None
    person = await employees.by_email(tenant.id, email)
    if person is None:
        return None
    if await identities.link_user(tenant.id, person.id, who):
        log.info("linked a %s user to employee=%s", who.platform, person.id)
        return person
    return None  # that employee is linked to another account of this platform


def is_admin(person: Employee) -> bool:
    return Role.ADMIN in person.roles


def today_of(tenant: Tenant, person: Employee | None, now: datetime) -> date:
    zone = ZoneInfo(person.effective_timezone(tenant) if person else tenant.timezone)
    return now.astimezone(zone).date()


# ---------------------------------------------------------------- enrollment


@dataclass(frozen=True, slots=True)
class EnrollReport:
    enrolled: int
    templates_now: int
    refused: list[tuple[int, str]]  # (1-based photo number, the sentence for the person)


async def enroll_with_consent(
    tenant: Tenant,
    person: Employee,
    photos: Sequence[bytes | str],
    *,
    notice_version: str,
    deps: ChatDeps,
    method: str = "chat",
) -> EnrollReport:
    """Record the person's own consent (given in chat, or at the kiosk) if none is active, then
    enroll each photo. A photo given as ``str`` could not be fetched; the string says why."""
    d = deps.enrollment
    await give_consent(tenant, person, notice_version=notice_version, deps=deps, method=method)
    enrolled, templates_now, refused = 0, await d.templates.count(tenant.id, person.id), []
    for n, photo in enumerate(photos, start=1):
        if isinstance(photo, str):
            refused.append((n, photo))
            continue
        try:
            done = await enroll_photo(EnrollPhoto(tenant_id=tenant.id, employee_id=person.id, photo=photo), deps=d)
        except PhotoRefused as exc:
            refused.append((n, str(exc)))
            continue
        enrolled, templates_now = enrolled + 1, done.templates_now
    return EnrollReport(enrolled, templates_now, refused)


async def give_consent(
    tenant: Tenant, person: Employee, *, notice_version: str, deps: ChatDeps, method: str = "chat"
) -> None:
    """The person agreed themselves (in chat, or at the kiosk) to the notice they were shown (once;
    agreeing again changes nothing)."""
    d = deps.enrollment
    if await d.consents.active(tenant.id, person.id) is None:
        await record_consent(
            RecordConsent(
                tenant_id=tenant.id,
                employee_id=person.id,
                notice_version=notice_version,
                recorded_by=person.id,
                method=method,
            ),
            deps=d,
        )


async def forget_me(tenant: Tenant, person: Employee, *, deps: ChatDeps) -> int:
    erased = await erase_face_data(
        EraseFaceData(tenant_id=tenant.id, employee_id=person.id, requested_by=person.id), deps=deps.enrollment
    )
    return erased.templates_deleted


async def is_enrolled(tenant: Tenant, person: Employee, *, deps: ChatDeps) -> bool:
    return await deps.enrollment.templates.count(tenant.id, person.id) > 0


# ---------------------------------------------------------------- undo and "not me"


async def _own_event(tenant: Tenant, person: Employee, event_id: str, *, deps: ChatDeps) -> AttendanceEvent:
    event = await deps.store.event(tenant.id, event_id)
    if event is None or event.employee_id != person.id:
        raise NotFound("That check-in is not yours, so I left it alone.")
    if await deps.store.is_superseded(tenant.id, event_id):
        raise ServiceError("That check-in was already undone or corrected.")
    return event


async def undo(tenant: Tenant, person: Employee, event_id: str, *, deps: ChatDeps) -> AttendanceEvent:
    """Remove one's own check-in within minutes of it (a voiding correction, never a deletion)."""
    event = await _own_event(tenant, person, event_id, deps=deps)
    now = deps.enrollment.clock.now()
    if now - event.at > UNDO_WINDOW:
        minutes = int(UNDO_WINDOW.total_seconds() // 60)
        raise ServiceError(f"Undo works for {minutes} minutes after a check-in. Ask your manager to correct it.")
    return await correct_event(
        tenant=tenant,
        employee=person,
        direction=None,
        at=None,
        supersedes=event.id,
        void=True,
        reason="undone by the employee",
        recorded_by=person.id,
        store=deps.store,
        clock=deps.enrollment.clock,
    )


async def report_not_me(
    tenant: Tenant, person: Employee, event_id: str, *, deps: ChatDeps
) -> tuple[ReviewItem, list[Employee]]:
    """Flag one's own accepted check-in for review; returns the item and the admins to tell. A
    template adapted from that check-in is deleted at once: it may be someone else's face."""
    event = await _own_event(tenant, person, event_id, deps=deps)
    now = deps.enrollment.clock.now()
    item = await deps.reviews.report(event, person.id, now)
    audit = deps.enrollment.audit
    await audit.record(tenant_id=tenant.id, actor=person.id, action="checkin.reported_not_me", subject=event.id, at=now)
    if await deps.enrollment.templates.drop_adapted_from(tenant.id, event.id):
        await deps.enrollment.tenants.bump_template_version(tenant.id)
        removed = "face.adapted_removed"
        await audit.record(tenant_id=tenant.id, actor=person.id, action=removed, subject=person.id, at=now)
    admins = [p for p in await deps.enrollment.employees.list(tenant.id) if is_admin(p)]
    return item, admins


# ---------------------------------------------------------------- admin


async def set_manager(
    tenant: Tenant, principal: Principal, person: Employee, manager: Employee | None, *, deps: ChatDeps
) -> None:
    require_admin(principal)
    if manager is not None and manager.id == person.id:
        raise ServiceError("A person cannot be their own manager.")
    await deps.enrollment.employees.set_manager(tenant.id, person.id, manager.id if manager else None)
    if manager is not None and Role.MANAGER not in manager.roles:
        from dataclasses import replace

        await deps.enrollment.employees.upsert(replace(manager, roles=manager.roles | {Role.MANAGER}))
    await deps.enrollment.audit.record(
        tenant_id=tenant.id,
        actor=principal.actor,
        action="employee.manager_set",
        subject=person.id,
        at=deps.enrollment.clock.now(),
    )


async def set_timezone(tenant: Tenant, principal: Principal, timezone: str, *, deps: ChatDeps) -> str:
    require_admin(principal)
    try:
        name = check_timezone(timezone.strip())
    except DomainError as exc:
        raise ServiceError(str(exc)) from exc
    await deps.enrollment.tenants.set_timezone(tenant.id, name)
    await deps.enrollment.audit.record(
        tenant_id=tenant.id,
        actor=principal.actor,
        action="tenant.timezone_set",
        subject=name,
        at=deps.enrollment.clock.now(),
    )
    return name


def parse_schedule(text: str, current_schedule: WorkSchedule) -> WorkSchedule:
    """``09:00-17:00 [mon-fri] [grace 10]``."""
    from dataclasses import replace

    parts = text.lower().split()
    if not parts or "-" not in parts[0]:
        raise ServiceError(
            "Write the schedule as HH:MM-HH:MM, optionally with days and grace: 09:00-17:00 mon-fri grace 5"
        )
    try:
        start_s, end_s = parts[0].split("-", 1)
        start, end = time.fromisoformat(start_s), time.fromisoformat(end_s)
    except ValueError as exc:
        raise ServiceError(f"{parts[0]!r} is not a time range like 09:00-17:00") from exc
    if end <= start:
        raise ServiceError("The working day must end after it starts.")
    schedule = replace(current_schedule, start=start, end=end)
    rest = parts[1:]
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    while rest:
        word = rest.pop(0)
        if word == "grace" and rest and rest[0].isdigit() and int(rest[0]) <= 240:
            schedule = replace(schedule, grace_minutes=int(rest.pop(0)))
        elif "-" in word and all(w in days for w in word.split("-", 1)):
            a, b = (days.index(w) for w in word.split("-", 1))
            if b < a:
                raise ServiceError(f"{word!r}: the days run backwards")
            schedule = replace(schedule, weekdays=frozenset(range(a, b + 1)))
        elif all(w in days for w in word.split(",")):
            schedule = replace(schedule, weekdays=frozenset(days.index(w) for w in word.split(",")))
        else:
            raise ServiceError(f"I don't understand {word!r} in the schedule (try: 09:00-17:00 mon-fri grace 5).")
    return schedule


async def set_schedule(tenant: Tenant, principal: Principal, text: str, *, deps: ChatDeps) -> WorkSchedule:
    require_admin(principal)
    schedule = parse_schedule(text, tenant.schedule)
    await deps.enrollment.tenants.set_schedule(tenant.id, schedule)
    await deps.enrollment.audit.record(
        tenant_id=tenant.id,
        actor=principal.actor,
        action="tenant.schedule_set",
        subject=text.strip()[:80],
        at=deps.enrollment.clock.now(),
    )
    return schedule


async def review_items(tenant: Tenant, principal: Principal, *, deps: ChatDeps, limit: int = 20) -> list[ReviewItem]:
    require_admin(principal)
    return await deps.reviews.open_items(tenant.id, limit)


async def describe_review(tenant: Tenant, item: ReviewItem, *, deps: ChatDeps) -> tuple[str, str | None, str]:
    """What an admin reads about a review item: (claimed person, the colleague it looked like, local time)."""
    employees = deps.enrollment.employees
    claimed = await employees.get(tenant.id, item.employee_id or "")
    looks = await employees.get(tenant.id, item.looks_like) if item.looks_like else None
    at = aware(item.attempted_at or item.at)
    when = at.astimezone(ZoneInfo(tenant.timezone)).strftime("%a %d %b %H:%M")
    return claimed.name if claimed else "someone", looks.name if looks else None, when


async def decide_review(
    tenant: Tenant, principal: Principal, item_id: str, approve: bool, *, deps: ChatDeps
) -> tuple[ReviewItem, AttendanceEvent | None]:
    """Approve: an ``other_person`` attempt is recorded for the claimed person; a ``not_me``
    event is voided. Reject: nothing changes. Each item is decided once."""
    require_admin(principal)
    item = await deps.reviews.get(tenant.id, item_id)
    if item is None:
        raise NotFound("That review item does not exist any more.")
    if item.status != "open":
        raise ServiceError(f"That item was already {item.status}.")
    now = deps.enrollment.clock.now()
    if not await deps.reviews.resolve(tenant.id, item.id, "approved" if approve else "rejected", principal.actor, now):
        raise ServiceError("Someone else decided that item a moment ago.")
    event = None
    person = await deps.enrollment.employees.get(tenant.id, item.employee_id or "")
    if approve and person is not None:
        if item.kind is ReviewKind.NOT_ME and item.event_id:
            if not await deps.store.is_superseded(tenant.id, item.event_id):
                event = await correct_event(
                    tenant=tenant,
                    employee=person,
                    direction=None,
                    at=None,
                    supersedes=item.event_id,
                    void=True,
                    reason="reported as not them; removed by an admin",
                    recorded_by=principal.actor,
                    store=deps.store,
                    clock=deps.enrollment.clock,
                )
        elif item.kind is ReviewKind.OTHER_PERSON:
            at = aware(item.attempted_at or item.at)
            day = at.astimezone(ZoneInfo(person.effective_timezone(tenant))).date()
            before = [
                e
                for e in current(await events_in(tenant, day, day, store=deps.store, employee_id=person.id))
                if e.at <= at
            ]
            direction: Direction = decide_direction(item.requested, before)
            event = await correct_event(
                tenant=tenant,
                employee=person,
                direction=direction,
                at=at,
                supersedes=None,
                void=False,
                reason="flagged attempt approved by an admin",
                recorded_by=principal.actor,
                store=deps.store,
                clock=deps.enrollment.clock,
                answers=f"review:{item.id}",
            )
    await deps.enrollment.audit.record(
        tenant_id=tenant.id,
        actor=principal.actor,
        action=f"review.{'approved' if approve else 'rejected'}",
        subject=item.id,
        at=now,
    )
    return item, event
