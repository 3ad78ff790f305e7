"""Ports: what the services need from the outside world, as ``typing.Protocol``s.

Adapters live elsewhere and are named by technology and port (``MongoTenantRepository``,
``FacePipeline``, ...). Only ``bootstrap`` knows which adapter serves which port.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from attendance.core.domain.access import ApiToken, EnrollmentCode, LocalUser
from attendance.core.domain.checkins import AttendanceEvent, CheckInJob, Outcome, ReviewItem
from attendance.core.domain.corrections import CorrectionRequest, RequestStatus
from attendance.core.domain.deliveries import (
    Attempt,
    Delivery,
    DeliveryResult,
    DeliveryState,
    DeliveryStats,
    OutboxMessage,
)
from attendance.core.domain.faces import FaceAnalysis, FaceModelCard, Purpose
from attendance.core.domain.model import (
    ChatIdentity,
    CheckInPolicy,
    Consent,
    Employee,
    FaceTemplate,
    MatchThresholds,
    Tenant,
    WorkSchedule,
)
from attendance.core.domain.webhooks import Subscription, SubscriptionState
from attendance.core.matching import Gallery


class AlreadyExists(Exception):
    """A repository refused a write because a unique key is taken."""


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware datetime in UTC."""
        ...


class TenantRepository(Protocol):
    async def add(self, tenant: Tenant) -> None: ...
    async def get(self, tenant_id: str) -> Tenant | None: ...
    async def by_name(self, name: str) -> Tenant | None: ...
    async def list(self) -> Sequence[Tenant]: ...
    async def bump_template_version(self, tenant_id: str) -> int: ...
    async def set_policy(self, tenant_id: str, policy: CheckInPolicy) -> None: ...
    async def set_timezone(self, tenant_id: str, timezone: str) -> None: ...
    async def set_schedule(self, tenant_id: str, schedule: WorkSchedule) -> None: ...
    async def set_thresholds(self, tenant_id: str, thresholds: MatchThresholds | None) -> None: ...


class EmployeeRepository(Protocol):
    async def upsert(self, employee: Employee) -> Employee:
        """Insert, or update the employee with the same tenant and email; returns the stored one."""
        ...

    async def get(self, tenant_id: str, employee_id: str) -> Employee | None: ...
    async def by_email(self, tenant_id: str, email: str) -> Employee | None: ...
    async def list(self, tenant_id: str) -> Sequence[Employee]: ...
    async def set_manager(self, tenant_id: str, employee_id: str, manager_id: str | None) -> None: ...
    async def page(
        self, tenant_id: str, *, after: str | None, limit: int, visible_to: str | None = None
    ) -> builtins.list[Employee]:
        """By id, after ``after``. ``visible_to``: only that employee and the people reporting to them."""
        ...


class ChatIdentityRepository(Protocol):
    """Who is who on the chat platforms (``ChatIdentity``), in one collection of its own: a
    workspace belongs to one tenant, a user id (per tenant and platform) to one employee, and an
    employee has at most one user id per platform."""

    async def tenant_of(self, platform: str, workspace: str) -> str | None:
        """The id of the tenant that workspace belongs to."""
        ...

    async def link_workspace(self, tenant_id: str, workspace: ChatIdentity) -> None:
        """Messages from that workspace belong to this tenant (idempotent; ``AlreadyExists``
        when it belongs to another one)."""
        ...

    async def workspaces(self, tenant_id: str) -> Sequence[ChatIdentity]: ...
    async def employee_of(self, tenant_id: str, platform: str, user: str) -> str | None:
        """The id of the employee behind that user id (any workspace of the tenant)."""
        ...

    async def link_user(self, tenant_id: str, employee_id: str, identity: ChatIdentity) -> bool:
        """Link that user id to the employee if neither is linked on that platform; False if
        the user id belongs to someone else or the employee has another one."""
        ...

    async def set_user(self, tenant_id: str, employee_id: str, platform: str, identity: ChatIdentity | None) -> None:
        """The employee's user id on ``platform`` becomes ``identity`` (None: none).
        ``AlreadyExists`` when that user id belongs to another employee."""
        ...

    async def of_employees(
        self, tenant_id: str, employee_ids: Iterable[str] | None = None
    ) -> dict[str, builtins.list[ChatIdentity]]:
        """Employee id -> their user identities (every linked employee of the tenant if None)."""
        ...


