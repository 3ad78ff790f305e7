"""``TracedFaceEngine``: a ``FaceEngine`` that makes a span of each photo's analysis, with the stage
times measured where the work ran (the engine's process). The composition root wraps the engine
in it when tracing is on. Nothing of the face itself goes into the span."""

from __future__ import annotations

from attendance.core.domain.faces import FaceAnalysis, FaceModelCard, Purpose
from attendance.core.ports import FaceEngine, Tracer


class TracedFaceEngine:
    def __init__(self, inner: FaceEngine, tracer: Tracer) -> None:
        self._inner, self._tracer = inner, tracer

    @property
    def model(self) -> FaceModelCard:
        return self._inner.model

    async def analyse(self, photo: bytes, purpose: Purpose) -> FaceAnalysis:
        with self._tracer.span("face.analyse", {"face.purpose": purpose.value, "photo.bytes": len(photo)}) as span:
            analysis = await self._inner.analyse(photo, purpose)
            span.set("face.decode_ms", analysis.times.decode_ms)
            span.set("face.detect_ms", analysis.times.detect_ms)
            span.set("face.encode_ms", analysis.times.encode_ms)
            span.set("face.faces_found", analysis.faces_found)
            return analysis
