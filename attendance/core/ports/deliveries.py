"""Ports of outbound delivery: webhook subscriptions, where they may point, connectors, the
outbox and its deliveries, and the admins' alerts."""

from __future__ import annotations

import builtins
from collections.abc import Collection, Sequence
from datetime import date, datetime, timedelta
from typing import Protocol

from attendance.core.domain.deliveries import (
    Attempt,
    Delivery,
    DeliveryResult,
    DeliveryState,
    DeliveryStats,
    OutboxMessage,
)
from attendance.core.domain.webhooks import Subscription, SubscriptionState


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
        """Outbox rows not yet fanned out, oldest first: the earliest ``limit`` or fewer (an adapter
        may read a bounded range when that is cheaper; the next call goes on from there)."""
        ...

    async def fan_out(self, rows: Sequence[tuple[OutboxMessage, Sequence[Subscription]]], now: datetime) -> None:
        """Create each row's deliveries to its subscriptions (idempotent), then mark the rows dispatched."""
        ...

    async def take_turn(self, work: str, dispatcher: str, now: datetime, lease: timedelta) -> bool:
        """Whether ``dispatcher`` may do ``work`` ("fan-out") now: one dispatcher at a time
        holds a turn, for ``lease`` (renewed each time its holder asks; another takes over when the
        holder ends it or stops asking)."""
        ...

    async def end_turn(self, work: str, dispatcher: str) -> None:
        """``dispatcher`` is done with ``work`` for now: the next one to ask gets the turn."""
        ...

    async def balance(self, dispatcher: str, now: datetime, lease: timedelta) -> builtins.list[int]:
        """The stream partitions ``dispatcher`` holds for ``lease`` (its share among the dispatchers
        alive, renewed each call); only it claims in them."""
        ...

    async def leave(self, dispatcher: str) -> None:
        """``dispatcher`` stops: its partitions are free for the others at once."""
        ...

    async def claim(
        self,
        dispatcher: str,
        now: datetime,
        lease: timedelta,
        limit: int,
        *,
        parts: Sequence[int] | None = None,
        busy: Collection[tuple[str, str]] = (),
    ) -> builtins.list[builtins.list[Delivery]]:
        """Up to ``limit`` chains of due deliveries leased to ``dispatcher``: each chain the earliest
        waiting deliveries of one stream (one subscription, one employee), to be sent in order, with
        nothing earlier of the stream waiting. Only in the partitions ``parts`` (all when None), and
        not from the streams in ``busy`` ((subscription, employee) pairs still being sent)."""
        ...

    async def release(self, deliveries: Sequence[Delivery], now: datetime, *, held: bool = False) -> None:
        """Claimed deliveries given back untried, the claim's attempt not counted: due again, or
        ``held`` (their subscription is switched off)."""
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
