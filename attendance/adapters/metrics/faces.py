"""``MeteredFaceEngine``: a ``FaceEngine`` that tells the ``Metrics`` port each photo's stage times
(decode, detect, encode: measured where the work ran, in the engine's process, and returned with
the analysis). The worker's engine is wrapped in it by the composition root."""

from __future__ import annotations

from attendance.core.domain.faces import FaceAnalysis, FaceModelCard, Purpose
from attendance.core.ports import FaceEngine, Metrics


class MeteredFaceEngine:
    def __init__(self, inner: FaceEngine, metrics: Metrics) -> None:
        self._inner, self._metrics = inner, metrics

    @property
    def model(self) -> FaceModelCard:
        return self._inner.model

    async def analyse(self, photo: bytes, purpose: Purpose) -> FaceAnalysis:
        analysis = await self._inner.analyse(photo, purpose)
        t = analysis.times
        self._metrics.face_analysed(t.decode_ms / 1000, t.detect_ms / 1000, t.encode_ms / 1000)
        return analysis
