"""Outbound HTTP to tenants' receivers (webhooks, Workday, ADP, their token endpoints), guarded
against server-side request forgery (``attendance.core.domain.egress`` has the rules).

- ``ResolvingDestinationCheck`` checks a URL when an admin adds it: its form, then every address
  its host resolves to.
- ``egress_session`` is the aiohttp session every connector sends with. Its resolver checks every
  address a name resolves to and hands aiohttp only checked addresses, so the connection goes to
  an address that was checked (a DNS answer that changes between check and connect gets
  nowhere); a trace checks each request's URL first (address literals skip the resolver).
  Connectors never follow redirects.

A refusal is ``EgressRefused`` (an ``aiohttp.ClientOSError``, so connectors see it with the
network errors; ``attendance.adapters.http.status.unreachable`` turns it into a rejected delivery).
"""

from __future__ import annotations

import asyncio
import socket
from types import SimpleNamespace
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from attendance.core.domain.egress import DestinationRefused, check_address, check_destination


class EgressRefused(aiohttp.ClientOSError):
    """Not sent: the destination is not a public address (and private networks are not allowed)."""


class PublicOnlyResolver(AbstractResolver):
    """Resolves with ``inner`` (the system's resolver) and refuses a name with a non-public address."""

    def __init__(self, *, allow_private: bool, inner: AbstractResolver | None = None) -> None:
        self._inner = inner or DefaultResolver()
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        for result in found:
            try:
                check_address(result["host"], allow_private=self._allow_private)
            except DestinationRefused as exc:  # one bad address and the name is refused
                raise EgressRefused(f"{host} resolves to {exc}") from None
        return found

    async def close(self) -> None:
        await self._inner.close()


def egress_session(
    *, allow_private: bool, timeout_s: float = 15.0, resolver: AbstractResolver | None = None
) -> aiohttp.ClientSession:
    async def on_request_start(
        _: aiohttp.ClientSession, __: SimpleNamespace, params: aiohttp.TraceRequestStartParams
    ) -> None:
        try:
            check_destination(str(params.url), allow_private=allow_private)
        except DestinationRefused as exc:
            raise EgressRefused(str(exc)) from None

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    connector = aiohttp.TCPConnector(resolver=PublicOnlyResolver(allow_private=allow_private, inner=resolver))
    return aiohttp.ClientSession(
        connector=connector, trace_configs=[trace], timeout=aiohttp.ClientTimeout(total=timeout_s)
    )


class ResolvingDestinationCheck:
    """The ``DestinationCheck`` port: the URL's form, then every address of its host."""

    def __init__(self, *, allow_private: bool) -> None:
        self._allow_private = allow_private

    async def check(self, url: str) -> str:
        url = check_destination(url, allow_private=self._allow_private)
        if self._allow_private:
            return url
        parts = urlsplit(url)
        host = parts.hostname or ""
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
        except OSError:
            raise DestinationRefused(f"{host} could not be found (DNS). Check the address and try again.") from None
        for info in infos:
            try:
                check_address(str(info[4][0]), allow_private=False)
            except DestinationRefused as exc:
                raise DestinationRefused(f"{host} resolves to {exc}") from None
        return url
