"""Template adaptation on the real database and the real dlib models: a confident check-in adds
a pending adapted template once, encrypted; the next gallery load settles it (audited, kept under
the person's consent); a retried check-in, an impostor, a tenant that turned it off or a consent
withdrawn meanwhile keeps none; "not me" and erasure remove it."""

from __future__ import annotations

from attendance.core.matching import Gallery
from attendance.core.messages import EraseFaceData
from attendance.entrypoints.bootstrap import Container
from attendance.services import chat
from attendance.services.checkin import decide_job
from attendance.services.enrollment import erase_face_data
from attendance.services.galleries import Settling, TemplateGalleryCache
from tests.fakes.chat import FakeChatPlatform
from tests.harness.checkins import drain, jobs_settled, submit, tenant_with_people, with_policy

CONFIDENT = "Serena_Williams/5.jpg"  # 0.29 from her enrollment photo: well inside adapt (0.45)


async def adapted(c: Container, tid: str) -> list[dict[str, object]]:
    return [d async for d in c.db["face_templates"].find({"tenant_id": tid, "adapted_from": {"$ne": None}})]


async def reload(c: Container, engine, tid: str) -> Gallery:  # type: ignore[no-untyped-def]
    """What a worker loads once its gallery's hour is up: it settles the pending templates."""
    tenant = await c.deps.tenants.get(tid)
    assert tenant is not None
    settling = Settling(consents=c.deps.consents, jobs=c.checkin.jobs, audit=c.deps.audit, clock=c.deps.clock)
    stale = TemplateGalleryCache(c.deps.tenants, c.deps.templates, engine.model, settling, max_age_s=0.0)
    return await stale.gallery(tid, tenant.template_version)


async def test_a_confident_check_in_adds_one_encrypted_audited_template(  # type: ignore[no-untyped-def]
    container: Container, platform: FakeChatPlatform, photo, engine
) -> None:
    tid, people = await tenant_with_people(container, photo)
    ada = people["ada"]
    version = (await container.deps.tenants.get(tid)).template_version  # type: ignore[union-attr]
    platform.photos["ada.jpg"] = photo(CONFIDENT)
    job, _ = await submit(container, tid, "ADA", platform.photo_url("ada.jpg"), reply_to=platform.reply_url)
    assert (await decide_job(job, deps=container.checkin)).kind.value == "accepted"
    assert (await decide_job(job, deps=container.checkin)).kind.value == "accepted"  # a rerun adds nothing

    [doc] = await adapted(container, tid)
    assert doc["employee_id"] == ada.id and doc["adapted_from"] == job.id and doc["pending"]
    assert "embedding" not in doc and len(bytes(doc["ciphertext"])) > 128 * 4  # type: ignore[arg-type]
    assert await container.deps.templates.count(tid, ada.id) == 1, "adapted templates are not enrollment photos"
    tenant = await container.deps.tenants.get(tid)
    assert tenant is not None and tenant.template_version == version  # no reload of every worker's gallery
    cached = await container.deps.galleries.gallery(tid, version)
    # the gallery loaded for the decision, before the adaptation: three people's enrollment photos
    # and each photo's mirror image (a row of its own)
    assert cached.templates == 6
    reloaded = await reload(container, engine, tid)
    assert reloaded.templates == 7  # and Ada's adapted one, settled (no mirror: only enrollment makes one)
    [doc] = await adapted(container, tid)
    consent = await container.deps.consents.active(tid, ada.id)
    assert consent is not None and doc["consent_id"] == consent.id and not doc["pending"]
    assert (await reload(container, engine, tid)).templates == 7  # a second load (another worker's) changes nothing
    actions = [d["action"] async for d in container.db["audit_log"].find({"tenant_id": tid})]
    assert actions.count("face.adapted") == 1


async def test_a_retried_check_in_never_adapts(container: Container, platform: FakeChatPlatform, photo, engine) -> None:  # type: ignore[no-untyped-def]
    tid, _ = await tenant_with_people(container, photo)
    platform.photos |= {"stranger.jpg": photo("_strangers/Alice_Fisher/1.jpg"), "ada.jpg": photo(CONFIDENT)}
    await submit(container, tid, "ADA", platform.photo_url("stranger.jpg"), reply_to=platform.reply_url)
    await drain(container, platform, 1)
    assert platform.replies[0]["outcome"] in ("retry", "not_recognised")
    assert await jobs_settled(container, tid) == {"done"}  # the refusal is stored before the retake
    await submit(container, tid, "ADA", platform.photo_url("ada.jpg"), reply_to=platform.reply_url)
    await drain(container, platform, 2)
    assert platform.replies[1]["outcome"] == "accepted"
    assert (await reload(container, engine, tid)).templates == 6
    assert await adapted(container, tid) == [], "the retake after a refusal is accepted but not learnt from"


