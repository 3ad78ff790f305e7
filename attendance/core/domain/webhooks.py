"""Webhook subscriptions and Standard Webhooks signatures. Pure: no I/O.

A subscription sends a tenant's events to a URL. Its secret (``whsec_`` + base64 of random
bytes) signs each delivery: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``. While a
secret is being rotated, the old one keeps signing too until its grace period ends, so the
receiver can switch at its own pace (the header carries both signatures, space-separated).
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from attendance.core.domain.model import DomainError

EVENT_TYPES = (
    "attendance.check_in.accepted",
    "attendance.check_out.accepted",
    "attendance.event.corrected",
    "attendance.day.summary",
    "attendance.time_off.approved",
)
CONNECTOR_KINDS = ("webhook", "workday", "adp")
SECRET_PREFIX = "whsec_"  # noqa: S105  (the prefix of every secret, not a secret)


class SubscriptionState(enum.StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True, kw_only=True)
class SigningSecret:
    value: str  # whsec_...
    expires_at: datetime | None = None  # None: the current secret


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscription:
    id: str
    tenant_id: str
    url: str
    events: frozenset[str]  # empty: every event type
    secrets: tuple[SigningSecret, ...]
    created_at: datetime
    kind: str = "webhook"  # or a connector: "workday", "adp"
    state: SubscriptionState = SubscriptionState.ACTIVE
    disabled_reason: str | None = None
    config: dict[str, str] = field(default_factory=dict)  # a connector's settings (not secret)
    credentials: dict[str, str] = field(default_factory=dict)  # a connector's secrets: sealed at rest

    def wants(self, event_type: str) -> bool:
        return not self.events or event_type in self.events

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secrets that sign a delivery now: the current one and those still in their grace."""
        return [s.value for s in self.secrets if s.expires_at is None or s.expires_at > now]


def check_events(names: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(n.strip() for n in names if n.strip())
    unknown = sorted(chosen - set(EVENT_TYPES))
    if unknown:
        raise DomainError(f"unknown event type(s) {', '.join(unknown)} (known: {', '.join(EVENT_TYPES)})")
    return chosen


def secret_key(secret: str) -> bytes:
    if not secret.startswith(SECRET_PREFIX):
        raise DomainError("a webhook secret starts with whsec_")
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    if not 24 <= len(key) <= 64:
        raise DomainError("a webhook secret holds 24 to 64 bytes")
    return key


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def webhook_headers(secrets: Iterable[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers of one delivery attempt (``msg_id`` is the same on retries)."""
    signatures = " ".join(signature(s, msg_id, timestamp, body) for s in secrets)
    if not signatures:
        raise DomainError("a delivery needs at least one signing secret")
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
        "content-type": "application/json",
    }
