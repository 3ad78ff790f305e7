"""Prometheus metrics (the ``Metrics`` port), one registry per process (no module-level
collector: ``prometheus_client``'s default registry is never used), in the text format.

Counters and histograms are updated where things happen (``http_request``, ``checkin_finished``,
``heartbeat``); the queue and delivery gauges are read from the database when scraped
(``refresh``), so any replica answers the same. ``health`` is False when the role's loop has not
gone round for ``stall_s``: a worker's or dispatcher's ``/healthz`` then fails.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from attendance.adapters.web.server import route_name
from attendance.core.domain.deliveries import DeliveryState
from attendance.core.ports import DeliveryRepository, JobQueue

log = logging.getLogger(__name__)

LATENCY_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
DELIVERY_STATES = tuple(s.value for s in DeliveryState)
DECISION_S = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0)
STAGE_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class PrometheusMetrics:
    def __init__(self, role: str, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.role, self._monotonic = role, monotonic
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._http = Counter(
            "attendance_http_requests", "HTTP requests answered", ["route", "method", "status"], registry=r
        )
        self._http_s = Histogram(
            "attendance_http_request_seconds", "HTTP request latency", ["route"], buckets=LATENCY_S, registry=r
        )
        self._jobs = Counter("attendance_checkin_jobs", "Check-in jobs decided, by outcome", ["outcome"], registry=r)
        self._decision_s = Histogram(
            "attendance_checkin_decision_seconds",
            "From a check-in received to its decision",
            buckets=DECISION_S,
            registry=r,
        )
        self._beat = Gauge(
            "attendance_heartbeat_timestamp_seconds", "When the role's loop last went round", ["role"], registry=r
        )
        self._depth = Gauge("attendance_checkin_queue_depth", "Check-in jobs waiting", registry=r)
        self._oldest = Gauge("attendance_checkin_queue_oldest_seconds", "Age of the oldest waiting job", registry=r)
        self._deliveries = Gauge("attendance_deliveries", "Deliveries by state", ["state"], registry=r)
        for state in DELIVERY_STATES:  # present (0) before the first scrape reads the database
            self._deliveries.labels(state).set(0)
        self._lag = Gauge("attendance_delivery_lag_seconds", "Age of the oldest delivery not yet done", registry=r)
        self._dead = Gauge("attendance_dead_letters", "Deliveries given up on (dead letters)", registry=r)
        self._outbox = Gauge("attendance_outbox_waiting", "Outbox rows not fanned out yet", registry=r)
        self._stage_s = Histogram(
            "attendance_face_stage_seconds",
            "Face pipeline time per photo, by stage (decode, detect, encode)",
            ["stage"],
            buckets=STAGE_S,
            registry=r,
        )
        self._galleries = Gauge("attendance_galleries_loaded", "Tenants' galleries in this process", registry=r)
        self._gallery_people = Gauge("attendance_gallery_people", "People in the loaded galleries", registry=r)
        self._gallery_templates = Gauge(
            "attendance_gallery_templates", "Template rows in the loaded galleries (with mirror images)", registry=r
        )
        self._last_beat = monotonic()

    # ------------------------------------------------------------ the port

    def http_request(self, route: str, method: str, status: int, seconds: float) -> None:
        self._http.labels(route, method, str(status)).inc()
        self._http_s.labels(route).observe(seconds)

    def checkin_finished(self, outcome: str, decision_seconds: float) -> None:
        self._jobs.labels(outcome).inc()
        self._decision_s.observe(max(0.0, decision_seconds))

    def heartbeat(self, role: str) -> None:
        self._last_beat = self._monotonic()
        self._beat.labels(role).set_to_current_time()

    def face_analysed(self, decode_s: float, detect_s: float, encode_s: float) -> None:
        for stage, seconds in (("decode", decode_s), ("detect", detect_s), ("encode", encode_s)):
            self._stage_s.labels(stage).observe(max(0.0, seconds))

    def galleries(self, loaded: int, people: int, templates: int) -> None:
        self._galleries.set(loaded)
        self._gallery_people.set(people)
        self._gallery_templates.set(templates)

    # ------------------------------------------------------------ scraping

    def healthy(self, stall_s: float) -> bool:
        return self._monotonic() - self._last_beat < stall_s

    async def refresh(self, jobs: JobQueue | None, deliveries: DeliveryRepository | None, now_s: float) -> None:
        """The gauges read from the database (skipped when it does not answer)."""
        from datetime import UTC, datetime

        now = datetime.fromtimestamp(now_s, UTC)
        if jobs is not None:
            depth, oldest = await jobs.backlog(now)
            self._depth.set(depth)
            self._oldest.set(oldest)
        if deliveries is not None:
            stats = await deliveries.stats(None, now)
            for state in DELIVERY_STATES:
                self._deliveries.labels(state).set(stats.by_state.get(state, 0))
            self._dead.set(stats.by_state.get("dead", 0))
            self._lag.set(stats.lag_s)
            self._outbox.set(stats.outbox_waiting)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def metrics_handler(
    metrics: PrometheusMetrics,
    refresh: Callable[[], Awaitable[None]],
    token: str | None,
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """``GET /metrics``; with ``token`` set, only with ``Authorization: Bearer <token>``."""
    import hmac

    async def handler(request: web.Request) -> web.Response:
        if token is not None:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return web.Response(status=401, text="a metrics token is required\n")
        try:
            await refresh()
        except Exception as exc:  # the counters still answer when the database does not
            log.warning("metrics: the database gauges could not be read (%s)", type(exc).__name__)
        body = metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    return handler


def http_metrics_middleware(metrics: PrometheusMetrics) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Counts every request by its route's name (an unmatched path counts as ``unmatched``)."""

    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            metrics.http_request(route_name(request), request.method, status, time.perf_counter() - started)

    return middleware


async def serve_metrics(
    metrics: PrometheusMetrics,
    *,
    host: str,
    port: int,
    stall_s: float,
    refresh: Callable[[], Awaitable[None]],
    token: str | None,
) -> web.AppRunner:
    """A worker's or dispatcher's own small HTTP server: ``/metrics`` and ``/healthz`` (503 when
    its loop has stalled for ``stall_s``)."""

    async def healthz(_: web.Request) -> web.Response:
        if metrics.healthy(stall_s):
            return web.json_response({"status": "ok", "role": metrics.role})
        return web.json_response({"status": "stalled", "role": metrics.role}, status=503)

    app = web.Application()
    app.router.add_get("/metrics", metrics_handler(metrics, refresh, token))
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
