"""`attendance bench web`: the dashboard's server time and the API's latency under load.

An in-memory embedded database with a tenant of ``people`` employees (teams of 10 under a
manager) and ``days`` days of attendance (in and out on working days, and today's arrivals so
far), then a real ``attendance serve`` process. Measured from outside it:

* the today board (``GET /today`` as an admin, every person on one page): its server time,
  read from the ``Server-Timing`` header the guard adds (handler, services and database), and
  the time the client waited;
* each API list endpoint with ``clients`` concurrent clients: the client's latency per request
  (after one client's warm-up; the warm-up's first request, which fills the caches, is
  reported as ``first_ms``).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import statistics
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

from attendance.adapters.embedded.secantus import die_with_parent
from attendance.adapters.mongo.checkins import event_doc
from attendance.core.domain.access import Principal, PrincipalKind, TokenKind
from attendance.core.domain.checkins import AttendanceEvent, Direction
from attendance.core.domain.model import Employee, Role, new_id
from attendance.core.messages import CreateTenant
from attendance.entrypoints.bootstrap import access_deps, build
from attendance.services.access import create_token
from attendance.services.tenants import create_tenant
from tools.bench.scratch import scratch_database
from tools.bench.stats import percentile

ZONE = "Europe/Berlin"


def _pct(values: list[float], q: float) -> float:
    return percentile(values, q) or 0.0


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": _pct(values, 0.5),
        "p95_ms": _pct(values, 0.95),
        "max_ms": round(max(values), 1),
        "mean_ms": round(statistics.fmean(values), 1),
        "n": len(values),
    }


async def _seed(c: Any, people: int, days: int) -> tuple[str, str, int]:
    """(tenant id, an admin's API token, events written)."""
    tenant = await create_tenant(CreateTenant(name="Bench", timezone=ZONE), tenants=c.deps.tenants)
    staff: list[Employee] = []
    for i in range(people):
        manager = staff[(i // 10) * 10].id if i % 10 else None
        roles = {Role.EMPLOYEE, Role.MANAGER} if i % 10 == 0 else {Role.EMPLOYEE}
        if i == 0:
            roles.add(Role.ADMIN)
        staff.append(
            Employee(
                id=new_id(),
                tenant_id=tenant.id,
                name=f"Person {i:04d}",
                email=f"p{i}@bench.invalid",
                manager_id=manager,
                roles=frozenset(roles),
            )
        )
    docs = [
        {
            "_id": e.id,
            "tenant_id": e.tenant_id,
            "name": e.name,
            "email": e.email,
            "manager_id": e.manager_id,
            "roles": sorted(r.value for r in e.roles),
        }
        for e in staff
    ]
    await c.db["employees"].insert_many(docs)
    zone = ZoneInfo(ZONE)
    now = datetime.now(UTC)
    today = now.astimezone(zone).date()
    events: list[dict[str, Any]] = []
    for n, person in enumerate(staff):
        seq = 0
        for back in range(days, -1, -1):
            day = today - timedelta(days=back)
            if day.weekday() >= 5:
                continue
            arrive = datetime.combine(day, datetime.min.time(), tzinfo=zone) + timedelta(
                hours=8, minutes=(n * 7 + back * 13) % 75
            )
            leave = arrive + timedelta(hours=8, minutes=(n + back) % 50)
            for direction, at in ((Direction.IN, arrive), (Direction.OUT, leave)):
                if at >= now:
                    continue
                seq += 1
                e = AttendanceEvent(
                    id=new_id(),
                    tenant_id=tenant.id,
                    employee_id=person.id,
                    direction=direction,
                    at=at.astimezone(UTC),
                    timezone=ZONE,
                    channel="bench",
                    job_id=None,
                    distance=0.4,
                )
                events.append({**event_doc(e), "seq": seq})
    for start in range(0, len(events), 5000):
        await c.db["attendance_events"].insert_many(events[start : start + 5000])
    admin = Principal(
        tenant_id=tenant.id,
        kind=PrincipalKind.SESSION,
        actor=staff[0].id,
        name="bench",
        roles=staff[0].roles,
        employee_id=staff[0].id,
    )
    _, secret = await create_token(
        admin, name="bench", kind=TokenKind.PERSONAL, employee_id=staff[0].id, deps=access_deps(c)
    )
    return tenant.id, secret, len(events)


@contextlib.asynccontextmanager
async def _serve(env: dict[str, str], port: int) -> AsyncIterator[str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "attendance",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        preexec_fn=die_with_parent,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(600):
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{url}/readyz") as r:
                        if r.status == 200:
                            break
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("attendance serve did not start in 60 s")
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 20)
        except TimeoutError:
            proc.kill()


async def _today(http: aiohttp.ClientSession, url: str, headers: dict[str, str], rounds: int) -> dict[str, Any]:
    server, client = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        async with http.get(f"{url}/today", headers=headers) as r:
            body = await r.text()
            if r.status != 200:
                raise RuntimeError(f"/today answered {r.status}")
            client.append((time.perf_counter() - started) * 1000)
            server.append(float(r.headers["Server-Timing"].split("dur=")[1]))
    return {"server": _summary(server[1:]), "client": _summary(client[1:]), "bytes": len(body)}


async def _load(
    http: aiohttp.ClientSession, url: str, headers: dict[str, str], path: str, *, clients: int, each: int
) -> dict[str, Any]:
    times: list[float] = []
    errors = 0

    async def client() -> None:
        nonlocal errors
        for _ in range(each):
            started = time.perf_counter()
            async with http.get(url + path, headers=headers) as r:
                await r.read()
                errors += r.status != 200
            times.append((time.perf_counter() - started) * 1000)

    await client()  # warm: the first request reads the database and fills the caches
    first = times[0]
    times.clear()
    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return {
        **_summary(times),
        "errors": errors,
        "per_s": round(len(times) / (time.perf_counter() - started), 1),
        "first_ms": round(first, 1),
    }


async def bench_web(*, people: int, days: int, clients: int, each: int, rounds: int, port: int) -> dict[str, Any]:
    async with scratch_database() as db:
        async with build(db.settings, uri=db.server.uri) as c:
            _, secret, written = await _seed(c, people, days)
        headers = {"Authorization": f"Bearer {secret}"}
        today = datetime.now(UTC).astimezone(ZoneInfo(ZONE)).date()
        week, month = today - timedelta(days=6), today - timedelta(days=30)
        lists = {
            "employees": "/api/v1/employees?limit=50",
            "events (a week)": f"/api/v1/events?from={week}&to={today}&limit=100",
            "days (a week)": f"/api/v1/days?from={week}&to={today}&limit=20",
            "timesheets (a month)": f"/api/v1/timesheets?from={month}&to={today}&limit=20",
            "review": "/api/v1/review",
            "corrections": "/api/v1/corrections",
            "audit": "/api/v1/audit",
        }
        env = {**db.env, "ATTENDANCE_LOG__LEVEL": "WARNING"}
        connector = aiohttp.TCPConnector(limit=clients)
        async with _serve(env, port) as url, aiohttp.ClientSession(connector=connector) as http:
            board = await _today(http, url, headers, rounds)
            api = {
                name: await _load(http, url, headers, path, clients=clients, each=each) for name, path in lists.items()
            }
    return {
        "people": people,
        "days": days,
        "events": written,
        "clients": clients,
        "today_board": board,
        "api": api,
        "targets": {"today_board_server_ms": 300, "api_p95_ms": 100},
    }
