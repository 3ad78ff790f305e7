"""One settings tree for every role. Built once in ``bootstrap``; tests build ``Settings(...)``.

Environment: ``ATTENDANCE_<FIELD>`` and ``ATTENDANCE_<GROUP>__<FIELD>`` (for example
``ATTENDANCE_HTTP__PORT=9000``); the database URI is ``MONGODB_URI``. README lists them all.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from attendance.core.domain.deliveries import DEFAULT_RETRY_SCHEDULE, parse_schedule
from attendance.core.domain.model import DomainError


class ConfigurationError(Exception):
    """The settings cannot work together; the message says which and what to change."""


T = TypeVar("T")


def required(value: T | None, setting: str) -> T:
    """A setting the caller cannot work without; ``ConfigurationError`` names it when it is unset."""
    if value is None:
        raise ConfigurationError(f"{setting} must be set")
    return value


def is_loopback_host(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class HttpSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)


class DatabaseSettings(BaseModel):
    name: str = "attendance"
    embedded_start_timeout_s: float = Field(default=60.0, gt=0)
    server_selection_timeout_ms: int = Field(default=10_000, gt=0)
    operation_timeout_ms: int = Field(default=30_000, gt=0, description="no database call waits longer")


class FaceSettings(BaseModel):
    """The face pipeline. Sizes in pixels of the original photo unless said otherwise."""

    max_bytes: int = Field(default=15_000_000, gt=0)
    max_pixels: int = Field(default=50_000_000, gt=0)
    work_size: int = Field(default=640, ge=160, description="longest side the pipeline works on")
    first_try_size: int = Field(default=400, ge=120, description="longest side of the cheap detection pass")
    detail_size: int = Field(
        default=1280, ge=0, description="longest side the face's landmarks and chip come from (0: the working copy)"
    )
    min_face_px_enroll: int = 80
    min_face_px_check_in: int = 48
    min_sharpness_enroll: float = 8.0
    min_sharpness_check_in: float = 4.0
    min_brightness: float = 35.0
    max_brightness: float = 225.0
    second_face_ratio_enroll: float = Field(
        default=0.35, gt=0, description="enrollment refuses a photo whose second face weighs this share of the first"
    )
    second_face_ratio_check_in: float = Field(
        default=0.55,
        gt=0,
        description="check-in decides on the dominant face unless another weighs this share of it (two people); "
        "docs/recognition.md, 'Background faces'",
    )
    enroll_jitters: int = Field(default=0, ge=0, le=100)
    processes: int = Field(default=2, ge=1, le=64)
    nice: int = Field(
        default=10, ge=0, le=19, description="the face-engine processes' CPU priority below the roles' (acks first)"
    )
    model: str = Field(default="dlib_resnet_v1", description="the face model (adapters/faces/registry.py)")


class WorkerSettings(BaseModel):
    """The check-in job loop."""

    concurrency: int = Field(default=4, ge=1, le=256, description="jobs in flight per worker process")
    lease_s: float = Field(default=30.0, gt=0, description="a claimed job is taken again after this")
    poll_min_s: float = Field(default=0.02, gt=0)
    poll_max_s: float = Field(default=0.25, gt=0)
    max_attempts: int = Field(default=5, ge=1)
    retry_base_s: float = Field(default=1.0, gt=0, description="first retry delay; doubles each attempt")
    retry_max_s: float = Field(default=60.0, gt=0)
    tenant_reuse_s: float = Field(
        default=1.0,
        ge=0,
        description="a worker reuses its read of a tenant this long (a settings change reaches it within this)",
    )


class SchedulerSettings(BaseModel):
    """The periodic jobs (``attendance scheduler``): each runs every so many seconds."""

    reminders_every_s: float = Field(default=60.0, gt=0, description="reminders and digests")
    summaries_every_s: float = Field(default=60.0, gt=0, description="the day summaries of finished days")
    retention_every_s: float = Field(default=3600.0, gt=0, description="face data and records past retention")


class DispatcherSettings(BaseModel):
    """Outbound delivery (webhooks, Workday, ADP). The retry schedule is ``webhook_retry_schedule``."""

    concurrency: int = Field(default=16, ge=1, le=512, description="deliveries in flight per dispatcher process")
    db_connections: int = Field(
        default=3,
        ge=1,
        le=100,
        description="database connections a dispatcher process opens at most: one for each of its loops "
        "(fan-out, claims and partitions, finishes), each one command at a time; more only make a shared "
        "database switch between commands (docs/capacity.md)",
    )
    lease_s: float = Field(default=60.0, gt=0, description="a claimed delivery is taken again after this")
    timeout_s: float = Field(default=15.0, gt=0, description="one HTTP call to a receiver")
    poll_min_s: float = Field(default=0.02, gt=0)
    poll_max_s: float = Field(default=0.5, gt=0)
    summary_every_s: float = Field(default=60.0, gt=0, description="how often finished days are looked for")


class WebhookSettings(BaseModel):
    """Where deliveries may go. Receivers must be public ``https`` addresses, checked when added and
    at every connection; ``allow_private_networks`` also allows ``http`` and loopback or private
    addresses (an on-premises receiver, tests), and lets a tenant admin reach this network."""

    allow_private_networks: bool = False


class CryptoSettings(BaseModel):
    """AES-256-GCM keys for face templates: base64 of 32 bytes.

    ``template_key`` encrypts new templates under ``template_key_id``; ``old_template_keys``
    (key id -> key) still decrypt older ones while they are re-encrypted or erased.
    """

    template_key: SecretStr | None = None
    template_key_id: str = "k1"
    old_template_keys: dict[str, SecretStr] = Field(default_factory=dict)


class SlackSettings(BaseSettings):
    """Slack: read from ``SLACK_*`` (as Slack's own tools name them). A bot token means one
    workspace; a client id and secret mean the multi-workspace OAuth install flow."""

    model_config = SettingsConfigDict(env_prefix="SLACK_", extra="ignore")

    signing_secret: SecretStr | None = None
    bot_token: SecretStr | None = None
    app_token: SecretStr | None = Field(
        default=None, description="an app-level token (xapp-, scope connections:write): Socket Mode, no public URL"
    )
    client_id: str | None = None
    client_secret: SecretStr | None = None
    api_url: str = Field(default="https://slack.com/api/", description="base URL of every Web API call")
    file_hosts: list[str] = Field(
        default_factory=lambda: ["files.slack.com"],
        description="hosts photos may be downloaded from (the API URL's host is added)",
    )
    redirect_uri: str | None = Field(default=None, description="the OAuth redirect URL, if not derived by Slack")
    allowed_teams: list[str] = Field(
        default_factory=list,
        description="Slack team ids that may install the app (OAuth); empty: any workspace that finds the install URL",
    )

    def may_install(self, team_id: str) -> bool:
        return not self.allowed_teams or team_id in self.allowed_teams

    @property
    def enabled(self) -> bool:
        return (self.signing_secret is not None or self.socket_mode) and (self.bot_token is not None or self.oauth)

    @property
    def socket_mode(self) -> bool:
        """Events over a WebSocket the service opens to Slack (``SLACK_APP_TOKEN``), instead of, or
        beside (with a signing secret), Slack's HTTP requests to ``/slack/events``."""
        return self.app_token is not None

    @property
    def oauth(self) -> bool:
        return self.client_id is not None and self.client_secret is not None


# The Agents SDK's outbound host validator lists these, split here by what may receive the bot's token:
CONNECTOR_HOSTS = ("botframework.com", "smba.trafficmanager.net", "teams.microsoft.com", "teams.microsoft.us")
FILE_HOSTS = ("sharepoint.com", "svc.ms", "blob.core.windows.net")  # pre-authorised downloads: never a token
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


class TeamsSettings(BaseSettings):
    """Microsoft Teams: the bot's Entra app, read from the Agents SDK's own variable names
    (``CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID`` / ``__CLIENTSECRET`` / ``__TENANTID``).
    Without them ``/api/messages`` refuses every request (401), unless anonymous mode is asked for
    by name (``TEAMS_ALLOW_ANONYMOUS=1``: the Agents Playground, local runs and tests), which
    ``serve`` accepts only on a loopback address."""

    model_config = SettingsConfigDict(env_prefix="TEAMS_", extra="ignore", populate_by_name=True)

    client_id: str | None = Field(
        default=None, validation_alias=AliasChoices("CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID")
    )
    client_secret: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTSECRET"),
    )
    tenant_id: str | None = Field(
        default=None, validation_alias=AliasChoices("CONNECTIONS__SERVICE_CONNECTION__SETTINGS__TENANTID")
    )
    token_url: str | None = Field(
        default=None,
        description="the bot's token endpoint (default: Entra's v2 endpoint of the tenant, or botframework.com)",
    )
    scope: str = "https://api.botframework.com/.default"
    service_hosts: list[str] = Field(
        default_factory=lambda: list(CONNECTOR_HOSTS),
        description="domains the connector (serviceUrl) may be at: the only hosts the bot's token is sent to; "
        "anonymous mode adds loopback",
    )
    file_hosts: list[str] = Field(
        default_factory=lambda: list(FILE_HOSTS),
        description="further domains uploaded files may be downloaded from (without the token), redirects included",
    )
    public_url: str | None = Field(
        default=None, description="how people's browsers reach this server (export links); default: the HTTP address"
    )
    allow_anonymous: bool = Field(
        default=False,
        description="without bot credentials, accept unsigned activities (local tools only; loopback addresses only)",
    )

    @property
    def has_credentials(self) -> bool:
        return self.client_id is not None and self.client_secret is not None

    @property
    def anonymous(self) -> bool:
        """Unsigned activities are accepted: no credentials, and anonymous mode asked for by name."""
        return not self.has_credentials and self.allow_anonymous

    @property
    def allowed_hosts(self) -> tuple[str, ...]:
        """Where the connector is: the bot's token goes to these hosts and nowhere else."""
        return (*self.service_hosts, *(LOOPBACK_HOSTS if self.anonymous else ()))

    @property
    def download_hosts(self) -> tuple[str, ...]:
        """Where a photo may be fetched from, at every redirect hop."""
        return (*self.allowed_hosts, *self.file_hosts)

    def check_bind(self, host: str) -> None:
        """Anonymous mode lets anyone who reaches the port act as any Teams user: loopback only."""
        if self.anonymous and not is_loopback_host(host):
            raise ConfigurationError(
                f"TEAMS_ALLOW_ANONYMOUS=1 accepts unsigned Teams messages, so `serve` binds only a loopback "
                f"address with it, not {host!r}. Set the bot's credentials (CONNECTIONS__SERVICE_CONNECTION__"
                f"SETTINGS__CLIENTID / __CLIENTSECRET / __TENANTID) or serve on 127.0.0.1."
            )

    @property
    def token_endpoint(self) -> str:
        if self.token_url:
            return self.token_url
        tenant = self.tenant_id or "botframework.com"
        return f"https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"


