"""Every read and write of a check-in touches only its own person's documents, however large the
tenant. The embedded server plans a filter by an index only when the filter is exactly that
index's shape (equalities on its leading fields, then at most one range); any other filter is
looked up by one clause alone, the first that has an index -- for ``{tenant_id, employee_id,
withdrawn_at}`` the tenant's: every consent of the company. So each query of the check-in path is
either index-shaped, with the rest picked in Python, or looks up ``_id`` first (the guard of a
claim or a finish). This records the commands of a real check-in, and of the gallery load that
settles the adapted template it left, with the server's own profiler and asks the server's
``explain`` about each, in a tenant of a hundred more people. A dispatcher's reads likewise meet
only the work waiting now, not the deliveries made before, and during a burst its fan-out's
reads meet about a batch, not the rest of the burst (the last two tests)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

import numpy as np

from attendance.adapters.embedded.secantus import EmbeddedMongo
from attendance.adapters.mongo.deliveries import WAITING, MongoDeliveryRepository, delivery_doc
from attendance.adapters.mongo.outbox import outbox_doc
from attendance.adapters.mongo.repositories import connect
from attendance.core.domain.checkins import AttendanceEvent, Direction
from attendance.core.domain.deliveries import Attempt, DeliveryState, ResultKind
from attendance.core.domain.model import ChatIdentity, Consent, Employee, FaceQuality, FaceTemplate, new_id
from attendance.entrypoints.bootstrap import Container, dispatcher
from attendance.services.galleries import Settling, TemplateGalleryCache
from tests.fakes.chat import FakeChatPlatform
from tests.harness.checkins import drain, submit, tenant_with_people
from tests.harness.deliveries import punch_rows, punches, tenant_with_staff, webhook_receiver, webhook_to
from tests.harness.wire import WireProxy

OTHERS = 100  # people besides the three of the check-in tests
MOST = 10  # documents one read of the check-in may return: a person's own, the job's


async def _others(c: Container, tenant_id: str) -> None:
    """People with all a check-in could read by mistake: consent, template, events, chat id."""
    rng = np.random.default_rng(7)
    now = c.checkin.clock.now()
    quality = FaceQuality(face_px=120, sharpness=100.0, brightness=120.0, detector_score=1.0)
    for n in range(OTHERS):
        e = await c.deps.employees.upsert(
            Employee(id=new_id(), tenant_id=tenant_id, name=f"Other {n}", email=f"other{n}@example.com")
        )
        await c.deps.identities.link_user(tenant_id, e.id, ChatIdentity("slack", "", f"OTHER{n}"))
        consent = Consent(
            id=new_id(),
            tenant_id=tenant_id,
            employee_id=e.id,
            notice_version="2026-11",
            given_at=now,
            recorded_by="hr",
            method="signed-form",
        )
        await c.deps.consents.add(consent)
        vector = rng.normal(size=128)
        await c.deps.templates.add(
            FaceTemplate(
                id=new_id(),
                tenant_id=tenant_id,
                employee_id=e.id,
                embedding=tuple(float(x) for x in vector / np.linalg.norm(vector)),
                model_id=c.checkin.engine.model.id,
                quality=quality,
                consent_id=consent.id,
                created_at=now,
            )
        )
        for seq, direction in enumerate((Direction.IN, Direction.OUT), start=1):
            event = AttendanceEvent(
                id=new_id(),
                tenant_id=tenant_id,
                employee_id=e.id,
                direction=direction,
                at=now,
                timezone="UTC",
                channel="test",
                job_id=None,
            )
            await c.checkin.store.append(event, seq, [], None)


def _reads(entry: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any] | None]]:
    """(collection, filter, sort) of each read a profiled command made."""
    command = entry["command"]
    if "find" in command:
        return [(command["find"], command.get("filter") or {}, command.get("sort"))]
    if "update" in command:
        return [(command["update"], u["q"], None) for u in command.get("updates", [])]
    if "delete" in command:
        return [(command["delete"], d["q"], None) for d in command.get("deletes", [])]
    return []


async def test_a_check_in_reads_only_its_own_persons_documents_in_a_large_tenant(  # type: ignore[no-untyped-def]
    container: Container, platform: FakeChatPlatform, photo, engine
) -> None:
    tid, _ = await tenant_with_people(container, photo)
    await _others(container, tid)
    platform.photos["ada.jpg"] = photo("Serena_Williams/5.jpg")  # confident: it leaves a pending adapted template

    await container.db.command("profile", 2)
    try:
        await submit(container, tid, "ADA", platform.photo_url("ada.jpg"), reply_to=platform.reply_url)
        await drain(container, platform, 1)
        # and the next gallery load, which settles the pending template the check-in left
        d = container.deps
        settling = Settling(consents=d.consents, jobs=container.checkin.jobs, audit=d.audit, clock=d.clock)
        galleries = TemplateGalleryCache(
            container.deps.tenants, container.deps.templates, engine.model, settling, max_age_s=0.0
        )
        await galleries.gallery(tid)
    finally:
        await container.db.command("profile", 0)
    assert platform.replies[0]["outcome"] == "accepted"
    assert not [d async for d in container.db["face_templates"].find({"pending": {"$ne": None}})], "settled"

    profiled = [d async for d in container.db["system.profile"].find({})]
    reads = [r for d in profiled for r in _reads(d)]
    assert {"tenants", "employees", "consents", "face_templates", "attendance_events", "checkin_jobs"} <= {
        coll for coll, _, _ in reads
    }
    wrong: dict[str, str] = {}
    for coll, query, sort in reads:
        shape = f"{coll} {list(query)}"
        if (coll, sorted(query)) == GALLERY:
            continue
        plan = {"find": coll, "filter": query, **({"sort": sort} if sort else {})}
        explained = await container.db.command({"explain": plan, "verbosity": "executionStats"})
        returned = int(explained["executionStats"]["nReturned"])
        if not (_index_shaped(explained) or _by_id_first(query)):
            wrong[shape] = "not index-shaped: the server reads one clause's whole range"
        elif returned > MOST:
            wrong[shape] = f"{returned} documents"
    assert not wrong, f"reads beyond one person's documents: {wrong}"


# the gallery is the tenant's templates by design: loaded once per template version (and hour) by
# each worker, not per check-in (services/galleries.py)
GALLERY = ("face_templates", ["model_id", "tenant_id"])


def _index_shaped(explained: dict[str, Any]) -> bool:
    stage = explained["queryPlanner"]["winningPlan"]
    while "inputStage" in stage:
        stage = stage["inputStage"]
    return bool(stage.get("stage") == "IXSCAN")


def _by_id_first(query: dict[str, Any]) -> bool:
    """``{_id: x | {$in: [...]}, ...}``: the server fetches those ids before any other clause."""
    first, value = next(iter(query.items()), ("", None))
    return first == "_id" and (not isinstance(value, dict) or list(value) == ["$in"])


HISTORY = 300  # deliveries delivered and outbox rows fanned out before, in the same tenant
WAITING_MOST = 10  # what one read of the dispatcher below may return: the work waiting now


async def test_a_dispatcher_reads_only_the_work_waiting_now_not_the_history(container: Container) -> None:
    """Fanning out, claiming, finishing, and holding, resuming or cancelling a subscription's
    deliveries read what waits, however many deliveries were made before: each read is exactly
    an index's shape, looks up ``_id`` first, or names ``state`` first with waiting states (the
    partitions' index leads with it; the server plans a filter of another shape by its first
    clause that has an index)."""
    c = container
    tenant_id, people = await tenant_with_staff(c, 3)
    async with webhook_receiver() as receiver:
        sub_id, _ = await webhook_to(c, tenant_id, receiver, "hook")
    past = c.deps.clock.now() - timedelta(days=30)
    old = punch_rows(tenant_id, people, HISTORY // 3)
    await c.db["outbox"].insert_many([{**outbox_doc(r), "state": "dispatched"} for r in old])
    await c.db["deliveries"].insert_many(
        [{**delivery_doc(dataclasses.replace(r, created_at=past), sub_id, past), "state": "delivered"} for r in old]
    )
    await punches(c, tenant_id, people, 1)

    await c.db.command("profile", 2)
    try:
        assert await dispatcher(c).fan_out_once() == 3
        now = c.deps.clock.now()
        chains = await c.deliveries.claim("d", now, timedelta(seconds=30), 10)
        done = Attempt(at=now, result=ResultKind.DELIVERED, status=204, detail="", ms=1.0)
        head = chains[0][0]
        await c.deliveries.finish(
            head, state=DeliveryState.DELIVERED, next_attempt_at=None, attempt=done, followup=None, now=now
        )
        await c.deliveries.release([x for chain in chains[1:] for x in chain], now)
        assert await c.deliveries.hold(tenant_id, sub_id) == 2
        assert await c.deliveries.resume(tenant_id, sub_id, now) == 2
        assert await c.deliveries.cancel(tenant_id, sub_id) == 2
    finally:
        await c.db.command("profile", 0)

    profiled = [d async for d in c.db["system.profile"].find({})]
    reads = [r for d in profiled for r in _reads(d) if r[0] in ("outbox", "deliveries")]
    assert {coll for coll, _, _ in reads} == {"outbox", "deliveries"}
    wrong: dict[str, str] = {}
    for coll, query, sort in reads:
        shape = f"{coll} {list(query)}"
        plan = {"find": coll, "filter": query, **({"sort": sort} if sort else {})}
        explained = await c.db.command({"explain": plan, "verbosity": "executionStats"})
        returned = int(explained["executionStats"]["nReturned"])
        if not (_index_shaped(explained) or _by_id_first(query) or _waiting_first(coll, query)):
            wrong[shape] = "not index-shaped: the server reads one clause's whole range"
        elif returned > WAITING_MOST:
            wrong[shape] = f"{returned} documents"
    assert not wrong, f"reads beyond the work waiting now: {wrong}"


def _waiting_first(collection: str, query: dict[str, Any]) -> bool:
    """``{state: a waiting state | {$in: waiting states}, ...}`` on the deliveries."""
    first, value = next(iter(query.items()), ("", None))
    states = set(value["$in"]) if isinstance(value, dict) and list(value) == ["$in"] else {value}
    return collection == "deliveries" and first == "state" and states <= set(WAITING)


async def test_a_fan_out_during_a_burst_reads_about_a_batch_not_the_rest_of_the_burst(
    container: Container, mongo_server: EmbeddedMongo
) -> None:
    """600 rows wait to be fanned out, 100 a batch. After the first read (which meets them all),
    each read of the outbox meets about a batch's rows, not every row still waiting (the server
    reads a find's whole index range before its limit), and every row is fanned out once, in
    order. Each read is held at a proxy while ``explain`` tells what it will meet."""
    c = container
    tenant_id, people = await tenant_with_staff(c, 50)
    async with webhook_receiver() as receiver:
        await webhook_to(c, tenant_id, receiver, "hook")
    rows = await punches(c, tenant_id, people, 12)
    subscriptions = await c.subscriptions.list(tenant_id)
    met: list[int] = []
    fanned: list[str] = []
    proxy = WireProxy(mongo_server.host, mongo_server.port, lambda command: command.get("find") == "outbox")
    async with proxy.running():
        client = connect(proxy.uri)
        try:
            repo = MongoDeliveryRepository(client[c.settings.database.name])
            while True:
                read = asyncio.create_task(repo.pending_outbox(100))
                while (held := await proxy.next_held(read)) is not None:
                    find = held.command
                    plan = {"find": "outbox", "filter": find["filter"], "sort": find["sort"], "limit": find["limit"]}
                    explained = await c.db.command({"explain": plan, "verbosity": "executionStats"})
                    met.append(int(explained["executionStats"]["totalDocsExamined"]))
                    await held.go()
                batch = read.result()
                if not batch:
                    break
                await repo.fan_out([(row, subscriptions) for row in batch], c.deps.clock.now())
                fanned += [row.id for row in batch]
        finally:
            await client.close()
    assert fanned == [r.id for r in sorted(rows, key=lambda r: r.created_at)]  # all, once, in order
    assert met[0] == len(rows)  # the first read: no batch before it to set a horizon
    assert max(met[1:]) <= 2 * 100, met
