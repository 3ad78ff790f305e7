"""Repliers: how the person hears the outcome.

* ``HttpCallbackReplier`` posts the outcome as JSON to the job's ``reply_to`` URL (the shape of
  Slack's ``response_url``; kiosks and tests use it too). Non-2xx raises, so the worker retries.
* ``LogReplier`` for jobs with nowhere to answer (CLI, bench): one log line, no personal data.
"""

from __future__ import annotations

import logging

import aiohttp

from attendance.core.domain.checkins import CheckInJob, Outcome
from attendance.core.errors import ReplyFailed
from attendance.core.ports import Replier

log = logging.getLogger(__name__)


def outcome_json(job: CheckInJob, outcome: Outcome, text: str) -> dict[str, object]:
    return {
        "job_id": job.id,
        "outcome": outcome.kind.value,
        "direction": outcome.direction.value if outcome.direction else None,
        "at": outcome.at.isoformat() if outcome.at else None,
        "timezone": outcome.timezone,
        "employee_id": outcome.employee_id,
        "event_id": outcome.event_id,
        "reason": outcome.reason,
        "text": text,
    }


class HttpCallbackReplier:
    def __init__(self, session: aiohttp.ClientSession, timeout_s: float = 10.0) -> None:
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def reply(self, job: CheckInJob, outcome: Outcome, text: str) -> None:
        assert job.reply_to is not None
        try:
            async with self._session.post(
                job.reply_to, json=outcome_json(job, outcome, text), timeout=self._timeout
            ) as resp:
                if resp.status >= 300:
                    raise ReplyFailed(f"reply refused with HTTP {resp.status}")
        except aiohttp.ClientError as exc:
            raise ReplyFailed(f"reply failed: {type(exc).__name__}") from exc


class LogReplier:
    async def reply(self, job: CheckInJob, outcome: Outcome, text: str) -> None:
        log.info("outcome job=%s channel=%s outcome=%s", job.id, job.channel, outcome.kind.value)


class ReplierRouter:
    """Answer at the job's ``reply_to`` when it has one, else through its channel's replier."""

    def __init__(self, by_channel: dict[str, Replier], callback: Replier, fallback: Replier) -> None:
        self._by_channel, self._callback, self._fallback = by_channel, callback, fallback

    async def reply(self, job: CheckInJob, outcome: Outcome, text: str) -> None:
        if job.reply_to:
            await self._callback.reply(job, outcome, text)
        else:
            await self._by_channel.get(job.channel, self._fallback).reply(job, outcome, text)
