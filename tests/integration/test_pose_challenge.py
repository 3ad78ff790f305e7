"""The pose challenge on the real database and the real dlib models: with the tenant's setting on,
a chat selfie is answered with a pose to show and nothing is recorded; a selfie that does not show
it (a camera-facing one, or the mirror image of the right one) records nothing; one that shows it
records the check-in once."""

from __future__ import annotations

import dataclasses

from attendance.adapters.faces.evaluate import mirrored
from attendance.core.domain.challenges import Pose
from attendance.core.domain.model import ChatIdentity, Employee, new_id
from attendance.core.messages import CreateTenant, EnrollPhoto, RecordConsent
from attendance.entrypoints.bootstrap import Container
from attendance.services.checkin import decide_job
from attendance.services.enrollment import enroll_photo, record_consent
from attendance.services.replies import reply_text
from attendance.services.tenants import create_tenant
from tests.fakes.chat import FakeChatPlatform
from tests.harness.checkins import submit, with_policy

PERSON = "Atal_Bihari_Vajpayee"  # 2.jpg: his head turned to his right (yaw -0.23 on the photo)


async def test_a_chat_check_in_waits_for_the_pose_asked_for(  # type: ignore[no-untyped-def]
    container: Container, platform: FakeChatPlatform, photo
) -> None:
    c = container
    tenant = await create_tenant(CreateTenant(name=f"Posers {new_id()[:6]}", timezone="UTC"), tenants=c.deps.tenants)
    await c.deps.tenants.set_policy(tenant.id, with_policy(pose_challenge=True, replay_check=False))
    atal = await c.deps.employees.upsert(Employee(id=new_id(), tenant_id=tenant.id, name="Atal", email="a@example.com"))
    await c.deps.identities.link_user(tenant.id, atal.id, ChatIdentity("slack", "", "UATAL"))
    consent = RecordConsent(
        tenant_id=tenant.id, employee_id=atal.id, notice_version="t", recorded_by="a@example.com", method="chat"
    )
    await record_consent(consent, deps=c.deps)
    await enroll_photo(
        EnrollPhoto(tenant_id=tenant.id, employee_id=atal.id, photo=photo(f"{PERSON}/1.jpg")), deps=c.deps
    )
    platform.photos |= {
        "first.jpg": photo(f"{PERSON}/5.jpg"),
        "turned.jpg": photo(f"{PERSON}/2.jpg"),
        "mirror.jpg": mirrored(photo(f"{PERSON}/2.jpg")),
    }

    async def selfie(name: str) -> str:
        job, _ = await submit(c, tenant.id, "UATAL", platform.photo_url(name))
        return (await decide_job(job, deps=c.checkin)).kind.value

    first, _ = await submit(c, tenant.id, "UATAL", platform.photo_url("first.jpg"))
    asked = await decide_job(first, deps=c.checkin)
    assert asked.kind.value == "pose_asked" and "One more step, Atal: " in reply_text(asked)
    assert (await decide_job(first, deps=c.checkin)).detail == asked.detail, "a second run asks the same"
    pending = await c.checkin.challenges.pending(tenant.id, atal.id)
    assert pending is not None and pending.pose.value == asked.detail
    await c.checkin.challenges.ask(dataclasses.replace(pending, pose=Pose.RIGHT))  # this test's pose to show

    assert await selfie("first.jpg") == "pose_wrong"  # the first selfie again: not turned
    assert await selfie("mirror.jpg") == "pose_wrong"  # turned, but to his left
    assert await c.db["attendance_events"].count_documents({"tenant_id": tenant.id}) == 0
    assert await selfie("turned.jpg") == "accepted"
    assert await c.db["attendance_events"].count_documents({"tenant_id": tenant.id}) == 1
    assert await c.checkin.challenges.pending(tenant.id, atal.id) is None  # answered: the next one asks anew
