"""Every read and write of a check-in touches only its own person's documents, however large the
tenant. The embedded server plans a filter by an index only when the filter is exactly that
index's shape (equalities on its leading fields, then at most one range); any other filter is
looked up by one clause alone, the first that has an index -- for ``{tenant_id, employee_id,
withdrawn_at}`` the tenant's: every consent of the company. So each query of the check-in path is
either index-shaped, with the rest picked in Python, or looks up ``_id`` first (the guard of a
claim or a finish). This records the commands of a real check-in, and of the gallery load that
settles the adapted template it left, with the server's own profiler and asks the server's
``explain`` about each, in a tenant of a hundred more people."""

from __future__ import annotations

from typing import Any

import numpy as np

from attendance.core.domain.checkins import AttendanceEvent, Direction
from attendance.core.domain.model import ChatIdentity, Consent, Employee, FaceQuality, FaceTemplate, new_id
from attendance.entrypoints.bootstrap import Container
from attendance.services.galleries import Settling, TemplateGalleryCache
from tests.fakes.chat import FakeChatPlatform
from tests.harness.checkins import drain, submit, tenant_with_people

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
