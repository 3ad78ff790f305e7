"""The long-running roles: ``serve``, ``worker``, ``dispatcher``, ``scheduler``, and ``run`` (all of them).

``run`` is a small supervisor: it starts the embedded database once, then each role as a child
process pointed at it, restarts a child that crashes (with back-off), and on Ctrl-C or SIGTERM
stops the children and then the database. Children die with their parent (PDEATHSIG).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import TYPE_CHECKING

from aiohttp import web
from pymongo.errors import PyMongoError

from attendance.adapters.embedded.secantus import die_with_parent
from attendance.adapters.web.server import Mount, ReadinessCheck
from attendance.core.ports import Metrics
from attendance.entrypoints.bootstrap import Container, build, database_uri
from attendance.settings import Settings

if TYPE_CHECKING:
    from attendance.adapters.metrics.prometheus import PrometheusMetrics

log = logging.getLogger(__name__)


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def serve(settings: Settings) -> None:
    """The HTTP server. Face work (chat enrollment) runs in one engine process, started on
    first use, so that the event loop never waits for dlib."""
    from attendance.adapters.faces.pool import ProcessPoolFaceEngine
    from attendance.entrypoints.bootstrap import slack_bot, teams_bot, web_site

    settings.teams.check_bind(settings.http.host)
    stop = _stop_event()
    engine = ProcessPoolFaceEngine(settings.face, 1)
    async with contextlib.AsyncExitStack() as stack:
        stack.callback(engine.close)
        container = await stack.enter_async_context(build(settings, engine=engine, role="serve"))
        slack = slack_bot(container)
        mounts = []
        if slack is not None:
            mounts.append(slack.mount)
            stack.push_async_callback(slack.close)
            if settings.slack.signing_secret is not None:
                log.info(
                    "slack app on /slack/events (%s)", "OAuth installs" if settings.slack.oauth else "one workspace"
                )
            if settings.slack.socket_mode:
                await slack.start_socket_mode()
                log.info("slack app connected in Socket Mode (no public URL needed)")
        else:
            log.info(
                "slack is not configured (set SLACK_BOT_TOKEN, and SLACK_SIGNING_SECRET or SLACK_APP_TOKEN); "
                "/slack/events is off"
            )
        teams = teams_bot(container)
        mounts.append(teams.mount)
        stack.push_async_callback(teams.close)
        mounts.append(web_site(container).mount)
        log.info("dashboard on http://%s:%s/ and the API on /api/v1", settings.http.host, settings.http.port)

        async def database_ready() -> bool:
            try:
                await container.client.admin.command("ping")
                return True
            except PyMongoError:
                return False

        app = serve_app(container, settings, mounts, database_ready)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, settings.http.host, settings.http.port)
        await site.start()
        log.info("serving on http://%s:%s", settings.http.host, settings.http.port)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()


def serve_app(
    container: Container, settings: Settings, mounts: Sequence[Mount], database_ready: ReadinessCheck
) -> web.Application:
    """``serve``'s application: the mounts, the health checks, and ``/metrics`` (HTTP requests by
    route, the check-in queue and the deliveries; with ``metrics.token`` set, only with it)."""
    from attendance.adapters.metrics.prometheus import PrometheusMetrics, http_metrics_middleware, metrics_handler
    from attendance.adapters.web.server import create_app

    metrics = PrometheusMetrics("serve")
    token = settings.metrics.token.get_secret_value() if settings.metrics.token else None

    async def refresh() -> None:
        await metrics.refresh(container.checkin.jobs, container.deliveries, time.time())

    def mount_metrics(app: web.Application) -> None:
        app.router.add_get("/metrics", metrics_handler(metrics, refresh, token), name="metrics")

    middlewares = [http_metrics_middleware(metrics)]
    if settings.tracing.endpoint:  # a span per request (imported only with tracing on)
        from attendance.adapters.tracing.otel import OpenTelemetryTracer, tracing_middleware

        if isinstance(container.tracer, OpenTelemetryTracer):
            middlewares.insert(0, tracing_middleware(container.tracer))
    return create_app(database_ready=database_ready, mounts=[*mounts, mount_metrics], middlewares=middlewares)


async def worker(settings: Settings, processes: int | None = None) -> None:
    """Claims check-in jobs and decides them; face work runs in a pool of processes."""
    from attendance.adapters.faces.pool import ProcessPoolFaceEngine
    from attendance.adapters.metrics.faces import MeteredFaceEngine
    from attendance.adapters.metrics.prometheus import PrometheusMetrics
    from attendance.services.worker import JobWorker

    stop = _stop_event()
    engine = ProcessPoolFaceEngine(settings.face, processes)
    prometheus = PrometheusMetrics("worker")
    try:
        await engine.warm_up()
        metered = MeteredFaceEngine(engine, prometheus)  # stage times, measured in the pool's processes
        async with (
            build(settings, engine=metered, role="worker") as c,
            _metrics_server(settings, "worker", c, prometheus) as metrics,
        ):
            loop = JobWorker(
                deps=c.checkin,
                replier=c.replier,
                buffer=c.buffer,
                settings=settings.worker,
                metrics=metrics,
                tracer=c.tracer,
            )
            log.info("worker %s ready with %s face-engine processes", loop.name, processes or settings.face.processes)
            await loop.run(stop)
    finally:
        engine.close()


async def dispatcher(settings: Settings) -> None:
    """Delivers the outbox to webhooks, Workday and ADP."""
    from attendance.entrypoints.bootstrap import dispatcher as make_dispatcher

    stop = _stop_event()
    async with build(settings, role="dispatcher") as c, _metrics_server(settings, "dispatcher", c) as metrics:
        loop = make_dispatcher(c, metrics)
        log.info(
            "dispatcher %s ready: %s deliveries at a time, retries after %s s",
            loop.name,
            settings.dispatcher.concurrency,
            ",".join(f"{d:g}" for d in settings.retry_schedule),
        )
        await loop.run(stop)


async def scheduler(settings: Settings) -> None:
    """Every periodic job: reminders and digests, the day summaries. Several may run: each job's
    work is keyed per (tenant, day, kind) and done once."""
    from attendance.entrypoints.bootstrap import scheduler as make_scheduler

    stop = _stop_event()
    async with build(settings, role="scheduler") as c:
        loop = make_scheduler(c)
        log.info("scheduler ready: %s", ", ".join(f"{j.name} every {j.every_s:g} s" for j in loop.jobs))
        await loop.run(stop)


@contextlib.asynccontextmanager
async def _metrics_server(
    settings: Settings, role: str, c: Container, made: PrometheusMetrics | None = None
) -> AsyncIterator[Metrics]:
    """The role's ``/metrics`` and ``/healthz`` on its metrics port; no server when the port is 0."""
    from attendance.adapters.metrics.prometheus import PrometheusMetrics, serve_metrics

    port = settings.metrics.worker_port if role == "worker" else settings.metrics.dispatcher_port
    metrics = made or PrometheusMetrics(role)
    if not port:
        yield metrics
        return

    async def refresh() -> None:
        await metrics.refresh(c.checkin.jobs, c.deliveries, time.time())
        metrics.galleries(*c.checkin.galleries.sizes())  # the worker's; a dispatcher holds none (0)

    token = settings.metrics.token.get_secret_value() if settings.metrics.token else None
    runner = await serve_metrics(
        metrics, host=settings.metrics.host, port=port, stall_s=settings.metrics.stall_s, refresh=refresh, token=token
    )
    log.info("%s metrics on http://%s:%s/metrics", role, settings.metrics.host, port)
    try:
        yield metrics
    finally:
        await runner.cleanup()


