"""The face pipeline: decode, detect, choose the face, quality gates, embed, fingerprint.

Only detecting and embedding are the model's (``model.FaceModel``); the rest is the same for
every model. One pipeline per process (models are not shared across processes); CPU-bound:
callers on an event loop go through ``pool``. Built by ``registry.face_pipeline`` only.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
from PIL import Image

from attendance.adapters.faces.decode import Decoded, decode
from attendance.adapters.faces.fingerprint import phash
from attendance.adapters.faces.model import Described, FaceBox, FaceModel, Rgb
from attendance.core.domain.faces import (
    FaceAnalysis,
    FaceModelCard,
    PhotoRefused,
    Purpose,
    RefusalReason,
    StageTimes,
    dominant_face,
)
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
        decoded = decode(
            photo, max_bytes=s.max_bytes, max_pixels=s.max_pixels, work_size=s.work_size, detail_size=s.detail_size
        )
        self._model.load()
        started = time.perf_counter()
        faces = self._detect(decoded.pixels)
        face, rival = self._choose(faces, decoded, purpose)
        quality = self._quality(decoded, face, purpose)
        detected = time.perf_counter()
        jitters = s.enroll_jitters if purpose is Purpose.ENROLL else 0
        described = self._embed(decoded, decoded.pixels, decoded.detail, face, jitters)
        # enrollment: the face in the photo's mirror image too, a second template row
        # (docs/recognition.md, "a mirrored enrollment template")
        mirror = self._mirror(decoded, face, jitters) if purpose is Purpose.ENROLL else None
        encoded = time.perf_counter()
        inv = 1.0 / decoded.scale
        return FaceAnalysis(
            embedding=described.embedding,
            mirror=mirror,
            pose=described.pose,
            quality=quality,
            box=(round(face.left * inv), round(face.top * inv), round(face.right * inv), round(face.bottom * inv)),
            faces_found=len(faces),
            model_id=self._model.card.id,
            fingerprint=phash(decoded.pixels),
            rival=round(rival, 3),
            captured_at=decoded.captured_at,
            times=StageTimes(
                decode_ms=decoded.ms,
                detect_ms=(detected - started) * 1000,
                encode_ms=(encoded - detected) * 1000,
            ),
        )

    def _embed(self, decoded: Decoded, pixels: Rgb, detail: Rgb | None, face: FaceBox, jitters: int) -> Described:
        """Found on the working copy; landmarks and chip from the detailed one when the photo had more pixels."""
        if detail is not None:
            return self._model.embed(detail, face.scaled(decoded.detail_scale()), jitters=jitters)
        return self._model.embed(pixels, face, jitters=jitters)

    def _mirror(self, decoded: Decoded, face: FaceBox, jitters: int) -> tuple[float, ...]:
        """The chosen face in the photo flipped left to right: its box mirrored (no second
        detection), landmarks and chip found on the flipped pixels."""
        pixels = np.ascontiguousarray(decoded.pixels[:, ::-1])
        detail = np.ascontiguousarray(decoded.detail[:, ::-1]) if decoded.detail is not None else None
        width = decoded.pixels.shape[1]
        flipped = dataclasses.replace(face, left=width - face.right, right=width - face.left)
        return self._embed(decoded, pixels, detail, flipped, jitters).embedding

    def locate(self, photo: bytes) -> tuple[Rgb, list[FaceBox]]:
        """The working-size pixels of a photo and every face found in them (for tools that build
        test photos, ``composite``)."""
        s = self._s
        decoded = decode(photo, max_bytes=s.max_bytes, max_pixels=s.max_pixels, work_size=s.work_size)
        self._model.load()
        return decoded.pixels, self._detect(decoded.pixels)

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

    def _choose(self, faces: list[FaceBox], decoded: Decoded, purpose: Purpose) -> tuple[FaceBox, float]:
        """The dominant face (``dominant_face``: the domain's rule, stricter for enrollment) and
        its runner-up's share."""
        h, w = decoded.pixels.shape[:2]
        ratio = self._s.second_face_ratio_enroll if purpose is Purpose.ENROLL else self._s.second_face_ratio_check_in
        best, rival = dominant_face([(f.left, f.top, f.right, f.bottom) for f in faces], w, h, rival_ratio=ratio)
        return faces[best], rival

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
