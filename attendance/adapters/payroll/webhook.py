"""``StandardWebhookConnector`` (the ``Connector`` port for ``webhook`` subscriptions): one POST
per delivery, signed as Standard Webhooks specifies.

``webhook-id`` is the outbox row's id, the same on every retry and replay (the receiver's
idempotency key); ``webhook-timestamp`` is the attempt's time; ``webhook-signature`` carries a
``v1,`` signature per secret that signs now (two during a rotation). The body is the event's
JSON payload (docs/webhooks.md). Redirects are not followed: a subscription names its final URL.
"""

from __future__ import annotations

import json

import aiohttp

from attendance.adapters.http.status import NETWORK_ERRORS, classify, unreachable
from attendance.core.domain.deliveries import Delivery, DeliveryResult
from attendance.core.domain.webhooks import Subscription, webhook_headers
from attendance.core.ports import Clock

USER_AGENT = "attendance-webhooks/1"


def body_of(delivery: Delivery) -> bytes:
    return json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True, default=str).encode()


class StandardWebhookConnector:
    def __init__(self, http: aiohttp.ClientSession, clock: Clock, *, timeout_s: float = 15.0) -> None:
        self._http, self._clock = http, clock
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def deliver(self, subscription: Subscription, delivery: Delivery) -> DeliveryResult:
        now = self._clock.now()
        body = body_of(delivery)
        headers = webhook_headers(subscription.signing_secrets(now), delivery.msg_id, int(now.timestamp()), body)
        headers["user-agent"] = USER_AGENT
        try:
            async with self._http.post(
                subscription.url, data=body, headers=headers, timeout=self._timeout, allow_redirects=False
            ) as resp:
                return classify(resp.status, resp.headers.get("Retry-After"), self._clock.now())
        except NETWORK_ERRORS as exc:
            return unreachable(exc)
