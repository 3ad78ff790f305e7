"""The face pipeline: decode, detect, choose the face, quality gates, embed, fingerprint.

Only detecting and embedding are the model's (``model.FaceModel``); the rest is the same for
every model. One pipeline per process (models are not shared across processes); CPU-bound:
callers on an event loop go through ``pool``. Built by ``registry.face_pipeline`` only.
"""

from __future__ import annotations

import time

import numpy as np
from PIL import Image

from attendance.adapters.faces.decode import Decoded, decode
from attendance.adapters.faces.fingerprint import phash
from attendance.adapters.faces.model import FaceBox, FaceModel, Rgb
from attendance.core.domain.faces import FaceAnalysis, FaceModelCard, PhotoRefused, Purpose, RefusalReason, StageTimes
from attendance.core.domain.model import FaceQuality
from attendance.settings import FaceSettings


class FacePipeline:
    """The ``FaceEngine`` port in this process. ``analyse_sync`` is the whole pipeline for one photo."""

    def __init__(self, settings: FaceSettings, model: FaceModel) -> None:
        self._s = settings
        self._model = model

    @property
    def model(self) -> FaceModelCard:
        return self._model.card

    def warm_up(self) -> None:
        self._model.load()

    async def analyse(self, photo: bytes, purpose: Purpose) -> FaceAnalysis:
        """In-process, on the caller's thread: for CLI tools and tests, not for an event loop."""
        return self.analyse_sync(photo, purpose)

    def analyse_sync(self, photo: bytes, purpose: Purpose) -> FaceAnalysis:
        s = self._s
        decoded = decode(photo, max_bytes=s.max_bytes, max_pixels=s.max_pixels, work_size=s.work_size)
        self._model.load()
        started = time.perf_counter()
        faces = self._detect(decoded.pixels)
        face = self._choose(faces, decoded, purpose)
        quality = self._quality(decoded, face, purpose)
        detected = time.perf_counter()
        jitters = s.enroll_jitters if purpose is Purpose.ENROLL else 0
        embedding = self._model.embed(decoded.pixels, face, jitters=jitters)
        encoded = time.perf_counter()
        inv = 1.0 / decoded.scale
        return FaceAnalysis(
            embedding=embedding,
            quality=quality,
            box=(round(face.left * inv), round(face.top * inv), round(face.right * inv), round(face.bottom * inv)),
            faces_found=len(faces),
            model_id=self._model.card.id,
            fingerprint=phash(decoded.pixels),
            captured_at=decoded.captured_at,
            times=StageTimes(
                decode_ms=decoded.ms,
                detect_ms=(detected - started) * 1000,
                encode_ms=(encoded - detected) * 1000,
            ),
        )

    def _detect(self, pixels: Rgb) -> list[FaceBox]:
        """A cheap pass on a small copy without upsampling; if it finds nothing, a careful one."""
        h, w = pixels.shape[:2]
        first = self._s.first_try_size
        if max(h, w) > first:
            ratio = first / max(h, w)
            small = np.asarray(
                Image.fromarray(pixels).resize((round(w * ratio), round(h * ratio)), Image.Resampling.BILINEAR)
            )
            faces = [f.scaled(1.0 / ratio) for f in self._model.detect(small, upsample=0)]
        else:
            faces = self._model.detect(pixels, upsample=0)
        if not faces:
            faces = self._model.detect(pixels, upsample=1)
        return faces

    def _choose(self, faces: list[FaceBox], decoded: Decoded, purpose: Purpose) -> FaceBox:
        """The face that is large and central. A second face weighing nearly as much means the
        photo shows two people: refused (strictly for enrollment, only when ambiguous at check-in)."""
        if not faces:
            raise PhotoRefused(RefusalReason.NO_FACE)
        h, w = decoded.pixels.shape[:2]
        cx, cy, diag = w / 2, h / 2, float(np.hypot(w, h))

        def weight(f: FaceBox) -> float:
            off = float(np.hypot((f.left + f.right) / 2 - cx, (f.top + f.bottom) / 2 - cy)) / diag
            return f.area * max(0.05, 1.0 - 2.0 * off)

        ranked = sorted(faces, key=weight, reverse=True)
        chosen = ranked[0]
        limit = self._s.second_face_ratio_enroll if purpose is Purpose.ENROLL else self._s.second_face_ratio_check_in
        if len(ranked) > 1 and weight(ranked[1]) >= limit * weight(chosen):
            raise PhotoRefused(RefusalReason.MULTIPLE_FACES)
        return chosen

    def _quality(self, decoded: Decoded, face: FaceBox, purpose: Purpose) -> FaceQuality:
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
