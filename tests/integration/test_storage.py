"""Mongo adapters against the real embedded server: unique rules, encryption at rest, indexes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from attendance.adapters.mongo.deliveries import partition_of
from attendance.adapters.mongo.schema import ensure_indexes
from attendance.core.domain.checkins import AttendanceEvent, Direction
from attendance.core.domain.deliveries import OutboxMessage
from attendance.core.domain.model import (
    ChatIdentity,
    Employee,
    FaceQuality,
    FaceTemplate,
    MatchThresholds,
    Tenant,
    new_id,
)
from attendance.core.ports import AlreadyExists
from attendance.entrypoints.bootstrap import Container


def tenant(name: str = "Acme", **kw: object) -> Tenant:
    return Tenant(id=new_id(), name=name, **kw)  # type: ignore[arg-type]


def employee(tenant_id: str, email: str, **kw: object) -> Employee:
    return Employee(id=new_id(), tenant_id=tenant_id, name=email.split("@", maxsplit=1)[0], email=email, **kw)  # type: ignore[arg-type]


def punch(
    tenant_id: str,
    employee_id: str,
    event_id: str,
    at: datetime,
    *,
    direction: Direction = Direction.IN,
    job_id: str | None = None,
) -> AttendanceEvent:
    return AttendanceEvent(
        id=event_id,
        tenant_id=tenant_id,
        employee_id=employee_id,
        direction=direction,
        at=at,
        timezone="UTC",
        channel="test",
        job_id=job_id,
    )


async def test_tenant_names_and_chat_workspaces_are_unique(container: Container) -> None:
    repo, identities = container.deps.tenants, container.deps.identities
    acme = tenant("Acme")
    await repo.add(acme)
    await identities.link_workspace(acme.id, ChatIdentity("slack", "T1"))
    await identities.link_workspace(acme.id, ChatIdentity("slack", "T1"))  # again: no change
    await repo.add(tenant("Globex"))  # no Slack team: many of these
    await repo.add(tenant("Initech"))
    with pytest.raises(AlreadyExists):
        await repo.add(tenant("ACME "))
    umbrella = tenant("Umbrella")
    await repo.add(umbrella)
    with pytest.raises(AlreadyExists):
        await identities.link_workspace(umbrella.id, ChatIdentity("slack", "T1"))
    await identities.link_workspace(umbrella.id, ChatIdentity("teams", "T1"))  # another platform's T1
    found = await repo.by_name("acme")
    assert found is not None and await identities.workspaces(found.id) == [ChatIdentity("slack", "T1")]
    assert await identities.tenant_of("slack", "T1") == acme.id
    assert await identities.tenant_of("teams", "T1") == umbrella.id
    assert [t.name for t in await repo.list()] == ["Acme", "Globex", "Initech", "Umbrella"]


async def test_employees_upsert_by_email_and_chat_ids_are_unique(container: Container) -> None:
    t = tenant()
    await container.deps.tenants.add(t)
    repo, identities = container.deps.employees, container.deps.identities
    first = await repo.upsert(employee(t.id, "ada@example.com"))
    await identities.set_user(t.id, first.id, "slack", ChatIdentity("slack", "", "U1"))
    again = await repo.upsert(employee(t.id, "ada@example.com"))
    assert again.id == first.id  # same person, updated
    await identities.set_user(t.id, again.id, "slack", None)
    await identities.set_user(t.id, again.id, "teams", ChatIdentity("teams", "", "29:x"))
    assert await identities.of_employees(t.id) == {first.id: [ChatIdentity("teams", "", "29:x")]}
    assert await identities.employee_of(t.id, "slack", "U1") is None
    assert await identities.employee_of(t.id, "teams", "29:x") == first.id
    bob = await repo.upsert(employee(t.id, "bob@example.com"))  # no chat ids: allowed many times
    await repo.upsert(employee(t.id, "cy@example.com"))
    eve = await repo.upsert(employee(t.id, "eve@example.com"))
    with pytest.raises(AlreadyExists):
        await identities.set_user(t.id, eve.id, "teams", ChatIdentity("teams", "", "29:x"))
    assert not await identities.link_user(t.id, eve.id, ChatIdentity("teams", "", "29:x"))  # taken
    assert await identities.link_user(t.id, bob.id, ChatIdentity("slack", "", "U1"))
    assert await identities.link_user(t.id, bob.id, ChatIdentity("slack", "", "U1"))  # again: still his
    assert not await identities.link_user(t.id, bob.id, ChatIdentity("slack", "", "U2"))  # he has one
    emails = ["ada@example.com", "bob@example.com", "cy@example.com", "eve@example.com"]
    assert [e.email for e in await repo.list(t.id)] == emails


async def test_templates_are_encrypted_at_rest(container: Container) -> None:
    t = tenant()
    await container.deps.tenants.add(t)
    e = await container.deps.employees.upsert(employee(t.id, "ada@example.com"))
    vector = tuple(float(x) for x in np.linspace(-0.2, 0.2, 128, dtype=np.float32))
    template = FaceTemplate(
        id=new_id(),
        tenant_id=t.id,
        employee_id=e.id,
        embedding=vector,
        model_id="m",
        quality=FaceQuality(face_px=120, sharpness=50.0, brightness=120.0, detector_score=1.0),
        consent_id="c",
        created_at=datetime.now(UTC),
    )
    await container.deps.templates.add(template)
    raw = await container.db["face_templates"].find_one({"_id": template.id})
    assert raw is not None
    assert "embedding" not in raw
    plain = np.asarray(vector, dtype="<f4").tobytes()
    assert plain not in bytes(raw["ciphertext"]) and plain[:16] not in bytes(raw["ciphertext"])
    assert raw["key_id"] == container.settings.crypto.template_key_id
    (loaded,) = await container.deps.templates.for_employee(t.id, e.id)
    assert np.allclose(loaded.embedding, vector)
    # a ciphertext moved onto another person's record no longer decrypts
    await container.db["face_templates"].update_one({"_id": template.id}, {"$set": {"employee_id": "someone-else"}})
    from attendance.adapters.crypto.cipher import TemplateDecryptError

    with pytest.raises(TemplateDecryptError):
        await container.deps.templates.for_employee(t.id, "someone-else")


async def test_a_template_of_another_face_model_is_never_compared(container: Container) -> None:
    from attendance.core.matching import Outcome, verify

    t = tenant()
    await container.deps.tenants.add(t)
    model = container.deps.engine.model
    quality = FaceQuality(face_px=120, sharpness=50.0, brightness=120.0, detector_score=1.0)
    people = {}
    for email, model_id, size in [("ada@example.com", model.id, model.embedding_size), ("bob@example.com", "v2", 512)]:
        people[email] = await container.deps.employees.upsert(employee(t.id, email))
        await container.deps.templates.add(
            FaceTemplate(
                id=new_id(),
                tenant_id=t.id,
                employee_id=people[email].id,
                embedding=tuple(float(x) for x in np.linspace(-0.2, 0.2, size, dtype=np.float32)),
                model_id=model_id,
                quality=quality,
                consent_id="c",
                created_at=datetime.now(UTC),
            )
        )
    await container.deps.tenants.bump_template_version(t.id)
    gallery = await container.deps.galleries.gallery(t.id)
    assert len(gallery) == 1 and gallery.dim == model.embedding_size
    bob = people["bob@example.com"]
    assert gallery.index_of(people["ada@example.com"].id) == 0 and gallery.index_of(bob.id) is None
    probe = np.linspace(-0.2, 0.2, model.embedding_size, dtype=np.float32)
    assert verify(gallery, bob.id, probe, model.thresholds).outcome is Outcome.NOT_ENROLLED
    assert len(await container.deps.templates.for_employee(t.id, bob.id)) == 1  # kept, erasable, not compared


async def test_indexes_are_created_idempotently(container: Container) -> None:
    await ensure_indexes(container.db)
    await ensure_indexes(container.db)
    names = {ix["name"] async for ix in await container.db["employees"].list_indexes()}
    assert "email_unique" in names
    names = {ix["name"] async for ix in await container.db["chat_identities"].list_indexes()}
    assert {"by_tenant", "one_per_platform"} <= names


async def test_an_earlier_versions_deliveries_get_partitions_and_its_unused_indexes_go(container: Container) -> None:
    deliveries = container.db["deliveries"]
    await deliveries.create_index([("state", 1), ("next_attempt_at", 1)], name="due")  # the earlier version's
    await deliveries.create_index([("subscription_id", 1), ("state", 1)], name="by_subscription")
    now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    old = {"tenant_id": "t", "subscription_id": "s", "employee_id": "e", "stream": "s:e", "created_at": now}
    await deliveries.insert_many(
        [
            {**old, "_id": "a", "state": "pending", "next_attempt_at": now},
            {**old, "_id": "b", "state": "parked", "next_attempt_at": now + timedelta(seconds=30)},
            {**old, "_id": "c", "state": "delivered"},
        ]
    )
    outbox = container.db["outbox"]
    await outbox.create_index([("tenant_id", 1), ("employee_id", 1), ("created_at", 1)], name="by_employee")
    await outbox.create_index([("state", 1), ("employee_id", 1), ("created_at", 1)], name="unfanned")
    await ensure_indexes(container.db)
    names = {ix["name"] async for ix in await deliveries.list_indexes()}
    assert names == {"_id_", "parts", "by_tenant"}
    assert {ix["name"] async for ix in await outbox.list_indexes()} == {"_id_", "pending"}
    docs = {d["_id"]: d async for d in deliveries.find({})}
    assert [docs[i]["state"] for i in "abc"] == ["pending", "pending", "delivered"]  # no more parking
    assert docs["a"]["part"] == docs["b"]["part"] == partition_of("s:e")
    assert "part" not in docs["c"]  # delivered history is not read


async def test_a_tenants_own_thresholds_are_stored_whole(container: Container) -> None:
    """Every field comes back, not only the first six (the clear band and the adaptation
    distances were once dropped on the way to the database)."""
    own = MatchThresholds(
        verify=0.5,
        verify_retry=0.6,
        verify_margin=0.01,
        accept=0.5,
        retry=0.6,
        margin=0.07,
        verify_support=0.02,
        verify_clear=0.53,
        verify_clear_margin=0.09,
        adapt=0.4,
        adapt_margin=0.2,
        adapt_novelty=0.3,
    )
    t = tenant()
    await container.deps.tenants.add(t)
    await container.deps.tenants.set_thresholds(t.id, own)
    stored = await container.deps.tenants.get(t.id)
    assert stored is not None and stored.thresholds == own


async def test_template_version_moves(container: Container) -> None:
    t = tenant()
    await container.deps.tenants.add(t)
    assert await container.deps.tenants.bump_template_version(t.id) == 1
    assert await container.deps.tenants.bump_template_version(t.id) == 2


async def test_append_is_serialised_per_employee_and_idempotent(container: Container) -> None:
    from attendance.core.ports import Fingerprint, SequenceTaken

    t = tenant()
    await container.deps.tenants.add(t)
    e = await container.deps.employees.upsert(employee(t.id, "ada@example.com"))
    store = container.store
    now = datetime.now(UTC)

    def event(event_id: str, direction: Direction) -> AttendanceEvent:
        return punch(t.id, e.id, event_id, now, direction=direction, job_id=event_id)

    def outbox(event_id: str) -> list[OutboxMessage]:
        return [
            OutboxMessage(
                id=f"{event_id}:x",
                tenant_id=t.id,
                employee_id=e.id,
                event_id=event_id,
                type="x",
                occurred_at=now,
                payload={},
                created_at=now,
            )
        ]

    seq, events = await store.day(t.id, e.id, now, now)
    assert (seq, events) == (0, [])
    await store.append(event("j1", Direction.IN), 1, outbox("j1"), Fingerprint(7, now, 90))
    with pytest.raises(SequenceTaken):  # a concurrent check-in read the same day and lost the race
        await store.append(event("j2", Direction.OUT), 1, outbox("j2"), None)
    # the same job run again: nothing doubles, missing side effects are completed
    await store.append(event("j1", Direction.IN), 2, outbox("j1"), Fingerprint(7, now, 90))
    assert await container.db["attendance_events"].count_documents({"tenant_id": t.id}) == 1
    assert await container.db["outbox"].count_documents({"tenant_id": t.id}) == 1
    assert await container.db["photo_fingerprints"].count_documents({"tenant_id": t.id}) == 1
    seq, events = await store.day(t.id, e.id, now - timedelta(hours=1), now + timedelta(hours=1))
    assert seq == 1 and [x.id for x in events] == ["j1"]
    assert await container.checkin.fingerprints.seen(t.id, 7 ^ 0b111, 3, now - timedelta(days=1))
    assert not await container.checkin.fingerprints.seen(t.id, 7 ^ 0b1111, 3, now - timedelta(days=1))


async def test_a_days_read_gives_the_persons_last_number_whatever_day_it_reads(container: Container) -> None:
    """The last number is looked for from a recent event's (a short read on the embedded server,
    where "the highest" reads the person's whole history); a correction numbered later but dated
    earlier, and a day with nothing in the week before, still get the true last number."""
    t = tenant()
    await container.deps.tenants.add(t)
    e = await container.deps.employees.upsert(employee(t.id, "ada@example.com"))
    now = datetime.now(UTC)
    for seq, (event_id, days_ago) in enumerate([("a", 30), ("b", 1), ("fix", 60)], start=1):
        await container.store.append(punch(t.id, e.id, event_id, now - timedelta(days=days_ago)), seq, [], None)
    hour = timedelta(hours=1)
    for day_at, ids in [
        (now, []),
        (now - timedelta(days=1), ["b"]),
        (now - timedelta(days=90), []),
        (now - timedelta(days=30), ["a"]),
    ]:
        seq, events = await container.store.day(t.id, e.id, day_at - hour, day_at + hour)
        assert (seq, [x.id for x in events]) == (3, ids), day_at


async def test_replay_lookups_see_what_other_workers_wrote_since(container: Container) -> None:
    from attendance.adapters.mongo.safeguards import MongoFingerprints
    from attendance.core.ports import Fingerprint

    t = tenant()
    await container.deps.tenants.add(t)
    now = datetime.now(UTC)
    since = now - timedelta(days=90)
    mine = MongoFingerprints(container.db)  # this worker's copy
    assert not await mine.seen(t.id, 0xFFFF, 3, since)

    async def stored_by_another_worker(event_id: str, value: int, at: datetime) -> None:
        event = punch(t.id, "e", event_id, at, job_id=event_id)
        await container.store.complete(event, [], Fingerprint(value, at, 90))

    await stored_by_another_worker("a", 0xFFFF, now)
    assert await mine.seen(t.id, 0xFFFF ^ 0b11, 3, since)
    assert not await mine.seen(t.id, 0xFFFF, 3, since, ignore="a")  # a job's own earlier print
    await stored_by_another_worker("b", 0xF0F0_0000, now - timedelta(minutes=2))  # landed late
    assert await mine.seen(t.id, 0xF0F0_0000, 0, since)
    assert not await mine.seen(t.id, 0xFFFF, 3, now + timedelta(seconds=1))  # outside the window


async def test_a_burst_of_submissions_is_stored_once_per_key_in_grouped_inserts(container: Container) -> None:
    import asyncio

    from attendance.core.domain.checkins import CheckInJob, PhotoRef, Requested

    def job(key: str) -> CheckInJob:
        return CheckInJob(
            id=new_id(),
            tenant_id="t1",
            channel="slack",
            identity_kind="slack",
            identity="U1",
            photo=PhotoRef(kind="url", ref="http://x/p"),
            requested=Requested.AUTO,
            received_at=datetime.now(UTC),
            idempotency_key=key,
        )

    first = await container.checkin.jobs.submit(job("k0"))  # an insert in flight while the burst arrives
    burst = [job(f"k{n % 12}") for n in range(60)]  # 12 keys, each 5 times (k0 once more)
    results = await asyncio.gather(*(container.checkin.jobs.submit(j) for j in burst))
    stored = [d async for d in container.db["checkin_jobs"].find({"tenant_id": "t1"})]
    assert sorted(d["idempotency_key"] for d in stored) == sorted(f"k{n}" for n in range(12))
    by_key = {d["idempotency_key"]: d["_id"] for d in stored}
    assert all(stored_job.id == by_key[stored_job.idempotency_key] for stored_job, _ in results)
    assert sum(created for _, created in results) == 11 and first[1] is True  # k0 existed already


async def test_job_claims_come_in_batches_and_never_share_a_job(container: Container) -> None:
    import asyncio

    from attendance.core.domain.checkins import CheckInJob, PhotoRef, Requested

    jobs, t0 = container.checkin.jobs, datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    tid = new_id()
    for n in range(7):
        job = CheckInJob(
            id=new_id(),
            tenant_id=tid,
            channel="slack",
            identity_kind="slack",
            identity=f"U{n}",
            photo=PhotoRef(kind="url", ref=f"https://files.example/{n}.jpg"),
            received_at=t0 + timedelta(seconds=n),
            idempotency_key=f"k{n}",
            requested=Requested.AUTO,
        )
        await jobs.submit(job)
    now, lease = t0 + timedelta(minutes=1), timedelta(seconds=30)
    first, second = await asyncio.gather(jobs.claim("a", now, lease, 4), jobs.claim("b", now, lease, 4))
    assert not {j.id for j in first} & {j.id for j in second}, "racing claims never share a job"
    assert [j.identity for j in first] == sorted(j.identity for j in first)  # oldest first
    taken = sorted(j.identity for j in first + second)
    assert len(taken) >= 4 and taken == [f"U{n}" for n in range(len(taken))]  # the oldest ones
    rest = await jobs.claim("a", now, lease, 7)
    assert sorted(j.identity for j in first + second + rest) == [f"U{n}" for n in range(7)]
    assert all(j.attempts == 1 for j in first + second + rest)
    assert await jobs.claim("c", now, lease, 4) == []  # all leased
    after_the_lease = now + lease + timedelta(seconds=5)  # their workers died: taken again, once
    again = await jobs.claim("c", after_the_lease, lease, 10)
    assert len(again) == 7 and all(j.attempts == 2 for j in again)


async def test_a_claim_reads_after_the_head_and_the_whole_queue_every_few_seconds(container: Container) -> None:
    """A claim reads the jobs due just after the newest one the last claim took (the embedded
    server reads a whole range, so a backlog would make every claim read it all); a job due
    before that -- submitted by a server whose clock is behind -- is taken by the next claim that
    reads the whole queue, ``EXPIRED_EVERY`` later at most."""
    from attendance.adapters.mongo.checkins import EXPIRED_EVERY
    from attendance.core.domain.checkins import CheckInJob, PhotoRef, Requested

    jobs, t0 = container.checkin.jobs, datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    tid = new_id()

    async def job(name: str, due: datetime) -> None:
        await jobs.submit(
            CheckInJob(
                id=new_id(),
                tenant_id=tid,
                channel="slack",
                identity_kind="slack",
                identity=name,
                photo=PhotoRef(kind="url", ref=f"https://files.example/{name}.jpg"),
                received_at=due,
                idempotency_key=name,
                requested=Requested.AUTO,
            )
        )

    for n in range(4):
        await job(f"A{n}", t0 + timedelta(milliseconds=n))
    now, lease = t0 + timedelta(seconds=10), timedelta(seconds=30)
    assert [j.identity for j in await jobs.claim("w", now, lease, 1)] == ["A0"]  # the whole queue: the first claim
    await job("late-clock", t0 - timedelta(seconds=5))  # due before every other
    now += timedelta(milliseconds=100)
    assert [j.identity for j in await jobs.claim("w", now, lease, 1)] == ["A1"]  # after the head
    assert [j.identity for j in await jobs.claim("w", now, lease, 1)] == ["A2"]
    now += EXPIRED_EVERY
    assert [j.identity for j in await jobs.claim("w", now, lease, 1)] == ["late-clock"]  # the whole queue again
    assert [j.identity for j in await jobs.claim("w", now, lease, 5)] == ["A3"]  # the window comes back short: the rest


def _template(
    tenant_id: str, employee_id: str, template_id: str, at: datetime, adapted_from: str | None
) -> FaceTemplate:
    return FaceTemplate(
        id=template_id,
        tenant_id=tenant_id,
        employee_id=employee_id,
        embedding=tuple([0.1] * 128),
        model_id="m",
        quality=FaceQuality(face_px=120, sharpness=50.0, brightness=120.0, detector_score=1.0),
        consent_id="c",
        created_at=at,
        adapted_from=adapted_from,
    )


async def test_person_scoped_reads_pick_that_persons_own_documents(container: Container) -> None:
    """These reads ask an index for a person (or a few) and pick the rest themselves
    (tests/integration/test_query_shapes.py): the latest consent not withdrawn, the refusals of
    these identities in this tenant; and settling adapted templates writes what it is told."""
    from dataclasses import replace

    from attendance.core.domain.adaptation import Settled
    from attendance.core.domain.checkins import CheckInJob, Outcome, OutcomeKind, PhotoRef, Requested
    from attendance.core.domain.model import Consent, PendingAdaptation

    d, t0 = container.deps, datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    t = tenant()
    await d.tenants.add(t)
    ada = await d.employees.upsert(employee(t.id, "ada@example.com"))
    bob = await d.employees.upsert(employee(t.id, "bob@example.com"))

    def consent(who: Employee, n: int, withdrawn: bool) -> Consent:
        at = t0 + timedelta(days=n)
        return Consent(
            id=f"{who.id}-{n}",
            tenant_id=t.id,
            employee_id=who.id,
            notice_version=f"v{n}",
            given_at=at,
            recorded_by="hr",
            method="signed-form",
            withdrawn_at=at if withdrawn else None,
        )

    assert await d.consents.active(t.id, ada.id) is None
    for c in (consent(ada, 1, False), consent(ada, 2, False), consent(ada, 3, True), consent(bob, 4, False)):
        await d.consents.add(c)
    found = await d.consents.active(t.id, ada.id)
    assert found is not None and found.id == f"{ada.id}-2"  # the latest not withdrawn, and Ada's

    assert await d.consents.active_for(t.id, [ada.id, bob.id, "nobody"]) == {
        ada.id: f"{ada.id}-2",
        bob.id: f"{bob.id}-4",
    }

    templates = d.templates
    await templates.add(_template(t.id, ada.id, "enrolled", t0, None))
    for n in range(1, 4):
        at = t0 + timedelta(minutes=n)
        pending = PendingAdaptation(identity_kind="slack", identity="U1", received_at=at)
        assert await templates.add_adapted(replace(_template(t.id, ada.id, f"ada-{n}", at, f"j{n}"), pending=pending))
    assert not await templates.add_adapted(_template(t.id, ada.id, "ada-3", t0, "j3"))  # a re-run
    assert {tpl.id: tpl.pending is not None for tpl in await templates.for_employee(t.id, ada.id)} == {
        "enrolled": False,
        "ada-1": True,
        "ada-2": True,
        "ada-3": True,
    }
    await templates.settle_adapted(t.id, Settled(confirmed={"ada-2": "c2", "ada-3": "c2"}, dropped=["ada-1"]))
    left = {doc["_id"]: doc async for doc in container.db["face_templates"].find({"tenant_id": t.id})}
    assert sorted(left) == ["ada-2", "ada-3", "enrolled"]
    settled = [tpl for tpl in await templates.for_employee(t.id, ada.id) if tpl.adapted_from]
    assert {(tpl.id, tpl.consent_id, tpl.pending) for tpl in settled} == {("ada-2", "c2", None), ("ada-3", "c2", None)}

    jobs = container.checkin.jobs

    async def job(tenant_id: str, kind: str, outcome: OutcomeKind) -> None:
        j = CheckInJob(
            id=new_id(),
            tenant_id=tenant_id,
            channel="slack",
            identity_kind=kind,
            identity="U1",
            photo=PhotoRef(kind="url", ref="https://files.example/1.jpg"),
            received_at=t0,
            idempotency_key=new_id(),
            requested=Requested.AUTO,
        )
        await jobs.submit(j)
        await jobs.finish(j.id, Outcome(kind=outcome), t0, t0)

    await job(t.id, "slack", OutcomeKind.ACCEPTED)
    await job("another-tenant", "slack", OutcomeKind.RETRY)
    await job(t.id, "teams", OutcomeKind.NOT_RECOGNISED)
    await job(t.id, "slack", OutcomeKind.OTHER_PERSON)
    found = await jobs.refusals(t.id, ["U1", "U2"], t0 - timedelta(minutes=1))
    assert {(r.identity_kind, r.identity) for r in found} == {("teams", "U1"), ("slack", "U1")}  # this tenant's
    assert await jobs.refusals(t.id, ["U1"], t0 + timedelta(minutes=1)) == []
