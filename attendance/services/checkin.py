"""Check-in use cases: take a request as a job, and decide a job.

``submit_check_in`` stores the job (one per idempotency key). ``decide_job`` is what a worker
runs: resolve the person, fetch the photo, run the face pipeline, apply the fraud rules and the
match policy, and -- for an accepted check-in -- append the attendance event as the next number of
the person's sequence (a unique index), then its outbox rows and fingerprint, with ids derived
from the job, so that neither a second run of the job nor a concurrent check-in can record it
twice (no transaction: see docs/architecture.md, "an idempotent sequence").

Exception tree::

    TransientJobError       worth retrying later (photo download, ...)
"""

from __future__ import annotations

import dataclasses
import logging
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from attendance.core.domain.challenges import answers, new_challenge
from attendance.core.domain.checkins import (
    AttendanceEvent,
    CheckInJob,
    Direction,
    Outcome,
    OutcomeKind,
    PhotoRef,
    Requested,
    capture_time,
    decide_direction,
    duplicate_of,
    is_stale,
)
from attendance.core.domain.deliveries import OutboxMessage
from attendance.core.domain.faces import FaceAnalysis, PhotoRefused, Purpose
from attendance.core.domain.model import (
    Employee,
    FaceQuality,
    FaceTemplate,
    MatchThresholds,
    PendingAdaptation,
    Tenant,
    new_id,
)
from attendance.core.matching import Decision, Gallery, identify, may_adapt, verify
from attendance.core.matching import Outcome as MatchOutcome
from attendance.core.ports import (
    AttendanceStore,
    ChallengeStore,
    ChatIdentityRepository,
    Clock,
    EmployeeRepository,
    EngineUnavailable,
    FaceEngine,
    Fingerprint,
    Fingerprints,
    GalleryProvider,
    JobQueue,
    PhotoSource,
    PhotoUnavailable,
    ReviewQueue,
    SequenceTaken,
    TemplateRepository,
    TenantRepository,
)
from attendance.services.directory import employee_for

log = logging.getLogger(__name__)


class TransientJobError(Exception):
    """Try the job again later. ``counts``: whether this try counts against its attempts."""

    def __init__(self, message: str, *, counts: bool = True) -> None:
        super().__init__(message)
        self.counts = counts


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckInDeps:
    tenants: TenantRepository
    employees: EmployeeRepository
    identities: ChatIdentityRepository
    jobs: JobQueue
    store: AttendanceStore
    fingerprints: Fingerprints
    reviews: ReviewQueue
    photos: PhotoSource
    engine: FaceEngine
    galleries: GalleryProvider
    clock: Clock
    templates: TemplateRepository
    challenges: ChallengeStore


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestCheckIn:
    tenant_id: str
    channel: str
    identity_kind: str
    identity: str | None
    photo: PhotoRef
    idempotency_key: str
    requested: Requested = Requested.AUTO
    reply_to: str | None = None
    context: dict[str, str] = field(default_factory=dict)


async def submit_check_in(cmd: RequestCheckIn, *, jobs: JobQueue, clock: Clock) -> tuple[CheckInJob, bool]:
    """Store the request as a job. The same idempotency key again yields the first job."""
    job = CheckInJob(
        id=new_id(),
        tenant_id=cmd.tenant_id,
        channel=cmd.channel,
        identity_kind=cmd.identity_kind,
        identity=cmd.identity,
        photo=cmd.photo,
        requested=cmd.requested,
        received_at=clock.now(),
        idempotency_key=cmd.idempotency_key,
        reply_to=cmd.reply_to,
        context=cmd.context,
    )
    return await jobs.submit(job)


OUTBOX_TYPES = {Direction.IN: "attendance.check_in.accepted", Direction.OUT: "attendance.check_out.accepted"}


