"""Managing webhook subscriptions and connectors: add (a webhook's secret is shown once), list,
rotate the secret (the old one keeps signing for a grace period), disable (what waits for it is
held), enable (the held events are sent, in order), remove (what it had not received is
dropped); replay deliveries. Every change is audited."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from attendance.core.domain.deliveries import DeliveryState
from attendance.core.domain.model import DomainError, Tenant, new_id
from attendance.core.domain.webhooks import (
    CONNECTOR_KINDS,
    SigningSecret,
    Subscription,
    SubscriptionState,
    check_events,
)
from attendance.core.errors import NotFound, ServiceError
from attendance.core.ports import AuditLog, Clock, DeliveryRepository, DestinationCheck, SubscriptionRepository

SECRET_BYTES = 32


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


async def add_subscription(
    tenant: Tenant,
    url: str,
    events: list[str],
    *,
    by: str,
    subscriptions: SubscriptionRepository,
    audit: AuditLog,
    clock: Clock,
    destinations: DestinationCheck,
) -> tuple[Subscription, str]:
    """The new subscription and its secret (shown to the admin once, then only stored encrypted)."""
    try:
        checked_url, chosen = await destinations.check(url), check_events(events)
    except DomainError as exc:
        raise ServiceError(str(exc)) from exc
    secret = new_secret()
    now = clock.now()
    sub = Subscription(
        id=new_id(),
        tenant_id=tenant.id,
        url=checked_url,
        events=chosen,
        secrets=(SigningSecret(value=secret),),
        created_at=now,
    )
    await subscriptions.add(sub)
    await audit.record(tenant_id=tenant.id, actor=by, action="webhook.added", subject=sub.id, at=now)
    return sub, secret


async def _get(tenant: Tenant, subscription_id: str, subscriptions: SubscriptionRepository) -> Subscription:
    sub = await subscriptions.get(tenant.id, subscription_id)
    if sub is None:
        raise NotFound(f"no webhook {subscription_id} in {tenant.name} (see `attendance webhooks list`)")
    return sub


async def rotate_secret(
    tenant: Tenant,
    subscription_id: str,
    grace: timedelta,
    *,
    by: str,
    subscriptions: SubscriptionRepository,
    audit: AuditLog,
    clock: Clock,
) -> str:
    """A new current secret; the previous one signs too until ``grace`` has passed."""
    if grace < timedelta(0) or grace > timedelta(days=30):
        raise ServiceError("the grace period is between 0 and 30 days")
    sub = await _get(tenant, subscription_id, subscriptions)
    now = clock.now()
    secret = new_secret()
    still_valid = [s for s in sub.secrets if s.expires_at is None or s.expires_at > now]
    kept = tuple(SigningSecret(value=s.value, expires_at=s.expires_at or now + grace) for s in still_valid if grace)
    await subscriptions.replace_secrets(replace(sub, secrets=(SigningSecret(value=secret), *kept)))
    await audit.record(tenant_id=tenant.id, actor=by, action="webhook.secret_rotated", subject=sub.id, at=now)
    return secret


REQUIRED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # kind: (config keys, credential keys)
    "workday": (("check_in_type", "check_out_type"), ()),
    "adp": ((), ("client_id", "client_secret", "cert_pem", "key_pem")),
}


async def add_connector(
    tenant: Tenant,
    kind: str,
    url: str,
    events: list[str],
    *,
    config: Mapping[str, str],
    credentials: Mapping[str, str],
    by: str,
    subscriptions: SubscriptionRepository,
    audit: AuditLog,
    clock: Clock,
    destinations: DestinationCheck,
) -> Subscription:
    """A Workday or ADP connector: a subscription with its settings and (sealed) credentials."""
    if kind not in CONNECTOR_KINDS or kind == "webhook":
        raise ServiceError(f"unknown connector type {kind!r}: use workday or adp (or `attendance webhooks add`)")
    needed_config, needed_creds = REQUIRED[kind]
    missing = [k for k in needed_config if not config.get(k)] + [k for k in needed_creds if not credentials.get(k)]
    if kind == "workday" and not (
        (credentials.get("username") and credentials.get("password"))
        or all(credentials.get(k) for k in ("client_id", "client_secret", "refresh_token", "token_url"))
    ):
        missing.append("username and password (or client_id, client_secret, refresh_token, token_url)")
    if missing:
        raise ServiceError(f"the {kind} connector needs {', '.join(missing)}")
    try:
        for token_url in (config.get("token_url"), credentials.get("token_url")):  # a connector's sign-in
            if token_url:
                await destinations.check(token_url)
        checked_url, chosen = await destinations.check(url), check_events(events)
    except DomainError as exc:
        raise ServiceError(str(exc)) from exc
    now = clock.now()
    sub = Subscription(
        id=new_id(),
        tenant_id=tenant.id,
        url=checked_url,
        events=chosen,
        secrets=(),
        created_at=now,
        kind=kind,
        config={str(k): str(v) for k, v in config.items()},
        credentials={str(k): str(v) for k, v in credentials.items()},
    )
    await subscriptions.add(sub)
    await audit.record(tenant_id=tenant.id, actor=by, action=f"connector.{kind}.added", subject=sub.id, at=now)
    return sub


async def set_enabled(
    tenant: Tenant,
    subscription_id: str,
    enabled: bool,
    *,
    by: str,
    reason: str | None,
    subscriptions: SubscriptionRepository,
    deliveries: DeliveryRepository,
    audit: AuditLog,
    clock: Clock,
) -> int:
    """Disabling holds what waits for the subscription; enabling sends it. Returns how many."""
    await _get(tenant, subscription_id, subscriptions)
    state = SubscriptionState.ACTIVE if enabled else SubscriptionState.DISABLED
    await subscriptions.set_state(tenant.id, subscription_id, state, None if enabled else reason)
    now = clock.now()
    if enabled:
        moved = await deliveries.resume(tenant.id, subscription_id, now)
    else:
        moved = await deliveries.hold(tenant.id, subscription_id)
    await audit.record(tenant_id=tenant.id, actor=by, action=f"webhook.{state.value}", subject=subscription_id, at=now)
    return moved


async def remove_subscription(
    tenant: Tenant,
    subscription_id: str,
    *,
    by: str,
    subscriptions: SubscriptionRepository,
    deliveries: DeliveryRepository,
    audit: AuditLog,
    clock: Clock,
) -> int:
    """Returns how many undelivered events were dropped with it."""
    if not await subscriptions.remove(tenant.id, subscription_id):
        raise NotFound(f"no webhook {subscription_id} in {tenant.name} (see `attendance webhooks list`)")
    dropped = await deliveries.cancel(tenant.id, subscription_id)
    await audit.record(tenant_id=tenant.id, actor=by, action="webhook.removed", subject=subscription_id, at=clock.now())
    return dropped


async def replay(
    tenant: Tenant,
    *,
    delivery_id: str | None,
    since: datetime | None,
    subscription_id: str | None,
    by: str,
    subscriptions: SubscriptionRepository,
    deliveries: DeliveryRepository,
    audit: AuditLog,
    clock: Clock,
) -> int:
    """Send again, with the same ``webhook-id``: one delivery, or every event since a time (to one
    subscription, or to every active one). Returns how many deliveries were queued."""
    now = clock.now()
    if (delivery_id is None) == (since is None):
        raise ServiceError("replay needs either --id or --since")
    if delivery_id is not None:
        found = await deliveries.get(tenant.id, delivery_id)
        if found is None:
            raise NotFound(f"no delivery {delivery_id} in {tenant.name} (see `attendance deliveries list`)")
        if found.state not in (DeliveryState.DEAD, DeliveryState.DELIVERED):
            raise ServiceError(f"delivery {delivery_id} is {found.state.value}: it is still being sent")
        count = int(await deliveries.replay(tenant.id, delivery_id, now))
        subject = delivery_id
    else:
        assert since is not None
        if since > now:
            raise ServiceError("--since is in the future")
        if subscription_id is not None:
            targets = [await _get(tenant, subscription_id, subscriptions)]
        else:
            targets = await subscriptions.active_for(tenant.id)
        targets = [t for t in targets if t.state is SubscriptionState.ACTIVE]
        if not targets:
            raise ServiceError("no active subscription to replay to")
        count = await deliveries.replay_since(tenant.id, since, targets, now)
        subject = f"since {since.isoformat()}"
    await audit.record(tenant_id=tenant.id, actor=by, action="deliveries.replayed", subject=subject, at=now)
    return count
