"""The check-in path end to end inside one process: job, worker loop, real dlib, real database,
photos and replies over real HTTP to a stand-in platform."""

from __future__ import annotations

import asyncio
import dataclasses
import io
from datetime import datetime, timedelta

from PIL import Image

from attendance.core.domain.checkins import Requested
from attendance.entrypoints.bootstrap import Container
from attendance.services.worker import JobWorker
from tests.fakes.chat import FakeChatPlatform
from tests.harness.checkins import FAST, drain, jobs_settled, submit, tenant_with_people


def by_job(replies: list[dict[str, object]]) -> dict[object, dict[str, object]]:
    return {r["job_id"]: r for r in replies}


async def test_accepted_refused_and_flagged(container: Container, platform: FakeChatPlatform, photo) -> None:  # type: ignore[no-untyped-def]
    tid, people = await tenant_with_people(container, photo)
    platform.photos |= {
        "ada.jpg": photo("Serena_Williams/2.jpg"),
        "stranger.jpg": photo("_strangers/Alice_Fisher/1.jpg"),
        "bobs-face.jpg": photo("Queen_Rania/2.jpg"),
        "wall.jpg": photo("_strangers/Alice_Fisher/1.jpg")[:200],
    }
    ok, _ = await submit(container, tid, "ADA", platform.photo_url("ada.jpg"), reply_to=platform.reply_url)
    stranger, _ = await submit(container, tid, "ADA", platform.photo_url("stranger.jpg"), reply_to=platform.reply_url)
    friend, _ = await submit(container, tid, "CY", platform.photo_url("bobs-face.jpg"), reply_to=platform.reply_url)
    unknown, _ = await submit(container, tid, "U_NOBODY", platform.photo_url("ada.jpg"), reply_to=platform.reply_url)
    broken, _ = await submit(container, tid, "BOB", platform.photo_url("wall.jpg"), reply_to=platform.reply_url)
    replies = by_job(await drain(container, platform, 5) and platform.replies)

    assert replies[ok.id]["outcome"] == "accepted"
    assert replies[ok.id]["direction"] == "in"
    assert str(replies[ok.id]["text"]).startswith("Checked in at ") and "(Europe/Berlin)" in str(replies[ok.id]["text"])
    assert replies[stranger.id]["outcome"] in ("not_recognised", "retry")
    assert replies[friend.id]["outcome"] == "other_person"
    assert "doesn't look like you" in str(replies[friend.id]["text"])
    assert replies[unknown.id]["outcome"] == "not_enrolled"
    assert replies[broken.id]["outcome"] == "no_usable_face"
    assert "could not be opened" in str(replies[broken.id]["text"])

    events = [d async for d in container.db["attendance_events"].find({"tenant_id": tid})]
    assert [(e["_id"], e["employee_id"], e["direction"]) for e in events] == [(ok.id, people["ada"].id, "in")]
    review = await container.db["review_queue"].find_one({"_id": friend.id})
    assert review is not None and review["looks_like"] == people["bob"].id
    assert review["claimed_employee_id"] == people["cy"].id
    outbox = [d async for d in container.db["outbox"].find({"tenant_id": tid})]
    assert [o["type"] for o in outbox] == ["attendance.check_in.accepted"]
    assert outbox[0]["payload"]["employee"]["email"] == "ada@example.com"
    assert await jobs_settled(container, tid) == {"done"}


async def test_the_same_delivery_twice_is_one_job_and_one_event(
    container: Container, platform: FakeChatPlatform, photo
) -> None:  # type: ignore[no-untyped-def]
    tid, _ = await tenant_with_people(container, photo)
    platform.photos["ada.jpg"] = photo("Serena_Williams/3.jpg")
    first, created = await submit(
        container, tid, "ADA", platform.photo_url("ada.jpg"), key="Ev01", reply_to=platform.reply_url
    )
    again, created_again = await submit(
        container, tid, "ADA", platform.photo_url("ada.jpg"), key="Ev01", reply_to=platform.reply_url
    )
    assert created and not created_again and again.id == first.id
    await drain(container, platform, 1)
    assert await container.db["checkin_jobs"].count_documents({"tenant_id": tid}) == 1
    assert await container.db["attendance_events"].count_documents({"tenant_id": tid}) == 1


