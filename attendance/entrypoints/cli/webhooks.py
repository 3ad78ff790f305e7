"""`attendance webhooks ...` and `attendance connectors ...`: a tenant's webhook subscriptions and
its Workday / ADP connectors."""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from attendance.core.domain.webhooks import EVENT_TYPES
from attendance.core.errors import ServiceError
from attendance.entrypoints.cli.context import for_tenant
from attendance.services import webhooks
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

    conn = sub.add_parser("connectors", help="send attendance to Workday or ADP").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = conn.add_parser("add", help="connect a Workday tenant or ADP Workforce Now (see docs/webhooks.md)")
    p.add_argument("--tenant", required=True)
    p.add_argument("--type", required=True, choices=["workday", "adp"], dest="kind")
    p.add_argument("--url", required=True, help="Workday: the Time_Tracking endpoint; ADP: the API base URL")
    p.add_argument(
        "--config",
        required=True,
        type=Path,
        metavar="FILE.json",
        help='{"config": {...}, "credentials": {...}}; a value "@PATH" is read from that file',
    )
    p.add_argument("--events", nargs="*", default=[], metavar="TYPE")
    p.add_argument("--by", default="cli")
    p.set_defaults(handler=connectors_add)


async def webhooks_add(args: argparse.Namespace, settings: Settings) -> int:
    async with for_tenant(settings, args.tenant) as (c, tenant):
        sub, secret = await webhooks.add_subscription(
            tenant,
            args.url,
            args.events,
            by=args.by,
            subscriptions=c.subscriptions,
            audit=c.deps.audit,
            clock=c.deps.clock,
            destinations=c.destinations,
        )
    print(f"webhook {sub.id} sends {', '.join(sorted(sub.events)) or 'every event'} to {sub.url}")
    print(f"signing secret (shown only now; keep it in your receiver): {secret}")
    return 0


async def webhooks_list(args: argparse.Namespace, settings: Settings) -> int:
    async with for_tenant(settings, args.tenant) as (c, tenant):
        subs = await c.subscriptions.list(tenant.id)
        now = c.deps.clock.now()
    for s in subs:
        rotating = " (old secret still signing)" if len(s.signing_secrets(now)) > 1 else ""
        reason = f" ({s.disabled_reason})" if s.disabled_reason else ""
        events = ",".join(sorted(s.events)) or "all"
        print(f"{s.id}\t{s.kind}\t{s.state.value}{reason}\t{s.url}\t{events}{rotating}")
    if not subs:
        print(f"{tenant.name} has no webhooks (add one with `attendance webhooks add`)")
    return 0


async def webhooks_rotate(args: argparse.Namespace, settings: Settings) -> int:
    async with for_tenant(settings, args.tenant) as (c, tenant):
        secret = await webhooks.rotate_secret(
            tenant,
            args.id,
            timedelta(hours=args.grace_hours),
            by=args.by,
            subscriptions=c.subscriptions,
            audit=c.deps.audit,
            clock=c.deps.clock,
        )
    print(f"new signing secret (shown only now): {secret}")
    print(f"the old secret also signs for {args.grace_hours:g} more hours")
    return 0


async def webhooks_change(args: argparse.Namespace, settings: Settings) -> int:
    async with for_tenant(settings, args.tenant) as (c, tenant):
        common = {
            "by": args.by,
            "subscriptions": c.subscriptions,
            "deliveries": c.deliveries,
            "audit": c.deps.audit,
            "clock": c.deps.clock,
        }
        if args.change == "remove":
            moved = await webhooks.remove_subscription(tenant, args.id, **common)
        else:
            moved = await webhooks.set_enabled(
                tenant, args.id, args.change == "enable", reason="disabled by an admin", **common
            )
    what = {"remove": "dropped", "enable": "queued again", "disable": "held until it is enabled"}[args.change]
    print(f"webhook {args.id}: {args.change}d ({moved} waiting event(s) {what})")
    return 0


def _read_connector_file(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ServiceError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise ServiceError(f"{path} is not JSON: {exc}") from exc
    if not isinstance(data, dict) or not set(data) <= {"config", "credentials"}:
        raise ServiceError(f'{path} holds {{"config": {{...}}, "credentials": {{...}}}} and nothing else')
    out: list[dict[str, str]] = []
    for part in ("config", "credentials"):
        values = data.get(part, {})
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            raise ServiceError(f"{path}: {part!r} maps names to strings")
        resolved = {}
        for key, value in values.items():
            if not value.startswith("@"):
                resolved[str(key)] = value
                continue
            source = path.parent / Path(value[1:]).expanduser()
            try:
                resolved[str(key)] = source.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ServiceError(f"{path}: {part}.{key} names {source}, which cannot be read ({exc})") from exc
        out.append(resolved)
    return out[0], out[1]


async def connectors_add(args: argparse.Namespace, settings: Settings) -> int:
    config, credentials = _read_connector_file(args.config)
    async with for_tenant(settings, args.tenant) as (c, tenant):
        sub = await webhooks.add_connector(
            tenant,
            args.kind,
            args.url,
            args.events,
            config=config,
            credentials=credentials,
            by=args.by,
            subscriptions=c.subscriptions,
            audit=c.deps.audit,
            clock=c.deps.clock,
            destinations=c.destinations,
        )
    print(f"{args.kind} connector {sub.id} sends {', '.join(sorted(sub.events)) or 'every event'} to {sub.url}")
    print(f"its credentials are stored encrypted; you can delete {args.config} now")
    return 0
