"""Traces end to end: with ``tracing.endpoint`` set, a signed Slack selfie through the real
``serve`` application (its tracing middleware), the real worker and face engine and the real
database makes one trace (the request, the decision continuing it from the queued job, the face
analysis inside the decision), exported over OTLP/HTTP to a collector stand-in on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from attendance.adapters.embedded.secantus import EmbeddedMongo
from attendance.adapters.tracing.otel import OpenTelemetryTracer
from attendance.entrypoints.bootstrap import Container, build, slack_bot
from attendance.entrypoints.roles import serve_app
from attendance.services.worker import JobWorker
from attendance.settings import DispatcherSettings, Settings, SlackSettings, TracingSettings
from tests.e2e.test_slack import Harness, _tenant
from tests.fakes.otlp import OtlpCollector
from tests.fakes.slack import FakeSlack
from tests.harness.checkins import FAST, jobs_settled
from tests.harness.deliveries import (
    delivered,
    punches,
    running,
    tenant_with_staff,
    until,
    webhook_receiver,
    webhook_to,
)


@pytest.fixture
async def collector() -> AsyncIterator[OtlpCollector]:
    server = OtlpCollector()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def traced(
    settings: Settings, mongo_server: EmbeddedMongo, engine: Any, slack: FakeSlack, photo: Any, collector: OtlpCollector
) -> AsyncIterator[Harness]:
    settings = settings.model_copy(
        update={
            "slack": SlackSettings(
                signing_secret=slack.signing_secret,
                api_url=slack.api_url,  # type: ignore[arg-type]
                bot_token=slack.bot_token,
            ),
            "tracing": TracingSettings(endpoint=collector.base, timeout_s=5),
        }
    )

    async def ready() -> bool:
        return True

    async with (
        build(settings, uri=mongo_server.uri, engine=engine, role="serve") as c,
        aiohttp.ClientSession() as http,
    ):
        bot = slack_bot(c)
        assert bot is not None
        runner = web.AppRunner(serve_app(c, settings, [bot.mount], ready), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        stop = asyncio.Event()
        worker = JobWorker(
            deps=c.checkin, replier=c.replier, buffer=c.buffer, settings=FAST, name="traced", tracer=c.tracer
        )
        task = asyncio.create_task(worker.run(stop))
        try:
            tenant_id, people = await _tenant(c, slack, photo)
            yield Harness(c, slack, f"http://127.0.0.1:{port}", http, tenant_id, people, photo)
        finally:
            stop.set()
            await task
            await bot.close()
            await runner.cleanup()
            await c.client.drop_database(settings.database.name)


async def _exported(tracer: OpenTelemetryTracer, collector: OtlpCollector, name: str, timeout: float = 30.0) -> None:
    """Flushed until a span called ``name`` reached the collector (or ``timeout``)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        assert await asyncio.to_thread(tracer.flush)
        if collector.named(name) or loop.time() > deadline:
            return
        await asyncio.sleep(0.05)  # polling a condition with a deadline