def outbox_rows(event: AttendanceEvent, employee: Employee, created_at: datetime) -> list[OutboxMessage]:
    """The rows payroll delivery reads (one per event type; ids stable per event)."""
    kind = OUTBOX_TYPES[event.direction]
    local = event.local
    payload: dict[str, object] = {
        "type": kind,
        "version": 1,
        "event_id": event.id,
        "tenant_id": event.tenant_id,
        "employee": {
            "id": employee.id,
            "email": employee.email,
            "name": employee.name,
            "worker_id": employee.worker_id,
        },
        "direction": event.direction.value,
        "at_utc": event.at.astimezone(UTC).isoformat(),
        "at_local": local.isoformat(),
        "timezone": event.timezone,
        "local_date": local.date().isoformat(),
        "channel": event.channel,
        "supersedes": event.supersedes,
    }
    return [
        OutboxMessage(
            id=f"{event.id}:{kind}",
            tenant_id=event.tenant_id,
            employee_id=event.employee_id,
            event_id=event.id,
            type=kind,
            occurred_at=event.at,
            payload=payload,
            created_at=created_at,
        )
    ]


CORRECTED = "attendance.event.corrected"


def correction_rows(event: AttendanceEvent, employee: Employee, created_at: datetime) -> list[OutboxMessage]:
    """A correction's rows: the event's fields, typed ``attendance.event.corrected``, with ``void``
    and ``reason``."""
    return [
        dataclasses.replace(
            row,
            id=f"{event.id}:{CORRECTED}",
            type=CORRECTED,
            payload={**row.payload, "type": CORRECTED, "void": event.void, "reason": event.reason},
        )
        for row in outbox_rows(event, employee, created_at)
    ]


async def _resolve(job: CheckInJob, tenant: Tenant, deps: CheckInDeps) -> Employee | None:
    if job.identity_kind == "none" or job.identity is None:
        return None
    if job.identity_kind == "employee":
        return await deps.employees.get(tenant.id, job.identity)
    if job.identity_kind == "email":
        return await deps.employees.by_email(tenant.id, job.identity)
    return await employee_for(
        tenant.id, job.identity_kind, job.identity, employees=deps.employees, identities=deps.identities
    )


def _local_day(at: datetime, person: Employee, tenant: Tenant) -> date:
    return at.astimezone(ZoneInfo(person.effective_timezone(tenant))).date()


async def decide_job(job: CheckInJob, *, deps: CheckInDeps) -> Outcome:
    """Everything a worker does for one job except replying. Raises ``TransientJobError``.
    Deciding a job again gives the same answer: its event is found by its id, its own photo
    fingerprint is not a replay, and a flag for review is keyed by it."""
    return await decide_for(job, await deps.tenants.get(job.tenant_id), deps=deps)


