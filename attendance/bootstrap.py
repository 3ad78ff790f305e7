"""The composition root: the only module that knows every adapter.

``build(settings, **overrides)`` connects to the database (starting the embedded one when no
``MONGODB_URI`` is set), creates indexes, and wires the services' dependencies. Use it as an
async context manager; leaving it closes everything it opened, in reverse order.
"""

from __future__ import annotations

import base64
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
from pymongo import AsyncMongoClient

from attendance.clock import SystemClock
from attendance.ports import Clock, FaceEngine, Replier
from attendance.services.checkin import CheckInDeps
from attendance.services.enrollment import EnrollmentDeps
from attendance.settings import Settings
from attendance.storage.cipher import LOCAL_KEY_ID, AesGcmTemplateCipher, load_or_create_local_key, parse_key
from attendance.storage.embedded import database_for_home
from attendance.storage.mongo import (
    Database,
    MongoAuditLog,
    MongoConsentRepository,
    MongoEmployeeRepository,
    MongoTemplateRepository,
    MongoTenantRepository,
    connect,
    ensure_indexes,
)
from attendance.storage.mongo_checkins import (
    MongoAttendanceStore,
    MongoFingerprints,
    MongoJobQueue,
    MongoPhotoBuffer,
    MongoReviewQueue,
)
from bot.replies import HttpCallbackReplier, LogReplier, ReplierRouter
from recognition_worker.gallery import TemplateGalleryCache
from recognition_worker.photos import BufferPhotoSource, HttpPhotoSource, PhotoSourceRouter

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Container:
    settings: Settings
    client: AsyncMongoClient[dict[str, Any]]
    db: Database
    deps: EnrollmentDeps
    checkin: CheckInDeps
    store: MongoAttendanceStore
    buffer: MongoPhotoBuffer
    replier: Replier
    http: aiohttp.ClientSession


def template_cipher(settings: Settings) -> AesGcmTemplateCipher:
    crypto = settings.crypto
    keys = {kid: parse_key(secret.get_secret_value()) for kid, secret in crypto.old_template_keys.items()}
    if crypto.template_key is not None:
        keys[crypto.template_key_id] = parse_key(crypto.template_key.get_secret_value())
        return AesGcmTemplateCipher(crypto.template_key_id, keys)
    keys[LOCAL_KEY_ID] = load_or_create_local_key(settings.home)
    return AesGcmTemplateCipher(LOCAL_KEY_ID, keys)


def in_process_engine(settings: Settings) -> FaceEngine:
    from recognition_worker.engine import DlibFaceEngine

    return DlibFaceEngine(settings.face)


@contextlib.asynccontextmanager
async def database_uri(settings: Settings) -> AsyncIterator[str]:
    if settings.mongodb_uri is not None:
        yield settings.mongodb_uri.get_secret_value()
        return
    async with database_for_home(settings.home, start_timeout_s=settings.database.embedded_start_timeout_s) as uri:
        yield uri


@contextlib.asynccontextmanager
async def build(
    settings: Settings,
    *,
    engine: FaceEngine | None = None,
    clock: Clock | None = None,
    uri: str | None = None,
) -> AsyncIterator[Container]:
    """Everything a role needs. ``engine`` defaults to the in-process dlib engine."""
    async with contextlib.AsyncExitStack() as stack:
        if uri is None:
            uri = await stack.enter_async_context(database_uri(settings))
        client = connect(
            uri,
            server_selection_timeout_ms=settings.database.server_selection_timeout_ms,
            operation_timeout_ms=settings.database.operation_timeout_ms,
        )
        stack.push_async_callback(client.close)
        db = client[settings.database.name]
        await ensure_indexes(db)
        tenants = MongoTenantRepository(db)
        templates = MongoTemplateRepository(db, template_cipher(settings))
        deps = EnrollmentDeps(
            tenants=tenants,
            employees=MongoEmployeeRepository(db),
            consents=MongoConsentRepository(db),
            templates=templates,
            audit=MongoAuditLog(db),
            engine=engine or in_process_engine(settings),
            galleries=TemplateGalleryCache(tenants, templates),
            clock=clock or SystemClock(),
        )
        http = aiohttp.ClientSession()
        stack.push_async_callback(http.close)
        buffer = MongoPhotoBuffer(db)
        store = MongoAttendanceStore(db)
        checkin = CheckInDeps(
            tenants=tenants,
            employees=deps.employees,
            jobs=MongoJobQueue(db),
            store=store,
            fingerprints=MongoFingerprints(db),
            reviews=MongoReviewQueue(db),
            photos=PhotoSourceRouter(
                {"buffer": BufferPhotoSource(buffer), "url": HttpPhotoSource(http, max_bytes=settings.face.max_bytes)}
            ),
            engine=deps.engine,
            galleries=deps.galleries,
            clock=deps.clock,
        )
        replier = ReplierRouter({}, callback=HttpCallbackReplier(http), fallback=LogReplier())
        yield Container(
            settings=settings, client=client, db=db, deps=deps, checkin=checkin, store=store, buffer=buffer,
            replier=replier, http=http,
        )  # fmt: skip


def generate_template_key() -> str:
    """A fresh base64 AES-256 key, for `attendance keys generate`."""
    import os

    return base64.b64encode(os.urandom(32)).decode()
