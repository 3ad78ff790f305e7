"""`attendance deliveries ...`: what was sent where, what failed, replays, and the figures."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from attendance.core.domain.deliveries import DeliveryState
from attendance.core.domain.model import Tenant
from attendance.core.errors import ServiceError
from attendance.entrypoints.bootstrap import build
from attendance.entrypoints.cli.context import for_tenant
from attendance.services import webhooks
from attendance.services.tenants import tenant_by_name
from attendance.settings import Settings


def add_commands(sub: Any) -> None:
    d = sub.add_parser("deliveries", help="webhook and payroll deliveries: list, replay, stats").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = d.add_parser("list", help="the latest deliveries, newest first")
    p.add_argument("--tenant", required=True)
    p.add_argument("--failed", action="store_true", help="only the dead-lettered ones")
    p.add_argument("--state", choices=[s.value for s in DeliveryState], action="append", default=[])
    p.add_argument("--webhook", metavar="ID", help="one subscription or connector")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(handler=deliveries_list)
    p = d.add_parser("replay", help="send again, with the same webhook-id (receivers drop what they have)")
    p.add_argument("--tenant", required=True)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", help="one delivery (from `deliveries list`)")
    which.add_argument(
        "--since", help="every event since: 2026-12-01 or 2026-12-01T08:00 (tenant time) or with an offset"
    )
    p.add_argument("--webhook", metavar="ID", help="with --since: only to this subscription (default: all active)")
    p.add_argument("--by", default="cli")
    p.set_defaults(handler=deliveries_replay)
    p = d.add_parser("stats", help="delivered, retried, dead-lettered, waiting, and the lag")
    p.add_argument("--tenant", help="default: every tenant")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=deliveries_stats)
    p = d.add_parser("alerts", help="what the dispatcher told the admins (disabled endpoints, dead letters)")
    p.add_argument("--tenant", required=True)
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(handler=deliveries_alerts)


def parse_since(text: str, tenant: Tenant) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ServiceError(f"--since {text!r} is not a date or time like 2026-12-01 or 2026-12-01T08:00") from None
    if len(text) == 10:  # a date: from its start
        when = datetime.combine(when.date(), time.min)
    return when.replace(tzinfo=ZoneInfo(tenant.timezone)) if when.tzinfo is None else when


async def deliveries_list(args: argparse.Namespace, settings: Settings) -> int:
    states = [DeliveryState(s) for s in args.state] + ([DeliveryState.DEAD] if args.failed else [])
    async with for_tenant(settings, args.tenant) as (c, tenant):
        rows = await c.deliveries.list(tenant.id, states=states, subscription_id=args.webhook, limit=args.limit)
    zone = ZoneInfo(tenant.timezone)
    for r in rows:
        error = f"\t{r.last_error}" if r.last_error and r.state is not DeliveryState.DELIVERED else ""
        print(
            f"{r.id}\t{r.state.value}\t{r.type}\t{r.created_at.astimezone(zone):%Y-%m-%d %H:%M}\t"
            f"attempts={r.attempts}{error}"
        )
    if not rows:
        print("no deliveries" + (" match" if states or args.webhook else " yet"))
    return 0


async def deliveries_replay(args: argparse.Namespace, settings: Settings) -> int:
    async with for_tenant(settings, args.tenant) as (c, tenant):
        since = parse_since(args.since, tenant) if args.since else None
        count = await webhooks.replay(
            tenant,
            delivery_id=args.id,
            since=since,
            subscription_id=args.webhook,
            by=args.by,
            subscriptions=c.subscriptions,
            deliveries=c.deliveries,
            audit=c.deps.audit,
            clock=c.deps.clock,
        )
    print(f"{count} deliver{'y' if count == 1 else 'ies'} queued again (same webhook-id: receivers drop duplicates)")
    return 0


async def deliveries_stats(args: argparse.Namespace, settings: Settings) -> int:
    async with build(settings) as c:
        tenant_id = (await tenant_by_name(args.tenant, tenants=c.deps.tenants)).id if args.tenant else None
        stats = await c.deliveries.stats(tenant_id, c.deps.clock.now())
    if args.json:
        print(json.dumps(stats.as_json(), sort_keys=True))
        return 0
    by_state = stats.by_state
    print(f"delivered      {by_state.get('delivered', 0)}")
    print(f"retried        {stats.retried} (needed more than one attempt)")
    print(f"dead-lettered  {by_state.get('dead', 0)}")
    waiting = by_state.get("pending", 0) + by_state.get("in_flight", 0)
    held = by_state.get("held", 0)
    print(f"waiting        {waiting} (+{stats.outbox_waiting} not fanned out, {held} held for disabled endpoints)")
    print(f"lag            {stats.lag_s:.1f} s (the oldest waiting event)")
    return 0


async def deliveries_alerts(args: argparse.Namespace, settings: Settings) -> int:
    async with for_tenant(settings, args.tenant) as (c, tenant):
        alerts = await c.deliveries.alerts(tenant.id, args.limit)
    zone = ZoneInfo(tenant.timezone)
    for at, text in alerts:
        print(f"{at.astimezone(zone):%Y-%m-%d %H:%M}\t{text}")
    if not alerts:
        print("no alerts")
    return 0
