"""The seam between the face pipeline and a face model.

``FaceModel`` is what a model must do: find faces, and describe one (landmarks, alignment and
embedding, as that model does them). Everything else a photo goes through is the model's
neighbour, not its business: decoding, choosing the face, the quality gates and the photo
fingerprint (``pipeline.FacePipeline``). A model loads its files lazily, under a lock, on first
use; one instance per process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from attendance.core.domain.faces import FaceModelCard, HeadPose

Rgb = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class FaceBox:
    """A face a model found, in the pixels it was given."""

    left: int
    top: int
    right: int
    bottom: int
    score: float

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def area(self) -> int:
        return max(0, self.right - self.left) * max(0, self.bottom - self.top)

    def scaled(self, factor: float) -> FaceBox:
        return FaceBox(
            round(self.left * factor),
            round(self.top * factor),
            round(self.right * factor),
            round(self.bottom * factor),
            self.score,
        )


@dataclass(frozen=True, slots=True)
class Described:
    embedding: tuple[float, ...]
    pose: HeadPose | None


class FaceModel(Protocol):
    @property
    def card(self) -> FaceModelCard:
        """Its id, embedding size and calibrated thresholds (no files loaded to answer)."""
        ...

    def load(self) -> None:
        """Load the model files now (idempotent, thread-safe)."""
        ...

    def detect(self, pixels: Rgb, *, upsample: int) -> list[FaceBox]:
        """Every face in ``pixels`` (RGB), ``upsample`` times enlarged for small faces."""
        ...

    def embed(self, pixels: Rgb, face: FaceBox, *, jitters: int) -> Described:
        """The embedding of ``face`` (``card.embedding_size`` numbers; ``jitters``: extra
        perturbed copies averaged in, for enrollment) and its head pose, when the model's
        landmarks give one (``core.domain.faces.head_pose``)."""
        ...
