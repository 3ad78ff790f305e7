"""What the roles run, built on a ``Container``: the Slack and Teams apps, the dispatcher, the
web site and the deps of the dashboard, the API and sign-in."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from attendance.adapters.http.oauth import OAuthTokens
from attendance.adapters.http.photos import HttpPhotoSource
from attendance.adapters.mongo.repositories import (
    MongoAuditLog,
)
from attendance.adapters.mongo.teams_addresses import MongoDownloadLinks, MongoTeamsAddresses
from attendance.adapters.slack.replier import SlackPhotoSource
from attendance.adapters.slack.tokens import file_hosts as slack_file_hosts
from attendance.adapters.teams.replier import TeamsAdminMessages
from attendance.core.domain.model import Employee, Tenant
from attendance.core.messages import WorkspaceInstalled
from attendance.core.ports import (
    AttendanceStore,
    Connector,
    EmployeeRepository,
    EnrollmentCodes,
    Metrics,
    NoMetrics,
)

if TYPE_CHECKING:
    from attendance.adapters.slack.app import SlackBot
    from attendance.adapters.teams.app import TeamsBot
    from attendance.adapters.web.site import WebSite
    from attendance.services.access import AccessDeps
    from attendance.services.chat_fanout import ChatFanout
    from attendance.services.dashboard import DashboardDeps
    from attendance.services.dispatcher import Dispatcher
    from attendance.services.reminders import ReminderDeps
    from attendance.services.scheduler import Scheduler

from attendance.entrypoints.bootstrap.container import Container, personal_messages, session_keys

log = logging.getLogger(__name__)


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


def dispatcher(c: Container, metrics: Metrics | None = None) -> Dispatcher:
    """The outbound dispatcher with a connector per subscription kind."""
    from attendance.adapters.payroll.adp import AdpConnector
    from attendance.adapters.payroll.webhook import StandardWebhookConnector
    from attendance.adapters.payroll.workday import WorkdayConnector
    from attendance.services.alerts import ChatAdminAlerts
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

    deps = DispatcherDeps(
        deliveries=c.deliveries,
        subscriptions=c.subscriptions,
        connectors=connectors,
        alerts=alerts,
        tenants=c.deps.tenants,
        audit=c.deps.audit,
        clock=clock,
        metrics=metrics or NoMetrics(),
        tracer=c.tracer,
    )
    return Dispatcher(deps, s, c.settings.retry_schedule)


def reminder_deps(c: Container) -> ReminderDeps:
    from attendance.services.reminders import ReminderDeps

    return ReminderDeps(
        tenants=c.deps.tenants,
        employees=c.deps.employees,
        store=c.store,
        time_off=c.workforce.time_off,
        holidays=c.workforce.holidays,
        sent=c.workforce.sent,
        messages=c.messages,
        clock=c.deps.clock,
    )


def scheduler(c: Container) -> Scheduler:
    """Every periodic job: reminders and digests, the day summaries (moved here from the dispatcher)."""
    from attendance.services.day_summaries import emit_day_summaries
    from attendance.services.reminders import send_due
    from attendance.services.retention import apply_retention
    from attendance.services.scheduler import Job, Scheduler

    s = c.settings.scheduler
    reminders = reminder_deps(c)

    async def summaries(now: datetime) -> int:
        return await emit_day_summaries(
            now, tenants=c.deps.tenants, employees=c.deps.employees, store=c.store, outbox=c.deliveries
        )

    async def remind(now: datetime) -> int:
        return await send_due(now, deps=reminders)

    async def retention(now: datetime) -> int:
        done = await apply_retention(now, deps=c.deps, store=c.store)
        return done.templates_erased + done.records_deleted

    jobs = [
        Job("reminders", s.reminders_every_s, remind),
        Job("day summaries", s.summaries_every_s, summaries),
        Job("retention", s.retention_every_s, retention),
    ]
    return Scheduler(jobs, c.deps.clock)


def chat_messages(c: Container, *, admin_alerts: bool = False) -> ChatFanout:
    """Personal messages on Slack (when configured) and Teams; ``admin_alerts``: with a warning mark."""
    if not admin_alerts:
        return c.messages
    return personal_messages(c.settings, c.teams, c.db, c.slack_tokens, c.deps.identities, admin_alerts=True)


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
        time_off=c.workforce.time_off,
        holidays=c.workforce.holidays,
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