async def test_direction_duplicate_window_and_replay(container: Container, platform: FakeChatPlatform, photo) -> None:  # type: ignore[no-untyped-def]
    tid, _ = await tenant_with_people(container, photo)
    original = photo("Serena_Williams/2.jpg")
    recompressed = io.BytesIO()
    Image.open(io.BytesIO(original)).resize((200, 200)).save(recompressed, "JPEG", quality=70)
    platform.photos |= {
        "a.jpg": original,
        "b.jpg": photo("Serena_Williams/3.jpg"),
        "c.jpg": photo("Serena_Williams/4.jpg"),
        "again.jpg": recompressed.getvalue(),
    }
    url = platform.photo_url
    j1, _ = await submit(container, tid, "ADA", url("a.jpg"), reply_to=platform.reply_url)
    await drain(container, platform, 1)
    j2, _ = await submit(container, tid, "ADA", url("b.jpg"), requested=Requested.IN, reply_to=platform.reply_url)
    await drain(container, platform, 2)
    j3, _ = await submit(container, tid, "ADA", url("again.jpg"), reply_to=platform.reply_url)
    await drain(container, platform, 3)
    j4, _ = await submit(container, tid, "ADA", url("c.jpg"), reply_to=platform.reply_url)
    replies = by_job(await drain(container, platform, 4) and platform.replies)
    assert replies[j1.id]["outcome"] == "accepted" and replies[j1.id]["direction"] == "in"
    assert replies[j2.id]["outcome"] == "duplicate"
    assert str(replies[j2.id]["text"]).startswith("You already checked in at ")
    assert replies[j3.id]["outcome"] == "replayed_photo"
    assert "already used" in str(replies[j3.id]["text"])
    assert replies[j4.id]["outcome"] == "accepted" and replies[j4.id]["direction"] == "out"
    assert await container.db["attendance_events"].count_documents({"tenant_id": tid}) == 2


async def test_an_old_photo_is_refused(container: Container, platform: FakeChatPlatform, photo) -> None:  # type: ignore[no-untyped-def]
    tid, _ = await tenant_with_people(container, photo)
    exif = Image.Exif()
    ifd = exif.get_ifd(0x8769)
    ifd[0x9003] = (datetime.now() - timedelta(hours=3)).strftime("%Y:%m:%d %H:%M:%S")
    ifd[0x9011] = datetime.now().astimezone().strftime("%z")[:3] + ":" + datetime.now().astimezone().strftime("%z")[3:]
    old = io.BytesIO()
    Image.open(io.BytesIO(photo("Serena_Williams/2.jpg"))).save(old, "JPEG", exif=exif)
    platform.photos["old.jpg"] = old.getvalue()
    job, _ = await submit(container, tid, "ADA", platform.photo_url("old.jpg"), reply_to=platform.reply_url)
    replies = by_job(await drain(container, platform, 1) and platform.replies)
    assert replies[job.id]["outcome"] == "stale_photo"
    assert "more than 10 minutes ago" in str(replies[job.id]["text"])


async def test_transient_download_failures_are_retried(container: Container, platform: FakeChatPlatform, photo) -> None:  # type: ignore[no-untyped-def]
    tid, _ = await tenant_with_people(container, photo)
    platform.photos["flaky.jpg"] = photo("Serena_Williams/2.jpg")
    platform.fail_next["flaky.jpg"] = 2
    job, _ = await submit(container, tid, "ADA", platform.photo_url("flaky.jpg"), reply_to=platform.reply_url)
    worker = await drain(container, platform, 1)
    assert platform.replies[0]["outcome"] == "accepted"
    assert platform.downloads["flaky.jpg"] == 3 and worker.stats.retried == 2
    stored = await container.checkin.jobs.get(job.id)
    assert stored is not None and stored.attempts == 3


async def test_a_photo_that_never_arrives_fails_with_a_message(
    container: Container, platform: FakeChatPlatform, photo
) -> None:  # type: ignore[no-untyped-def]
    tid, _ = await tenant_with_people(container, photo)
    platform.photos["down.jpg"] = photo("Serena_Williams/2.jpg")
    platform.fail_next["down.jpg"] = 100
    _job, _ = await submit(container, tid, "ADA", platform.photo_url("down.jpg"), reply_to=platform.reply_url)
    await drain(container, platform, 1)
    assert platform.replies[0]["outcome"] == "failed"
    assert "try again in a minute" in str(platform.replies[0]["text"])
    assert await container.db["attendance_events"].count_documents({"tenant_id": tid}) == 0


async def test_kiosk_identifies_without_a_claimed_identity(
    container: Container, platform: FakeChatPlatform, photo
) -> None:  # type: ignore[no-untyped-def]
    from attendance.core.domain.checkins import PhotoRef
    from attendance.services.checkin import RequestCheckIn, submit_check_in

    tid, people = await tenant_with_people(container, photo)
    buffered = await container.buffer.put(tid, photo("Queen_Rania/3.jpg"))
    _job, _ = await submit_check_in(
        RequestCheckIn(
            tenant_id=tid,
            channel="kiosk",
            identity_kind="none",
            identity=None,
            photo=PhotoRef(kind="buffer", ref=buffered),
            idempotency_key="kiosk-1",
            reply_to=platform.reply_url,
        ),
        jobs=container.checkin.jobs,
        clock=container.checkin.clock,
    )
    await drain(container, platform, 1)
    assert platform.replies[0]["outcome"] == "accepted"
    assert platform.replies[0]["employee_id"] == people["bob"].id
    assert await container.buffer.get(buffered) is None  # the uploaded selfie is gone with its job


