"""Two-person photos built from the development set (``adapters/faces/composite``) through the real
dlib pipeline: a colleague behind the person does not stop a check-in, a stranger in front of an
enrolled face is never taken for the enrolled person, and two people of similar size are refused."""

from __future__ import annotations

import numpy as np
import pytest

from attendance.adapters.faces.composite import composite
from attendance.adapters.faces.model import FaceBox, Rgb
from attendance.adapters.faces.pipeline import FacePipeline
from attendance.core.domain.faces import PhotoRefused, Purpose, RefusalReason
from attendance.core.matching import Gallery, Outcome, identify, verify

PERSON = "Serena_Williams"
STRANGER = "_strangers/Gary_Bauer/1.jpg"
OTHER_PERSON = "Queen_Rania"


def located(engine: FacePipeline, data: bytes) -> tuple[Rgb, FaceBox]:
    pixels, faces = engine.locate(data)
    assert faces, "the source photo has a face"
    return pixels, max(faces, key=lambda f: f.area)


@pytest.fixture(scope="module")
def gallery(engine: FacePipeline, photo) -> Gallery:  # type: ignore[no-untyped-def]
    people = [PERSON, OTHER_PERSON]
    vectors = [np.asarray(engine.analyse_sync(photo(f"{p}/1.jpg"), Purpose.ENROLL).embedding) for p in people]
    return Gallery.build(list(zip(people, vectors, strict=True)), dim=len(vectors[0]))


def test_a_stranger_behind_does_not_stop_the_check_in(engine: FacePipeline, photo, gallery: Gallery) -> None:  # type: ignore[no-untyped-def]
    two = composite(
        located(engine, photo(f"{PERSON}/2.jpg")), located(engine, photo(STRANGER)), scale=0.9, layout="behind"
    )
    analysis = engine.analyse_sync(two, Purpose.CHECK_IN)
    assert analysis.faces_found == 2, "the second face was seen, and the rule chose"
    assert 0 < analysis.rival < 0.55
    probe = np.asarray(analysis.embedding)
    assert verify(gallery, PERSON, probe, engine.model.thresholds).outcome is Outcome.ACCEPTED


def test_a_stranger_in_front_of_an_enrolled_face_is_not_the_enrolled_person(  # type: ignore[no-untyped-def]
    engine: FacePipeline, photo, gallery: Gallery
) -> None:
    two = composite(
        located(engine, photo(STRANGER)), located(engine, photo(f"{PERSON}/2.jpg")), scale=0.9, layout="behind"
    )
    analysis = engine.analyse_sync(two, Purpose.CHECK_IN)
    assert analysis.faces_found == 2
    probe = np.asarray(analysis.embedding)
    t = engine.model.thresholds
    assert verify(gallery, PERSON, probe, t).outcome is not Outcome.ACCEPTED
    decided = identify(gallery, probe, t)
    assert decided.employee_id != PERSON or decided.outcome is not Outcome.ACCEPTED


def test_two_people_of_similar_size_are_refused(engine: FacePipeline, photo) -> None:  # type: ignore[no-untyped-def]
    two = composite(
        located(engine, photo(f"{PERSON}/2.jpg")), located(engine, photo(STRANGER)), scale=1.0, layout="beside"
    )
    with pytest.raises(PhotoRefused) as info:
        engine.analyse_sync(two, Purpose.CHECK_IN)
    assert info.value.reason is RefusalReason.MULTIPLE_FACES


def test_the_head_pose_of_a_turned_face_flips_in_its_mirror_image(engine: FacePipeline, photo) -> None:  # type: ignore[no-untyped-def]
    from attendance.adapters.faces.evaluate import mirrored

    turned = photo("Atal_Bihari_Vajpayee/2.jpg")  # turned towards the photo's left
    facing = photo("Debbie_Reynolds/1.jpg")  # looking at the camera
    pose = engine.analyse_sync(turned, Purpose.CHECK_IN).pose
    flipped = engine.analyse_sync(mirrored(turned), Purpose.CHECK_IN).pose
    assert pose is not None and flipped is not None
    assert pose.yaw < -0.15 < 0.15 < flipped.yaw
    assert abs(pose.yaw + flipped.yaw) < 0.05 and abs(pose.pitch - flipped.pitch) < 0.05
    straight = engine.analyse_sync(facing, Purpose.CHECK_IN).pose
    assert straight is not None and abs(straight.yaw) < 0.05
