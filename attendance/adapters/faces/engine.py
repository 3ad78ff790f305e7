"""The dlib face engine: detection, face choice, quality gates, 5-point alignment, descriptor.

One instance per process (dlib models are not shared across processes); models load lazily
under a lock on first use. CPU-bound: callers on an event loop go through ``pool``.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from attendance.adapters.faces.decode import Decoded, decode
from attendance.adapters.faces.fingerprint import phash
from attendance.core.domain.faces import FaceAnalysis, PhotoRefused, Purpose, RefusalReason, StageTimes
from attendance.core.domain.model import FaceQuality
from attendance.settings import FaceSettings

MODEL_ID = "dlib_resnet_v1+sp5"

Rgb = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class _Face:
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


def _model_path(name: str) -> str:
    """A model file of ``face_recognition_models``, found without importing that package
    (its ``__init__`` pulls in the deprecated ``pkg_resources``)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the face_recognition_models package is not installed")
    return str(Path(next(iter(spec.submodule_search_locations))) / "models" / name)


class DlibFaceEngine:
    """Synchronous engine. ``analyse_sync`` is the whole pipeline for one photo."""

    def __init__(self, settings: FaceSettings) -> None:
        self._s = settings
        self._lock = threading.Lock()
        self._models: tuple[Any, Any, Any] | None = None

    def _load(self) -> tuple[Any, Any, Any]:
        with self._lock:
            if self._models is None:
                import dlib

                self._models = (
                    dlib.get_frontal_face_detector(),
                    dlib.shape_predictor(_model_path("shape_predictor_5_face_landmarks.dat")),
                    dlib.face_recognition_model_v1(_model_path("dlib_face_recognition_resnet_model_v1.dat")),
                )
            return self._models

    def warm_up(self) -> None:
        self._load()

    async def analyse(self, photo: bytes, purpose: Purpose) -> FaceAnalysis:
        """In-process, on the caller's thread: for CLI tools and tests, not for an event loop."""
        return self.analyse_sync(photo, purpose)

    def analyse_sync(self, photo: bytes, purpose: Purpose) -> FaceAnalysis:
        s = self._s
        decoded = decode(photo, max_bytes=s.max_bytes, max_pixels=s.max_pixels, work_size=s.work_size)
        detector, predictor, encoder = self._load()
        started = time.perf_counter()
        faces = self._detect(detector, decoded.pixels)
        face = self._choose(faces, decoded, purpose)
        quality = self._quality(decoded, face, purpose)
        detected = time.perf_counter()
        import dlib

        rect = dlib.rectangle(face.left, face.top, face.right, face.bottom)
        shape = predictor(decoded.pixels, rect)
        jitters = s.enroll_jitters if purpose is Purpose.ENROLL else 0
        descriptor = encoder.compute_face_descriptor(decoded.pixels, shape, jitters)
        encoded = time.perf_counter()
        inv = 1.0 / decoded.scale
        return FaceAnalysis(
            embedding=tuple(float(x) for x in descriptor),
            quality=quality,
            box=(round(face.left * inv), round(face.top * inv), round(face.right * inv), round(face.bottom * inv)),
            faces_found=len(faces),
            model_id=MODEL_ID,
            fingerprint=phash(decoded.pixels),
            captured_at=decoded.captured_at,
            times=StageTimes(
                decode_ms=decoded.ms,
                detect_ms=(detected - started) * 1000,
                encode_ms=(encoded - detected) * 1000,
            ),
        )

    def _detect(self, detector: Any, pixels: Rgb) -> list[_Face]:
        """A cheap pass on a small copy without upsampling; if it finds nothing, a careful one."""
        h, w = pixels.shape[:2]
        first = self._s.first_try_size
        if max(h, w) > first:
            ratio = first / max(h, w)
            small = np.asarray(
                Image.fromarray(pixels).resize((round(w * ratio), round(h * ratio)), Image.Resampling.BILINEAR)
            )
        else:
            ratio, small = 1.0, pixels
        faces = self._run(detector, small, 0, ratio)
        if not faces:
            faces = self._run(detector, pixels, 1, 1.0)
        return faces

    @staticmethod
    def _run(detector: Any, pixels: Rgb, upsample: int, ratio: float) -> list[_Face]:
        rects, scores, _ = detector.run(pixels, upsample, 0.0)
        inv = 1.0 / ratio
        return [
            _Face(
                round(r.left() * inv), round(r.top() * inv), round(r.right() * inv), round(r.bottom() * inv), float(sc)
            )
            for r, sc in zip(rects, scores, strict=True)
        ]

    def _choose(self, faces: list[_Face], decoded: Decoded, purpose: Purpose) -> _Face:
        """The face that is large and central. A second face weighing nearly as much means the
        photo shows two people: refused (strictly for enrollment, only when ambiguous at check-in)."""
        if not faces:
            raise PhotoRefused(RefusalReason.NO_FACE)
        h, w = decoded.pixels.shape[:2]
        cx, cy, diag = w / 2, h / 2, float(np.hypot(w, h))

        def weight(f: _Face) -> float:
            off = float(np.hypot((f.left + f.right) / 2 - cx, (f.top + f.bottom) / 2 - cy)) / diag
            return f.area * max(0.05, 1.0 - 2.0 * off)

        ranked = sorted(faces, key=weight, reverse=True)
        chosen = ranked[0]
        limit = self._s.second_face_ratio_enroll if purpose is Purpose.ENROLL else self._s.second_face_ratio_check_in
        if len(ranked) > 1 and weight(ranked[1]) >= limit * weight(chosen):
            raise PhotoRefused(RefusalReason.MULTIPLE_FACES)
        return chosen

    def _quality(self, decoded: Decoded, face: _Face, purpose: Purpose) -> FaceQuality:
        s = self._s
        h, w = decoded.pixels.shape[:2]
        left, top = max(0, face.left), max(0, face.top)
        right, bottom = min(w, face.right), min(h, face.bottom)
        crop = decoded.pixels[top:bottom, left:right]
        gray = np.asarray(
            Image.fromarray(crop).convert("L").resize((112, 112), Image.Resampling.BILINEAR), dtype=np.float32
        )
        lap = gray[1:-1, :-2] + gray[1:-1, 2:] + gray[:-2, 1:-1] + gray[2:, 1:-1] - 4.0 * gray[1:-1, 1:-1]
        quality = FaceQuality(
            face_px=round(face.width / decoded.scale),
            sharpness=float(lap.var()),
            brightness=float(gray.mean()),
            detector_score=face.score,
        )
        enroll = purpose is Purpose.ENROLL
        if quality.face_px < (s.min_face_px_enroll if enroll else s.min_face_px_check_in):
            raise PhotoRefused(RefusalReason.FACE_TOO_SMALL)
        if quality.brightness < s.min_brightness:
            raise PhotoRefused(RefusalReason.TOO_DARK)
        if quality.brightness > s.max_brightness:
            raise PhotoRefused(RefusalReason.TOO_BRIGHT)
        if quality.sharpness < (s.min_sharpness_enroll if enroll else s.min_sharpness_check_in):
            raise PhotoRefused(RefusalReason.BLURRED)
        return quality
