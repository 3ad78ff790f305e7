"""A throw-away database for the benchmarks: an in-memory embedded server in a temporary home,
a fresh template key, and the environment that points child processes (``attendance worker``,
``serve``, ``dispatcher``) at the same database and key."""

from __future__ import annotations

import base64
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from attendance.adapters.embedded.secantus import EmbeddedMongo
from attendance.settings import CryptoSettings, DatabaseSettings, Settings

NAME = "bench"


@dataclass(frozen=True, slots=True)
class ScratchDatabase:
    server: EmbeddedMongo
    settings: Settings  # for this process's ``build(settings, uri=server.uri)``
    env: dict[str, str]  # for child processes; add role settings to a copy


@contextlib.asynccontextmanager
async def scratch_database(*, log_level: str = "WARNING") -> AsyncIterator[ScratchDatabase]:
    """Started on entry; stopped, with its home deleted, on exit."""
    with tempfile.TemporaryDirectory(prefix="attendance-bench-") as home:
        server = EmbeddedMongo(None)
        await server.start()
        try:
            key = base64.b64encode(os.urandom(32)).decode()
            settings = Settings(
                home=Path(home), database=DatabaseSettings(name=NAME), crypto=CryptoSettings(template_key=key)
            )
            env = {
                **os.environ,
                "MONGODB_URI": server.uri,
                "ATTENDANCE_DATABASE__NAME": NAME,
                "ATTENDANCE_HOME": home,
                "ATTENDANCE_CRYPTO__TEMPLATE_KEY": key,
                "ATTENDANCE_LOG__LEVEL": log_level,
            }
            yield ScratchDatabase(server, settings, env)
        finally:
            await server.stop()