async def test_a_slack_check_in_is_one_trace_from_the_request_to_the_face_analysis(
    traced: Harness, collector: OtlpCollector
) -> None:
    h = traced
    chosen = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"  # a caller's trace is not continued
    status, _ = await h.selfie("UADA", "Serena_Williams/2.jpg", text="in", traceparent=chosen)
    assert status == 200
    async with h.http.get(f"{h.url}/healthz") as probe:
        assert probe.status == 200
    [answer] = await h.answer_to("UADA")
    assert str(answer.get("text", "")).startswith("Checked in at ")
    assert await jobs_settled(h.c, h.tenant_id) == {"done"}
    tracer = h.c.tracer
    assert isinstance(tracer, OpenTelemetryTracer)
    # the decision's span ends a moment after its job is marked done (the worker then discards the
    # photo), and the exporter posts from its own thread to a collector served by this event loop
    await _exported(tracer, collector, "checkin.decide")

    [request] = [s for s in collector.named("POST /slack/events") if s.attributes.get("http.response.status_code")]
    assert request.kind == 2 and request.parent_id == ""  # SERVER, and a trace of its own
    assert request.trace_id != "a" * 32
    assert not collector.named("GET /healthz")  # probes are not traced
    assert request.attributes["http.route"] == "/slack/events"
    assert request.resource["service.name"] == "attendance" and request.resource["attendance.role"] == "serve"

    [decide] = collector.named("checkin.decide")
    assert decide.trace_id == request.trace_id  # continued in the worker from the job's carrier
    assert decide.parent_id == request.span_id
    assert decide.attributes["checkin.outcome"] == "accepted" and decide.attributes["checkin.channel"] == "slack"
    assert not decide.failed

    # the event's outbox row carries the decision's span: its webhook deliveries continue this trace
    [row] = [d async for d in h.c.db["outbox"].find({"tenant_id": h.tenant_id})]
    assert row["trace"].split("-")[1:3] == [decide.trace_id, decide.span_id]

    [face] = [s for s in collector.named("face.analyse") if s.trace_id == decide.trace_id]
    assert face.parent_id == decide.span_id
    assert {s.attributes["face.purpose"] for s in collector.named("face.analyse")} == {"enroll", "check_in"}
    assert face.attributes["face.purpose"] == "check_in" and face.attributes["face.faces_found"] == 1
    assert face.attributes["face.encode_ms"] > 0

    # nothing personal in any span: no name, no email, no message text
    values = [str(v) for s in collector.spans for v in (*s.attributes.values(), *s.resource.values())]
    assert not [v for v in values if "Serena" in v or "@" in v or v == "in"]
    assert collector.refused == 0


async def test_a_malformed_carrier_starts_a_trace_of_its_own(collector: OtlpCollector) -> None:
    tracer = OpenTelemetryTracer(TracingSettings(endpoint=collector.base), "worker")
    try:
        with tracer.span("checkin.decide", parent="00-not-a-trace-01"):
            carried = tracer.carrier()
        assert carried is not None and carried.startswith("00-") and "not-a-trace" not in carried
        assert await asyncio.to_thread(tracer.flush)
    finally:
        tracer.close()
    [span] = collector.named("checkin.decide")
    assert span.parent_id == "" and carried.split("-")[1] == span.trace_id


async def _exists(c: Container, query: dict[str, Any]) -> bool:
    return await c.db["deliveries"].count_documents(query) > 0


async def test_each_delivery_attempt_is_a_span_in_the_trace_of_what_wrote_its_event(
    settings: Settings, mongo_server: EmbeddedMongo, collector: OtlpCollector
) -> None:
    settings = settings.model_copy(
        update={
            "tracing": TracingSettings(endpoint=collector.base),
            "webhook_retry_schedule": "0.05,0.05",
            "dispatcher": DispatcherSettings(poll_max_s=0.05, timeout_s=5),
        }
    )
    async with build(settings, uri=mongo_server.uri, role="dispatcher") as c, webhook_receiver() as receiver:
        try:
            tenant_id, people = await tenant_with_staff(c, 1)
            await webhook_to(c, tenant_id, receiver, "hook")
            receiver.status["hook"] = 503  # the first try fails, the retry goes through
            with c.tracer.span("check-in"):  # what wrote the event: its deliveries continue its trace
                origin = c.tracer.carrier()
                [row] = await punches(c, tenant_id, people, rounds=1)
            async with running(c):
                tried = {"tenant_id": tenant_id, "state": "pending", "attempts": 1}
                await until(lambda: _exists(c, tried), 30, "the first try to fail")
                receiver.status.pop("hook")
                await delivered(c, tenant_id, 1)
            assert isinstance(c.tracer, OpenTelemetryTracer)
            assert await asyncio.to_thread(c.tracer.flush)
        finally:
            await c.client.drop_database(settings.database.name)
    sends = collector.named("delivery.send")
    assert [(s.attributes["delivery.attempt"], s.attributes["delivery.state"]) for s in sends] == [
        (1, "pending"),
        (2, "delivered"),
    ]
    assert len({s.attributes["delivery.id"] for s in sends}) == 1 and sends[0].attributes["delivery.id"].startswith(
        row.id
    )
    assert [s.attributes.get("http.response.status_code") for s in sends] == [503, 204]
    assert origin is not None
    _, trace_id, span_id, _ = origin.split("-")
    assert {(s.trace_id, s.parent_id) for s in sends} == {(trace_id, span_id)}  # both attempts continue it
    assert all(
        s.attributes["delivery.kind"] == "webhook" and s.resource["attendance.role"] == "dispatcher" for s in sends
    )
