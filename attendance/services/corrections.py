"""Correction requests: the employee asks (on their own page), their manager or an admin decides.
An approval writes a correction event (``reports.correct_event``); nothing is ever edited.
The decider is told when a request arrives, the employee when it is decided, both in chat."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from attendance.core.domain.access import Principal, deciders_of
from attendance.core.domain.checkins import Direction
from attendance.core.domain.corrections import CorrectionRequest, RequestStatus
from attendance.core.domain.model import Employee, Tenant, new_id
from attendance.core.errors import NotAllowed, NotFound, ServiceError
from attendance.services.dashboard import DashboardDeps, person, tenant_of, visible
from attendance.services.reports import correct_event, correction_id

log = logging.getLogger(__name__)

MAX_AGE = timedelta(days=62)


def parse_local(text: str, timezone: str) -> datetime:
    """``2026-12-03T08:55`` (or with a space) in the person's zone, as UTC."""
    try:
        naive = datetime.fromisoformat(text.strip().replace(" ", "T"))
    except ValueError as exc:
        raise ServiceError(f"{text!r} is not a date and time like 2026-12-03T08:55.") from exc
    local = naive if naive.tzinfo else naive.replace(tzinfo=ZoneInfo(timezone))
    return local.astimezone(UTC)


async def request_correction(
    principal: Principal,
    *,
    direction: str | None,
    at: str | None,
    supersedes: str | None,
    void: bool,
    reason: str,
    deps: DashboardDeps,
) -> CorrectionRequest:
    """One's own missed punch (direction and time), wrong punch (``supersedes`` and the right
    time or direction), or a punch to remove (``supersedes`` and ``void``)."""
    if principal.employee_id is None:
        raise NotAllowed("Only employees can ask for a correction of their own attendance.")
    tenant = await tenant_of(principal, deps=deps)
    me = await person(principal, principal.employee_id, deps=deps)
    reason = reason.strip()
    if not 3 <= len(reason) <= 500:
        raise ServiceError("Say in a few words why (3 to 500 characters).")
    when = parse_local(at, me.effective_timezone(tenant)) if at else None
    now = deps.clock.now()
    if when is not None and not now - MAX_AGE <= when <= now + timedelta(minutes=5):
        raise ServiceError("The time must be in the last two months, and not in the future.")
    way = None
    if direction:
        try:
            way = Direction(direction)
        except ValueError:
            raise ServiceError("The direction is 'in' or 'out'.") from None
    if supersedes:
        event = await deps.store.event(tenant.id, supersedes)
        if event is None or event.employee_id != me.id:
            raise NotFound("That check-in is not one of yours.")
        if not void and way is None and when is None:
            raise ServiceError("Say what the right time or direction is, or ask to remove the check-in.")
    else:
        if void:
            raise ServiceError("Choose the check-in to remove.")
        if way is None or when is None:
            raise ServiceError("A missed check-in needs a direction (in or out) and a time.")
    request = CorrectionRequest(
        id=new_id(),
        tenant_id=tenant.id,
        employee_id=me.id,
        reason=reason,
        requested_by=principal.actor,
        requested_at=now,
        direction=way,
        at=when,
        supersedes=supersedes or None,
        void=void,
    )
    await deps.corrections.add(request)
    await deps.audit.record(
        tenant_id=tenant.id, actor=principal.actor, action="correction.requested", subject=request.id, at=now
    )
    today = now.astimezone(ZoneInfo(me.effective_timezone(tenant))).date()
    deciders = deciders_of(me, await deps.employees.list(tenant.id), today)
    await _tell(
        deps,
        tenant,
        deciders,
        f"{me.name} asks for a correction: {describe(request, tenant, me)}. "
        f"Reason: {reason}. Decide on the dashboard's Requests page.",
    )
    return request


def describe(r: CorrectionRequest, tenant: Tenant, who: Employee) -> str:
    zone = ZoneInfo(who.effective_timezone(tenant))
    when = r.at.astimezone(zone).strftime("%a %d %b %H:%M") if r.at else None
    if r.supersedes and r.void:
        return "remove a check-in"
    if r.supersedes:
        return f"change a check-in to {r.direction.value if r.direction else 'the same direction'}" + (
            f" at {when}" if when else ""
        )
    return f"add a missed check-{r.direction.value if r.direction else 'in'} at {when}"


async def _tell(deps: DashboardDeps, tenant: Tenant, people: Sequence[Employee], text: str) -> None:
    try:
        await deps.messages.tell(tenant, people, text)
    except Exception:  # the decision stands even when a chat platform is down
        log.warning("a correction message could not be sent in chat", exc_info=True)


async def corrections(
    principal: Principal,
    *,
    status: RequestStatus | None,
    after: tuple[datetime, str] | None,
    limit: int,
    deps: DashboardDeps,
) -> list[CorrectionRequest]:
    ids = None if principal.reads_all else [p.id for p in await visible(principal, deps=deps)]
    return await deps.corrections.page(principal.tenant_id, employee_ids=ids, status=status, after=after, limit=limit)


async def decide_correction(
    principal: Principal, request_id: str, *, approve: bool, note: str | None, deps: DashboardDeps
) -> CorrectionRequest:
    tenant = await tenant_of(principal, deps=deps)
    request = await deps.corrections.get(tenant.id, request_id)
    who = await deps.employees.get(tenant.id, request.employee_id) if request else None
    if request is None or who is None or not principal.may_see(who):
        raise NotFound("No such correction request among the ones you can see.")
    if not principal.may_decide_for(who):
        raise NotAllowed("Only the person's manager or an admin can decide, and never on their own request.")
    if request.status is not RequestStatus.OPEN:
        raise ServiceError(f"That request was already {request.status.value}.")
    now = deps.clock.now()
    status = RequestStatus.APPROVED if approve else RequestStatus.REJECTED
    note = (note or "").strip()[:500] or None
    # Decided first, atomically (a conditional update): of two approvals at once only one goes on
    # to write the event, whose id comes from the request (so a retry writes no second one).
    planned = (
        (
            correction_id(tenant.id, f"supersedes:{request.supersedes}")
            if request.supersedes
            else correction_id(tenant.id, f"request:{request.id}")
        )
        if approve
        else None
    )
    if not await deps.corrections.decide(
        tenant.id, request.id, status=status, by=principal.actor, at=now, note=note, event_id=planned
    ):
        raise ServiceError("Someone else decided that request a moment ago. Reload the page to see it.")
    if approve:
        try:
            await correct_event(
                tenant=tenant,
                employee=who,
                direction=request.direction,
                at=request.at,
                supersedes=request.supersedes,
                void=request.void,
                reason=f"correction request: {request.reason}",
                recorded_by=principal.actor,
                store=deps.store,
                clock=deps.clock,
                answers=f"request:{request.id}",
            )
        except (ServiceError, NotFound):
            await deps.corrections.reopen(tenant.id, request.id)  # nothing was written: it can be decided again
            raise
    await deps.audit.record(
        tenant_id=tenant.id, actor=principal.actor, action=f"correction.{status.value}", subject=request.id, at=now
    )
    decided = await deps.corrections.get(tenant.id, request.id)
    assert decided is not None
    text = f"Your correction request ({describe(request, tenant, who)}) was {status.value} by {principal.name}."
    await _tell(deps, tenant, [who], text + (f" Note: {note}" if note else ""))
    decider = await deps.employees.get(tenant.id, principal.employee_id or "")
    if decider is not None:
        await _tell(deps, tenant, [decider], f"You {status.value} {who.name}'s correction request.")
    return decided
