"""`make test-deploy`: the image built by `make image` and the Kubernetes manifests, running here.

- The image runs `attendance run` (the embedded database inside) as a non-root user under tini,
  answers /healthz, /readyz and /metrics, passes its own HEALTHCHECK and stops cleanly.
- The embedded database runs as a container of its own (the stand-in for MongoDB Atlas), and
  deploy/kubernetes' Deployments run with `podman kube play` against it: two `serve` pods and two
  workers (plus the dispatcher and the scheduler). Signed Slack selfies go to both serve pods; a
  worker pod and a serve pod are killed mid-burst; every check-in is answered once and recorded once.

podman kube play runs Pods and Deployments, not Services, Ingresses or autoscalers, and one replica
per Deployment: `as_podman_pods` makes one Deployment per pod wanted, on the host's network with
ports of their own, and puts the ConfigMap's and the Secret's values in each container's env.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from attendance.adapters.embedded.secantus import free_port, ping, port_open
from attendance.core.domain.model import ChatIdentity, Employee, Role, new_id
from attendance.core.messages import CreateTenant, EnrollPhoto, RecordConsent
from attendance.entrypoints.bootstrap import Container, build
from attendance.services.enrollment import enroll_photo, record_consent
from attendance.services.tenants import create_tenant
from attendance.settings import CryptoSettings, Settings, SlackSettings
from tests.fakes.slack import TEAM, FakeSlack

ROOT = Path(__file__).resolve().parents[2]
IMAGE = os.environ.get("ATTENDANCE_IMAGE", "localhost/attendance:latest")
pytestmark = pytest.mark.slow


def podman(*args: str, timeout: float = 180, check: bool = True) -> subprocess.CompletedProcess[str]:
    engine = shutil.which("podman")
    assert engine, "podman is missing: `make test-deploy` installs it (scripts/container-engine.sh)"
    done = subprocess.run([engine, *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)}: {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done


@pytest.fixture(scope="module", autouse=True)
def image() -> str:
    found = podman("image", "inspect", IMAGE, check=False)
    assert found.returncode == 0, f"{IMAGE} is not built: run `make image` (make test-deploy does)"
    return IMAGE


async def until(check: Any, what: str, deadline_s: float = 120.0) -> Any:
    """Poll ``check()`` (an awaitable factory) until it returns something truthy, or fail saying ``what``."""
    deadline = time.monotonic() + deadline_s
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        await asyncio.sleep(0.2)


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:  # not listening yet, reset, timed out
        return 0


async def status_of(url: str) -> int:
    return await asyncio.to_thread(_status, url)


# ----------------------------------------------------------------------------------------- the image


async def test_the_image_runs_every_role_with_the_embedded_database_inside() -> None:
    port = free_port()
    name = f"attendance-run-{uuid.uuid4().hex[:8]}"
    podman("run", "-d", "--name", name, "--network=host", IMAGE, "run", "--host", "127.0.0.1", "--port", str(port))
    try:
        await until(lambda: _is(status_of(f"http://127.0.0.1:{port}/readyz"), 200), "the database ready in the image")
        assert await status_of(f"http://127.0.0.1:{port}/healthz") == 200
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as r:
            text = await r.text()
        assert r.status == 200 and "attendance_http_requests_total" in text and "attendance_checkin_queue_depth" in text
        assert podman("exec", name, "id", "-u").stdout.strip() == "10001"
        pid1 = podman("exec", name, "cat", "/proc/1/cmdline").stdout.split("\0")
        assert pid1[:3] == ["/usr/bin/tini", "--", "attendance"]
        # the image's own HEALTHCHECK finds the port the command line gave
        assert podman("healthcheck", "run", name, check=False).returncode == 0
        assert podman("exec", name, "sh", "-c", "command -v gcc g++ cc c++ || echo none").stdout.strip() == "none"
        podman("stop", "--time", "30", name)
        assert podman("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip() == "0"
    finally:
        podman("rm", "-f", name, check=False)


async def _is(status: Any, wanted: int) -> bool:
    return bool(await status == wanted)


# ------------------------------------------------------------------------- the database as a container


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    port = free_port()
    name = f"attendance-db-{uuid.uuid4().hex[:8]}"
    podman("run", "-d", "--name", name, "--network=host", IMAGE, "database", "--host", "127.0.0.1", "--port", str(port))
    uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"
    try:
        # the port first (a connection opened and closed), then one ping: a ping that times out
        # while the server starts would leave its half-open socket to the garbage collector
        asyncio.run(until(lambda: port_open("127.0.0.1", port), "the database container's port", deadline_s=60))
        assert asyncio.run(ping(uri, timeout_ms=10_000)), "the database container does not answer"
        yield uri
    finally:
        podman("rm", "-f", name, check=False)


# ------------------------------------------------------------------------------ the manifests, played


def rendered() -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl", path=str(Path(sys.executable).parent))
    assert kubectl
    out = subprocess.run(
        [kubectl, "kustomize", str(ROOT / "deploy/kubernetes/base")], check=True, capture_output=True, text=True
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def as_podman_pods(docs: list[dict[str, Any]], pods: dict[str, list[dict[str, str]]], secrets: dict[str, str]) -> str:
    """One Deployment (replicas 1) per entry of ``pods[role]``, each with that entry's extra env."""
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    out = []
    for d in (d for d in docs if d["kind"] == "Deployment"):
        role = d["spec"]["template"]["spec"]["containers"][0]["args"][0]
        for i, extra in enumerate(pods.get(role, [])):
            dep = copy.deepcopy(d)
            dep["metadata"]["name"] = f"{d['metadata']['name']}-{i}"
            dep["spec"]["replicas"] = 1
            pod = dep["spec"]["template"]["spec"]
            pod["hostNetwork"] = True
            (c,) = pod["containers"]
            c["image"] = IMAGE
            env = {**config, **secrets, **extra}
            c.pop("envFrom")
            c["env"] = [{"name": k, "value": v} for k, v in env.items()]
            port = {"serve": env["ATTENDANCE_HTTP__PORT"], "worker": env["ATTENDANCE_METRICS__WORKER_PORT"]}.get(role)
            port = port or (env["ATTENDANCE_METRICS__DISPATCHER_PORT"] if role == "dispatcher" else None)
            c.pop("ports", None)  # podman maps no ports on the host's network: the probes name the number
            for probe in ("readinessProbe", "livenessProbe"):
                if probe in c:
                    c[probe]["httpGet"]["port"] = int(port or 0)
            out.append(dep)
    return yaml.safe_dump_all(out)


