"""``Dispatcher``: the ``attendance dispatcher`` role's loop.

Three things run side by side:

- **fan-out**: outbox rows not yet dispatched become one delivery per subscription (active or not) that
  wants the row's type (idempotent; several dispatchers may do it at once);
- **delivery**: the dispatcher holds its share of the stream partitions (``balance``, renewed
  every ``BALANCE_S``) and claims *chains* in them: a stream's earliest deliveries, leased, sent
  one after the other, up to ``concurrency`` chains at once. Each goes to its subscription's
  connector and is finished with the connector's result under the retry schedule
  (``attendance.core.domain.deliveries``); a chain stops at the first delivery that is not done
  (retried later, held) and gives the rest back. A 410 disables the subscription, holds what
  waits for it and alerts the tenant's admins; a dead-lettered delivery alerts them too;
- **day summaries**: every ``summary_every_s``, the finished local days' summary rows.

Every database error is logged and waited out: a dispatcher outlives a database restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from attendance.core.domain.deliveries import (
    Attempt,
    Delivery,
    DeliveryResult,
    DeliveryState,
    OutboxMessage,
    ResultKind,
    after_attempt,
)
from attendance.core.domain.webhooks import Subscription, SubscriptionState
from attendance.core.errors import StoreUnavailable
from attendance.core.ports import (
    AdminAlerts,
    Attribute,
    AuditLog,
    Clock,
    Connector,
    DeliveryRepository,
    Metrics,
    NoMetrics,
    NoTracer,
    Span,
    SubscriptionRepository,
    TenantRepository,
    Tracer,
)
from attendance.settings import DispatcherSettings

log = logging.getLogger(__name__)

SUBSCRIPTION_TTL_S = 2.0  # a disabled subscription or a rotated secret is seen within this
FAN_OUT_LEASE_S = 5.0  # a dispatcher that stops fanning out is replaced after this
BALANCE_S = 2.0  # how often a dispatcher renews its partitions and takes its share of them
PARTITION_LEASE_S = 10.0  # a dispatcher that stops renewing loses its partitions after this
# a dispatcher starts claims in its partitions for this long after it began renewing them, so a
# claim under way ends inside their lease: past it, another dispatcher may hold them, and two
# claimers of a stream could send its deliveries out of order
TRUSTED_S = PARTITION_LEASE_S / 2
WINDOW = 8  # partitions read by one claim
ALERT_EVERY = timedelta(hours=1)  # at most one dead-letter alert per subscription this often


@dataclass(slots=True, kw_only=True)
class DispatcherDeps:
    deliveries: DeliveryRepository
    subscriptions: SubscriptionRepository
    connectors: Mapping[str, Connector]
    alerts: AdminAlerts
    tenants: TenantRepository
    audit: AuditLog
    clock: Clock
    summaries: Callable[[datetime], Awaitable[int]] | None = None
    counts: Counter[str] = field(default_factory=Counter)
    metrics: Metrics = field(default_factory=NoMetrics)
    tracer: Tracer = field(default_factory=NoTracer)


class Dispatcher:
    def __init__(self, deps: DispatcherDeps, settings: DispatcherSettings, schedule: tuple[float, ...]) -> None:
        self.deps, self.settings, self.schedule = deps, settings, schedule
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self._subs: dict[str, tuple[float, Subscription | None]] = {}
        self._alerted: dict[str, datetime] = {}
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._busy: set[tuple[str, str]] = set()  # (subscription, employee) of the chains being sent
        self._stop = asyncio.Event()  # set: chains give back what they have not started

    async def run(self, stop: asyncio.Event) -> None:
        self._stop = stop
        loops = [self._fan_out_loop(stop), self._deliver_loop(stop)]
        if self.deps.summaries is not None:
            loops.append(self._summary_loop(stop))
        await asyncio.gather(*loops)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=self.settings.timeout_s + 5)

    # ------------------------------------------------------------ loops

    async def _idle(self, stop: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)

    async def _fan_out_loop(self, stop: asyncio.Event) -> None:
        pause = self.settings.poll_min_s
        while not stop.is_set():
            try:
                busy = await self.fan_out_once() > 0
            except StoreUnavailable as exc:
                log.warning("fan-out: database unavailable (%s); waiting", type(exc).__name__)
                busy = False
            pause = self.settings.poll_min_s if busy else min(pause * 2, self.settings.poll_max_s)
            if not busy:
                await self._idle(stop, pause)
        with contextlib.suppress(StoreUnavailable):
            await self.deps.deliveries.end_turn("fan-out", self.name)  # the next dispatcher fans out now

    async def fan_out_once(self, limit: int = 200) -> int:
        """One batch of outbox rows fanned out, if it is this dispatcher's turn (one at a time: two
        dispatchers never do the same fan-out work); 0 when it is not."""
        lease = timedelta(seconds=max(FAN_OUT_LEASE_S, self.settings.poll_max_s * 4))
        if not await self.deps.deliveries.take_turn("fan-out", self.name, self.deps.clock.now(), lease):
            return 0
        rows = await self.deps.deliveries.pending_outbox(limit)
        by_tenant: dict[str, list[Subscription]] = {}
        batch: list[tuple[OutboxMessage, list[Subscription]]] = []
        for row in rows:
            if row.tenant_id not in by_tenant:  # disabled ones too: their deliveries wait, held, until enabled
                by_tenant[row.tenant_id] = await self.deps.subscriptions.list(row.tenant_id)
            batch.append((row, [s for s in by_tenant[row.tenant_id] if s.wants(row.type)]))
        if batch:
            await self.deps.deliveries.fan_out(batch, self.deps.clock.now())
        return len(rows)

    async def _balance(self) -> list[int] | None:
        try:
            lease = timedelta(seconds=PARTITION_LEASE_S)
            return await self.deps.deliveries.balance(self.name, self.deps.clock.now(), lease)
        except StoreUnavailable as exc:
            log.warning("partitions: database unavailable (%s); waiting", type(exc).__name__)
            return None

    async def _claim(
        self, parts: list[int], round_: int, free: int, *, idle: bool, trusted_until: float
    ) -> list[list[Delivery]]:
        """Chains from this dispatcher's partitions, a window of them at a time (starting at a
        window that moves each round), until ``free`` chains, every window was looked at, or the
        partitions are no longer surely this dispatcher's (``trusted_until``, monotonic). After a
        round that found nothing, all partitions at once: little waits then, and an idle
        dispatcher asks the database a few questions a poll, not a few per window."""
        lease = timedelta(seconds=self.settings.lease_s)
        windows = [parts] if idle else [parts[i : i + WINDOW] for i in range(0, len(parts), WINDOW)]
        chains: list[list[Delivery]] = []
        for k in range(len(windows)):
            if time.monotonic() >= trusted_until:
                break
            window = windows[(round_ + k) % len(windows)]
            chains += await self.deps.deliveries.claim(
                self.name, self.deps.clock.now(), lease, free - len(chains), parts=window, busy=self._busy
            )
            if len(chains) >= free:
                break
        return chains

    async def _deliver_loop(self, stop: asyncio.Event) -> None:
        pause = self.settings.poll_min_s
        batch = max(1, self.settings.concurrency // 2)  # claim when this many chains can start
        parts: list[int] = []
        balanced_at = -BALANCE_S
        trusted_until = 0.0  # monotonic: claims in ``parts`` start before this only (TRUSTED_S)
        round_ = 0
        try:
            while not stop.is_set():
                self.deps.metrics.heartbeat("dispatcher")
                if time.monotonic() - balanced_at >= BALANCE_S:
                    began = time.monotonic()
                    got = await self._balance()
                    if got is None:
                        parts = []  # a balance cut short may have let some of them go already
                    else:
                        parts, balanced_at, trusted_until = got, time.monotonic(), began + TRUSTED_S
                free = self.settings.concurrency - len(self._tasks)
                if free < batch:  # busy: wait for chains to finish, not for a timer
                    await asyncio.wait(
                        self._tasks, return_when=asyncio.FIRST_COMPLETED, timeout=self.settings.poll_max_s
                    )
                    continue
                chains: list[list[Delivery]] = []
                try:
                    idle = pause > self.settings.poll_min_s
                    chains = (
                        await self._claim(parts, round_, free, idle=idle, trusted_until=trusted_until) if parts else []
                    )
                except StoreUnavailable as exc:
                    log.warning("claim: database unavailable (%s); waiting", type(exc).__name__)
                round_ += 1
                for chain in chains:
                    self._busy.add((chain[0].subscription_id, chain[0].employee_id))
                    task = asyncio.create_task(self._chain(chain, time.monotonic()))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                if chains:
                    pause = self.settings.poll_min_s
                    continue
                pause = min(pause * 2, self.settings.poll_max_s)
                await self._idle(stop, pause)
        finally:
            with contextlib.suppress(StoreUnavailable):
                await self.deps.deliveries.leave(self.name)  # the others take the partitions over now

    async def _summary_loop(self, stop: asyncio.Event) -> None:
        assert self.deps.summaries is not None
        while not stop.is_set():
            try:
                written = await self.deps.summaries(self.deps.clock.now())
                if written:
                    log.info("day summaries written: %s", written)
            except StoreUnavailable as exc:
                log.warning("day summaries: database unavailable (%s); later", type(exc).__name__)
            await self._idle(stop, self.settings.summary_every_s)

    # ------------------------------------------------------------ one delivery

    async def _subscription(self, subscription_id: str) -> Subscription | None:
        cached = self._subs.get(subscription_id)
        if cached is not None and time.monotonic() - cached[0] < SUBSCRIPTION_TTL_S:
            return cached[1]
        sub = await self.deps.subscriptions.by_id(subscription_id)
        self._subs[subscription_id] = (time.monotonic(), sub)
        return sub

    async def _chain(self, chain: list[Delivery], claimed_at: float) -> None:
        """A stream's deliveries in order, one at a time. It stops at the first one not done
        (retried later, held, or the database gone) and gives the rest back, as it does when the
        lease would no longer cover another send or the dispatcher is stopping (a chain claimed
        while the stop came sends nothing)."""
        try:
            async with self._slots:
                for i, delivery in enumerate(chain):
                    elapsed = time.monotonic() - claimed_at
                    if self._stop.is_set() or (i and elapsed + self.settings.timeout_s >= self.settings.lease_s):
                        await self._give_back(chain[i:])
                        return
                    state = await self._one(delivery)
                    if state not in (DeliveryState.DELIVERED, DeliveryState.DEAD):
                        await self._give_back(chain[i + 1 :], held=state is DeliveryState.HELD)
                        return
        finally:
            self._busy.discard((chain[0].subscription_id, chain[0].employee_id))

    async def _give_back(self, rest: list[Delivery], *, held: bool = False) -> None:
        """The rest of a chain, untried: held with their subscription (and resumed at once if an
        enable ran in between, as ``_hold`` does), or due again."""
        if not rest:
            return
        try:
            await self.deps.deliveries.release(rest, self.deps.clock.now(), held=held)
            if held:
                await self._resume_if_enabled(rest[0].subscription_id)
        except StoreUnavailable as exc:  # they stay leased: taken again when the lease ends
            log.warning("could not give back %s deliveries (%s)", len(rest), type(exc).__name__)

    async def _one(self, delivery: Delivery) -> DeliveryState | None:
        """One delivery sent and finished: its new state (None when the database stayed away)."""
        attributes: dict[str, Attribute] = {
            "delivery.id": delivery.id,
            "delivery.type": delivery.type,
            "delivery.attempt": delivery.attempts,
        }
        for pause in (0.5, 1, 2, 4, 8, 15, 30):  # the database may be restarting; the lease covers a retry
            try:
                with self.deps.tracer.span("delivery.send", attributes, parent=delivery.trace) as span:
                    return await self._attempt(delivery, span)
            except StoreUnavailable as exc:
                log.warning(
                    "delivery %s: database unavailable (%s); again in %ss", delivery.id, type(exc).__name__, pause
                )
                await asyncio.sleep(pause)
        log.error("delivery %s: gave up on the database; its lease will expire and it is retried", delivery.id)
        return None

    async def _hold(self, delivery: Delivery, now: datetime, span: Span) -> DeliveryState:
        """Held until the subscription is enabled. Read fresh (the cache may be behind an enable),
        and read again after holding: an enable that ran in between has already resumed what was
        held, so what this holds late is resumed here."""
        fresh = await self.deps.subscriptions.by_id(delivery.subscription_id)
        self._subs[delivery.subscription_id] = (time.monotonic(), fresh)
        if fresh is not None and fresh.state is SubscriptionState.ACTIVE:
            return await self._attempt(delivery, span)
        held = Attempt(at=now, result=ResultKind.RETRY, status=None, detail="subscription disabled; held", ms=0.0)
        await self.deps.deliveries.finish(
            delivery, state=DeliveryState.HELD, next_attempt_at=None, attempt=held, followup=None, now=now
        )
        await self._resume_if_enabled(delivery.subscription_id)
        return DeliveryState.HELD

    async def _resume_if_enabled(self, subscription_id: str) -> None:
        """After holding: an enable that ran in between has already resumed what was held, so
        what was held late is resumed here."""
        after = await self.deps.subscriptions.by_id(subscription_id)
        if after is not None and after.state is SubscriptionState.ACTIVE:
            await self.deps.deliveries.resume(after.tenant_id, after.id, self.deps.clock.now())

    async def _attempt(self, delivery: Delivery, span: Span) -> DeliveryState:
        sub = await self._subscription(delivery.subscription_id)
        now = self.deps.clock.now()
        if sub is None:
            return await self._finish(
                delivery, DeliveryResult(kind=ResultKind.REJECTED, detail="the subscription was removed"), 0.0, span
            )
        span.set("delivery.kind", sub.kind)
        if sub.state is not SubscriptionState.ACTIVE:
            span.set("delivery.state", DeliveryState.HELD.value)
            return await self._hold(delivery, now, span)
        connector = self.deps.connectors.get(sub.kind)
        if connector is None:
            result = DeliveryResult(kind=ResultKind.REJECTED, detail=f"no connector for {sub.kind!r} here")
            return await self._finish(delivery, result, 0.0, span)
        started = time.perf_counter()
        try:
            result = await connector.deliver(sub, delivery)
        except Exception as exc:  # a connector's bug must not strand the delivery until its lease ends
            log.exception("delivery %s: the %s connector failed", delivery.id, sub.kind)
            detail = f"internal error in the {sub.kind} connector ({type(exc).__name__}); see the dispatcher log"
            result = DeliveryResult(kind=ResultKind.RETRY, detail=detail)
        ms = (time.perf_counter() - started) * 1000
        state = await self._finish(delivery, result, ms, span)
        if result.kind is ResultKind.GONE:
            await self._gone(sub, result)
        elif state is DeliveryState.DEAD:
            await self._dead(sub, delivery, result)
        return state

    async def _finish(self, delivery: Delivery, result: DeliveryResult, ms: float, span: Span) -> DeliveryState:
        now = self.deps.clock.now()
        state, when = after_attempt(delivery, result, self.schedule, now)
        span.set("delivery.result", result.kind.value)
        span.set("delivery.state", state.value)
        if result.status is not None:
            span.set("http.response.status_code", result.status)
        attempt = Attempt(at=now, result=result.kind, status=result.status, detail=result.detail, ms=round(ms, 1))
        await self.deps.deliveries.finish(
            delivery, state=state, next_attempt_at=when, attempt=attempt, followup=result.followup, now=now
        )
        self.deps.counts[
            {
                DeliveryState.DELIVERED: "delivered",
                DeliveryState.DEAD: "dead_lettered",
                DeliveryState.PENDING: "retried",
            }.get(state, state.value)
        ] += 1
        level = logging.INFO if state is DeliveryState.DELIVERED else logging.WARNING
        detail = f": {result.detail}" if result.detail else ""
        log.log(
            level,
            "delivery %s to %s: %s (HTTP %s, %.0f ms, attempt %s)%s",
            delivery.id,
            delivery.subscription_id,
            state.value,
            result.status,
            ms,
            delivery.attempts,
            detail,
        )
        return state

    async def _tenant_flag(self, tenant_id: str) -> str:
        """``--tenant NAME`` for the commands an alert suggests, ready to paste."""
        tenant = await self.deps.tenants.get(tenant_id)
        return f"--tenant {shlex.quote(tenant.name if tenant else tenant_id)}"

    async def _gone(self, sub: Subscription, result: DeliveryResult) -> None:
        now = self.deps.clock.now()
        reason = f"the endpoint answered 410 Gone on {now:%Y-%m-%d %H:%M} UTC"
        switched = await self.deps.subscriptions.disable_if_active(sub.tenant_id, sub.id, reason)
        held = await self.deps.deliveries.hold(sub.tenant_id, sub.id)
        self._subs.pop(sub.id, None)
        if not switched:
            return  # another delivery (or dispatcher) saw the 410 first and told the admins
        await self.deps.audit.record(
            tenant_id=sub.tenant_id, actor="dispatcher", action="webhook.disabled", subject=sub.id, at=now
        )
        flag = await self._tenant_flag(sub.tenant_id)
        await self.deps.alerts.alert(
            sub.tenant_id,
            f"The webhook {sub.id} ({sub.url}) was switched off: {reason}. {held + 1} event(s) wait for it. "
            f"Fix the receiver, then `attendance webhooks enable {sub.id} {flag}` sends them.",
            now,
        )

    async def _dead(self, sub: Subscription, delivery: Delivery, result: DeliveryResult) -> None:
        now = self.deps.clock.now()
        last = self._alerted.get(sub.id)
        if last is not None and now - last < ALERT_EVERY:
            return
        self._alerted[sub.id] = now
        why = "refused it" if result.kind is ResultKind.REJECTED else "kept failing"
        flag = await self._tenant_flag(sub.tenant_id)
        await self.deps.alerts.alert(
            sub.tenant_id,
            f"An {delivery.type} event could not be delivered to {sub.kind} {sub.id}: the receiver {why} "
            f"({result.detail}). See `attendance deliveries list --failed {flag}`; after fixing it, "
            f"`attendance deliveries replay --id {delivery.id} {flag}`.",
            now,
        )