ROLES = ("serve", "worker", "dispatcher", "scheduler")


async def database(settings: Settings, *, host: str, port: int) -> None:
    """The embedded database alone, in the foreground, with its data under ``home/db``: the
    stand-in for MongoDB Atlas when the roles run as separate containers (``MONGODB_URI`` points here)."""
    from attendance.adapters.embedded.secantus import EmbeddedMongo

    stop = _stop_event()
    server = EmbeddedMongo(
        settings.home / "db", host=host, port=port, start_timeout_s=settings.database.embedded_start_timeout_s
    )
    await server.start()
    log.info("embedded database on mongodb://%s:%s/ (data in %s)", host, server.port, settings.home / "db")
    await stop.wait()
    await server.stop()
    log.info("embedded database stopped")


async def run_all(settings: Settings, *, host: str, port: int) -> None:
    stop = _stop_event()
    async with database_uri(settings) as uri:
        env = {**os.environ, "MONGODB_URI": uri, "ATTENDANCE_HOME": str(settings.home.resolve())}
        commands = {
            "serve": ["serve", "--host", host, "--port", str(port)],
            "worker": ["worker"],
            "dispatcher": ["dispatcher"],
            "scheduler": ["scheduler"],
        }
        tasks = [asyncio.create_task(_supervise(role, args, env, stop)) for role, args in commands.items()]
        log.info("attendance running: http://%s:%s (Ctrl-C to stop)", host, port)
        await stop.wait()
        await asyncio.gather(*tasks)
    log.info("attendance stopped")


async def _supervise(role: str, args: list[str], env: dict[str, str], stop: asyncio.Event) -> None:
    backoff = 1.0
    while not stop.is_set():
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "attendance",
            *args,
            env=env,
            preexec_fn=die_with_parent,
        )
        log.info("started %s pid=%s", role, proc.pid)
        waiter = asyncio.create_task(proc.wait())
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set():
            await _terminate(role, proc, waiter)
            stopper.cancel()
            return
        stopper.cancel()
        code = waiter.result()
        backoff = 1.0 if time.monotonic() - started > 60 else min(backoff * 2, 30.0)
        log.error("%s exited with code %s; restarting in %.0fs", role, code, backoff)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=backoff)


async def _terminate(role: str, proc: asyncio.subprocess.Process, waiter: Awaitable[int]) -> None:
    if proc.returncode is None:
        proc.terminate()
    try:
        await asyncio.wait_for(waiter, timeout=20)
    except TimeoutError:
        log.warning("%s did not stop in 20 s; killing it", role)
        proc.kill()
        await proc.wait()
