"""Photo sources: where a worker gets a job's photo.

* ``buffer``: uploaded to us (kiosk, CLI, bench) and kept in ``photo_buffer`` until the job ends;
* ``url``: fetched over HTTP (aiohttp), with the size announced and checked, and the response
  checked to be an image (a chat platform answers a bad token with an HTML login page and 200).
"""

from __future__ import annotations

import logging

import aiohttp

from attendance.domain.checkins import CheckInJob
from attendance.ports import PhotoBuffer, PhotoSource, PhotoUnavailable

log = logging.getLogger(__name__)


class BufferPhotoSource:
    def __init__(self, buffer: PhotoBuffer) -> None:
        self._buffer = buffer

    async def fetch(self, job: CheckInJob) -> bytes:
        data = await self._buffer.get(job.photo.ref)
        if data is None:
            raise PhotoUnavailable("the uploaded photo has expired; please send it again", transient=False)
        return data


class HttpPhotoSource:
    def __init__(self, session: aiohttp.ClientSession, *, max_bytes: int, timeout_s: float = 10.0) -> None:
        self._session = session
        self._max = max_bytes
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def fetch(self, job: CheckInJob) -> bytes:
        if job.photo.size is not None and job.photo.size > self._max:
            raise PhotoUnavailable(f"the photo is larger than {self._max // 1_000_000} MB", transient=False)
        try:
            async with self._session.get(job.photo.ref, timeout=self._timeout) as resp:
                if resp.status >= 500 or resp.status == 429:
                    raise PhotoUnavailable(f"photo download failed with HTTP {resp.status}", transient=True)
                if resp.status != 200:
                    raise PhotoUnavailable(f"photo download refused with HTTP {resp.status}", transient=False)
                if not resp.content_type.startswith("image/") and resp.content_type != "application/octet-stream":
                    raise PhotoUnavailable(f"the download was {resp.content_type}, not a photo", transient=False)
                data = bytearray()
                async for chunk in resp.content.iter_chunked(65536):
                    data += chunk
                    if len(data) > self._max:
                        raise PhotoUnavailable(f"the photo is larger than {self._max // 1_000_000} MB", transient=False)
                log.info("photo downloaded bytes=%s", len(data))
                return bytes(data)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise PhotoUnavailable(f"photo download failed: {type(exc).__name__}", transient=True) from exc


class PhotoSourceRouter:
    """The ``PhotoSource`` port over several sources, chosen by the job's photo kind."""

    def __init__(self, sources: dict[str, PhotoSource]) -> None:
        self._sources = sources

    async def fetch(self, job: CheckInJob) -> bytes:
        source = self._sources.get(job.photo.kind)
        if source is None:
            raise PhotoUnavailable(f"no photo source for {job.photo.kind!r}", transient=False)
        return await source.fetch(job)
