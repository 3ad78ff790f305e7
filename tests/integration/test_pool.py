"""The face engine behind the real process pool: results and refusals cross the boundary."""

from __future__ import annotations

import asyncio

import pytest

from attendance.adapters.faces.pool import ProcessPoolFaceEngine
from attendance.core.domain.faces import PhotoRefused, Purpose, RefusalReason
from attendance.settings import FaceSettings


async def test_pool_analyses_in_parallel_and_refuses_clearly(photo) -> None:  # type: ignore[no-untyped-def]
    engine = ProcessPoolFaceEngine(FaceSettings(), processes=2)
    try:
        await engine.warm_up()
        good, other = await asyncio.gather(
            engine.analyse(photo("Serena_Williams/1.jpg"), Purpose.ENROLL),
            engine.analyse(photo("Kit_Harington/1.jpg"), Purpose.CHECK_IN),
        )
        assert len(good.embedding) == 128 and len(other.embedding) == 128
        assert good.embedding != other.embedding
        with pytest.raises(PhotoRefused) as refused:
            await engine.analyse(b"%PDF-1.7 not a photo", Purpose.CHECK_IN)
        assert refused.value.reason is RefusalReason.UNSUPPORTED_TYPE
        assert "JPEG, PNG, WebP or HEIC" in str(refused.value)
    finally:
        engine.close()
