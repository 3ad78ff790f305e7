"""dlib's face model: the HOG frontal face detector, the 5-point shape predictor and the ResNet
face descriptor (128 numbers), from the ``face_recognition_models`` package."""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

from attendance.adapters.faces.model import Described, FaceBox, Rgb
from attendance.core.domain.faces import FaceModelCard, head_pose
from attendance.core.domain.model import MatchThresholds

# Calibrated on ../shared/faces with `attendance eval` (docs/recognition.md has the numbers).
DLIB_RESNET = FaceModelCard(
    id="dlib_resnet_v1+sp5",
    embedding_size=128,
    thresholds=MatchThresholds(
        verify=0.55,
        verify_retry=0.60,
        verify_margin=0.0,
        accept=0.54,
        retry=0.60,
        margin=0.06,
        verify_support=0.015,
        verify_clear=0.57,
        verify_clear_margin=0.06,
        adapt=0.45,
        adapt_margin=0.15,
    ),
    sweep=(
        # T, genuine accepted (identify), strangers accepted, impostor trials accepted (verify)
        # (`attendance eval ../shared/faces`, mirrored templates and verify's clear band to T + 0.02)
        (0.50, 0.885, 0.0, 0.0),
        (0.52, 0.952, 0.0, 0.0),
        (0.54, 0.971, 0.0, 0.0),
        (0.56, 0.981, 0.0, 0.0),
        (0.58, 1.000, 0.0, 0.001),
        (0.60, 1.000, 0.067, 0.001),
        (0.62, 1.000, 0.133, 0.001),
    ),
)


def _model_path(name: str) -> str:
    """A model file of ``face_recognition_models``, found without importing that package
    (its ``__init__`` pulls in the deprecated ``pkg_resources``)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the face_recognition_models package is not installed")
    return str(Path(next(iter(spec.submodule_search_locations))) / "models" / name)


class DlibResNetModel:
    """The ``FaceModel`` of dlib. Its three models load on first use, under a lock."""

    card = DLIB_RESNET

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: tuple[Any, Any, Any] | None = None

    def _loaded(self) -> tuple[Any, Any, Any]:
        with self._lock:
            if self._models is None:
                import dlib

                self._models = (
                    dlib.get_frontal_face_detector(),
                    dlib.shape_predictor(_model_path("shape_predictor_5_face_landmarks.dat")),
                    dlib.face_recognition_model_v1(_model_path("dlib_face_recognition_resnet_model_v1.dat")),
                )
            return self._models

    def load(self) -> None:
        self._loaded()

    def detect(self, pixels: Rgb, *, upsample: int) -> list[FaceBox]:
        detector = self._loaded()[0]
        rects, scores, _ = detector.run(pixels, upsample, 0.0)
        return [
            FaceBox(r.left(), r.top(), r.right(), r.bottom(), float(sc)) for r, sc in zip(rects, scores, strict=True)
        ]

    def embed(self, pixels: Rgb, face: FaceBox, *, jitters: int) -> Described:
        import dlib

        _, predictor, encoder = self._loaded()
        shape = predictor(pixels, dlib.rectangle(face.left, face.top, face.right, face.bottom))
        embedding = tuple(float(x) for x in encoder.compute_face_descriptor(pixels, shape, jitters))
        # the 5-point model: two corners of each eye (points 0-1 and 2-3) and the base of the nose (4)
        p = [(float(shape.part(i).x), float(shape.part(i).y)) for i in range(5)]
        eyes = sorted(
            [((p[0][0] + p[1][0]) / 2, (p[0][1] + p[1][1]) / 2), ((p[2][0] + p[3][0]) / 2, (p[2][1] + p[3][1]) / 2)]
        )
        return Described(embedding, head_pose(eyes[0], eyes[1], p[4]))
