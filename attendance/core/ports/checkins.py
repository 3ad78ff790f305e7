"""Ports of the check-in pipeline: the face engine and galleries, photo sources and files,
repliers, the job queue, the attendance store, photo fingerprints and the review queue."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from attendance.core.domain.adaptation import Refusal
from attendance.core.domain.challenges import Challenge
from attendance.core.domain.checkins import AttendanceEvent, CheckInJob, Outcome, ReviewItem
from attendance.core.domain.deliveries import (
    OutboxMessage,
)
from attendance.core.domain.faces import FaceAnalysis, FaceModelCard, Purpose
from attendance.core.matching import Gallery


class FaceEngine(Protocol):
    @property
    def model(self) -> FaceModelCard:
        """The face model it runs: its id, embedding size and calibrated thresholds."""
        ...

    async def analyse(self, photo: bytes, purpose: Purpose) -> FaceAnalysis:
        """Find the face and describe it, or raise ``PhotoRefused``."""
        ...


class PhotoFiles(Protocol):
    def read(self, name: str) -> bytes:
        """The bytes of the photo called ``name``; ``OSError``/``ValueError`` if it cannot be read."""
        ...


class GalleryProvider(Protocol):
    def sizes(self) -> tuple[int, int, int]:
        """Galleries held in memory, and their people and templates in all."""
        ...

    async def gallery(self, tenant_id: str, version: int | None = None) -> Gallery:
        """The tenant's current gallery (rebuilt when its template version changed). ``version``:
        the tenant's template version when the caller has just read it (saves a read)."""
        ...


class EngineUnavailable(Exception):
    """The face engine could not run the photo now (a worker process died); try again."""


class PhotoUnavailable(Exception):
    """The photo could not be fetched. ``transient``: worth another try later."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class PhotoSource(Protocol):
    async def fetch(self, job: CheckInJob) -> bytes:
        """The photo's bytes, or ``PhotoUnavailable``."""
        ...

    async def discard(self, job: CheckInJob) -> None:
        """The check-in is decided: delete the photo where this source can (best effort, never raises)."""
        ...


class Replier(Protocol):
    async def reply(self, job: CheckInJob, outcome: Outcome, text: str) -> None:
        """Tell the person. Raises ``ReplyFailed`` when they could not be told; the job then
        retries its reply (not its decision)."""
        ...


class PhotoBuffer(Protocol):
    """Photos uploaded straight to us (kiosk, CLI, bench): kept only until their job ends."""

    async def put(self, tenant_id: str, data: bytes) -> str: ...
    async def get(self, buffer_id: str) -> bytes | None: ...
    async def delete(self, buffer_id: str) -> None: ...


class JobQueue(Protocol):
    async def submit(self, job: CheckInJob) -> tuple[CheckInJob, bool]:
        """Store the job; a job with the same tenant and idempotency key wins: (it, False)."""
        ...

    async def claim(self, worker: str, now: datetime, lease: timedelta, limit: int) -> list[CheckInJob]:
        """Up to ``limit`` due jobs (oldest first), or jobs whose lease ended (their worker died),
        each leased to ``worker``; a job is claimed by one caller only."""
        ...

    async def retry_later(self, job_id: str, at: datetime, error: str, *, counts: bool = True) -> None: ...
    async def finish(self, job_id: str, outcome: Outcome, decided_at: datetime, now: datetime) -> None:
        """Done: the outcome (answered already) and when it was decided, in one write."""
        ...

    async def get(self, job_id: str) -> CheckInJob | None: ...
    async def refusals(self, tenant_id: str, identities: Sequence[str], since: datetime) -> list[Refusal]:
        """The check-ins of these chat users (e-mails, employee ids) received since ``since`` that
        were refused as a face that did not match (``REFUSED_MATCHES``): who has been retrying."""
        ...

    async def heartbeat(self, worker: str, now: datetime, done: int) -> None: ...
    async def backlog(self, now: datetime) -> tuple[int, float]:
        """Jobs waiting (queued or running), and the age in seconds of the oldest one."""
        ...


