"""Entities and value objects of attendance.

Everything here is plain data with rules attached; nothing touches the network, the disk or a
clock. Adapters translate these to and from documents.
"""

from __future__ import annotations

import enum
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class Role(enum.StrEnum):
    EMPLOYEE = "employee"
    MANAGER = "manager"
    ADMIN = "admin"
    PAYROLL = "payroll"


class DomainError(Exception):
    """A rule of the domain was broken; the message is fit to show a person."""


def new_id() -> str:
    return uuid.uuid4().hex


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise DomainError(f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)") from exc
    return name


NO_HOLIDAYS = "none"
_REGION = re.compile(r"[A-Z]{2,3}(?:-[A-Z0-9]{1,5})?")


def check_region(text: str) -> str | None:
    """``DE``, ``de-by``, ``US-CA`` as ``COUNTRY[-SUBDIVISION]`` in capitals; ``none``: None.
    (Only the form: whether the country is known is the holiday calendar's to say.)"""
    region = text.strip().upper()
    if region in ("", NO_HOLIDAYS.upper()):
        return None
    if not _REGION.fullmatch(region):
        raise DomainError(f"{text.strip()[:20]!r} is not a region: write a country code, e.g. DE, or DE-BY")
    return region


MAX_EMAIL = 254  # RFC 5321's limit on a path
MAX_NAME = 200
# One way to match any input (each character can belong to one part only), so the time is linear.
_EMAIL = re.compile(r"[^@\s.]+(?:\.[^@\s.]+)*@[^@\s.]+(?:\.[^@\s.]+)+")


def normalise_email(email: str) -> str:
    if len(email) > 4 * MAX_EMAIL:  # bounded before anything else looks at it
        raise DomainError("that is not an email address (longer than 254 characters)")
    email = email.strip().lower()
    if len(email) > MAX_EMAIL:
        raise DomainError("that is not an email address (longer than 254 characters)")
    if not _EMAIL.fullmatch(email):
        raise DomainError(f"{email!r} is not an email address")
    return email


def parse_roles(text: str) -> frozenset[Role]:
    """Roles as written in a CSV cell: separated by ';', '|', ',' or spaces."""
    names = [part for part in re.split(r"[;|,\s]+", text.strip().lower()) if part]
    roles = {Role.EMPLOYEE}
    for name in names:
        try:
            roles.add(Role(name))
        except ValueError as exc:
            allowed = ", ".join(r.value for r in Role)
            raise DomainError(f"unknown role {name!r} (allowed: {allowed})") from exc
    return frozenset(roles)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkSchedule:
    """When a working day starts and ends, on which weekdays (0 = Monday)."""

    start: time = time(9, 0)
    end: time = time(17, 0)
    weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    grace_minutes: int = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class MatchThresholds:
    """Distances in the 128-d descriptor space (Euclidean). See docs/recognition.md."""

    verify: float
    verify_retry: float
    verify_margin: float
    accept: float
    retry: float
    margin: float
    # a person with several templates is accepted only when the probe's mean distance to all of
    # them is within verify + verify_support: like their photos on the whole, not one by chance
    verify_support: float = 0.015
    # verify's clear band: a probe between verify and verify_clear is accepted only when the
    # claimed person is also the clear nearest of a gallery of at least CLEAR_GALLERY people,
    # ``verify_clear_margin`` nearer than anyone else (``matching.verify``); 0: no band
    verify_clear: float = 0.0
    verify_clear_margin: float = 0.06
    # a check-in within ``adapt`` of an enrollment template and ``adapt_margin`` clear of everyone
    # else may add its embedding as an adapted template (``matching.may_adapt``)
    adapt: float = 0.45
    adapt_margin: float = 0.15
    adapt_novelty: float = 0.25  # and no nearer than this to a template of theirs (it would add nothing)

    def __post_init__(self) -> None:
        if not 0 < self.verify <= self.verify_retry:
            raise DomainError("thresholds: need 0 < verify <= verify_retry")
        if not 0 < self.accept <= self.retry:
            raise DomainError("thresholds: need 0 < accept <= retry")
        if self.verify_clear and not self.verify <= self.verify_clear <= self.verify_retry:
            raise DomainError(
                "thresholds: verify_clear must be 0 (no clear band) or between verify and verify_retry "
                f"({self.verify} to {self.verify_retry})"
            )
        if min(self.margin, self.verify_margin, self.verify_support, self.adapt_margin, self.verify_clear_margin) < 0:
            raise DomainError("thresholds: margins cannot be negative")
        if self.adapt < 0:
            raise DomainError("thresholds: adapt cannot be negative")


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckInPolicy:
    """Per tenant. The fraud defences are on by default."""

    duplicate_window_minutes: int = 5
    replay_check: bool = True
    replay_max_bits: int = 10  # of 64 in the perceptual hash (docs/recognition.md)
    replay_retention_days: int = 90
    freshness_minutes: int = 10  # 0: no check
    delete_chat_photos: bool = True  # a selfie posted in Slack is deleted there once its check-in is decided
    template_retention_days: int = 3 * 365  # face data of someone with no check-in for this long is destroyed
    record_retention_days: int = 0  # attendance records older than this are deleted; 0: kept
    adapt_templates: bool = True  # confident check-ins may add adapted templates (docs/recognition.md)
    pose_challenge: bool = False  # a chat check-in first asks for a random pose (core/domain/challenges.py)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReminderPolicy:
    """Per tenant; on by default. Each person may opt out (``Employee.reminders``)."""

    enabled: bool = True
    check_out_after_minutes: int = 30
    max_shift_hours: float = 10.0
    check_in_after_minutes: int = 30
    digest_at: time = time(9, 45)
    weekly_digest: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.check_out_after_minutes <= 24 * 60 or not 0 <= self.check_in_after_minutes <= 24 * 60:
            raise DomainError("reminder delays are 0 to 1440 minutes")
        if not 1 <= self.max_shift_hours <= 24:
            raise DomainError("the longest shift is 1 to 24 hours")


