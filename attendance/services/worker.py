"""The check-in job loop of `attendance worker`.

Each of ``concurrency`` slots takes a job, decides it (face work in the process pool), replies,
and finishes it. Jobs are claimed with a lease, in batches: the first idle slot claims one job
for every slot waiting at that moment, one claim's queries for several jobs. Nothing is lost
when a worker dies: its lease expires and the job is claimed again; the decision is written so
that a second run cannot record it twice and gives the same answer, which it then sends
(replies are at least once). Transient failures are retried with exponential back-off; after
``max_attempts`` the job fails and the person is told. A database outage is waited out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from dataclasses import dataclass
from datetime import timedelta

from attendance.core.domain.checkins import CheckInJob, Outcome, OutcomeKind
from attendance.core.domain.model import Tenant
from attendance.core.errors import ReplyFailed, StoreUnavailable
from attendance.core.ports import Metrics, NoMetrics, NoTracer, PhotoBuffer, Replier, Span, Tracer
from attendance.core.ports.observability import Attribute
from attendance.logs import log_context
from attendance.services.checkin import CheckInDeps, TransientJobError, decide_for
from attendance.services.replies import reply_text
from attendance.settings import WorkerSettings

log = logging.getLogger(__name__)


@dataclass(slots=True)
class WorkerStats:
    done: int = 0
    retried: int = 0
    failed: int = 0


class JobWorker:
    def __init__(
        self,
        *,
        deps: CheckInDeps,
        replier: Replier,
        buffer: PhotoBuffer,
        settings: WorkerSettings,
        name: str = "",
        metrics: Metrics | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self._deps, self._replier, self._buffer, self._s = deps, replier, buffer, settings
        self._metrics = metrics or NoMetrics()
        self._tracer = tracer or NoTracer()
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.stats = WorkerStats()
        self._claimed: list[CheckInJob] = []  # claimed in a batch, not yet taken by a slot
        self._claimed_at = 0.0  # time.monotonic() of that claim
        self._claiming = asyncio.Lock()
        self._tenants: dict[str, tuple[float, Tenant | None]] = {}  # tenant id -> (time.monotonic(), its read)

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.gather(self._heartbeat(stop), *(self._slot(stop) for _ in range(self._s.concurrency)))
        await self._give_back("the worker stopped")  # claimed for slots that stopped first

    async def _give_back(self, why: str) -> None:
        """The batch's jobs no slot started: back to the queue now (not after their lease), due at
        once, their attempt not counted."""
        jobs, self._claimed = self._claimed, []
        for job in jobs:
            with contextlib.suppress(StoreUnavailable):
                await self._deps.jobs.retry_later(job.id, self._deps.clock.now(), why, counts=False)

    async def _heartbeat(self, stop: asyncio.Event) -> None:
        """``workers``: who is up and when it was last seen (for operators and the bench)."""
        while not stop.is_set():
            with contextlib.suppress(StoreUnavailable):
                await self._deps.jobs.heartbeat(self.name, self._deps.clock.now(), self.stats.done)
            await _wait(stop, 5.0)

    async def _slot(self, stop: asyncio.Event) -> None:
        idle = self._s.poll_min_s
        outage_logged = False
        while not stop.is_set():
            self._metrics.heartbeat("worker")
            try:
                job = await self._next_job()
                if outage_logged:
                    log.info("database reachable again")
                    outage_logged = False
            except StoreUnavailable as exc:
                if not outage_logged:
                    log.warning("cannot claim jobs, database unreachable (%s); retrying", type(exc).__name__)
                    outage_logged = True
                await _wait(stop, min(2.0, max(idle, 0.2)))
                continue
            if job is None:
                await _wait(stop, idle)
                idle = min(idle * 2, self._s.poll_max_s)
                continue
            idle = self._s.poll_min_s
            await self.handle(job)

    async def _next_job(self) -> CheckInJob | None:
        """A job claimed for this slot: from the last batch, or a new batch of up to
        ``concurrency`` jobs. A claim costs the database the same for one job as for several (it
        reads every due job: docs/capacity.md), so with a queue a worker claims once per batch, not
        once per finished job. The jobs of a batch wait here for a slot, usually a few decisions;
        if half their lease has gone by (slow photo downloads in every slot), they go back to the
        queue rather than start so late that another worker could take them over mid-decision."""
        async with self._claiming:
            if self._claimed and time.monotonic() - self._claimed_at > self._s.lease_s / 2:
                await self._give_back("waited too long for a slot")
            if not self._claimed:
                self._claimed = await self._deps.jobs.claim(
                    self.name, self._deps.clock.now(), timedelta(seconds=self._s.lease_s), self._s.concurrency
                )
                self._claimed_at = time.monotonic()
            return self._claimed.pop(0) if self._claimed else None

    def _backoff(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self._s.retry_max_s, self._s.retry_base_s * 2 ** max(0, attempts - 1)))

    async def _retry(self, job: CheckInJob, why: str, *, counts: bool = True) -> None:
        self.stats.retried += 1
        delay = self._backoff(job.attempts) if counts else timedelta(seconds=self._s.retry_base_s)
        with contextlib.suppress(StoreUnavailable):  # if this fails too, the lease brings it back
            await self._deps.jobs.retry_later(job.id, self._deps.clock.now() + delay, why, counts=counts)
        log.warning("job will be retried (attempt %s): %s", job.attempts, why)

    async def handle(self, job: CheckInJob) -> None:
        """Decide, reply, finish: one span, continuing the trace of the request that queued the job."""
        attributes: dict[str, Attribute] = {
            "checkin.job_id": job.id,
            "checkin.channel": job.channel,
            "checkin.attempt": job.attempts,
        }
        with self._tracer.span("checkin.decide", attributes, parent=job.trace) as span:
            await self._handle(job, span)

    async def _handle(self, job: CheckInJob, span: Span) -> None:
        started = time.perf_counter()
        with log_context(job_id=job.id):
            try:
                tenant = await self._tenant(job.tenant_id)
                outcome = await self._decide(job, tenant)
            except TransientJobError as exc:
                await self._retry(job, str(exc), counts=exc.counts)
                return
            except StoreUnavailable as exc:
                log.warning("database error while deciding (%s); the job returns when its lease ends", exc)
                return
            if outcome is None:
                return
            span.set("checkin.outcome", outcome.kind.value)
            decided_at = self._deps.clock.now()
            try:
                text = reply_text(outcome)
                await self._replier.reply(job, outcome, text)
            except Exception as exc:  # retry the reply, not the decision
                if not isinstance(exc, ReplyFailed | StoreUnavailable):
                    log.exception("unexpected error replying")  # a bug, not the platform's trouble
                if job.attempts < self._s.max_attempts:
                    await self._retry(job, f"reply failed: {exc}")
                    return
                log.error("giving up replying after %s attempts: %s", job.attempts, exc)
            try:
                await self._deps.jobs.finish(job.id, outcome, decided_at, self._deps.clock.now())
            except StoreUnavailable as exc:
                log.warning("could not mark the job done (%s); it will be answered again", exc)
                return
            await self._discard(job, tenant)
            self.stats.done += 1
            self._metrics.checkin_finished(outcome.kind.value, (decided_at - job.received_at).total_seconds())
            log.info("job done outcome=%s ms=%.0f", outcome.kind.value, (time.perf_counter() - started) * 1000)

    async def _tenant(self, tenant_id: str) -> Tenant | None:
        """The job's tenant, for deciding and then for discarding its photo: read again when the
        last read is ``tenant_reuse_s`` old (a busy tenant's jobs share one read a second)."""
        now = time.monotonic()
        read = self._tenants.get(tenant_id)
        if read is not None and now - read[0] < self._s.tenant_reuse_s:
            return read[1]
        tenant = await self._deps.tenants.get(tenant_id)
        self._tenants[tenant_id] = (now, tenant)
        return tenant

    async def _discard(self, job: CheckInJob, tenant: Tenant | None) -> None:
        """The photo is deleted once the check-in is decided: an uploaded one always (the buffer's TTL
        is the fallback), a chat platform's copy when the tenant keeps ``delete_chat_photos`` on."""
        try:
            if job.photo.kind != "buffer" and (tenant is None or not tenant.policy.delete_chat_photos):
                return
            await self._deps.photos.discard(job)
        except Exception as exc:  # the check-in stands; the photo is the platform's to keep
            log.warning("the photo could not be deleted after the check-in: %s", type(exc).__name__)

    async def _decide(self, job: CheckInJob, tenant: Tenant | None) -> Outcome | None:
        if job.attempts > self._s.max_attempts:
            outcome = Outcome(kind=OutcomeKind.FAILED, detail="too many attempts")
            self.stats.failed += 1
        else:
            try:
                outcome = await decide_for(job, tenant, deps=self._deps)
            except (TransientJobError, StoreUnavailable):
                raise
            except Exception:
                log.exception("unexpected error deciding the job")
                if job.attempts < self._s.max_attempts:
                    await self._retry(job, "unexpected error")
                    return None
                outcome = Outcome(kind=OutcomeKind.FAILED, detail="unexpected error")
                self.stats.failed += 1
        return outcome


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
