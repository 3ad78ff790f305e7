"""Enrollment with consent, the enrollment rules, erasure, and gallery freshness -- real photos,
the real dlib engine and the real embedded database."""

from __future__ import annotations

import pytest

from attendance.core.domain.faces import PhotoRefused, RefusalReason
from attendance.core.domain.model import Employee, new_id
from attendance.core.errors import ConsentRequired
from attendance.core.messages import CreateTenant, EnrollPhoto, EraseFaceData, RecordConsent
from attendance.entrypoints.bootstrap import Container
from attendance.services.enrollment import enroll_photo, erase_face_data, record_consent
from attendance.services.tenants import create_tenant


async def setup_people(c: Container, *emails: str) -> tuple[str, list[Employee]]:
    tenant = await create_tenant(CreateTenant(name="Acme", timezone="Europe/Berlin"), tenants=c.deps.tenants)
    people = [
        await c.deps.employees.upsert(Employee(id=new_id(), tenant_id=tenant.id, name=e, email=e)) for e in emails
    ]
    return tenant.id, people


async def consent(c: Container, tenant_id: str, e: Employee) -> None:
    await record_consent(
        RecordConsent(
            tenant_id=tenant_id, employee_id=e.id, notice_version="2026-11", recorded_by=e.email, method="chat"
        ),
        deps=c.deps,
    )


async def test_no_face_data_without_consent(container: Container, photo) -> None:  # type: ignore[no-untyped-def]
    tid, (ada,) = await setup_people(container, "ada@example.com")
    with pytest.raises(ConsentRequired, match="not agreed"):
        await enroll_photo(
            EnrollPhoto(tenant_id=tid, employee_id=ada.id, photo=photo("Serena_Williams/1.jpg")), deps=container.deps
        )
    assert await container.db["face_templates"].count_documents({}) == 0


async def test_enroll_then_refuse_duplicate_and_other_persons_face(container: Container, photo) -> None:  # type: ignore[no-untyped-def]
    tid, (ada, bob) = await setup_people(container, "ada@example.com", "bob@example.com")
    await consent(container, tid, ada)
    await consent(container, tid, bob)
    enrolled = await enroll_photo(
        EnrollPhoto(tenant_id=tid, employee_id=ada.id, photo=photo("Serena_Williams/1.jpg")), deps=container.deps
    )
    assert enrolled.templates_now == 1
    with pytest.raises(PhotoRefused) as dup:
        await enroll_photo(
            EnrollPhoto(tenant_id=tid, employee_id=ada.id, photo=photo("Serena_Williams/1.jpg")), deps=container.deps
        )
    assert dup.value.reason is RefusalReason.DUPLICATE
    # Bob tries to enroll Ada's face as his own
    with pytest.raises(PhotoRefused) as other:
        await enroll_photo(
            EnrollPhoto(tenant_id=tid, employee_id=bob.id, photo=photo("Serena_Williams/2.jpg")), deps=container.deps
        )
    assert other.value.reason is RefusalReason.OTHER_PERSONS_FACE
    # a second, different photo of Ada is welcome
    second = await enroll_photo(
        EnrollPhoto(tenant_id=tid, employee_id=ada.id, photo=photo("Serena_Williams/2.jpg")), deps=container.deps
    )
    assert second.templates_now == 2
    audit = [d["action"] async for d in container.db["audit_log"].find({"tenant_id": tid})]
    assert audit.count("face.enrolled") == 2 and "enroll.refused_other_face" in audit


async def test_at_most_three_templates(container: Container, photo) -> None:  # type: ignore[no-untyped-def]
    tid, (ada,) = await setup_people(container, "ada@example.com")
    await consent(container, tid, ada)
    for n in (1, 2, 3):
        await enroll_photo(
            EnrollPhoto(tenant_id=tid, employee_id=ada.id, photo=photo(f"Carrie-Anne_Moss/{n if n < 3 else 4}.jpg")),
            deps=container.deps,
        )
    with pytest.raises(PhotoRefused) as too_many:
        await enroll_photo(
            EnrollPhoto(tenant_id=tid, employee_id=ada.id, photo=photo("Carrie-Anne_Moss/5.jpg")), deps=container.deps
        )
    assert too_many.value.reason is RefusalReason.TOO_MANY_TEMPLATES
    assert "3 photos" in str(too_many.value)


async def test_a_bad_photo_stores_nothing(container: Container, photo) -> None:  # type: ignore[no-untyped-def]
    tid, (ada,) = await setup_people(container, "ada@example.com")
    await consent(container, tid, ada)
    with pytest.raises(PhotoRefused) as refused:
        await enroll_photo(
            EnrollPhoto(tenant_id=tid, employee_id=ada.id, photo=b"GIF89a not really"), deps=container.deps
        )
    assert refused.value.reason is RefusalReason.UNSUPPORTED_TYPE
    assert await container.deps.templates.count(tid, ada.id) == 0