@dataclass
class Played:
    serve_urls: list[str]
    worker_health: list[str]
    pod_names: dict[str, list[str]]


@pytest.fixture
async def played(database: str, slack: FakeSlack, tmp_path: Path) -> AsyncIterator[tuple[Played, Settings]]:
    db_name = f"kube_{uuid.uuid4().hex[:8]}"
    secrets = {
        "MONGODB_URI": database,
        "ATTENDANCE_DATABASE__NAME": db_name,
        "ATTENDANCE_CRYPTO__TEMPLATE_KEY": base64.b64encode(os.urandom(32)).decode(),
        "ATTENDANCE_WEB__SESSION_KEY": base64.b64encode(os.urandom(48)).decode(),
        "SLACK_SIGNING_SECRET": slack.signing_secret,
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_API_URL": slack.api_url,
        "ATTENDANCE_FACE__PROCESSES": "1",  # 2 workers, 2 serve and the database share 2 cores
        "ATTENDANCE_WORKER__LEASE_S": "5",  # a killed worker's jobs are taken again after 5 s
        "ATTENDANCE_LOG__FORMAT": "text",
    }
    serve_ports = [str(free_port()) for _ in range(2)]
    worker_ports = [str(free_port()) for _ in range(2)]
    pods = {
        "serve": [{"ATTENDANCE_HTTP__PORT": p} for p in serve_ports],
        "worker": [{"ATTENDANCE_METRICS__WORKER_PORT": p} for p in worker_ports],
        "dispatcher": [{"ATTENDANCE_METRICS__DISPATCHER_PORT": str(free_port())}],
        "scheduler": [{}],
    }
    manifest = tmp_path / "attendance.yaml"
    manifest.write_text(as_podman_pods(rendered(), pods, secrets))
    settings = Settings(
        home=tmp_path / "home",
        database={"name": db_name},  # type: ignore[arg-type]
        crypto=CryptoSettings(template_key=secrets["ATTENDANCE_CRYPTO__TEMPLATE_KEY"]),  # type: ignore[arg-type]
        slack=SlackSettings(
            signing_secret=slack.signing_secret,  # type: ignore[arg-type]
            bot_token=slack.bot_token,  # type: ignore[arg-type]
            api_url=slack.api_url,
        ),
    )
    podman("kube", "play", "--replace", str(manifest), timeout=300)
    names = {role: [f"attendance-{role}-{i}-pod-0" for i in range(len(entries))] for role, entries in pods.items()}
    try:
        serve_urls = [f"http://127.0.0.1:{p}" for p in serve_ports]
        worker_health = [f"http://127.0.0.1:{p}/healthz" for p in worker_ports]
        for url in [f"{u}/readyz" for u in serve_urls] + worker_health:
            await until(lambda url=url: _is(status_of(url), 200), f"{url} answering 200", deadline_s=180)
        yield Played(serve_urls, worker_health, names), settings
    finally:
        logs = podman("pod", "logs", names["worker"][1], check=False)
        print(logs.stdout[-3000:], logs.stderr[-3000:])  # shown when the test fails
        podman("kube", "down", str(manifest), timeout=180, check=False)


