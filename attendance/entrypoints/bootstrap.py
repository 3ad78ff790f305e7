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
from datetime import datetime
from typing import TYPE_CHECKING, Any

import aiohttp
from pymongo import AsyncMongoClient

from attendance.adapters.clock import SystemClock
from attendance.adapters.crypto.cipher import LOCAL_KEY_ID, AesGcmTemplateCipher, load_or_create_local_key, parse_key
from attendance.adapters.embedded.secantus import database_for_home
from attendance.adapters.http.egress import ResolvingDestinationCheck, egress_session
from attendance.adapters.http.oauth import OAuthTokens
from attendance.adapters.http.photos import BufferPhotoSource, HttpPhotoSource, PhotoSourceRouter
from attendance.adapters.http.replies import HttpCallbackReplier, LogReplier, ReplierRouter
from attendance.adapters.mongo.chat_identities import MongoChatIdentityRepository
from attendance.adapters.mongo.checkins import MongoAttendanceStore, MongoJobQueue
from attendance.adapters.mongo.deliveries import MongoDeliveryRepository
from attendance.adapters.mongo.repositories import (
    Database,
    MongoAuditLog,
    MongoConsentRepository,
    MongoEmployeeRepository,
    MongoTemplateRepository,
    MongoTenantRepository,
    connect,
    ensure_indexes,
)
from attendance.adapters.mongo.safeguards import MongoFingerprints, MongoPhotoBuffer, MongoReviewQueue
from attendance.adapters.mongo.slack_installs import MongoSlackInstallationStore
from attendance.adapters.mongo.teams_addresses import MongoDownloadLinks, MongoTeamsAddresses
from attendance.adapters.mongo.webhooks import MongoSubscriptionRepository
from attendance.adapters.slack.replier import SlackPhotoSource, SlackReplier
from attendance.adapters.slack.tokens import InstalledSlackTokens, SlackTokens, StaticSlackTokens
from attendance.adapters.slack.tokens import file_hosts as slack_file_hosts
from attendance.adapters.teams.connector import AnonymousTeamsTokens, BotConnector, EntraTeamsTokens, TeamsTokens
from attendance.adapters.teams.replier import TeamsAdminMessages, TeamsPhotoSource, TeamsReplier
from attendance.core.domain.model import Employee, Tenant
from attendance.core.messages import WorkspaceInstalled
from attendance.core.ports import (
    AttendanceStore,
    Clock,
    Connector,
    DestinationCheck,
    EmployeeRepository,
    EnrollmentCodes,
    FaceEngine,
    PhotoSource,
    Replier,
)
from attendance.services.chat import ChatDeps
from attendance.services.checkin import CheckInDeps
from attendance.services.dashboard import ReadDeps
from attendance.services.enrollment import EnrollmentDeps
from attendance.services.galleries import TemplateGalleryCache
from attendance.settings import Settings

if TYPE_CHECKING:
    from attendance.adapters.slack.app import SlackBot
    from attendance.adapters.teams.app import TeamsBot
    from attendance.adapters.web.site import WebSite
    from attendance.services.access import AccessDeps
    from attendance.services.chat_fanout import ChatFanout
    from attendance.services.dashboard import DashboardDeps
    from attendance.services.dispatcher import Dispatcher

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
    slack_tokens: SlackTokens | None = None
    slack_installations: MongoSlackInstallationStore | None = None


def template_cipher(settings: Settings) -> AesGcmTemplateCipher:
    crypto = settings.crypto
    keys = {kid: parse_key(secret.get_secret_value()) for kid, secret in crypto.old_template_keys.items()}
    if crypto.template_key is not None:
        keys[crypto.template_key_id] = parse_key(crypto.template_key.get_secret_value())
        return AesGcmTemplateCipher(crypto.template_key_id, keys)
    keys[LOCAL_KEY_ID] = load_or_create_local_key(settings.home)
    return AesGcmTemplateCipher(LOCAL_KEY_ID, keys)


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
        cipher = template_cipher(settings)  # face templates, chat tokens and webhook secrets
        templates = MongoTemplateRepository(db, cipher)
        face = engine or in_process_engine(settings)
        identities = MongoChatIdentityRepository(db)
        deps = EnrollmentDeps(
            tenants=tenants,
            employees=MongoEmployeeRepository(db),
            identities=identities,
            consents=MongoConsentRepository(db),
            templates=templates,
            audit=MongoAuditLog(db),
            engine=face,
            galleries=TemplateGalleryCache(tenants, templates, face.model),
            clock=clock or SystemClock(),
        )
        http = aiohttp.ClientSession()
        stack.push_async_callback(http.close)
        allow_private = settings.webhooks.allow_private_networks
        egress = egress_session(allow_private=allow_private, timeout_s=settings.dispatcher.timeout_s)
        stack.push_async_callback(egress.close)
        buffer = MongoPhotoBuffer(db)
        store = MongoAttendanceStore(db)
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
            jobs=MongoJobQueue(db),
            store=store,
            fingerprints=MongoFingerprints(db),
            reviews=reviews,
            photos=PhotoSourceRouter(photo_sources),
            engine=deps.engine,
            galleries=deps.galleries,
            clock=deps.clock,
        )
        replier = ReplierRouter(repliers, callback=HttpCallbackReplier(http), fallback=LogReplier())
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
                    tenants=tenants, employees=deps.employees, store=store, audit=deps.audit, clock=deps.clock
                ),
            ),
            subscriptions=MongoSubscriptionRepository(db, cipher),
            deliveries=MongoDeliveryRepository(db),
            teams=teams,
            teams_photos=teams_photos,
            slack_tokens=slack_tokens,
            slack_installations=installations,
            egress=egress,
            destinations=ResolvingDestinationCheck(allow_private=allow_private),
        )