class OidcProvider(BaseModel):
    """One OpenID Connect provider for "Sign in with ...". Off until it has a client id and secret.

    With only ``issuer`` set, the endpoints come from its OpenID discovery document
    (``{issuer}/.well-known/openid-configuration``)."""

    client_id: str | None = None
    client_secret: SecretStr | None = None
    issuer: str = Field(description="expected 'iss'; '{tid}' stands for the token's Entra tenant id")
    authorize_url: str | None = None
    token_url: str | None = None
    jwks_url: str | None = None
    userinfo_url: str | None = Field(default=None, description="read when the ID token lacks the claims we map")
    token_auth: Literal["client_secret_basic", "client_secret_post"] = Field(
        default="client_secret_basic", description="how the client secret goes to the token endpoint (RFC 6749)"
    )

    @property
    def enabled(self) -> bool:
        return self.client_id is not None and self.client_secret is not None


def _slack_oidc() -> OidcProvider:
    return OidcProvider(
        authorize_url="https://slack.com/openid/connect/authorize",
        token_url="https://slack.com/api/openid.connect.token",  # noqa: S106  (a URL)
        jwks_url="https://slack.com/openid/connect/keys",
        userinfo_url="https://slack.com/api/openid.connect.userInfo",
        issuer="https://slack.com",
        token_auth="client_secret_post",  # noqa: S106  (a name, not a secret)
    )


