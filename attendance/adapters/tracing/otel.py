"""``OpenTelemetryTracer``: the ``Tracer`` port on the OpenTelemetry SDK, exporting over OTLP/HTTP
(protobuf) to a collector in batches from a background thread, so that a slow or absent collector
never holds a request up (spans it cannot take are dropped and counted by the SDK, never retried
into memory without bound).

One tracer provider per process, made by the composition root (``build``) and shut down with it:
nothing is set globally, so that tests and tools that build several containers in one process get
one provider each. Context travels as W3C ``traceparent``: ``carrier`` writes the current span's,
``span(parent=...)`` continues one (a check-in job carries the one of the request that queued it).

``tracing_middleware`` makes a server span of every HTTP request but the probes and ``/metrics``,
named by its route (never the raw path, which may hold ids). It starts a new trace at this
service: a ``traceparent`` header from the internet is not trusted (it would let a caller choose
what is sampled)."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Awaitable, Callable, Iterator, Mapping

from aiohttp import web
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from attendance.adapters.web.server import route_name
from attendance.core.ports import Attribute, Span
from attendance.settings import TracingSettings

TRACEPARENT = "traceparent"
UNTRACED = frozenset({"/healthz", "/readyz", "metrics"})  # probes and scrapes: every few seconds, nothing to follow


class _OtelSpan:
    def __init__(self, span: trace.Span) -> None:
        self._span = span

    def set(self, key: str, value: Attribute) -> None:
        self._span.set_attribute(key, value)


class OpenTelemetryTracer:
    def __init__(self, settings: TracingSettings, role: str) -> None:
        if not settings.endpoint:
            raise ValueError("tracing needs tracing.endpoint (ATTENDANCE_TRACING__ENDPOINT)")
        resource = Resource.create(
            {
                "service.name": settings.service_name,
                "service.instance.id": f"{socket.gethostname()}:{os.getpid()}",
                "attendance.role": role,
            }
        )
        sampler = ParentBased(TraceIdRatioBased(settings.sample_ratio))  # a continued trace keeps its decision
        self._provider = TracerProvider(resource=resource, sampler=sampler)
        exporter = OTLPSpanExporter(endpoint=f"{settings.endpoint.rstrip('/')}/v1/traces", timeout=settings.timeout_s)
        self._provider.add_span_processor(BatchSpanProcessor(exporter))
        self._tracer = self._provider.get_tracer("attendance")
        self._propagator = TraceContextTextMapPropagator()

    @contextlib.contextmanager
    def span(
        self,
        name: str,
        attributes: Mapping[str, Attribute] | None = None,
        *,
        parent: str | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
    ) -> Iterator[Span]:
        # a malformed carrier extracts to an empty context: the span then starts a trace of its own
        context = self._propagator.extract({TRACEPARENT: parent}) if parent else None
        with self._tracer.start_as_current_span(name, context=context, kind=kind, attributes=attributes) as span:
            yield _OtelSpan(span)

    def carrier(self) -> str | None:
        out: dict[str, str] = {}
        self._propagator.inject(out)
        return out.get(TRACEPARENT)

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Export what has ended so far (tests, and before a process stops)."""
        return self._provider.force_flush(int(timeout_s * 1000))

    def close(self) -> None:
        self._provider.shutdown()


def tracing_middleware(tracer: OpenTelemetryTracer) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        route = route_name(request)
        if route in UNTRACED:
            return await handler(request)
        attributes = {"http.request.method": request.method, "http.route": route}
        refused: web.HTTPException | None = None
        with tracer.span(f"{request.method} {route}", attributes, kind=SpanKind.SERVER) as span:
            try:  # an HTTP answer raised (404, 413...) is an answer, not a failure of the span
                response: web.StreamResponse = await handler(request)
                status = response.status
            except web.HTTPException as exc:
                refused, status = exc, exc.status
            span.set("http.response.status_code", status)
            if status >= 500:
                trace.get_current_span().set_status(Status(StatusCode.ERROR))
        if refused is not None:
            raise refused
        return response

    return middleware