def slack_bot(c: Container) -> SlackBot | None:
    """The Slack app, when Slack is configured (a signing secret, and a bot token or OAuth)."""
    s = c.settings.slack
    if not s.enabled or c.slack_tokens is None:
        return None
    from attendance.adapters.mongo.slack_installs import MongoSlackOAuthStateStore
    from attendance.adapters.slack.app import SlackBot
    from attendance.adapters.slack.listeners import SlackHandlers
    from attendance.services.background import Background
    from attendance.services.workspaces import on_workspace_installed

    background = Background()
    photos = SlackPhotoSource(
        HttpPhotoSource(c.http, max_bytes=c.settings.face.max_bytes, allowed_hosts=slack_file_hosts(s)),
        c.slack_tokens,
        s,
    )
    handlers = SlackHandlers(
        chat_deps=c.chat,
        checkin=c.checkin,
        tenants=c.deps.tenants,
        photos=photos,
        notice_version=c.settings.consent_notice_version,
        clock=c.deps.clock,
        background=background,
    )

    async def installed(msg: WorkspaceInstalled) -> None:
        await on_workspace_installed(
            msg,
            tenants=c.deps.tenants,
            employees=c.deps.employees,
            identities=c.deps.identities,
            audit=c.deps.audit,
            clock=c.deps.clock,
        )

    states = MongoSlackOAuthStateStore(c.db) if s.oauth else None
    return SlackBot(
        s, handlers, background, installation_store=c.slack_installations, state_store=states, on_installed=installed
    )


def teams_bot(c: Container) -> TeamsBot:
    """The Teams app on ``/api/messages`` (anonymous without bot credentials)."""
    from attendance.adapters.teams.app import TeamsBot
    from attendance.adapters.teams.handlers import TeamsHandlers
    from attendance.services.background import Background

    s = c.settings
    background = Background()
    links = MongoDownloadLinks(c.db)
    public_url = s.teams.public_url or f"http://{s.http.host}:{s.http.port}"
    addresses = MongoTeamsAddresses(c.db)
    handlers = TeamsHandlers(
        chat_deps=c.chat,
        checkin=c.checkin,
        tenants=c.deps.tenants,
        connector=c.teams,
        photos=c.teams_photos,
        addresses=addresses,
        admins=TeamsAdminMessages(c.teams, addresses),
        links=links,
        notice_version=s.consent_notice_version,
        clock=c.deps.clock,
        background=background,
        public_url=public_url,
    )
    return TeamsBot(s.teams, handlers, background, links, c.deps.clock)


def dispatcher(c: Container) -> Dispatcher:
    """The outbound dispatcher with a connector per subscription kind."""
    from attendance.adapters.payroll.adp import AdpConnector
    from attendance.adapters.payroll.webhook import StandardWebhookConnector
    from attendance.adapters.payroll.workday import WorkdayConnector
    from attendance.services.alerts import ChatAdminAlerts
    from attendance.services.day_summaries import emit_day_summaries
    from attendance.services.dispatcher import Dispatcher, DispatcherDeps

    s = c.settings.dispatcher
    clock = c.deps.clock
    tokens = OAuthTokens(c.egress, timeout_s=s.timeout_s)
    connectors: dict[str, Connector] = {
        "webhook": StandardWebhookConnector(c.egress, clock, timeout_s=s.timeout_s),
        "workday": WorkdayConnector(c.egress, tokens, clock, timeout_s=s.timeout_s),
        "adp": AdpConnector(c.egress, tokens, clock, timeout_s=s.timeout_s),
    }
    fanout = chat_messages(c, admin_alerts=True)

    async def send(tenant: Tenant, admins: list[Employee], text: str) -> None:
        await fanout.tell(tenant, admins, text)

    alerts = ChatAdminAlerts(c.deliveries, c.deps.tenants, c.deps.employees, send)

    async def summaries(now: datetime) -> int:
        return await emit_day_summaries(
            now, tenants=c.deps.tenants, employees=c.deps.employees, store=c.store, outbox=c.deliveries
        )

    deps = DispatcherDeps(
        deliveries=c.deliveries,
        subscriptions=c.subscriptions,
        connectors=connectors,
        alerts=alerts,
        tenants=c.deps.tenants,
        audit=c.deps.audit,
        clock=clock,
        summaries=summaries,
    )
    return Dispatcher(deps, s, c.settings.retry_schedule)