def _entra_oidc() -> OidcProvider:
    base = "https://login.microsoftonline.com/organizations"
    return OidcProvider(
        authorize_url=f"{base}/oauth2/v2.0/authorize",
        token_url=f"{base}/oauth2/v2.0/token",
        jwks_url=f"{base}/discovery/v2.0/keys",
        userinfo_url="https://graph.microsoft.com/oidc/userinfo",
        issuer="https://login.microsoftonline.com/{tid}/v2.0",
    )


class WebSettings(BaseModel):
    """The dashboard, the REST API and the kiosk.

    Sessions are JWTs signed (HS256) with ``session_key`` under ``session_key_id``; keys in
    ``old_session_keys`` (id -> key) are still accepted, so a key can be rotated without
    signing everyone out. Without ``session_key`` a key is generated into ``home``.
    """

    session_key: SecretStr | None = None
    session_key_id: str = "s1"
    old_session_keys: dict[str, SecretStr] = Field(default_factory=dict)
    session_minutes: int = Field(default=60, ge=5, le=24 * 60, description="a session cookie's lifetime")
    session_max_hours: int = Field(default=12, ge=1, le=24 * 30, description="sign in again after this at the latest")
    cookie_secure: bool = Field(default=True, description="Secure cookies (browsers accept them on localhost too)")
    public_url: str | None = Field(default=None, description="how browsers reach this server (sign-in redirects)")
    cache_recent_s: float = Field(default=5.0, ge=0, description="the web re-reads today's events after this")
    cache_past_s: float = Field(default=60.0, ge=0, description="... and older days' events after this")
    privacy_file: Path | None = Field(default=None, description="a text file shown on /privacy instead of ours")
    terms_file: Path | None = Field(default=None, description="a text file shown on /terms instead of ours")
    token_rate_per_s: float = Field(default=5.0, gt=0, description="an API token's sustained requests a second")
    token_burst: int = Field(default=120, ge=1, description="... and how many it may send at once")
    slack: OidcProvider = Field(default_factory=_slack_oidc)
    entra: OidcProvider = Field(default_factory=_entra_oidc)