IDENTITIES = {"UADA": "Serena_Williams", "UBOB": "Queen_Rania", "UCY": "Jesse_Jackson", "UDI": "Barack_Obama"}
IDENTITIES |= {"UEVE": "Carrie-Anne_Moss"}


async def enrolled_tenant(c: Container, slack: FakeSlack, photo: Any) -> dict[str, Employee]:
    """Five enrolled people in one Slack workspace (photo 1 each); photos 2-4 are their selfies."""
    tenant = await create_tenant(
        CreateTenant(name=f"Acme {new_id()[:6]}", timezone="Europe/Berlin", chats=(ChatIdentity("slack", TEAM),)),
        tenants=c.deps.tenants,
        identities=c.deps.identities,
    )
    people = {}
    for user, identity in IDENTITIES.items():
        email = f"{identity.lower()}@acme.example"
        slack.add_user(user, email, identity.replace("_", " "))
        e = await c.deps.employees.upsert(
            Employee(id=new_id(), tenant_id=tenant.id, name=identity, email=email, roles=frozenset({Role.EMPLOYEE}))
        )
        consent = RecordConsent(
            tenant_id=tenant.id, employee_id=e.id, notice_version="2026-11", recorded_by=email, method="chat"
        )
        await record_consent(consent, deps=c.deps)
        await enroll_photo(
            EnrollPhoto(tenant_id=tenant.id, employee_id=e.id, photo=photo(f"{identity}/1.jpg")), deps=c.deps
        )
        people[user] = e
    return people


