"""The pose challenge against replayed photos (a tenant setting, off by default). Pure: no I/O.

With it on, an accepted chat check-in is not recorded at once: the answer asks for a pose
(``Pose``), and the next selfie must show it (``shows``), match the person, and not have been
taken before the instruction. A photo saved earlier passes a random instruction only by the
chance that it happens to show that pose (about 8 % for a turn on the development set;
docs/recognition.md, "Head pose").
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from attendance.core.domain.faces import HeadPose

CHALLENGE_TTL = timedelta(minutes=3)  # the next selfie must come within this
TURN = 0.15  # |yaw| of a turn, in eye distances (calibrated: docs/recognition.md)
TILT_UP = 0.60  # pitch at most this for "head up" (frontal photos: p50 0.74, p5 0.59)


class Pose(enum.StrEnum):
    LEFT = "left"  # the person's left: on an unmirrored front-camera photo, the nose towards the photo's right
    RIGHT = "right"
    UP = "up"


INSTRUCTIONS = {
    Pose.LEFT: "turn your head a little to your left",
    Pose.RIGHT: "turn your head a little to your right",
    Pose.UP: "tilt your head up a little",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Challenge:
    tenant_id: str
    employee_id: str
    pose: Pose
    issued_at: datetime
    job_id: str  # the check-in that asked (a second run of it asks the same again)

    def expired(self, now: datetime) -> bool:
        return now - self.issued_at > CHALLENGE_TTL


def new_challenge(tenant_id: str, employee_id: str, job_id: str, now: datetime, rng: random.Random) -> Challenge:
    return Challenge(
        tenant_id=tenant_id, employee_id=employee_id, pose=rng.choice(list(Pose)), issued_at=now, job_id=job_id
    )


def shows(pose: Pose, head: HeadPose | None) -> bool:
    """Whether the estimated head pose is the one asked for (no estimate: no)."""
    if head is None:
        return False
    match pose:
        case Pose.LEFT:
            return head.yaw >= TURN
        case Pose.RIGHT:
            return head.yaw <= -TURN
        case Pose.UP:
            return head.pitch <= TILT_UP and abs(head.yaw) < TURN


def answers(challenge: Challenge, head: HeadPose | None, received_at: datetime, taken_at: datetime | None) -> bool:
    """A selfie answers the challenge: sent after it, within its time, not taken before it (when
    the photo says when it was taken), showing the pose asked for."""
    if received_at < challenge.issued_at or challenge.expired(received_at):
        return False
    if taken_at is not None and taken_at < challenge.issued_at:
        return False
    return shows(challenge.pose, head)
