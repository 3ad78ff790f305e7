"""Deliveries of outbox events to subscriptions, and the rules that drive them. Pure: no I/O.

One delivery per (outbox row, subscription), its id ``"<outbox id>:<subscription id>"``. Its
``msg_id`` (the outbox row's id) is the same on every attempt and every replay: the receiver's
idempotency key (``webhook-id``).

States::

    pending ──claim──▶ in_flight ──2xx──▶ delivered
       ▲                   │ ──retryable failure, attempts left──▶ pending (next_attempt_at later)
       │                   │ ──schedule exhausted / rejected──▶ dead
       │                   │ ──410 Gone──▶ held (and the subscription is disabled)
       │                   └─ lease ends (the dispatcher died) ──▶ claimable again
       ├──── replay (dead or delivered) ◀────
       └──── subscription enabled again ◀──── held

Ordering: for one subscription and one employee (a *stream*), a delivery is attempted only when
no earlier delivery of its stream is still ``pending`` or ``in_flight``.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from attendance.core.domain.model import DomainError


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxMessage:
    """An event for the tenant's subscribers, written beside what caused it (a check-in, a
    correction, a finished day) and fanned out into deliveries later. ``id`` is
    ``"<event id>:<type>"``, stable for that event: the ``webhook-id`` of every attempt and
    replay. ``payload`` is the versioned JSON document (docs/webhooks.md, docs/schemas/)."""

    id: str
    tenant_id: str
    employee_id: str
    event_id: str
    type: str
    occurred_at: datetime
    payload: dict[str, object]
    created_at: datetime  # the order of a stream
    trace: str | None = None  # W3C traceparent of the work that wrote it (tracing on): its deliveries continue it


# The Standard Webhooks example schedule after the first attempt: 5 s, 5 min, 30 min, 2 h, 5 h,
# 10 h, 14 h, 20 h, 24 h (about three days in all).
DEFAULT_RETRY_SCHEDULE: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
JITTER = 0.1  # each delay is moved by up to 10 % either way, so retries of many events spread out
MAX_RETRY_AFTER = timedelta(days=1)  # a receiver's Retry-After is honoured up to this


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    DELIVERED = "delivered"
    DEAD = "dead"
    HELD = "held"  # the subscription is disabled: kept, sent when it is enabled again


class ResultKind(enum.StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"  # a failure worth trying again (5xx, 429, timeout, connection refused)
    REJECTED = "rejected"  # the receiver understood and refused it (validation): no retry
    GONE = "gone"  # 410: the endpoint is gone; disable the subscription
    SKIPPED = "skipped"  # the connector has no mapping for this event type


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryResult:
    kind: ResultKind
    status: int | None = None  # the HTTP status, when there was an answer
    detail: str = ""  # for the admin: what the receiver said, short
    retry_after: timedelta | None = None
    followup: str | None = None  # an asynchronous receiver's status URL to check next time


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    at: datetime
    result: ResultKind
    status: int | None
    detail: str
    ms: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    id: str
    tenant_id: str
    subscription_id: str
    employee_id: str
    msg_id: str  # the outbox row's id: stable across retries and replays
    type: str
    payload: dict[str, object]
    created_at: datetime  # the outbox row's: the order within a stream
    state: DeliveryState = DeliveryState.PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None
    followup: str | None = None
    history: tuple[Attempt, ...] = field(default=())
    trace: str | None = None  # its outbox row's: each attempt's span continues that trace


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryStats:
    by_state: dict[str, int]
    retried: int  # deliveries that needed more than one attempt
    lag_s: float  # age of the oldest event still waiting to be delivered
    outbox_waiting: int  # outbox rows not fanned out yet

    def as_json(self) -> dict[str, object]:
        return {
            "by_state": self.by_state,
            "retried": self.retried,
            "lag_s": round(self.lag_s, 3),
            "outbox_waiting": self.outbox_waiting,
        }


def parse_schedule(text: str) -> tuple[float, ...]:
    """``"5,300,1800"`` -> (5.0, 300.0, 1800.0): the delays (seconds) before each retry."""
    try:
        delays = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise DomainError(f"the retry schedule {text!r} is not a comma-separated list of seconds") from exc
    if any(d < 0 for d in delays):
        raise DomainError("retry delays cannot be negative")
    return delays


def next_attempt(
    attempts: int,
    schedule: Sequence[float],
    now: datetime,
    *,
    retry_after: timedelta | None = None,
    rng: random.Random | None = None,
) -> datetime | None:
    """When to try again after ``attempts`` failed attempts, or None: the schedule is used up.

    The schedule's delay gets a jitter of +-10 %; a receiver's ``Retry-After`` (capped at a day)
    is honoured when it asks for longer."""
    if attempts > len(schedule):
        return None
    delay = schedule[attempts - 1] * (1 + (rng or random).uniform(-JITTER, JITTER))
    wait = timedelta(seconds=delay)
    if retry_after is not None:
        wait = max(wait, min(retry_after, MAX_RETRY_AFTER))
    return now + wait


def after_attempt(
    delivery: Delivery,
    result: DeliveryResult,
    schedule: Sequence[float],
    now: datetime,
    rng: random.Random | None = None,
) -> tuple[DeliveryState, datetime | None]:
    """The delivery's next state and, when pending, when to try next."""
    match result.kind:
        case ResultKind.DELIVERED | ResultKind.SKIPPED:
            return DeliveryState.DELIVERED, None
        case ResultKind.REJECTED:
            return DeliveryState.DEAD, None
        case ResultKind.GONE:  # the subscription is switched off; this one waits with the rest
            return DeliveryState.HELD, None
        case ResultKind.RETRY:
            when = next_attempt(delivery.attempts, schedule, now, retry_after=result.retry_after, rng=rng)
            return (DeliveryState.DEAD, None) if when is None else (DeliveryState.PENDING, when)
    raise AssertionError(result.kind)  # pragma: no cover


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """``Retry-After``: seconds, or an HTTP date. Unreadable or past: None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    wait = when - now
    return wait if wait > timedelta(0) else None
