"""The face engine behind a process pool, so no face work ever runs on an event loop.

Each worker process sets one BLAS thread, loads the face model in its initialiser (not in the
parent before a fork) and keeps one ``FacePipeline`` (built by ``registry.face_pipeline``). The
``spawn`` start method means no threads or database clients are inherited.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from attendance.core.domain.faces import FaceAnalysis, FaceModelCard, Purpose
from attendance.core.ports import EngineUnavailable
from attendance.settings import FaceSettings

log = logging.getLogger(__name__)

_engine = None  # this process's engine, set by the initialiser (pool workers only)

SINGLE_THREAD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def single_thread_blas() -> None:
    """Call before numpy or dlib are imported in a process that runs face work."""
    for key, value in SINGLE_THREAD_ENV.items():
        os.environ.setdefault(key, value)


def _init_worker(settings: FaceSettings) -> None:
    global _engine
    single_thread_blas()
    if settings.nice:  # on shared cores, a Slack acknowledgement (3 s deadline) goes before face work
        with contextlib.suppress(OSError):
            os.nice(settings.nice)
    from attendance.adapters.faces.registry import face_pipeline

    _engine = face_pipeline(settings)
    _engine.warm_up()


def _analyse(photo: bytes, purpose: Purpose) -> FaceAnalysis:
    assert _engine is not None, "pool worker without an engine"
    return _engine.analyse_sync(photo, purpose)


def _ready() -> bool:
    return _engine is not None


class ProcessPoolFaceEngine:
    """The ``FaceEngine`` port for servers and workers."""

    def __init__(self, settings: FaceSettings, processes: int | None = None) -> None:
        single_thread_blas()  # inherited by the spawned children through the environment
        from attendance.adapters.faces.registry import model_card

        self._settings = settings
        self._processes = processes or settings.processes
        self.model: FaceModelCard = model_card(settings)  # no model loaded in this process
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self._processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(self._settings,),
        )

    async def warm_up(self) -> None:
        """Start every process and load its models now rather than on the first photo."""
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._pool, _ready) for _ in range(self._processes)))

    async def analyse(self, photo: bytes, purpose: Purpose) -> FaceAnalysis:
        loop = asyncio.get_running_loop()
        pool = self._pool
        try:
            return await loop.run_in_executor(pool, _analyse, photo, purpose)
        except BrokenProcessPool as exc:
            if self._pool is pool:  # the first to notice replaces the pool
                log.error("a face-engine process died; starting a new pool")
                pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._new_pool()
            raise EngineUnavailable("the face engine restarted; try again") from exc

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
