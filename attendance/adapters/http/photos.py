"""Photo sources: where a worker gets a job's photo.

* ``buffer``: uploaded to us (kiosk, CLI, bench) and kept in ``photo_buffer`` until the job ends;
* ``url``: fetched over HTTP (aiohttp), with the size announced and checked, and the response
  checked to be an image (a chat platform answers a bad token with an HTML login page and 200).
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

from attendance.core.domain.checkins import CheckInJob
from attendance.core.ports import PhotoBuffer, PhotoSource, PhotoUnavailable

log = logging.getLogger(__name__)


class BufferPhotoSource:
    def __init__(self, buffer: PhotoBuffer) -> None:
        self._buffer = buffer

    async def fetch(self, job: CheckInJob) -> bytes:
        data = await self._buffer.get(job.photo.ref)
        if data is None:
            raise PhotoUnavailable("the uploaded photo has expired; please send it again", transient=False)
        return data

    async def discard(self, job: CheckInJob) -> None:
        await self._buffer.delete(job.photo.ref)


class HttpPhotoSource:
    """Photos at a URL. ``download`` follows up to 3 redirects itself, only to ``allowed_hosts`` and
    their subdomains (when given), keeping the headers (a chat platform's token) on each hop."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        max_bytes: int,
        timeout_s: float = 10.0,
        allowed_hosts: frozenset[str] | None = None,
    ) -> None:
        self._session = session
        self._max = max_bytes
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._hosts = allowed_hosts

    async def fetch(self, job: CheckInJob) -> bytes:
        return await self.download(job.photo.ref, size=job.photo.size)

    async def discard(self, job: CheckInJob) -> None:
        return None  # somebody else's URL: nothing of ours to delete

    def _check_host(self, url: str) -> None:
        """Each hop: a host of the list or a subdomain of one (``contoso.sharepoint.com``)."""
        if self._hosts is None:
            return
        host = (urlsplit(url).hostname or "").lower()
        if not host or not any(host == h or host.endswith("." + h) for h in self._hosts):
            raise PhotoUnavailable("the photo link does not point at the chat platform's files", transient=False)

    async def download(self, url: str, *, headers: dict[str, str] | None = None, size: int | None = None) -> bytes:
        if size is not None and size > self._max:
            raise PhotoUnavailable(f"the photo is larger than {self._max // 1_000_000} MB", transient=False)
        try:
            for _ in range(4):
                self._check_host(url)
                async with self._session.get(
                    url, headers=headers, timeout=self._timeout, allow_redirects=False
                ) as resp:
                    if resp.status in (301, 302, 303, 307, 308) and "Location" in resp.headers:
                        url = str(resp.url.join(URL(resp.headers["Location"])))
                        continue
                    return await self._read(resp)
            raise PhotoUnavailable("the photo link redirected too many times", transient=False)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise PhotoUnavailable(f"photo download failed: {type(exc).__name__}", transient=True) from exc

    async def _read(self, resp: aiohttp.ClientResponse) -> bytes:
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


class PhotoSourceRouter:
    """The ``PhotoSource`` port over several sources, chosen by the job's photo kind."""

    def __init__(self, sources: dict[str, PhotoSource]) -> None:
        self._sources = sources

    async def fetch(self, job: CheckInJob) -> bytes:
        source = self._sources.get(job.photo.kind)
        if source is None:
            raise PhotoUnavailable(f"no photo source for {job.photo.kind!r}", transient=False)
        return await source.fetch(job)

    async def discard(self, job: CheckInJob) -> None:
        source = self._sources.get(job.photo.kind)
        if source is not None:
            await source.discard(job)
