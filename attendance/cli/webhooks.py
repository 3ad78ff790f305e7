"""`attendance webhooks ...`: a tenant's webhook subscriptions."""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from attendance.bootstrap import build
from attendance.domain.webhooks import EVENT_TYPES
from attendance.services import webhooks
from attendance.services.tenants import tenant_by_name
from attendance.settings import Settings


def add_commands(sub: Any) -> None:
    hooks = sub.add_parser("webhooks", help="send attendance events to your systems").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = hooks.add_parser("add", help="subscribe a URL; prints its signing secret once")
    p.add_argument("--tenant", required=True)
    p.add_argument("--url", required=True)
    p.add_argument("--events", nargs="*", default=[], metavar="TYPE", help=f"default: all of {', '.join(EVENT_TYPES)}")
    p.add_argument("--by", default="cli", help="who is doing this (for the audit log)")
    p.set_defaults(handler=webhooks_add)
    p = hooks.add_parser("list", help="a tenant's subscriptions (never their secrets)")
    p.add_argument("--tenant", required=True)
    p.set_defaults(handler=webhooks_list)
    p = hooks.add_parser("rotate-secret", help="a new secret; the old one also signs for --grace-hours")
    p.add_argument("id")
    p.add_argument("--tenant", required=True)
    p.add_argument("--grace-hours", type=float, default=24.0)
    p.add_argument("--by", default="cli")
    p.set_defaults(handler=webhooks_rotate)
    for name, text in (("disable", "stop sending (kept)"), ("enable", "send again"), ("remove", "delete it")):
        p = hooks.add_parser(name, help=text)
        p.add_argument("id")
        p.add_argument("--tenant", required=True)
        p.add_argument("--by", default="cli")
        p.set_defaults(handler=webhooks_change, change=name)


async def webhooks_add(args: argparse.Namespace, settings: Settings) -> int:
    async with build(settings) as c:
        tenant = await tenant_by_name(args.tenant, tenants=c.deps.tenants)
        sub, secret = await webhooks.add_subscription(
            tenant, args.url, args.events, by=args.by, subscriptions=c.subscriptions, audit=c.deps.audit,
            clock=c.deps.clock,
        )  # fmt: skip
    print(f"webhook {sub.id} sends {', '.join(sorted(sub.events)) or 'every event'} to {sub.url}")
    print(f"signing secret (shown only now; keep it in your receiver): {secret}")
    return 0


async def webhooks_list(args: argparse.Namespace, settings: Settings) -> int:
    async with build(settings) as c:
        tenant = await tenant_by_name(args.tenant, tenants=c.deps.tenants)
        subs = await c.subscriptions.list(tenant.id)
        now = c.deps.clock.now()
    for s in subs:
        rotating = " (old secret still signing)" if len(s.signing_secrets(now)) > 1 else ""
        reason = f" ({s.disabled_reason})" if s.disabled_reason else ""
        events = ",".join(sorted(s.events)) or "all"
        print(f"{s.id}\t{s.state.value}{reason}\t{s.url}\t{events}{rotating}")
    if not subs:
        print(f"{tenant.name} has no webhooks (add one with `attendance webhooks add`)")
    return 0


async def webhooks_rotate(args: argparse.Namespace, settings: Settings) -> int:
    async with build(settings) as c:
        tenant = await tenant_by_name(args.tenant, tenants=c.deps.tenants)
        secret = await webhooks.rotate_secret(
            tenant, args.id, timedelta(hours=args.grace_hours), by=args.by, subscriptions=c.subscriptions,
            audit=c.deps.audit, clock=c.deps.clock,
        )  # fmt: skip
    print(f"new signing secret (shown only now): {secret}")
    print(f"the old secret also signs for {args.grace_hours:g} more hours")
    return 0


async def webhooks_change(args: argparse.Namespace, settings: Settings) -> int:
    async with build(settings) as c:
        tenant = await tenant_by_name(args.tenant, tenants=c.deps.tenants)
        common = {"by": args.by, "subscriptions": c.subscriptions, "audit": c.deps.audit, "clock": c.deps.clock}
        if args.change == "remove":
            await webhooks.remove_subscription(tenant, args.id, **common)
        else:
            await webhooks.set_enabled(tenant, args.id, args.change == "enable", reason="disabled by an admin",
                                       **common)  # fmt: skip
    print(f"webhook {args.id}: {args.change}d")
    return 0
