"""The periodic work, in one loop per job: reminders and digests, the day summaries, and
whatever else runs on a clock. Every job is idempotent per (tenant, day, kind) — its writes are
keyed so — so several scheduler processes may run, and a job run twice does its work once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from attendance.core.errors import StoreUnavailable
from attendance.core.ports import Clock

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    every_s: float
    run: Callable[[datetime], Awaitable[int]]  # returns how much it did


class Scheduler:
    def __init__(self, jobs: Sequence[Job], clock: Clock) -> None:
        self.jobs, self._clock = list(jobs), clock

    async def run_once(self) -> dict[str, int]:
        """Each job once, now (what one tick of ``run`` does)."""
        now = self._clock.now()
        return {job.name: await job.run(now) for job in self.jobs}

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.gather(*(self._loop(job, stop) for job in self.jobs))

    async def _loop(self, job: Job, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                done = await job.run(self._clock.now())
                if done:
                    log.info("%s: %s", job.name, done)
            except StoreUnavailable as exc:
                log.warning("%s: database unavailable (%s); later", job.name, type(exc).__name__)
            except Exception:
                log.exception("%s failed; it runs again at its next turn", job.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=job.every_s)