class ConsentRepository(Protocol):
    async def add(self, consent: Consent) -> None: ...
    async def active(self, tenant_id: str, employee_id: str) -> Consent | None: ...
    async def withdraw_all(self, tenant_id: str, employee_id: str, at: datetime) -> int: ...


class TemplateRepository(Protocol):
    """Face templates. The adapter encrypts embeddings on the way in, decrypts on the way out."""

    async def add(self, template: FaceTemplate) -> None: ...
    async def for_employee(self, tenant_id: str, employee_id: str) -> Sequence[FaceTemplate]: ...
    async def for_tenant(self, tenant_id: str, *, model_id: str) -> Sequence[FaceTemplate]:
        """The tenant's templates of that face model."""
        ...

    async def count(self, tenant_id: str, employee_id: str) -> int: ...
    async def delete_for_employee(self, tenant_id: str, employee_id: str) -> int: ...


class AuditLog(Protocol):
    async def record(self, *, tenant_id: str, actor: str, action: str, subject: str, at: datetime) -> None:
        """Who did what to whom. Never biometric data."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    id: str
    at: datetime
    actor: str
    action: str
    subject: str


class AuditTrail(Protocol):
    async def entries(
        self, tenant_id: str, *, before: tuple[datetime, str] | None, limit: int, action: str | None = None
    ) -> builtins.list[AuditEntry]:
        """Newest first, older than ``before`` (time, id)."""
        ...


class TemplateCipher(Protocol):
    """Authenticated encryption of embeddings; ``context`` binds a ciphertext to its owner."""

    @property
    def active_key_id(self) -> str: ...
    def encrypt(self, plaintext: bytes, context: bytes) -> tuple[str, bytes]: ...
    def decrypt(self, key_id: str, blob: bytes, context: bytes) -> bytes: ...


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

    async def claim(self, worker: str, now: datetime, lease: timedelta) -> CheckInJob | None: ...
    async def retry_later(self, job_id: str, at: datetime, error: str, *, counts: bool = True) -> None: ...
    async def finish(self, job_id: str, outcome: Outcome, decided_at: datetime, now: datetime) -> None:
        """Done: the outcome (answered already) and when it was decided, in one write."""
        ...

    async def get(self, job_id: str) -> CheckInJob | None: ...
    async def heartbeat(self, worker: str, now: datetime, done: int) -> None: ...


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


class SubscriptionRepository(Protocol):
    """Webhook and connector subscriptions; the adapter encrypts their secrets at rest."""

    async def add(self, subscription: Subscription) -> None: ...
    async def get(self, tenant_id: str, subscription_id: str) -> Subscription | None: ...
    async def list(self, tenant_id: str) -> list[Subscription]: ...
    async def by_id(self, subscription_id: str) -> Subscription | None: ...
    async def active_for(self, tenant_id: str) -> builtins.list[Subscription]: ...
    async def replace_secrets(self, subscription: Subscription) -> None: ...
    async def set_state(
        self, tenant_id: str, subscription_id: str, state: SubscriptionState, reason: str | None
    ) -> bool: ...
    async def disable_if_active(self, tenant_id: str, subscription_id: str, reason: str) -> bool: ...
    async def remove(self, tenant_id: str, subscription_id: str) -> bool: ...


class DestinationCheck(Protocol):
    """Whether the service may send a tenant's data to a URL (a receiver an admin adds)."""

    async def check(self, url: str) -> str:
        """The URL, cleaned; raises ``DomainError`` with a sentence when it is refused."""
        ...


class Connector(Protocol):
    """Delivers one event to one subscription of its kind (``webhook``, ``workday``, ``adp``).
    Never raises for the far side's failures: they are ``DeliveryResult``s."""

    async def deliver(self, subscription: Subscription, delivery: Delivery) -> DeliveryResult: ...