async def test_an_impostor_and_a_tenant_that_turned_it_off_add_nothing(  # type: ignore[no-untyped-def]
    container: Container, platform: FakeChatPlatform, photo
) -> None:
    tid, _ = await tenant_with_people(container, photo)
    off, _ = await tenant_with_people(container, photo, with_policy(adapt_templates=False))
    platform.photos |= {
        "bob-as-ada.jpg": photo("Queen_Rania/3.jpg"),
        "stranger-as-ada.jpg": photo("_strangers/Gary_Bauer/1.jpg"),
        "ada.jpg": photo(CONFIDENT),
    }
    for name in ("bob-as-ada.jpg", "stranger-as-ada.jpg"):
        await submit(container, tid, "ADA", platform.photo_url(name), reply_to=platform.reply_url)
    await submit(container, off, "ADA", platform.photo_url("ada.jpg"), reply_to=platform.reply_url)
    await drain(container, platform, 3)
    outcomes = sorted(str(r["outcome"]) for r in platform.replies)
    assert outcomes.count("accepted") == 1  # Ada herself, in the tenant without adaptation
    assert await adapted(container, tid) == [] and await adapted(container, off) == []


async def test_not_me_and_erasure_remove_adapted_templates(  # type: ignore[no-untyped-def]
    container: Container, platform: FakeChatPlatform, photo
) -> None:
    tid, people = await tenant_with_people(container, photo)
    platform.photos |= {"ada-5.jpg": photo(CONFIDENT), "ada-2.jpg": photo("Serena_Williams/2.jpg")}
    first, _ = await submit(container, tid, "ADA", platform.photo_url("ada-5.jpg"), reply_to=platform.reply_url)
    assert (await decide_job(first, deps=container.checkin)).kind.value == "accepted"
    tenant = await container.deps.tenants.get(tid)
    assert tenant is not None and len(await adapted(container, tid)) == 1

    await chat.report_not_me(tenant, people["ada"], first.id, deps=container.chat)
    assert await adapted(container, tid) == []
    actions = [d["action"] async for d in container.db["audit_log"].find({"tenant_id": tid})]
    assert "face.adapted_removed" in actions

    second, _ = await submit(container, tid, "ADA", platform.photo_url("ada-2.jpg"), reply_to=platform.reply_url)
    assert (await decide_job(second, deps=container.checkin)).kind.value == "accepted"
    assert len(await adapted(container, tid)) == 1
    erased = await erase_face_data(
        EraseFaceData(tenant_id=tid, employee_id=people["ada"].id, requested_by="ada@example.com"),
        deps=container.deps,
    )
    assert erased.templates_deleted == 2 and await adapted(container, tid) == []


async def test_a_consent_withdrawn_before_the_load_keeps_nothing_and_each_keeps_the_newest_two(  # type: ignore[no-untyped-def]
    container: Container, platform: FakeChatPlatform, photo, engine
) -> None:
    tid, people = await tenant_with_people(container, photo)
    platform.photos |= {f"ada-{n}.jpg": photo(f"Serena_Williams/{n}.jpg") for n in (2, 3, 4, 5)}
    platform.photos["bob.jpg"] = photo("Queen_Rania/2.jpg")
    for n in (2, 3, 4, 5):
        job, _ = await submit(container, tid, "ADA", platform.photo_url(f"ada-{n}.jpg"), reply_to=platform.reply_url)
        assert (await decide_job(job, deps=container.checkin)).kind.value == "accepted"
    job, _ = await submit(container, tid, "BOB", platform.photo_url("bob.jpg"), reply_to=platform.reply_url)
    assert (await decide_job(job, deps=container.checkin)).kind.value == "accepted"
    pending = [str(d["employee_id"]) for d in await adapted(container, tid)]
    assert set(pending) == {people["ada"].id, people["bob"].id}, "confident check-ins of both left a pending template"
    assert pending.count(people["ada"].id) >= 3, "more of Ada's than she keeps"
    await container.deps.consents.withdraw_all(tid, people["bob"].id, container.checkin.clock.now())

    await reload(container, engine, tid)
    kept = await adapted(container, tid)
    assert {str(d["employee_id"]) for d in kept} == {people["ada"].id}  # Bob's withdrawn consent keeps nothing
    assert len(kept) == 2 and all(not d["pending"] for d in kept)  # Ada's newest two
