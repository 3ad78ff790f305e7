"""The container: ``build(settings, **overrides)`` connects to the database (starting the
embedded one when no ``MONGODB_URI`` is set), creates indexes, runs the start-up migrations and
wires the services' dependencies. Use it as an async context manager; leaving it closes
everything it opened, in reverse order. The keys (templates, sessions) are read here too.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
from pymongo import AsyncMongoClient

from attendance.adapters.calendars.holidays_package import HolidaysPackageCalendar
from attendance.adapters.clock import SystemClock
from attendance.adapters.crypto.cipher import (
    LOCAL_KEY_ID,
    AesGcmTemplateCipher,
    TemplateKeyError,
    load_or_create_local_key,
    local_key_if_any,
    parse_key,
)
from attendance.adapters.embedded.secantus import database_for_home
from attendance.adapters.http.egress import ResolvingDestinationCheck, egress_session
from attendance.adapters.http.oauth import OAuthTokens
from attendance.adapters.http.photos import BufferPhotoSource, HttpPhotoSource, PhotoSourceRouter
from attendance.adapters.http.replies import HttpCallbackReplier, LogReplier, ReplierRouter
from attendance.adapters.mongo.chat_identities import MongoChatIdentityRepository
from attendance.adapters.mongo.checkins import MongoAttendanceStore, MongoChallengeStore, MongoJobQueue
from attendance.adapters.mongo.deliveries import MongoDeliveryRepository
from attendance.adapters.mongo.repositories import (
    DRIVER_CONNECTIONS,
    Database,
    MongoAuditLog,
    MongoConsentRepository,
    MongoEmployeeRepository,
    MongoTemplateRepository,
    MongoTenantRepository,
    connect,
)
from attendance.adapters.mongo.safeguards import MongoFingerprints, MongoPhotoBuffer, MongoReviewQueue
from attendance.adapters.mongo.schema import ensure_indexes
from attendance.adapters.mongo.sent import MongoSentLog
from attendance.adapters.mongo.slack_installs import MongoSlackInstallationStore
from attendance.adapters.mongo.teams_addresses import MongoTeamsAddresses
from attendance.adapters.mongo.time_off import MongoTimeOffRepository
from attendance.adapters.mongo.webhooks import MongoSubscriptionRepository
from attendance.adapters.slack.replier import SlackPhotoSource, SlackReplier
from attendance.adapters.slack.tokens import InstalledSlackTokens, SlackTokens, StaticSlackTokens
from attendance.adapters.slack.tokens import file_hosts as slack_file_hosts
from attendance.adapters.teams.connector import AnonymousTeamsTokens, BotConnector, EntraTeamsTokens, TeamsTokens
from attendance.adapters.teams.replier import TeamsAdminMessages, TeamsPhotoSource, TeamsReplier
from attendance.core.ports import (
    ChatIdentityRepository,
    Clock,
    DestinationCheck,
    FaceEngine,
    NoTracer,
    PhotoSource,
    Replier,
    SealedStore,
    Tracer,
)
from attendance.services.chat import ChatDeps
from attendance.services.chat_fanout import ChatFanout, Send
from attendance.services.checkin import CheckInDeps
from attendance.services.dashboard import ReadDeps
from attendance.services.enrollment import EnrollmentDeps
from attendance.services.galleries import Settling, TemplateGalleryCache
from attendance.services.workforce import WorkforceDeps
from attendance.settings import Settings

if TYPE_CHECKING:
    from attendance.adapters.tracing.otel import OpenTelemetryTracer

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
    chat: ChatDeps
    subscriptions: MongoSubscriptionRepository
    deliveries: MongoDeliveryRepository
    teams: BotConnector
    teams_photos: TeamsPhotoSource
    egress: aiohttp.ClientSession  # to tenants' receivers: public addresses only (integrations/egress.py)
    destinations: DestinationCheck
    workforce: WorkforceDeps
    messages: ChatFanout
    sealed: Mapping[str, SealedStore]  # what the template key encrypts (attendance keys rotate)
    slack_tokens: SlackTokens | None = None
    slack_installations: MongoSlackInstallationStore | None = None
    tracer: Tracer = field(default_factory=NoTracer)


def personal_messages(
    settings: Settings,
    teams: BotConnector,
    db: Database,
    slack_tokens: SlackTokens | None,
    identities: ChatIdentityRepository,
    *,
    admin_alerts: bool = False,
) -> ChatFanout:
    """Personal messages on Slack (when configured) and Teams; ``admin_alerts``: with a warning mark."""
    in_teams = TeamsAdminMessages(teams, MongoTeamsAddresses(db))
    senders: list[Send] = [in_teams.tell_admins if admin_alerts else in_teams.tell_text]
    if slack_tokens is not None:
        slack = SlackReplier(settings.slack, slack_tokens, identities)
        senders.insert(0, slack.tell_admins if admin_alerts else slack.tell)
    return ChatFanout(senders)


def template_cipher(settings: Settings) -> AesGcmTemplateCipher:
    crypto = settings.crypto
    keys = {kid: parse_key(secret.get_secret_value()) for kid, secret in crypto.old_template_keys.items()}
    if crypto.template_key is not None:
        keys[crypto.template_key_id] = parse_key(crypto.template_key.get_secret_value())
        local = local_key_if_any(settings.home)  # data sealed before a key was configured stays readable
        if local is not None:
            keys.setdefault(LOCAL_KEY_ID, local)
        return AesGcmTemplateCipher(crypto.template_key_id, keys)
    _refuse_a_local_key_for_a_shared_database(settings, "ATTENDANCE_CRYPTO__TEMPLATE_KEY")
    keys[LOCAL_KEY_ID] = load_or_create_local_key(settings.home)
    return AesGcmTemplateCipher(LOCAL_KEY_ID, keys)


KEY_HINTS = {
    "ATTENDANCE_CRYPTO__TEMPLATE_KEY": "make one with `attendance keys generate`",
    "ATTENDANCE_WEB__SESSION_KEY": "make one with `openssl rand -base64 48`",
}


def _refuse_a_local_key_for_a_shared_database(settings: Settings, variable: str) -> None:
    """A key generated into this machine's ``home`` is fine for one machine (the embedded database,
    or MongoDB on loopback); with a database that other machines share (Atlas, Kubernetes) each
    replica would generate its own, and what one seals the others cannot read."""
    uri = settings.mongodb_uri.get_secret_value() if settings.mongodb_uri is not None else ""
    hosts = uri.split("://", 1)[-1].split("/", 1)[0].rsplit("@", 1)[-1]
    if uri and not all(h.rsplit(":", 1)[0].strip("[]") in ("127.0.0.1", "localhost", "::1") for h in hosts.split(",")):
        raise TemplateKeyError(
            f"{variable} is not set. With a shared database (MONGODB_URI) every replica needs the same key: "
            f"{KEY_HINTS[variable]} and give it to every replica (docs/operations.md)."
        )


def in_process_engine(settings: Settings) -> FaceEngine:
    from attendance.adapters.faces.registry import face_pipeline

    return face_pipeline(settings.face)


@contextlib.asynccontextmanager
async def database_uri(settings: Settings) -> AsyncIterator[str]:
    if settings.mongodb_uri is not None:
        yield settings.mongodb_uri.get_secret_value()
        return
    async with database_for_home(settings.home, start_timeout_s=settings.database.embedded_start_timeout_s) as uri:
        yield uri


def tracer_for(settings: Settings, role: str) -> OpenTelemetryTracer | None:
    """OpenTelemetry when ``tracing.endpoint`` is set (imported only then); None: tracing off."""
    if not settings.tracing.endpoint:
        return None
    from attendance.adapters.tracing.otel import OpenTelemetryTracer

    return OpenTelemetryTracer(settings.tracing, role)


@contextlib.asynccontextmanager
async def build(
    settings: Settings,
    *,
    engine: FaceEngine | None = None,
    clock: Clock | None = None,
    uri: str | None = None,
    role: str = "cli",
) -> AsyncIterator[Container]:
    """Everything a role needs. ``engine`` defaults to the in-process dlib engine. ``role`` names the
    process in its traces (tracing on: ``tracing.endpoint``); a dispatcher's client keeps
    ``dispatcher.db_connections`` connections at most."""
    cipher = template_cipher(settings)  # face templates, chat tokens and webhook secrets; before connecting
    async with contextlib.AsyncExitStack() as stack:
        tracer = tracer_for(settings, role)
        if tracer is not None:  # last out: exports the spans of everything below, off the event loop
            stack.push_async_callback(asyncio.to_thread, tracer.close)
        if uri is None:
            uri = await stack.enter_async_context(database_uri(settings))
        client = connect(
            uri,
            server_selection_timeout_ms=settings.database.server_selection_timeout_ms,
            operation_timeout_ms=settings.database.operation_timeout_ms,
            max_connections=settings.dispatcher.db_connections if role == "dispatcher" else DRIVER_CONNECTIONS,
        )
        stack.push_async_callback(client.close)
        db = client[settings.database.name]
        await ensure_indexes(db)
        tenants = MongoTenantRepository(db)
        templates = MongoTemplateRepository(db, cipher)
        face = engine or in_process_engine(settings)
        if tracer is not None:
            from attendance.adapters.tracing.faces import TracedFaceEngine

            face = TracedFaceEngine(face, tracer)
        identities = MongoChatIdentityRepository(db)
        clock = clock or SystemClock()
        carrier = tracer.carrier if tracer is not None else None  # stored with queued work: traces cross processes
        consents, audit, jobs = MongoConsentRepository(db), MongoAuditLog(db), MongoJobQueue(db, trace=carrier)
        deps = EnrollmentDeps(
            tenants=tenants,
            employees=MongoEmployeeRepository(db),
            identities=identities,
            consents=consents,
            templates=templates,
            audit=audit,
            engine=face,
            galleries=TemplateGalleryCache(
                tenants, templates, face.model, Settling(consents=consents, jobs=jobs, audit=audit, clock=clock)
            ),
            clock=clock,
        )
        http = aiohttp.ClientSession()
        stack.push_async_callback(http.close)
        allow_private = settings.webhooks.allow_private_networks
        egress = egress_session(allow_private=allow_private, timeout_s=settings.dispatcher.timeout_s)
        stack.push_async_callback(egress.close)
        buffer = MongoPhotoBuffer(db)
        store = MongoAttendanceStore(db, trace=carrier)
        reviews = MongoReviewQueue(db)
        photo_sources: dict[str, PhotoSource] = {
            "buffer": BufferPhotoSource(buffer),
            "url": HttpPhotoSource(http, max_bytes=settings.face.max_bytes),
        }
        repliers: dict[str, Replier] = {}
        slack_tokens: SlackTokens | None = None
        installations = None
        if settings.slack.oauth:
            installations = MongoSlackInstallationStore(db, cipher, client_id=settings.slack.client_id)
            slack_tokens = InstalledSlackTokens(installations)
        elif settings.slack.bot_token is not None:
            slack_tokens = StaticSlackTokens(settings.slack.bot_token.get_secret_value())
        if slack_tokens is not None:
            slack_http = HttpPhotoSource(
                http, max_bytes=settings.face.max_bytes, allowed_hosts=slack_file_hosts(settings.slack)
            )
            photo_sources["slack"] = SlackPhotoSource(slack_http, slack_tokens, settings.slack)
            repliers["slack"] = SlackReplier(settings.slack, slack_tokens, identities)
        teams_tokens: TeamsTokens = (
            AnonymousTeamsTokens()
            if not settings.teams.has_credentials
            else EntraTeamsTokens(settings.teams, OAuthTokens(http))
        )
        teams = BotConnector(http, teams_tokens, settings.teams.allowed_hosts)
        teams_photos = TeamsPhotoSource(
            http, teams, max_bytes=settings.face.max_bytes, hosts=settings.teams.download_hosts
        )
        photo_sources["teams"] = teams_photos
        repliers["teams"] = TeamsReplier(teams)
        checkin = CheckInDeps(
            tenants=tenants,
            employees=deps.employees,
            identities=identities,
            jobs=jobs,
            store=store,
            fingerprints=MongoFingerprints(db),
            reviews=reviews,
            photos=PhotoSourceRouter(photo_sources),
            engine=deps.engine,
            galleries=deps.galleries,
            clock=deps.clock,
            templates=deps.templates,
            challenges=MongoChallengeStore(db),
        )
        time_off, calendar, deliveries = (
            MongoTimeOffRepository(db),
            HolidaysPackageCalendar(),
            MongoDeliveryRepository(db, trace=carrier),
        )
        messages = personal_messages(settings, teams, db, slack_tokens, identities)
        workforce = WorkforceDeps(
            tenants=tenants,
            employees=deps.employees,
            time_off=time_off,
            holidays=calendar,
            outbox=deliveries,
            audit=deps.audit,
            messages=messages,
            sent=MongoSentLog(db),
            clock=deps.clock,
        )
        replier = ReplierRouter(repliers, callback=HttpCallbackReplier(http), fallback=LogReplier())
        subscriptions = MongoSubscriptionRepository(db, cipher)
        yield Container(
            settings=settings,
            client=client,
            db=db,
            deps=deps,
            checkin=checkin,
            store=store,
            buffer=buffer,
            replier=replier,
            http=http,
            chat=ChatDeps(
                enrollment=deps,
                store=store,
                reviews=reviews,
                reads=ReadDeps(
                    tenants=tenants,
                    employees=deps.employees,
                    store=store,
                    audit=deps.audit,
                    clock=deps.clock,
                    time_off=time_off,
                    holidays=calendar,
                ),
                workforce=workforce,
            ),
            subscriptions=subscriptions,
            sealed={
                "face templates": templates,
                "Slack installations": installations or MongoSlackInstallationStore(db, cipher),
                "webhook secrets and connector credentials": subscriptions,
            },
            deliveries=deliveries,
            workforce=workforce,
            teams=teams,
            teams_photos=teams_photos,
            messages=messages,
            slack_tokens=slack_tokens,
            slack_installations=installations,
            egress=egress,
            destinations=ResolvingDestinationCheck(allow_private=allow_private),
            tracer=tracer or NoTracer(),
        )


def session_keys(settings: Settings) -> tuple[str, dict[str, bytes]]:
    """The id of the key that signs new session cookies, and every key still accepted."""
    web_settings = settings.web
    keys = {kid: secret.get_secret_value().encode() for kid, secret in web_settings.old_session_keys.items()}
    if web_settings.session_key is not None:
        keys[web_settings.session_key_id] = web_settings.session_key.get_secret_value().encode()
        return web_settings.session_key_id, keys
    _refuse_a_local_key_for_a_shared_database(settings, "ATTENDANCE_WEB__SESSION_KEY")
    keys["local"] = base64.b64encode(
        load_or_create_local_key(settings.home, "session.key", "ATTENDANCE_WEB__SESSION_KEY")
    )
    return "local", keys


def generate_template_key() -> str:
    """A fresh base64 AES-256 key, for `attendance keys generate`."""
    import os

    return base64.b64encode(os.urandom(32)).decode()