class SequenceTaken(Exception):
    """Another check-in of the same employee was appended first; read again and re-decide."""


class AttendanceStore(Protocol):
    """Append-only attendance, serialised per employee by a sequence number (a unique index),
    so no multi-document transaction is needed: nothing can stay locked by a dead worker."""

    async def day(
        self, tenant_id: str, employee_id: str, start: datetime, end: datetime
    ) -> tuple[int, list[AttendanceEvent]]:
        """The employee's last sequence number, and their events in ``[start, end)``."""
        ...

    async def append(
        self, event: AttendanceEvent, seq: int, outbox: Sequence[OutboxMessage], fingerprint: Fingerprint | None
    ) -> None:
        """Insert the event as number ``seq`` (``SequenceTaken`` if that number is gone), then its
        outbox rows and photo fingerprint; all idempotent by id, so a re-run completes the rest."""
        ...

    async def complete(
        self, event: AttendanceEvent, outbox: Sequence[OutboxMessage], fingerprint: Fingerprint | None
    ) -> None:
        """Write the outbox rows and fingerprint of an event already stored (idempotent)."""
        ...

    async def events(
        self, tenant_id: str, start: datetime, end: datetime, employee_id: str | None = None
    ) -> list[AttendanceEvent]: ...

    async def events_for(
        self, tenant_id: str, start: datetime, end: datetime, employee_ids: Sequence[str]
    ) -> list[AttendanceEvent]:
        """The events in ``[start, end)`` of these employees, in time order."""
        ...

    async def event(self, tenant_id: str, event_id: str) -> AttendanceEvent | None: ...
    async def is_superseded(self, tenant_id: str, event_id: str) -> bool: ...
    async def last_at(self, tenant_id: str, employee_id: str) -> datetime | None:
        """When the person's latest event happened (None: never)."""
        ...

    async def delete_before(self, tenant_id: str, before: datetime) -> int:
        """Delete the tenant's events older than ``before`` (record retention); how many."""
        ...

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
        """Stored events (corrections included) in ``[start, end)`` by (time, id), after ``after``."""
        ...


@dataclass(frozen=True, slots=True)
class Fingerprint:
    value: int
    at: datetime
    retention_days: int


class Fingerprints(Protocol):
    async def seen(
        self, tenant_id: str, fingerprint: int, max_bits: int, since: datetime, *, ignore: str | None = None
    ) -> bool:
        """Whether a photo within ``max_bits`` was used since ``since``; ``ignore``: the id of a
        fingerprint not to count (the one an earlier run of the same job stored)."""
        ...


class ChallengeStore(Protocol):
    """The pose challenge a person was asked to answer (at most one each; ``core.domain.challenges``)."""

    async def pending(self, tenant_id: str, employee_id: str) -> Challenge | None: ...
    async def ask(self, challenge: Challenge) -> None:
        """Store it, replacing any earlier one of the person."""
        ...

    async def answered(self, tenant_id: str, employee_id: str) -> None: ...


class ReviewQueue(Protocol):
    """Attempts and events an admin should look at (flagged by the worker or reported by people)."""

    async def flag(self, job: CheckInJob, outcome: Outcome, now: datetime) -> None: ...
    async def report(self, event: AttendanceEvent, reported_by: str, now: datetime) -> ReviewItem:
        """Someone said an accepted check-in was not them (once per event)."""
        ...

    async def open_items(self, tenant_id: str, limit: int) -> list[ReviewItem]: ...
    async def page(
        self, tenant_id: str, *, status: str | None, after: tuple[datetime, str] | None, limit: int
    ) -> list[ReviewItem]: ...
    async def get(self, tenant_id: str, item_id: str) -> ReviewItem | None: ...
    async def resolve(self, tenant_id: str, item_id: str, status: str, by: str, now: datetime) -> bool:
        """Close an open item (``approved`` / ``rejected``); False if it was not open any more."""
        ...
