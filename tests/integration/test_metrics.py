"""Prometheus metrics through the real roles' HTTP: ``serve``'s ``/metrics`` (requests by route,
the queue and deliveries read from the database, the optional token) and a worker's own
``/metrics`` and ``/healthz`` after a real check-in."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr

from attendance.adapters.metrics.prometheus import PrometheusMetrics, serve_metrics
from attendance.entrypoints.bootstrap import Container, web_site
from attendance.entrypoints.roles import serve_app
from attendance.settings import Settings
from tests.fakes.chat import FakeChatPlatform
from tests.harness.checkins import drain, submit, tenant_with_people


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in the Prometheus text format."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        m = re.match(r"^([a-zA-Z_:]+)(?:\{(.*)\})? (\S+)$", line)
        if m is None or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            return float(m.group(3))
    return None


@pytest.fixture
async def site(container: Container, settings: Settings) -> AsyncIterator[tuple[str, Settings]]:
    async def ready() -> bool:
        return True

    s = settings.model_copy(update={"metrics": settings.metrics.model_copy(update={"token": SecretStr("m3tr1cs")})})
    runner = web.AppRunner(serve_app(container, s, [web_site(container).mount], ready), access_log=None)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0)
    await tcp.start()
    port = tcp._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", s
    finally:
        await runner.cleanup()


async def test_serve_counts_requests_by_route_and_reads_the_queue_when_scraped(
    site: tuple[str, Settings], container: Container, platform: FakeChatPlatform, photo: Any
) -> None:
    url, _ = site
    tid, _ = await tenant_with_people(container, photo)
    platform.photos["ada.jpg"] = photo("Serena_Williams/2.jpg")
    await submit(container, tid, "ADA", platform.photo_url("ada.jpg"), reply_to=platform.reply_url)
    async with aiohttp.ClientSession() as http:
        for _ in range(3):
            async with http.get(f"{url}/api/v1/me") as r:
                assert r.status == 401
        async with http.get(f"{url}/no/such/page") as r:
            assert r.status == 404
        async with http.get(f"{url}/metrics") as r:
            assert r.status == 401  # the token is set: required
        async with http.get(f"{url}/metrics", headers={"Authorization": "Bearer wrong"}) as r:
            assert r.status == 401
        async with http.get(f"{url}/metrics", headers={"Authorization": "Bearer m3tr1cs"}) as r:
            assert r.status == 200 and r.content_type == "text/plain"
            text = await r.text()
    assert sample(text, "attendance_http_requests_total", route="api_me", method="GET", status="401") == 3
    assert sample(text, "attendance_http_requests_total", route="unmatched", status="404") == 1
    assert "/no/such/page" not in text  # raw paths never become labels
    assert sample(text, "attendance_http_request_seconds_count", route="api_me") == 3
    assert sample(text, "attendance_checkin_queue_depth") == 1  # the job nobody has decided yet
    assert (sample(text, "attendance_checkin_queue_oldest_seconds") or -1) >= 0
    assert sample(text, "attendance_deliveries", state="dead") == 0


async def test_a_worker_exports_its_decisions_and_fails_health_when_its_loop_stalls(
    container: Container, platform: FakeChatPlatform, photo: Any
) -> None:
    now = [1000.0]
    metrics = PrometheusMetrics("worker", monotonic=lambda: now[0])

    async def refresh() -> None:
        await metrics.refresh(container.checkin.jobs, container.deliveries, 2_000_000_000.0)

    runner = await serve_metrics(metrics, host="127.0.0.1", port=0, stall_s=60, refresh=refresh, token=None)
    port = runner.addresses[0][1]
    try:
        tid, _ = await tenant_with_people(container, photo)
        platform.photos |= {
            "ada.jpg": photo("Serena_Williams/2.jpg"),
            "wall.jpg": photo("_strangers/Alice_Fisher/1.jpg"),
        }
        await submit(container, tid, "ADA", platform.photo_url("ada.jpg"), reply_to=platform.reply_url)
        await submit(container, tid, "BOB", platform.photo_url("wall.jpg"), reply_to=platform.reply_url)
        await drain(container, platform, 2, metrics=metrics)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/metrics") as r:
                text = await r.text()
            async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                assert r.status == 200 and (await r.json())["role"] == "worker"
            now[0] += 61  # no heartbeat for a minute: the loop is stalled
            async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                assert r.status == 503 and (await r.json())["status"] == "stalled"
    finally:
        await runner.cleanup()
    assert sample(text, "attendance_checkin_jobs_total", outcome="accepted") == 1
    assert (
        sum(
            v
            for k in ("not_recognised", "other_person", "retry")
            if (v := sample(text, "attendance_checkin_jobs_total", outcome=k))
        )
        == 1
    )
    assert sample(text, "attendance_checkin_decision_seconds_count") == 2
    assert (sample(text, "attendance_heartbeat_timestamp_seconds", role="worker") or 0) > 0
    assert sample(text, "attendance_checkin_queue_depth") == 0


async def test_face_stage_times_and_gallery_sizes_are_exported(container: Container, photo: Any) -> None:
    """The worker's engine is wrapped in ``MeteredFaceEngine``: each photo's decode, detect and
    encode times (measured by the real pipeline) land in a histogram; the loaded galleries'
    sizes are gauges."""
    from attendance.adapters.metrics.faces import MeteredFaceEngine
    from attendance.core.domain.faces import PhotoRefused, Purpose

    metrics = PrometheusMetrics("worker")
    metered = MeteredFaceEngine(container.deps.engine, metrics)
    analysis = await metered.analyse(photo("Serena_Williams/2.jpg"), Purpose.CHECK_IN)
    with pytest.raises(PhotoRefused):  # a refused photo has no stage times to report
        await metered.analyse(b"not a photo", Purpose.CHECK_IN)
    tid, people = await tenant_with_people(container, photo)
    await container.checkin.galleries.gallery(tid)
    metrics.galleries(*container.checkin.galleries.sizes())
    text = metrics.exposition().decode()
    for stage in ("decode", "detect", "encode"):
        assert sample(text, "attendance_face_stage_seconds_count", stage=stage) == 1
    encode_s = sample(text, "attendance_face_stage_seconds_sum", stage="encode")
    assert encode_s == pytest.approx(analysis.times.encode_ms / 1000)
    assert sample(text, "attendance_galleries_loaded") == 1
    rows = [d.get("vectors", 1) async for d in container.db["face_templates"].find({"tenant_id": tid})]
    assert sample(text, "attendance_gallery_templates") == sum(rows) > len(rows) > 0  # each with its mirror
    enrolled_people = await container.db["face_templates"].distinct("employee_id", {"tenant_id": tid})
    assert sample(text, "attendance_gallery_people") == len(enrolled_people) == len(people)
