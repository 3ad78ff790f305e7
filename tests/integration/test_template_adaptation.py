"""Template adaptation on the real database and the real dlib models: a confident check-in adds
an adapted template once, encrypted and audited; a retried check-in, an impostor or a tenant that
turned it off adds none; "not me" and erasure remove it."""

from __future__ import annotations

from attendance.core.messages import EraseFaceData
from attendance.entrypoints.bootstrap import Container
from attendance.services import chat
from attendance.services.checkin import decide_job
from attendance.services.enrollment import erase_face_data
from attendance.services.galleries import TemplateGalleryCache
from tests.fakes.chat import FakeChatPlatform
from tests.harness.checkins import drain, jobs_settled, submit, tenant_with_people, with_policy

CONFIDENT = "Serena_Williams/5.jpg"  # 0.29 from her enrollment photo: well inside adapt (0.45)


async def adapted(c: Container, tid: str) -> list[dict[str, object]]:
    return [d async for d in c.db["face_templates"].find({"tenant_id": tid, "adapted_from": {"$ne": None}})]


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
    assert doc["employee_id"] == ada.id and doc["adapted_from"] == job.id
    assert "embedding" not in doc and len(bytes(doc["ciphertext"])) > 128 * 4  # type: ignore[arg-type]
    assert await container.deps.templates.count(tid, ada.id) == 1, "adapted templates are not enrollment photos"
    tenant = await container.deps.tenants.get(tid)
    assert tenant is not None and tenant.template_version == version  # no reload of every worker's gallery
    cached = await container.deps.galleries.gallery(tid, version)
    # the gallery loaded for the decision, before the adaptation: three people's enrollment photos
    # and each photo's mirror image (a row of its own)
    assert cached.templates == 6
    stale = TemplateGalleryCache(container.deps.tenants, container.deps.templates, engine.model, max_age_s=0.0)
    reloaded = await stale.gallery(tid, version)  # what a worker loads once its gallery's hour is up
    assert reloaded.templates == 7  # and Ada's adapted one (no mirror: only enrollment makes one)
    actions = [d["action"] async for d in container.db["audit_log"].find({"tenant_id": tid})]
    assert actions.count("face.adapted") == 1


async def test_a_retried_check_in_never_adapts(container: Container, platform: FakeChatPlatform, photo) -> None:  # type: ignore[no-untyped-def]
    tid, _ = await tenant_with_people(container, photo)
    platform.photos |= {"stranger.jpg": photo("_strangers/Alice_Fisher/1.jpg"), "ada.jpg": photo(CONFIDENT)}
    await submit(container, tid, "ADA", platform.photo_url("stranger.jpg"), reply_to=platform.reply_url)
    await drain(container, platform, 1)
    assert platform.replies[0]["outcome"] in ("retry", "not_recognised")
    assert await jobs_settled(container, tid) == {"done"}  # the refusal is stored before the retake
    await submit(container, tid, "ADA", platform.photo_url("ada.jpg"), reply_to=platform.reply_url)
    await drain(container, platform, 2)
    assert platform.replies[1]["outcome"] == "accepted"
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