async def decide_for(job: CheckInJob, tenant: Tenant | None, *, deps: CheckInDeps) -> Outcome:
    """``decide_job`` with the job's tenant as the caller read it (None: no such tenant)."""
    if tenant is None:
        return Outcome(kind=OutcomeKind.FAILED, detail="unknown tenant")
    claimed = await _resolve(job, tenant, deps)
    if job.identity_kind != "none" and claimed is None:
        return Outcome(kind=OutcomeKind.NOT_ENROLLED)
    if claimed is not None and not claimed.active_on(_local_day(job.received_at, claimed, tenant)):
        return Outcome(kind=OutcomeKind.INACTIVE)
    try:
        photo = await deps.photos.fetch(job)
    except PhotoUnavailable as exc:
        if exc.transient:
            raise TransientJobError(str(exc)) from exc
        return Outcome(kind=OutcomeKind.NO_USABLE_FACE, reason="unavailable", detail=str(exc))
    try:
        analysis = await deps.engine.analyse(photo, Purpose.CHECK_IN)
    except PhotoRefused as exc:
        return Outcome(kind=OutcomeKind.NO_USABLE_FACE, reason=exc.reason.value, detail=str(exc))
    except EngineUnavailable as exc:
        raise TransientJobError(str(exc)) from exc
    now = deps.clock.now()
    policy = tenant.policy
    timezone = claimed.effective_timezone(tenant) if claimed else tenant.timezone
    if is_stale(analysis.captured_at, now, timezone, policy):
        return Outcome(kind=OutcomeKind.STALE_PHOTO, detail=str(policy.freshness_minutes))
    since = now - timedelta(days=policy.replay_retention_days)
    if policy.replay_check and await deps.fingerprints.seen(
        tenant.id,
        analysis.fingerprint,
        policy.replay_max_bits,
        since,
        ignore=job.id,  # a re-run's own print
    ):
        return Outcome(kind=OutcomeKind.REPLAYED_PHOTO)

    gallery = await deps.galleries.gallery(tenant.id, tenant.template_version)
    probe = np.asarray(analysis.embedding, dtype=np.float32)
    thresholds = tenant.thresholds or deps.engine.model.thresholds
    decision = verify(gallery, claimed.id, probe, thresholds) if claimed else identify(gallery, probe, thresholds)
    d, m = decision.distance, decision.margin
    refused = {
        MatchOutcome.NOT_ENROLLED: OutcomeKind.NOT_ENROLLED,
        MatchOutcome.RETRY: OutcomeKind.RETRY,
        MatchOutcome.NOT_RECOGNISED: OutcomeKind.NOT_RECOGNISED,
    }
    if decision.outcome in refused:
        return Outcome(kind=refused[decision.outcome], distance=d, margin=m)
    if decision.outcome is MatchOutcome.OTHER_PERSON:
        flagged = Outcome(
            kind=OutcomeKind.OTHER_PERSON,
            employee_id=claimed.id if claimed else None,
            looks_like=decision.employee_id,
            distance=d,
            margin=m,
        )
        await deps.reviews.flag(job, flagged, now)
        return flagged
    person = claimed or await deps.employees.get(tenant.id, decision.employee_id or "")
    if person is None:
        return Outcome(kind=OutcomeKind.NOT_RECOGNISED, distance=d, margin=m)
    challenged = policy.pose_challenge and claimed is not None and job.channel in CHAT_CHANNELS
    if challenged:
        asked = await _pose_challenge(job, person, analysis, timezone, now, deps=deps)
        if asked is not None:
            return asked
    outcome = await _record(
        job=job, tenant=tenant, person=person, fingerprint=analysis.fingerprint, distance=d, margin=m, deps=deps
    )
    if challenged and outcome.kind in (OutcomeKind.ACCEPTED, OutcomeKind.DUPLICATE):
        await deps.challenges.answered(tenant.id, person.id)  # after the event: a re-run still finds it
    if outcome.kind is OutcomeKind.ACCEPTED and tenant.policy.adapt_templates:
        await _adapt(job, tenant, person, (gallery, decision, probe, thresholds), analysis.quality, deps=deps)
    return outcome


async def _adapt(
    job: CheckInJob,
    tenant: Tenant,
    person: Employee,
    decided: tuple[Gallery, Decision, np.ndarray, MatchThresholds],
    quality: FaceQuality,
    *,
    deps: CheckInDeps,
) -> None:
    """A confident check-in (``may_adapt``) stores its embedding as a pending adapted template of
    the person: one write here; the consent, the person's retries and the keep limit are checked
    when a worker next loads the tenant's gallery (``core/domain/adaptation.py``), which is when
    a gallery would take it anyway. Its id derives from the job: a second run of the job adds
    nothing. Encrypted like every template; erased with the rest; dropped if the check-in is
    reported "not me"."""
    gallery, decision, probe, thresholds = decided
    if not may_adapt(gallery, decision, probe, thresholds):
        return
    # no template version bump: that would make every worker reload the tenant's whole gallery
    # for each adaptation; galleries take adapted templates at their next load (within the hour,
    # galleries.MAX_AGE_S). A gallery one adapted template behind is a little less helpful,
    # never wrong; removals ("not me", erasure) bump the version at once.
    await deps.templates.add_adapted(
        FaceTemplate(
            id=f"adapted:{job.id}",
            tenant_id=tenant.id,
            employee_id=person.id,
            embedding=tuple(float(x) for x in probe),
            model_id=deps.engine.model.id,
            quality=quality,
            consent_id="",  # the consent it is kept under is the person's active one when settled
            created_at=deps.clock.now(),
            adapted_from=job.id,  # the event's id is the job's
            pending=PendingAdaptation(
                identity_kind=job.identity_kind, identity=job.identity, received_at=job.received_at
            ),
        )
    )