def chat_messages(c: Container, *, admin_alerts: bool = False) -> ChatFanout:
    """Personal messages on Slack (when configured) and Teams; ``admin_alerts``: with a warning mark."""
    from attendance.services.chat_fanout import ChatFanout, Send

    teams = TeamsAdminMessages(c.teams, MongoTeamsAddresses(c.db))
    senders: list[Send] = [teams.tell_admins if admin_alerts else teams.tell_text]  # type: ignore[list-item]
    if c.slack_tokens is not None:
        slack = SlackReplier(c.settings.slack, c.slack_tokens, c.deps.identities)
        senders.insert(0, slack.tell_admins if admin_alerts else slack.tell)  # type: ignore[arg-type]
    return ChatFanout(senders)


def access_deps(c: Container) -> AccessDeps:
    from attendance.adapters.mongo.web import MongoApiTokens, MongoLocalUsers, MongoUsedKeys
    from attendance.services.access import AccessDeps

    return AccessDeps(
        tenants=c.deps.tenants,
        employees=c.deps.employees,
        identities=c.deps.identities,
        tokens=MongoApiTokens(c.db),
        users=MongoLocalUsers(c.db),
        audit=c.deps.audit,
        clock=c.deps.clock,
        used=MongoUsedKeys(c.db),
    )


def enrollment_codes(c: Container) -> EnrollmentCodes:
    """Kiosk enrollment codes (``services/kiosk_enrollment.py``)."""
    from attendance.adapters.mongo.web import MongoEnrollmentCodes

    return MongoEnrollmentCodes(c.db)


def dashboard_deps(c: Container, *, cached: bool = False) -> DashboardDeps:
    """``cached``: reads through the in-process caches (the web server; see ``memory_cache``)."""
    from attendance.adapters.memory.caches import CachedAttendanceStore, CachedEmployeeRepository
    from attendance.adapters.mongo.web import MongoCorrectionRequests
    from attendance.services.dashboard import DashboardDeps, SummaryMemo

    w, clock = c.settings.web, c.deps.clock
    store: AttendanceStore = c.store
    employees: EmployeeRepository = c.deps.employees
    if cached:
        store = CachedAttendanceStore(c.store, clock, recent_ttl_s=w.cache_recent_s, past_ttl_s=w.cache_past_s)
        employees = CachedEmployeeRepository(c.deps.employees, clock, ttl_s=w.cache_recent_s)
    return DashboardDeps(
        tenants=c.deps.tenants,
        employees=employees,
        store=store,
        reviews=c.chat.reviews,
        corrections=MongoCorrectionRequests(c.db),
        audit=c.deps.audit,
        messages=chat_messages(c),
        clock=clock,
        model=c.deps.engine.model,
        memo=SummaryMemo() if cached else None,
    )


def web_site(c: Container) -> WebSite:
    """The dashboard, the REST API and the kiosk."""
    from attendance.adapters.web.deps import WebDeps
    from attendance.adapters.web.site import WebSite

    access = access_deps(c)
    dash = dashboard_deps(c, cached=True)
    deps = WebDeps(
        settings=c.settings,
        access=access,
        dash=dash,
        chat=c.chat,
        subscriptions=c.subscriptions,
        deliveries=c.deliveries,
        trail=MongoAuditLog(c.db),
        jobs=c.checkin.jobs,
        buffer=c.buffer,
        destinations=c.destinations,
        enrollment_codes=enrollment_codes(c),
    )
    return WebSite(deps, c.http, c.deps.clock, session_keys(c.settings))


def session_keys(settings: Settings) -> tuple[str, dict[str, bytes]]:
    """The id of the key that signs new session cookies, and every key still accepted."""
    web_settings = settings.web
    keys = {kid: secret.get_secret_value().encode() for kid, secret in web_settings.old_session_keys.items()}
    if web_settings.session_key is not None:
        keys[web_settings.session_key_id] = web_settings.session_key.get_secret_value().encode()
        return web_settings.session_key_id, keys
    keys["local"] = base64.b64encode(
        load_or_create_local_key(settings.home, "session.key", "ATTENDANCE_WEB__SESSION_KEY")
    )
    return "local", keys


def generate_template_key() -> str:
    """A fresh base64 AES-256 key, for `attendance keys generate`."""
    import os

    return base64.b64encode(os.urandom(32)).decode()
