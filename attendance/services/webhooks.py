"""Managing webhook subscriptions: add (the secret is shown once), list, rotate the secret
(the old one keeps signing for a grace period), disable, remove. Every change is audited."""

from __future__ import annotations

import base64
import secrets
from datetime import timedelta

from attendance.domain.model import DomainError, Tenant, new_id
from attendance.domain.webhooks import (
    SigningSecret,
    Subscription,
    SubscriptionState,
    check_events,
    check_url,
)
from attendance.ports import AuditLog, Clock, SubscriptionRepository
from attendance.services.errors import NotFound, ServiceError

SECRET_BYTES = 32


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


async def add_subscription(
    tenant: Tenant, url: str, events: list[str], *, by: str, subscriptions: SubscriptionRepository, audit: AuditLog,
    clock: Clock,
) -> tuple[Subscription, str]:  # fmt: skip
    """The new subscription and its secret (shown to the admin once, then only stored encrypted)."""
    try:
        checked_url, chosen = check_url(url), check_events(events)
    except DomainError as exc:
        raise ServiceError(str(exc)) from exc
    secret = new_secret()
    now = clock.now()
    sub = Subscription(id=new_id(), tenant_id=tenant.id, url=checked_url, events=chosen,
                       secrets=(SigningSecret(value=secret),), created_at=now)  # fmt: skip
    await subscriptions.add(sub)
    await audit.record(tenant_id=tenant.id, actor=by, action="webhook.added", subject=sub.id, at=now)
    return sub, secret


async def _get(tenant: Tenant, subscription_id: str, subscriptions: SubscriptionRepository) -> Subscription:
    sub = await subscriptions.get(tenant.id, subscription_id)
    if sub is None:
        raise NotFound(f"no webhook {subscription_id} in {tenant.name} (see `attendance webhooks list`)")
    return sub


async def rotate_secret(
    tenant: Tenant, subscription_id: str, grace: timedelta, *, by: str, subscriptions: SubscriptionRepository,
    audit: AuditLog, clock: Clock,
) -> str:  # fmt: skip
    """A new current secret; the previous one signs too until ``grace`` has passed."""
    if grace < timedelta(0) or grace > timedelta(days=30):
        raise ServiceError("the grace period is between 0 and 30 days")
    sub = await _get(tenant, subscription_id, subscriptions)
    now = clock.now()
    secret = new_secret()
    still_valid = [s for s in sub.secrets if s.expires_at is None or s.expires_at > now]
    kept = tuple(SigningSecret(value=s.value, expires_at=s.expires_at or now + grace) for s in still_valid if grace)
    from dataclasses import replace

    await subscriptions.replace_secrets(replace(sub, secrets=(SigningSecret(value=secret), *kept)))
    await audit.record(tenant_id=tenant.id, actor=by, action="webhook.secret_rotated", subject=sub.id, at=now)
    return secret


async def set_enabled(
    tenant: Tenant, subscription_id: str, enabled: bool, *, by: str, reason: str | None,
    subscriptions: SubscriptionRepository, audit: AuditLog, clock: Clock,
) -> None:  # fmt: skip
    await _get(tenant, subscription_id, subscriptions)
    state = SubscriptionState.ACTIVE if enabled else SubscriptionState.DISABLED
    await subscriptions.set_state(tenant.id, subscription_id, state, None if enabled else reason)
    await audit.record(tenant_id=tenant.id, actor=by, action=f"webhook.{state.value}", subject=subscription_id,
                       at=clock.now())  # fmt: skip


async def remove_subscription(
    tenant: Tenant, subscription_id: str, *, by: str, subscriptions: SubscriptionRepository, audit: AuditLog,
    clock: Clock,
) -> None:  # fmt: skip
    if not await subscriptions.remove(tenant.id, subscription_id):
        raise NotFound(f"no webhook {subscription_id} in {tenant.name} (see `attendance webhooks list`)")
    await audit.record(tenant_id=tenant.id, actor=by, action="webhook.removed", subject=subscription_id,
                       at=clock.now())  # fmt: skip