@dataclass(frozen=True, slots=True, kw_only=True)
class Tenant:
    id: str
    name: str
    timezone: str = "UTC"
    schedule: WorkSchedule = field(default_factory=WorkSchedule)
    thresholds: MatchThresholds | None = None  # None: the service's calibrated defaults
    template_version: int = 0
    policy: CheckInPolicy = field(default_factory=CheckInPolicy)
    holidays: str | None = None  # public holidays of this region (``COUNTRY[-SUBDIVISION]``), None: none
    weekly_hours: float = 40.0  # beyond this in a week: weekly overtime
    reminders: ReminderPolicy = field(default_factory=ReminderPolicy)


MAX_CHAT_ID = 200


@dataclass(frozen=True, slots=True)
class ChatIdentity:
    """Who someone is on a chat platform, as one value: the platform (``slack``, ``teams``), the
    workspace there (a Slack team id, a Microsoft 365 tenant id; ``""`` when nobody said which)
    and the user's id in it (``""`` for the workspace itself).

    Neither ``Tenant`` nor ``Employee`` carries a chat id: a workspace belongs to one tenant and a
    user id to one employee through these values, kept in their own collection, so a new platform
    adds a name here and no field anywhere."""

    platform: str
    workspace: str
    user: str = ""

    def __post_init__(self) -> None:
        if not self.platform or not self.platform.isascii() or not self.platform.isalnum():
            raise DomainError(f"unknown chat platform {self.platform!r}")
        for part in (self.workspace, self.user):
            if len(part) > MAX_CHAT_ID or any(ch.isspace() or not ch.isprintable() for ch in part):
                raise DomainError(f"{part[:40]!r} is not a {self.platform} id")

    @property
    def is_workspace(self) -> bool:
        return not self.user


@dataclass(frozen=True, slots=True, kw_only=True)
class Employee:
    id: str
    tenant_id: str
    name: str
    email: str
    worker_id: str | None = None  # the HR/payroll system's id (Workday Employee_ID, ADP associateOID)
    manager_id: str | None = None
    timezone: str | None = None  # None: the tenant's
    roles: frozenset[Role] = frozenset({Role.EMPLOYEE})
    schedule: WorkSchedule | None = None  # None: the tenant's working days and hours
    weekly_hours: float | None = None  # None: the tenant's weekly limit
    holidays: str | None = None  # None: the tenant's calendar; NO_HOLIDAYS: none
    inactive_from: date | None = None  # left: inactive from that day on
    reminders: bool = True  # False: this person opted out of reminders

    def effective_timezone(self, tenant: Tenant) -> str:
        return self.timezone or tenant.timezone

    def effective_schedule(self, tenant: Tenant) -> WorkSchedule:
        return self.schedule or tenant.schedule

    def effective_holidays(self, tenant: Tenant) -> str | None:
        region = self.holidays if self.holidays is not None else tenant.holidays
        return None if region in (None, NO_HOLIDAYS) else region

    def active_on(self, day: date) -> bool:
        return self.inactive_from is None or day < self.inactive_from


@dataclass(frozen=True, slots=True, kw_only=True)
class Consent:
    """Who agreed to face enrollment, when, under which notice text, recorded by whom."""

    id: str
    tenant_id: str
    employee_id: str
    notice_version: str
    given_at: datetime
    recorded_by: str  # the employee themself (chat) or the admin holding the signed form
    method: str  # "chat" | "signed-form"
    withdrawn_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.withdrawn_at is None


@dataclass(frozen=True, slots=True, kw_only=True)
class FaceQuality:
    face_px: int
    sharpness: float
    brightness: float
    detector_score: float


@dataclass(frozen=True, slots=True, kw_only=True)
class FaceTemplate:
    """One enrolled face: the embedding lives here in clear only in memory."""

    id: str
    tenant_id: str
    employee_id: str
    embedding: tuple[float, ...]
    model_id: str
    quality: FaceQuality
    consent_id: str
    created_at: datetime
    adapted_from: str | None = None  # the check-in (event id) it came from; None: from enrollment
    mirror: tuple[float, ...] | None = None  # enrollment: the photo's mirror image, a second gallery row (not a photo)
    pending: PendingAdaptation | None = None  # adapted, not yet settled (domain/adaptation.py): never matched


@dataclass(frozen=True, slots=True, kw_only=True)
class PendingAdaptation:
    """What settling an adapted template checks about the check-in it came from."""

    identity_kind: str
    identity: str | None  # the chat user (or e-mail, employee id) who sent it; None: identified
    received_at: datetime


MAX_TEMPLATES_PER_PERSON = 3  # from enrollment
ADAPTED_PER_PERSON = 2  # from confident check-ins (``matching.may_adapt``); the oldest is replaced