async def test_the_deployments_run_under_podman_and_a_pod_killed_mid_burst_loses_nothing(
    played: tuple[Played, Settings], slack: FakeSlack, engine: Any, photo: Any, database: str
) -> None:
    pods, settings = played
    connector = aiohttp.TCPConnector(force_close=True)  # a killed pod leaves no pooled connection behind
    async with build(settings, uri=database, engine=engine) as c, aiohttp.ClientSession(connector=connector) as http:
        try:
            people = await enrolled_tenant(c, slack, photo)
            selfies = [(user, photo(f"{identity}/{n}.jpg")) for n in (2, 3, 4) for user, identity in IDENTITIES.items()]
            sent: list[tuple[str, str]] = []  # (event id, user)

            async def post(user: str, picture: bytes, event_id: str, url: str, retry: int = 0) -> int:
                file = slack.add_file(f"F{uuid.uuid4().hex[:8]}", picture)
                event = {
                    "type": "message", "subtype": "file_share", "user": user, "channel": f"D{user}",
                    "channel_type": "im", "text": "", "ts": f"{time.time():.6f}", "files": [file],
                }  # fmt: skip
                body = slack.event_body(event, event_id)
                headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_error"} if retry else {}
                try:
                    status, _ = await slack.post(http, f"{url}/slack/events", body, "application/json", headers)
                except aiohttp.ClientError:
                    return 0
                return status

            # a burst over both serve pods; worker 0 is killed while it holds jobs: worker 1 is paused,
            # and Slack's file downloads are held until worker 0 has claimed work and asked for photos
            burst = selfies[:12]
            worker0, worker1 = pods.pod_names["worker"]
            podman("pod", "pause", worker1)
            slack.gate = asyncio.Event()
            for n, (user, picture) in enumerate(burst):
                event_id = f"Ev{uuid.uuid4().hex[:10]}"
                assert await post(user, picture, event_id, pods.serve_urls[n % 2]) == 200
                sent.append((event_id, user))
                if n == 5:
                    await slack.wait_for(lambda: len(slack.downloads) >= 2)
                    held = len(slack.downloads)
                    podman("pod", "kill", worker0)
                    podman("pod", "unpause", worker1)
                    slack.gate.set()
            assert held >= 2  # jobs worker 0 had claimed when it died: worker 1 takes them when their lease ends
            # Slack delivers an event again when it had no answer in time: the same event, to the other pod
            for (event_id, user), (_, picture) in zip(sent[:4], burst[:4], strict=True):
                assert await post(user, picture, event_id, pods.serve_urls[1], retry=1) == 200
            # a serve pod killed: what Slack sends next reaches the other one (Slack retries an error)
            podman("pod", "kill", pods.pod_names["serve"][0])
            for user, picture in selfies[12:]:
                event_id = f"Ev{uuid.uuid4().hex[:10]}"
                if await post(user, picture, event_id, pods.serve_urls[0]) != 200:
                    assert await post(user, picture, event_id, pods.serve_urls[1], retry=1) == 200
                sent.append((event_id, user))

            jobs = c.db["checkin_jobs"]

            async def all_done() -> bool:
                return bool(await jobs.count_documents({"state": "done"}) == len(sent))

            await until(all_done, f"{len(sent)} check-in jobs decided by the surviving worker", deadline_s=180)
            assert await jobs.count_documents({}) == len(sent)  # the deliveries Slack retried made no second job
            assert await jobs.count_documents({"attempts": {"$gte": 2}}) >= held  # taken again after worker 0 died
            asked = {u: sum(1 for _, who in sent if who == u) for u in IDENTITIES}
            await slack.wait_for(lambda: all(len(slack.messages_to(f"D{u}")) >= asked[u] for u in IDENTITIES), 60)
            answered = {u: len(slack.messages_to(f"D{u}")) for u in IDENTITIES}
            assert answered == asked  # every selfie answered once: none lost, none answered twice
            outcomes = []
            for u, person in people.items():  # and recorded once: each person's events are their accepted jobs
                decided = [j async for j in jobs.find({"identity": u})]
                outcomes += [j["outcome"]["kind"] for j in decided]
                recorded = await c.db["attendance_events"].count_documents({"employee_id": person.id})
                assert recorded == sum(1 for j in decided if j["outcome"]["kind"] == "accepted"), (u, decided)
            assert outcomes.count("accepted") >= 10, outcomes  # the real face engine in the pods said yes
        finally:
            await c.client.drop_database(settings.database.name)