class DeliveryRepository(Protocol):
    """The outbox and the deliveries made from it (one per outbox row and subscription)."""

    async def pending_outbox(self, limit: int) -> list[OutboxMessage]:
        """Outbox rows not yet fanned out, oldest first."""
        ...

    async def fan_out(self, rows: Sequence[tuple[OutboxMessage, Sequence[Subscription]]], now: datetime) -> None:
        """Create each row's deliveries to its subscriptions (idempotent), then mark the rows dispatched."""
        ...

    async def claim(self, dispatcher: str, now: datetime, lease: timedelta, limit: int) -> list[Delivery]:
        """Due deliveries that head their stream, leased to ``dispatcher``."""
        ...

    async def finish(
        self,
        delivery: Delivery,
        *,
        state: DeliveryState,
        next_attempt_at: datetime | None,
        attempt: Attempt,
        followup: str | None,
        now: datetime,
    ) -> None: ...

    async def hold(self, tenant_id: str, subscription_id: str) -> int:
        """Keep a disabled subscription's waiting deliveries aside; returns how many."""
        ...

    async def resume(self, tenant_id: str, subscription_id: str, now: datetime) -> int: ...
    async def cancel(self, tenant_id: str, subscription_id: str) -> int:
        """A removed subscription's undelivered deliveries are dropped."""
        ...

    async def get(self, tenant_id: str, delivery_id: str) -> Delivery | None: ...
    async def list(
        self,
        tenant_id: str,
        *,
        states: Sequence[DeliveryState] = (),
        subscription_id: str | None = None,
        limit: int = 50,
    ) -> list[Delivery]: ...

    async def replay(self, tenant_id: str, delivery_id: str, now: datetime) -> bool:
        """Send a dead or delivered delivery again (same ``webhook-id``)."""
        ...

    async def replay_since(
        self, tenant_id: str, since: datetime, subscriptions: Sequence[Subscription], now: datetime
    ) -> int:
        """Every event since ``since`` again to ``subscriptions`` (creating deliveries they lack)."""
        ...

    async def stats(self, tenant_id: str | None, now: datetime) -> DeliveryStats: ...
    async def alerts(self, tenant_id: str, limit: int) -> builtins.list[tuple[datetime, str]]: ...
    async def record_alert(self, tenant_id: str, text: str, now: datetime) -> None: ...
    async def add_outbox(self, rows: Sequence[OutboxMessage]) -> None:
        """Rows not tied to one attendance event (day summaries); idempotent by id."""
        ...

    async def summary_mark(self, tenant_id: str) -> date | None:
        """The last local day whose summaries were written."""
        ...

    async def set_summary_mark(self, tenant_id: str, day: date) -> None: ...


class AdminAlerts(Protocol):
    async def alert(self, tenant_id: str, text: str, now: datetime) -> None:
        """Tell a tenant's admins something needs them (stored; sent in chat where possible)."""
        ...


@dataclass(frozen=True, slots=True)
class TeamsAddress:
    """Where a person's personal chat with the Teams bot is."""

    service_url: str
    conversation_id: str
    user_id: str


class TeamsAddresses(Protocol):
    """Each person's personal chat with the Teams bot, remembered whenever they write to it."""

    async def remember(self, tenant_id: str, employee_id: str, address: TeamsAddress, now: datetime) -> None: ...
    async def of(self, tenant_id: str, employee_id: str) -> TeamsAddress | None: ...


class DownloadLinks(Protocol):
    """Files (exports) offered as a short-lived secret link."""

    async def put(self, tenant_id: str, created_by: str, name: str, data: bytes, now: datetime) -> str:
        """Store the file; returns the secret token for its link."""
        ...

    async def get(self, token: str, now: datetime) -> tuple[str, bytes] | None: ...


class ChatMessages(Protocol):
    async def tell(self, tenant: Tenant, people: Sequence[Employee], text: str) -> None:
        """A personal message to each person, on every chat platform they are reachable on."""
        ...


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
