"""What the face engine tells the core: an analysis, or a refusal with a reason a person reads.

Exception tree (this module)::

    PhotoRefused            the photo cannot be used; ``reason`` says why, ``message`` says it
                            in a sentence for the person who sent it
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass

from attendance.core.domain.model import FaceQuality, MatchThresholds


class Purpose(enum.StrEnum):
    ENROLL = "enroll"  # strict gates: exactly one clear, large, sharp, well-lit face
    CHECK_IN = "check_in"  # lenient: the dominant face is used


class RefusalReason(enum.StrEnum):
    EMPTY = "empty"
    UNSUPPORTED_TYPE = "unsupported_type"
    TOO_MANY_BYTES = "too_many_bytes"
    TOO_MANY_PIXELS = "too_many_pixels"
    CORRUPT = "corrupt"
    NO_FACE = "no_face"
    MULTIPLE_FACES = "multiple_faces"
    FACE_TOO_SMALL = "face_too_small"
    BLURRED = "blurred"
    TOO_DARK = "too_dark"
    TOO_BRIGHT = "too_bright"
    DUPLICATE = "duplicate"
    OTHER_PERSONS_FACE = "other_persons_face"
    NOT_SAME_PERSON = "not_same_person"
    TOO_MANY_TEMPLATES = "too_many_templates"


MESSAGES: dict[RefusalReason, str] = {
    RefusalReason.EMPTY: "The file was empty. Please send the photo again.",
    RefusalReason.UNSUPPORTED_TYPE: (
        "That file is not a photo I can read. Please send a JPEG, PNG, WebP or HEIC picture."
    ),
    RefusalReason.TOO_MANY_BYTES: "That photo is too large. Please send one under {max_mb} MB.",
    RefusalReason.TOO_MANY_PIXELS: (
        "That picture has too many pixels. Please send a normal phone photo (at most {limit_mp} megapixels)."
    ),
    RefusalReason.CORRUPT: "That photo could not be opened; it looks damaged. Please take a new one.",
    RefusalReason.NO_FACE: "No face found. Face the camera in good light and try again.",
    RefusalReason.MULTIPLE_FACES: "There is more than one person in the photo. Please take one of just yourself.",
    RefusalReason.FACE_TOO_SMALL: "Your face is too small in the photo. Hold the camera closer and try again.",
    RefusalReason.BLURRED: "The photo is blurred. Hold the camera still and try again.",
    RefusalReason.TOO_DARK: "The photo is too dark. Find more light and try again.",
    RefusalReason.TOO_BRIGHT: "The photo is too bright. Move out of direct light and try again.",
    RefusalReason.DUPLICATE: "This photo is already enrolled. Please take a different one.",
    RefusalReason.OTHER_PERSONS_FACE: (
        "This face is already enrolled for someone else. Please ask your admin for help."
    ),
    RefusalReason.NOT_SAME_PERSON: (
        "This face does not match the photos already enrolled for you, so it was not added. "
        "Please send a photo of yourself, or ask your admin to erase your face data and enroll again."
    ),
    RefusalReason.TOO_MANY_TEMPLATES: (
        "You already have {limit} photos enrolled. Erase them first to enroll new ones."
    ),
}


class PhotoRefused(Exception):
    """The photo cannot be used. ``str()`` is the sentence for the person."""

    def __init__(self, reason: RefusalReason, **details: object) -> None:
        self.reason = reason
        self.details = details
        super().__init__(MESSAGES[reason].format(**details))

    def __reduce__(self) -> tuple[object, ...]:  # survives the trip back from a worker process
        return (_rebuild_refusal, (self.reason.value, self.details))


def _rebuild_refusal(reason: str, details: dict[str, object]) -> PhotoRefused:
    return PhotoRefused(RefusalReason(reason), **details)


@dataclass(frozen=True, slots=True, kw_only=True)
class FaceModelCard:
    """What the service must know about the face model in use, whichever it is: its id (stored
    on every template; a template of another model is never compared), the size of its
    embeddings, the thresholds calibrated for it on the development set (``attendance eval``,
    docs/recognition.md) and that calibration's sweep, shown to admins who change thresholds:
    (threshold, genuine accepted, strangers accepted, impostor trials accepted)."""

    id: str
    embedding_size: int
    thresholds: MatchThresholds
    sweep: tuple[tuple[float, float, float, float], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class StageTimes:
    decode_ms: float
    detect_ms: float
    encode_ms: float


Point = tuple[float, float]  # x, y in one photo's pixels (y downwards)


@dataclass(frozen=True, slots=True)
class HeadPose:
    """Where the head points, from three landmarks, in units of the distance between the eyes
    (so the same for a small and a large face). ``yaw``: the nose's offset from the middle of
    the eyes along the eye line, > 0 towards the photo's right (a mirrored photo flips its
    sign); about 0 facing the camera. ``pitch``: the nose's drop below the eye line; smaller
    when the head tilts up. Calibration: docs/recognition.md, "Head pose"."""

    yaw: float
    pitch: float


def head_pose(eye_left: Point, eye_right: Point, nose: Point) -> HeadPose:
    """``eye_left`` / ``eye_right``: the centres of the eyes on the photo's left and right."""
    ax, ay = eye_right[0] - eye_left[0], eye_right[1] - eye_left[1]
    d = math.hypot(ax, ay)
    if d == 0:
        return HeadPose(0.0, 0.0)
    ux, uy = ax / d, ay / d  # along the eye line; (-uy, ux) is "down the face"
    nx = nose[0] - (eye_left[0] + eye_right[0]) / 2
    ny = nose[1] - (eye_left[1] + eye_right[1]) / 2
    return HeadPose(yaw=(nx * ux + ny * uy) / d, pitch=(-nx * uy + ny * ux) / d)