async def test_erasure_removes_every_template_at_once(container: Container, photo) -> None:  # type: ignore[no-untyped-def]
    tid, (ada, bob) = await setup_people(container, "ada@example.com", "bob@example.com")
    for person, pics in ((ada, ("Serena_Williams/1.jpg", "Serena_Williams/2.jpg")), (bob, ("Kit_Harington/1.jpg",))):
        await consent(container, tid, person)
        for name in pics:
            await enroll_photo(
                EnrollPhoto(tenant_id=tid, employee_id=person.id, photo=photo(name)), deps=container.deps
            )
    before = await container.deps.galleries.gallery(tid)
    assert len(before) == 2
    erased = await erase_face_data(
        EraseFaceData(tenant_id=tid, employee_id=ada.id, requested_by="ada@example.com"), deps=container.deps
    )
    assert erased.templates_deleted == 2
    assert await container.deps.templates.count(tid, ada.id) == 0
    assert await container.deps.consents.active(tid, ada.id) is None  # consent withdrawn with the data
    after = await container.deps.galleries.gallery(tid)
    assert after.version > before.version  # every worker's gallery is rebuilt
    assert after.index_of(ada.id) is None and after.index_of(bob.id) is not None
    # enrolling again needs fresh consent
    with pytest.raises(ConsentRequired):
        await enroll_photo(
            EnrollPhoto(tenant_id=tid, employee_id=ada.id, photo=photo("Serena_Williams/3.jpg")), deps=container.deps
        )


async def test_a_further_photo_must_match_the_persons_own_templates(container: Container, photo) -> None:  # type: ignore[no-untyped-def]
    tid, (ada,) = await setup_people(container, "ada@example.com")
    await consent(container, tid, ada)
    await enroll_photo(
        EnrollPhoto(tenant_id=tid, employee_id=ada.id, photo=photo("Serena_Williams/1.jpg")), deps=container.deps
    )
    # someone with Ada's phone adds their own face (nobody else enrolled, so no "other person" match)
    with pytest.raises(PhotoRefused) as refused:
        await enroll_photo(
            EnrollPhoto(tenant_id=tid, employee_id=ada.id, photo=photo("Queen_Rania/1.jpg")), deps=container.deps
        )
    assert refused.value.reason is RefusalReason.NOT_SAME_PERSON
    assert "does not match the photos already enrolled for you" in str(refused.value)
    assert await container.deps.templates.count(tid, ada.id) == 1
    flagged = await container.db["audit_log"].count_documents({"action": "enroll.refused_not_same_person"})
    assert flagged == 1
    # another photo of Ada herself is still added
    added = await enroll_photo(
        EnrollPhoto(tenant_id=tid, employee_id=ada.id, photo=photo("Serena_Williams/3.jpg")), deps=container.deps
    )
    assert added.templates_now == 2


async def test_an_enrollment_photo_keeps_its_mirror_image_sealed_with_it(container: Container, photo, engine) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    import numpy as np

    from attendance.core.domain.faces import Purpose

    tid, (ada,) = await setup_people(container, "ada@example.com")
    await consent(container, tid, ada)
    await enroll_photo(
        EnrollPhoto(tenant_id=tid, employee_id=ada.id, photo=photo("Serena_Williams/1.jpg")), deps=container.deps
    )
    [doc] = [d async for d in container.db["face_templates"].find({"tenant_id": tid})]
    assert doc["vectors"] == 2 and "mirror" not in doc  # both vectors in the one ciphertext
    [template] = await container.deps.templates.for_employee(tid, ada.id)
    assert template.mirror is not None and len(template.mirror) == len(template.embedding) == 128
    apart = float(np.linalg.norm(np.subtract(template.embedding, template.mirror)))
    assert 0.0 < apart < 0.45  # the same face, not the same numbers
    gallery = await container.deps.galleries.gallery(tid)
    assert (len(gallery), gallery.templates) == (1, 2)  # one person, two rows
    # a check-in's analysis makes no mirror (it is for enrollment only)
    analysis = engine.analyse_sync(photo("Serena_Williams/2.jpg"), Purpose.CHECK_IN)
    assert analysis.mirror is None

    # a template stored before mirrors (one vector sealed, no "vectors" field) still reads as one
    single = dataclasses.replace(template, id=new_id(), mirror=None)
    await container.deps.templates.add(single)
    stored = await container.db["face_templates"].find_one({"_id": single.id})
    assert stored is not None and stored["vectors"] == 1
    assert len(bytes(stored["ciphertext"])) < len(bytes(doc["ciphertext"]))
    await container.db["face_templates"].update_one({"_id": single.id}, {"$unset": {"vectors": 1}})
    reread = {t.id: t for t in await container.deps.templates.for_employee(tid, ada.id)}
    assert reread[single.id].mirror is None and reread[single.id].embedding == template.embedding
    assert reread[template.id].mirror == template.mirror