async def test_a_job_rerun_after_its_event_was_stored_is_not_a_replay(
    container: Container,
    platform: FakeChatPlatform,
    photo,  # type: ignore[no-untyped-def]
) -> None:
    """A worker died after appending the event (and its fingerprint) but before recording the
    outcome: the next run must answer "checked in", not "photo already used", and add nothing."""
    from attendance.services.checkin import decide_job

    tid, _ = await tenant_with_people(container, photo)
    platform.photos["ada.jpg"] = photo("Serena_Williams/2.jpg")
    job, _ = await submit(container, tid, "ADA", platform.photo_url("ada.jpg"), reply_to=platform.reply_url)
    first = await decide_job(job, deps=container.checkin)  # the first run, cut short before its outcome
    assert first.kind.value == "accepted"
    assert (await container.checkin.jobs.get(job.id)).outcome is None  # type: ignore[union-attr]
    await drain(container, platform, 1)  # the job's next run
    assert platform.replies[0]["outcome"] == "accepted" and platform.replies[0]["event_id"] == job.id
    assert await container.db["attendance_events"].count_documents({"tenant_id": tid}) == 1
    assert await container.db["outbox"].count_documents({"tenant_id": tid}) == 1
    assert await container.db["photo_fingerprints"].count_documents({"tenant_id": tid}) == 1


async def test_a_worker_claims_a_batch_for_its_slots_and_gives_back_what_it_never_started(
    container: Container, platform: FakeChatPlatform, photo
) -> None:  # type: ignore[no-untyped-def]
    """With a queue, one claim takes a job for every slot (a claim reads every due job, however
    few it takes). Jobs of a batch that waited half their lease for a slot, and those a stopping
    worker never started, go back to the queue at once, their attempt not counted."""
    tid, _ = await tenant_with_people(container, photo)
    platform.photos["ada.jpg"] = photo("Serena_Williams/2.jpg")
    for n in range(6):
        await submit(container, tid, "ADA", platform.photo_url("ada.jpg"), key=f"batch-{n}")
    worker = JobWorker(
        deps=container.checkin,
        replier=container.replier,
        buffer=container.buffer,
        settings=FAST.model_copy(update={"concurrency": 4}),
        name="batch",
    )

    async def running() -> list[dict[str, object]]:
        return [d async for d in container.db["checkin_jobs"].find({"tenant_id": tid, "state": "running"})]

    first = await worker._next_job()  # one slot asks
    assert first is not None
    assert len(await running()) == 4 and len({d["claim"] for d in await running()}) == 1  # one claim, four slots
    worker._claimed_at -= FAST.lease_s  # as if every slot had been busy for a whole lease since
    second = await worker._next_job()  # the three waiting go back; a fresh batch from the five queued
    assert second is not None and second.id != first.id
    assert len(await running()) == 5 and len({d["claim"] for d in await running()}) == 2
    stop = asyncio.Event()
    stop.set()
    await worker.run(stop)  # stops at once: the three claimed for the other slots go back
    jobs = container.db["checkin_jobs"].find({"tenant_id": tid})
    states = {d["_id"]: (d["state"], d["attempts"]) async for d in jobs}
    assert states[first.id] == states[second.id] == ("running", 1)  # their slots': finished by them, or their lease
    assert sorted(v for k, v in states.items() if k not in (first.id, second.id)) == [("queued", 0)] * 4


async def test_a_worker_reuses_its_tenant_read_for_tenant_reuse_s(  # type: ignore[no-untyped-def]
    container: Container, platform: FakeChatPlatform, photo
) -> None:
    """A busy tenant's check-ins share one read of it: a settings change made meanwhile reaches
    the worker when the read is ``tenant_reuse_s`` old (here: never, then at once)."""
    tid, _ = await tenant_with_people(container, photo)
    platform.photos |= {
        "ada.jpg": photo("Serena_Williams/2.jpg"),
        "bob.jpg": photo("Queen_Rania/2.jpg"),
        "cy.jpg": photo("Jesse_Jackson/2.jpg"),
    }

    def worker(reuse_s: float) -> JobWorker:
        settings = FAST.model_copy(update={"tenant_reuse_s": reuse_s})
        return JobWorker(deps=container.checkin, replier=container.replier, buffer=container.buffer, settings=settings)

    reusing, rereading = worker(600.0), worker(0.0)
    for w in (reusing, rereading):  # each reads the tenant once before the change
        ada, _ = await submit(container, tid, "ADA", platform.photo_url("ada.jpg"), reply_to=platform.reply_url)
        await w.handle(ada)
    tenant = await container.deps.tenants.get(tid)
    assert tenant is not None
    await container.deps.tenants.set_policy(tid, dataclasses.replace(tenant.policy, pose_challenge=True))
    bob, _ = await submit(container, tid, "BOB", platform.photo_url("bob.jpg"), reply_to=platform.reply_url)
    await reusing.handle(bob)  # its read from before the change
    cy, _ = await submit(container, tid, "CY", platform.photo_url("cy.jpg"), reply_to=platform.reply_url)
    await rereading.handle(cy)  # reads again
    assert [r["outcome"] for r in platform.replies][2:] == ["accepted", "pose_asked"]
