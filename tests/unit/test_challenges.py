"""The pose challenge's rules (``core.domain.challenges``): pure, no I/O."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from attendance.core.domain.challenges import CHALLENGE_TTL, Pose, answers, new_challenge, shows
from attendance.core.domain.faces import HeadPose

T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
FACING = HeadPose(yaw=0.02, pitch=0.74)
TURNED_LEFT = HeadPose(yaw=0.22, pitch=0.73)  # the nose towards the photo's right
TURNED_RIGHT = HeadPose(yaw=-0.22, pitch=0.73)
UP = HeadPose(yaw=0.03, pitch=0.52)


def test_each_pose_is_told_apart_and_a_camera_facing_selfie_shows_none() -> None:
    for pose, head in ((Pose.LEFT, TURNED_LEFT), (Pose.RIGHT, TURNED_RIGHT), (Pose.UP, UP)):
        assert shows(pose, head)
        assert not shows(pose, FACING)
        assert [p for p in Pose if shows(p, head)] == [pose]
    assert not shows(Pose.LEFT, None), "no estimate, no pass"


def test_the_challenge_is_random_among_the_poses() -> None:
    rng = random.Random(7)
    asked = {new_challenge("t", "e", f"j{n}", T0, rng).pose for n in range(30)}
    assert asked == set(Pose)


def test_only_a_selfie_taken_and_sent_after_the_instruction_and_in_time_answers() -> None:
    challenge = new_challenge("t", "e", "j1", T0, random.Random(1))
    head = {Pose.LEFT: TURNED_LEFT, Pose.RIGHT: TURNED_RIGHT, Pose.UP: UP}[challenge.pose]
    soon = T0 + timedelta(seconds=40)
    assert answers(challenge, head, soon, taken_at=None)  # many apps strip the capture time
    assert answers(challenge, head, soon, taken_at=T0 + timedelta(seconds=30))
    assert not answers(challenge, head, soon, taken_at=T0 - timedelta(minutes=5)), "a photo saved before"
    assert not answers(challenge, head, T0 - timedelta(seconds=1), taken_at=None), "sent before it was asked"
    assert not answers(challenge, head, T0 + CHALLENGE_TTL + timedelta(seconds=1), taken_at=None), "too late"
    assert not answers(challenge, FACING, soon, taken_at=None), "not the pose asked for"
