"""A loopback proxy for MongoDB's wire protocol that holds back chosen commands: the test decides
when each one goes on to the server, and learns when the server has answered it. It sits on the
network between our code and the real database, as a slow or reordering network would, so a test
can put a write by someone else at an exact point among a client's reads.

Only ``OP_MSG`` (all a modern server and PyMongo speak, uncompressed as PyMongo's default) is
read; every byte is forwarded unchanged."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import bson

OP_MSG = 2013
HEADER = struct.Struct("<iiii")  # length, request id, response to, op code


@dataclass
class Held:
    """A command held back: ``go()`` sends it on and returns once the server's answer has come
    back through the proxy; ``cut()`` drops its connection instead (a network failure)."""

    command: dict[str, Any]
    request_id: int
    _go: asyncio.Event = field(default_factory=asyncio.Event)
    _answered: asyncio.Event = field(default_factory=asyncio.Event)
    _cut: bool = False

    async def go(self, timeout: float = 30.0) -> None:
        self._go.set()
        await asyncio.wait_for(self._answered.wait(), timeout)

    def cut(self) -> None:
        self._cut = True
        self._go.set()


def _command(message: bytes) -> dict[str, Any] | None:
    """The command of an ``OP_MSG``: its body (the section of kind 0) with its document
    sequences (kind 1: ``updates``, ``documents``...) under their names, or None."""
    _, _, _, op = HEADER.unpack_from(message)
    if op != OP_MSG:
        return None
    body: dict[str, Any] = {}
    sequences: dict[str, list[dict[str, Any]]] = {}
    at = HEADER.size + 4  # after the flag bits
    while at < len(message):
        kind = message[at]
        size = struct.unpack_from("<i", message, at + 1)[0]
        if kind == 0:
            body = dict(bson.decode(message[at + 1 : at + 1 + size]))
        else:  # a size, a name, then documents up to the section's end
            end = at + 1 + size
            name_end = message.index(b"\0", at + 5)
            docs, pos = [], name_end + 1
            while pos < end:
                length = struct.unpack_from("<i", message, pos)[0]
                docs.append(dict(bson.decode(message[pos : pos + length])))
                pos += length
            sequences[message[at + 5 : name_end].decode()] = docs
        at += 1 + size
    return {**body, **sequences}


class WireProxy:
    def __init__(self, host: str, port: int, hold: Callable[[dict[str, Any]], bool]) -> None:
        self.host, self.port, self._hold = host, port, hold
        self.held: asyncio.Queue[Held] = asyncio.Queue()
        self.seen: list[dict[str, Any]] = []  # every command, in the order it reached the proxy
        self._waiting: dict[int, Held] = {}  # request id -> held command whose answer is awaited
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def next_held(self, task: asyncio.Future[Any]) -> Held | None:
        """The next command held back, or None once ``task`` (the code under test) has ended
        without another."""
        getting = asyncio.ensure_future(self.held.get())
        await asyncio.wait([task, getting], return_when=asyncio.FIRST_COMPLETED)
        if getting.done():
            return getting.result()
        getting.cancel()
        return None

    @property
    def uri(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"mongodb://127.0.0.1:{port}/?directConnection=true"

    async def _pump_requests(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            header = await reader.readexactly(HEADER.size)
            length, request_id, _, _ = HEADER.unpack(header)
            message = header + await reader.readexactly(length - HEADER.size)
            command = _command(message)
            if command is not None:
                self.seen.append(command)
            if command is not None and self._hold(command):
                held = Held(command, request_id)
                self._waiting[request_id] = held
                await self.held.put(held)
                await held._go.wait()
                if held._cut:
                    return  # the connection is closed, both ways
            writer.write(message)
            await writer.drain()

    async def _pump_answers(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            header = await reader.readexactly(HEADER.size)
            length, _, response_to, _ = HEADER.unpack(header)
            writer.write(header + await reader.readexactly(length - HEADER.size))
            await writer.drain()
            held = self._waiting.pop(response_to, None)
            if held is not None:
                held._answered.set()

    async def _connection(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        """One client connection and its own to the server, until either side closes (or a held
        command is cut, or the proxy stops)."""
        server_r, server_w = await asyncio.open_connection(self.host, self.port)
        self._writers |= {client_w, server_w}
        pumps = [
            asyncio.create_task(self._pump_requests(client_r, server_w)),
            asyncio.create_task(self._pump_answers(server_r, client_w)),
        ]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
            for w in (client_w, server_w):
                w.close()
                self._writers.discard(w)
            await asyncio.gather(*pumps, return_exceptions=True)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[WireProxy]:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        try:
            yield self
        finally:
            self._server.close()
            for held in self._waiting.values():
                held.cut()  # still held when the test ended: dropped
            for w in list(self._writers):
                w.close()  # each connection's pumps end, and with them its handler
            await self._server.wait_closed()