@dataclass(frozen=True, slots=True, kw_only=True)
class FaceAnalysis:
    """One face found in a photo: its embedding (``model_id``'s) and how good the photo was."""

    embedding: tuple[float, ...]
    quality: FaceQuality
    box: tuple[int, int, int, int]  # left, top, right, bottom in the original photo's pixels
    faces_found: int
    model_id: str
    times: StageTimes
    fingerprint: int = 0  # 64-bit perceptual hash of the whole photo (replay check)
    rival: float = 0.0  # the next face's prominence as a share of the chosen face's (0: alone)
    pose: HeadPose | None = None  # from the model's landmarks; None when the model gives none
    captured_at: str | None = None  # EXIF capture time, "YYYY:MM:DD HH:MM:SS[+HH:MM]"
    mirror: tuple[float, ...] | None = None  # enrollment: the embedding of the face's mirror image


Box = tuple[int, int, int, int]  # left, top, right, bottom, in one photo's pixels

CENTRE_FALLOFF = 3.0  # a face a sixth of the diagonal from the centre counts half (calibrated: recognition.md)
CENTRE_WEIGHT_FLOOR = 0.05  # a face in a corner still counts a little


def prominence(box: Box, width: int, height: int) -> float:
    """How much a face is the photo's subject: its area, discounted by its distance from the
    centre (a face at the centre counts whole, one a sixth of the diagonal away counts half)."""
    left, top, right, bottom = box
    area = max(0, right - left) * max(0, bottom - top)
    off = math.hypot((left + right) / 2 - width / 2, (top + bottom) / 2 - height / 2) / math.hypot(width, height)
    return area * max(CENTRE_WEIGHT_FLOOR, 1.0 - CENTRE_FALLOFF * off)


def dominant_face(boxes: Sequence[Box], width: int, height: int, *, rival_ratio: float) -> tuple[int, float]:
    """The index of the face the photo is *of*, when one face clearly dominates, and the
    runner-up's prominence as a share of it (0 when the face is alone).

    "Clearly": every other face's ``prominence`` is below ``rival_ratio`` times the dominant
    one's. A colleague behind the person (smaller, or off to the side) is then ignored and the
    decision is made on the dominant face; two faces of similar size and place are two people,
    refused (``MULTIPLE_FACES``), as is a photo with no face (``NO_FACE``). Check-in and
    enrollment use this same rule with different ratios (``FaceSettings``; calibration in
    docs/recognition.md, "Background faces")."""
    if not boxes:
        raise PhotoRefused(RefusalReason.NO_FACE)
    weights = [prominence(b, width, height) for b in boxes]
    best = max(range(len(boxes)), key=weights.__getitem__)
    rival = max((w for i, w in enumerate(weights) if i != best), default=0.0) / max(weights[best], 1e-9)
    if len(boxes) > 1 and rival >= rival_ratio:
        raise PhotoRefused(RefusalReason.MULTIPLE_FACES)
    return best, rival
