"""`attendance`: the one command line of the service. Thin: parse, call, print.

Errors a person can act on (ServiceError, PhotoRefused, a missing file...) are printed as one
line on stderr with exit code 1; usage errors exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence

for _key in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # before numpy/dlib load
    os.environ.setdefault(_key, "1")

from attendance.entrypoints.cli import admin, deliveries, measure, records, webhooks, workforce  # noqa: E402
from attendance.logs import configure_logging  # noqa: E402
from attendance.settings import Settings  # noqa: E402

log = logging.getLogger("attendance")
ROLE_COMMANDS = ("serve", "worker", "dispatcher", "scheduler", "database")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="attendance", description="Selfie check-in for Slack and Teams.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for name, text in (("serve", "the HTTP server"), ("run", "every role on the embedded database")):
        p = sub.add_parser(name, help=f"start {text}")
        p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
        p.add_argument("--port", type=int, help="port to listen on (default 8080)")
    p = sub.add_parser("worker", help="start a recognition worker")
    p.add_argument("--processes", type=int, help="face-engine processes (default 2)")
    p.add_argument("--metrics-port", type=int, help="serve /metrics and /healthz on this port (default: none)")
    p = sub.add_parser("dispatcher", help="start the outbound dispatcher")
    p.add_argument("--metrics-port", type=int, help="serve /metrics and /healthz on this port (default: none)")
    sub.add_parser("scheduler", help="start the periodic jobs (reminders, digests, day summaries)")
    p = sub.add_parser("database", help="start the embedded database alone (a MongoDB stand-in)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=27017, help="port to listen on (default 27017)")

    admin.add_commands(sub)
    records.add_commands(sub)
    measure.add_commands(sub)
    webhooks.add_commands(sub)
    deliveries.add_commands(sub)
    workforce.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
    except Exception as exc:  # pydantic's ValidationError: say which variable is wrong
        print(f"attendance: invalid configuration: {exc}", file=sys.stderr)
        return 2
    if args.command != "database" and getattr(args, "host", None):
        settings.http.host = args.host
    if args.command != "database" and getattr(args, "port", None) is not None:
        settings.http.port = args.port
    configure_logging(settings.log, role=args.command if args.command in ROLE_COMMANDS else None)
    try:
        return asyncio.run(_dispatch(args, settings))
    except KeyboardInterrupt:
        return 130
    except admin.USER_ERRORS as exc:
        print(f"attendance: {exc}", file=sys.stderr)
        return 1


async def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    from attendance.entrypoints import roles

    match args.command:
        case "serve":
            await roles.serve(settings)
        case "worker":
            if args.metrics_port is not None:
                settings.metrics.worker_port = args.metrics_port
            await roles.worker(settings, args.processes)
        case "dispatcher":
            if args.metrics_port is not None:
                settings.metrics.dispatcher_port = args.metrics_port
            await roles.dispatcher(settings)
        case "scheduler":
            await roles.scheduler(settings)
        case "database":
            await roles.database(settings, host=args.host, port=args.port)
        case "run":
            await roles.run_all(settings, host=settings.http.host, port=settings.http.port)
        case _:
            return int(await args.handler(args, settings))
    return 0