class MetricsSettings(BaseModel):
    """Prometheus metrics: ``serve`` answers ``/metrics`` on its HTTP port; ``worker`` and
    ``dispatcher`` on a port of their own (``--metrics-port``; 0: none) with ``/healthz`` beside it."""

    token: SecretStr | None = Field(default=None, description="when set, /metrics asks for it as a Bearer token")
    host: str = "127.0.0.1"
    worker_port: int = Field(default=0, ge=0, le=65535)
    dispatcher_port: int = Field(default=0, ge=0, le=65535)
    stall_s: float = Field(default=60.0, gt=0, description="a loop silent this long fails /healthz")


class TracingSettings(BaseModel):
    """OpenTelemetry traces, off unless ``endpoint`` is set: spans of each HTTP request, each
    check-in's decision (continuing the trace of the request that queued it, across processes),
    its face analysis and each delivery attempt, sent over OTLP/HTTP (protobuf) to a collector.
    Spans carry ids, channels and outcomes; never a name, photo, face template or message text."""

    endpoint: str | None = Field(
        default=None, description="the collector's OTLP/HTTP base address, e.g. http://otel-collector:4318"
    )
    service_name: str = Field(default="attendance", description="the traces' service.name")
    sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0, description="share of new traces kept")
    timeout_s: float = Field(default=10.0, gt=0, description="one export to the collector")

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"tracing.endpoint must be an http:// or https:// address (got {value!r})")
        return value or None


class LogSettings(BaseModel):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ATTENDANCE_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    home: Path = Field(default=Path("var"), description="local state: embedded database, generated keys")
    mongodb_uri: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("MONGODB_URI", "ATTENDANCE_MONGODB_URI")
    )
    consent_notice_version: str = "2026-12-07"  # the notice now says check-ins may add templates
    http: HttpSettings = Field(default_factory=HttpSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    face: FaceSettings = Field(default_factory=FaceSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    dispatcher: DispatcherSettings = Field(default_factory=DispatcherSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    webhook_retry_schedule: str = Field(
        default=",".join(f"{d:g}" for d in DEFAULT_RETRY_SCHEDULE),
        description="seconds before each retry of a failed delivery, comma-separated; then it is dead-lettered",
    )
    crypto: CryptoSettings = Field(default_factory=CryptoSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    teams: TeamsSettings = Field(default_factory=TeamsSettings)
    web: WebSettings = Field(default_factory=WebSettings)

    @field_validator("webhook_retry_schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        try:
            parse_schedule(value)
        except DomainError as exc:
            raise ValueError(str(exc)) from exc
        return value

    @property
    def retry_schedule(self) -> tuple[float, ...]:
        return parse_schedule(self.webhook_retry_schedule)