CHAT_CHANNELS = ("slack", "teams")  # where a pose challenge can be asked and answered


async def _pose_challenge(
    job: CheckInJob, person: Employee, analysis: FaceAnalysis, timezone: str, now: datetime, *, deps: CheckInDeps
) -> Outcome | None:
    """With the tenant's pose challenge on: the first accepted selfie is answered with a random
    pose to show (nothing recorded); the next must show it, within its time and taken after it
    (``challenges.answers``). None: answered, go on and record."""
    pending = await deps.challenges.pending(person.tenant_id, person.id)
    if pending is not None and pending.job_id == job.id:  # a second run of the check-in that asked
        return Outcome(kind=OutcomeKind.POSE_ASKED, detail=pending.pose.value, employee_id=person.id, name=person.name)
    if pending is None or pending.expired(job.received_at):
        challenge = new_challenge(person.tenant_id, person.id, job.id, now, _CHALLENGE_RANDOM)
        await deps.challenges.ask(challenge)
        return Outcome(
            kind=OutcomeKind.POSE_ASKED, detail=challenge.pose.value, employee_id=person.id, name=person.name
        )
    if not answers(pending, analysis.pose, job.received_at, capture_time(analysis.captured_at, timezone)):
        return Outcome(kind=OutcomeKind.POSE_WRONG, detail=pending.pose.value, employee_id=person.id)
    return None


_CHALLENGE_RANDOM = random.SystemRandom()  # the pose asked for must not be guessable

APPEND_TRIES = 5


async def _record(
    *,
    job: CheckInJob,
    tenant: Tenant,
    person: Employee,
    fingerprint: int,
    distance: float | None,
    margin: float | None,
    deps: CheckInDeps,
) -> Outcome:
    """Read the person's day, decide, append; if a concurrent check-in took the sequence number
    first, read again (it may make this one a duplicate)."""
    timezone = person.effective_timezone(tenant)
    zone = ZoneInfo(timezone)
    when = job.received_at  # the time the person sent the selfie, however long the queue was
    day = when.astimezone(zone).date()
    day_start = datetime.combine(day, datetime.min.time(), tzinfo=zone)
    policy = tenant.policy
    keep_print = (
        Fingerprint(fingerprint, deps.clock.now(), policy.replay_retention_days) if policy.replay_check else None
    )

    def accepted(e: AttendanceEvent) -> Outcome:
        return Outcome(
            kind=OutcomeKind.ACCEPTED,
            direction=e.direction,
            at=e.at,
            timezone=e.timezone,
            employee_id=person.id,
            event_id=e.id,
            distance=distance,
            margin=margin,
            name=person.name,
        )

    for _ in range(APPEND_TRIES):
        last_seq, stored = await deps.store.day(
            tenant.id, person.id, day_start.astimezone(UTC), (day_start + timedelta(days=1)).astimezone(UTC)
        )
        existing = next((e for e in stored if e.id == job.id), None)  # the event's time is the job's: same day
        if existing is not None:  # an earlier run of this job stored it: finish what it may not have
            await deps.store.complete(existing, outbox_rows(existing, person, deps.clock.now()), keep_print)
            return accepted(existing)
        today = [e for e in stored if e.local_date == day and e.at <= when]
        direction = decide_direction(job.requested, today)
        earlier = duplicate_of(direction, when, today, tenant.policy)
        if earlier is not None:
            return Outcome(
                kind=OutcomeKind.DUPLICATE,
                direction=direction,
                at=earlier.at,
                timezone=timezone,
                employee_id=person.id,
                event_id=earlier.id,
                distance=distance,
                margin=margin,
                name=person.name,
            )
        event = AttendanceEvent(
            id=job.id,
            tenant_id=tenant.id,
            employee_id=person.id,
            direction=direction,
            at=when,
            timezone=timezone,
            channel=job.channel,
            job_id=job.id,
            distance=distance,
            margin=margin,
        )
        try:
            await deps.store.append(event, last_seq + 1, outbox_rows(event, person, deps.clock.now()), keep_print)
        except SequenceTaken:
            continue
        return accepted(event)
    raise TransientJobError("the person's attendance kept changing; trying again", counts=False)
