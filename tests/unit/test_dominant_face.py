"""The dominant-face rule (``core.domain.faces.dominant_face``): which face a photo is of, and
when two faces make it a photo of two people. Pure: boxes in, an index or a refusal out."""

from __future__ import annotations

import pytest

from attendance.core.domain.faces import Box, PhotoRefused, RefusalReason, dominant_face, prominence
from attendance.settings import FaceSettings

W, H = 1000, 750  # a phone photo, landscape
CHECK_IN = FaceSettings().second_face_ratio_check_in
ENROLL = FaceSettings().second_face_ratio_enroll


def face(cx: float, cy: float, size: float) -> Box:
    half = size / 2
    return (round(cx - half), round(cy - half), round(cx + half), round(cy + half))


CENTRE = face(W / 2, H / 2, 300)


def test_one_face_is_the_photo_and_has_no_rival() -> None:
    assert dominant_face([CENTRE], W, H, rival_ratio=CHECK_IN) == (0, 0.0)


def test_no_face_is_refused_as_no_face() -> None:
    with pytest.raises(PhotoRefused) as info:
        dominant_face([], W, H, rival_ratio=CHECK_IN)
    assert info.value.reason is RefusalReason.NO_FACE


def test_a_colleague_behind_is_ignored_at_check_in() -> None:
    behind = face(W / 2 + 330, H / 2 - 60, 210)  # 70 % of the width, to the side and higher
    index, rival = dominant_face([behind, CENTRE], W, H, rival_ratio=CHECK_IN)
    assert index == 1
    assert 0 < rival < CHECK_IN


def test_two_people_side_by_side_are_refused() -> None:
    left, right = face(W / 2 - 170, H / 2, 300), face(W / 2 + 170, H / 2, 280)
    with pytest.raises(PhotoRefused) as info:
        dominant_face([left, right], W, H, rival_ratio=CHECK_IN)
    assert info.value.reason is RefusalReason.MULTIPLE_FACES


def test_the_larger_face_wins_wherever_it_is_listed() -> None:
    small = face(W / 2 + 40, H / 2, 150)
    assert dominant_face([small, face(W / 2 - 40, H / 2, 320)], W, H, rival_ratio=1.01)[0] == 1
    assert dominant_face([face(W / 2 - 40, H / 2, 320), small], W, H, rival_ratio=1.01)[0] == 0


def test_the_central_face_wins_over_one_of_the_same_size_at_the_edge() -> None:
    edge = face(W - 160, H / 2, 300)
    index, rival = dominant_face([edge, CENTRE], W, H, rival_ratio=CHECK_IN)
    assert index == 1
    assert rival < 0.5


def test_enrollment_is_stricter_than_check_in_with_the_same_rule() -> None:
    behind = face(W / 2 + 200, H / 2 - 60, 270)  # nearer the centre and larger
    _, rival = dominant_face([CENTRE, behind], W, H, rival_ratio=CHECK_IN)
    assert ENROLL <= rival < CHECK_IN, "a photo check-in takes but enrollment refuses"
    with pytest.raises(PhotoRefused) as info:
        dominant_face([CENTRE, behind], W, H, rival_ratio=ENROLL)
    assert info.value.reason is RefusalReason.MULTIPLE_FACES


def test_prominence_halves_a_sixth_of_the_diagonal_from_the_centre() -> None:
    diagonal = (W**2 + H**2) ** 0.5
    off = face(W / 2 + diagonal / 6, H / 2, 300)
    assert prominence(off, W, H) == pytest.approx(prominence(CENTRE, W, H) / 2, rel=0.01)
    corner = face(150, 150, 300)
    assert prominence(corner, W, H) > 0, "a face in a corner still counts a little"


def test_the_rule_is_the_same_whatever_the_photo_size() -> None:
    boxes = [CENTRE, face(W / 2 + 330, H / 2 - 60, 210)]
    doubled = [tuple(2 * v for v in b) for b in boxes]
    assert dominant_face(boxes, W, H, rival_ratio=CHECK_IN)[1] == pytest.approx(
        dominant_face(doubled, 2 * W, 2 * H, rival_ratio=CHECK_IN)[1],
        abs=0.01,  # type: ignore[arg-type]
    )


def test_the_background_study_replays_the_rule_at_any_ratio() -> None:
    from attendance.adapters.faces.evaluate import Composite, background_figures

    study = [
        Composite("behind", 0.9, intruder=False, rival=0.3, accepted=True),
        Composite("behind", 0.9, intruder=False, rival=0.6, accepted=True),
        Composite("behind", 0.9, intruder=False, rival=None, accepted=False),  # refused for another reason
        Composite("behind", 0.9, intruder=True, rival=0.62, accepted=True),
        Composite("behind", 0.9, intruder=True, rival=0.2, accepted=False),
    ]
    strict = next(r for r in background_figures(study, 0.55) if r["layout"] == "behind" and r["scale"] == 0.9)
    assert (strict["probes"], strict["verified"], strict["two_people"]) == (3, round(1 / 3, 4), round(1 / 3, 4))
    assert (strict["intruder_trials"], strict["intruder_accepts"]) == (2, 0)
    lenient = next(r for r in background_figures(study, 0.7) if r["layout"] == "behind" and r["scale"] == 0.9)
    assert (lenient["verified"], lenient["two_people"], lenient["intruder_accepts"]) == (round(2 / 3, 4), 0.0, 1)


# ---------------------------------------------------------------- head pose


def test_a_face_looking_at_the_camera_has_no_yaw_and_a_mirror_flips_a_turn() -> None:
    from attendance.core.domain.faces import head_pose

    frontal = head_pose((100.0, 100.0), (160.0, 100.0), (130.0, 140.0))
    assert frontal.yaw == pytest.approx(0.0) and frontal.pitch == pytest.approx(40 / 60)
    turned = head_pose((100.0, 100.0), (160.0, 100.0), (145.0, 140.0))  # the nose towards the photo's right
    assert turned.yaw == pytest.approx(0.25)
    width = 400.0  # the same face mirrored: x -> width - x, so the eyes swap sides
    mirrored = head_pose((width - 160.0, 100.0), (width - 100.0, 100.0), (width - 145.0, 140.0))
    assert mirrored.yaw == pytest.approx(-turned.yaw) and mirrored.pitch == pytest.approx(turned.pitch)


def test_head_pose_ignores_the_size_and_the_roll_of_the_face() -> None:
    import math

    from attendance.core.domain.faces import head_pose

    base = head_pose((100.0, 100.0), (160.0, 100.0), (145.0, 140.0))
    big = head_pose((200.0, 200.0), (320.0, 200.0), (290.0, 280.0))  # twice the size
    assert (big.yaw, big.pitch) == pytest.approx((base.yaw, base.pitch))

    def rotate(p: tuple[float, float], a: float = math.radians(20)) -> tuple[float, float]:
        return (p[0] * math.cos(a) - p[1] * math.sin(a), p[0] * math.sin(a) + p[1] * math.cos(a))

    tilted = head_pose(rotate((100.0, 100.0)), rotate((160.0, 100.0)), rotate((145.0, 140.0)))  # head on a shoulder
    assert (tilted.yaw, tilted.pitch) == pytest.approx((base.yaw, base.pitch))
    looking_up = head_pose((100.0, 100.0), (160.0, 100.0), (130.0, 115.0))  # the nose nearer the eye line
    assert looking_up.pitch < base.pitch
    assert head_pose((1.0, 1.0), (1.0, 1.0), (5.0, 5.0)) == head_pose((0.0, 0.0), (0.0, 0.0), (0.0, 0.0))
