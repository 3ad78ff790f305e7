"""``AdpConnector`` (the ``Connector`` port for ``adp`` subscriptions): check-ins and check-outs as
ADP Workforce Now time data collection entries (punches, as a time clock terminal sends them).

Every call -- the token request too -- is made over mutual TLS with the tenant's client
certificate; the OAuth2 client-credentials token is cached until shortly before it expires.

Subscription settings (``config``): ``token_url`` (default ADP's), ``in_code`` / ``out_code``
(the punch codes, default ``IN`` / ``OUT``), ``poll_s`` (how long one attempt follows an
asynchronous answer, default 5). The URL is the API's base (``https://api.adp.com``).
Credentials: ``client_id``, ``client_secret``, ``cert_pem`` and ``key_pem`` (the client
certificate ADP issued, PEM), and ``ca_pem`` only to trust a private CA.

ADP answers a punch with 202 and processes it later: the connector follows the status (the
``Location`` header, else the entry's event id under the same path) until it is ``complete``
(delivered) or ``failed`` (rejected, with ADP's message, for the admin). Still processing when
the attempt's ``poll_s`` is over: the status URL is kept as the delivery's ``followup`` and the
next attempt asks it instead of posting again, so a slow ADP never gets the punch twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import ssl
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

from attendance.adapters.http.oauth import OAuthTokens, TokenError
from attendance.adapters.http.status import (
    NETWORK_ERRORS,
    classify,
    read_some,
    short,
    status_text,
    unreachable,
    without_worker_id,
    worker_id_of,
)
from attendance.core.domain.deliveries import Delivery, DeliveryResult, ResultKind, parse_retry_after
from attendance.core.domain.webhooks import Subscription
from attendance.core.ports import Clock

PUNCH_PATH = "/events/time/v1/data-collection-entries.process"
DEFAULT_TOKEN_URL = "https://accounts.adp.com/auth/oauth/v2/token"  # noqa: S105  (a URL, not a secret)
DONE = {"complete", "completed", "success", "accepted"}
FAILED = {"failed", "failure", "rejected", "error"}


def client_tls(credentials: dict[str, str]) -> ssl.SSLContext:
    """A TLS context that presents the tenant's client certificate (and trusts ``ca_pem`` if given)."""
    ctx = ssl.create_default_context()
    if credentials.get("ca_pem"):
        ctx.load_verify_locations(cadata=credentials["ca_pem"])
    with tempfile.TemporaryDirectory(prefix="adp-") as tmp:  # load_cert_chain reads files; gone at once
        cert, key = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
        for path, text in ((cert, credentials["cert_pem"]), (key, credentials["key_pem"])):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(text)
        ctx.load_cert_chain(cert, key)
    return ctx


def punch_body(sub: Subscription, delivery: Delivery) -> dict[str, Any]:
    p = delivery.payload
    worker_id = worker_id_of(delivery)
    code = sub.config.get("in_code", "IN") if p.get("direction") == "in" else sub.config.get("out_code", "OUT")
    return {
        "events": [
            {
                "data": {
                    "eventContext": {"associateOID": worker_id},
                    "transform": {
                        "dataCollectionEntry": {
                            "entryID": p.get("event_id"),
                            "entryCode": code,
                            "entryDateTime": p.get("at_local"),
                            "timeZone": p.get("timezone"),
                        }
                    },
                }
            }
        ]
    }


def _status_of(body: Any) -> tuple[str, str]:
    """ADP's processing status and its message, from an event answer."""
    event = body.get("events", [{}])[0] if isinstance(body, dict) and body.get("events") else {}
    code = event.get("eventStatusCode", {}).get("codeValue", "") if isinstance(event, dict) else ""
    messages = []
    confirm = event.get("confirmMessage", {}) if isinstance(event, dict) else {}
    for m in confirm.get("processMessages", []) if isinstance(confirm, dict) else []:
        text = m.get("userMessage", {}).get("messageTxt") if isinstance(m, dict) else None
        if text:
            messages.append(str(text))
    return str(code).lower(), "; ".join(messages)


class AdpConnector:
    def __init__(
        self, http: aiohttp.ClientSession, tokens: OAuthTokens, clock: Clock, *, timeout_s: float = 15.0
    ) -> None:
        self._http, self._tokens, self._clock = http, tokens, clock
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._tls: dict[str, tuple[str, ssl.SSLContext]] = {}

    def _context(self, sub: Subscription) -> ssl.SSLContext:
        creds = sub.credentials
        digest = hashlib.sha256("\0".join(creds.get(k, "") for k in ("cert_pem", "key_pem", "ca_pem")).encode())
        cached = self._tls.get(sub.id)
        if cached is None or cached[0] != digest.hexdigest():
            cached = (digest.hexdigest(), client_tls(creds))
            self._tls[sub.id] = cached
        return cached[1]

    async def _token(self, sub: Subscription, tls: ssl.SSLContext) -> str:
        creds = sub.credentials
        form = {
            "grant_type": "client_credentials",
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
        }
        return await self._tokens.token(sub.id, sub.config.get("token_url", DEFAULT_TOKEN_URL), form, ssl_context=tls)

    async def deliver(self, subscription: Subscription, delivery: Delivery) -> DeliveryResult:
        if delivery.type not in ("attendance.check_in.accepted", "attendance.check_out.accepted"):
            return DeliveryResult(kind=ResultKind.SKIPPED, detail="skipped: ADP gets punches only")
        refused = without_worker_id(delivery, "ADP associate id")
        if refused is not None:
            return refused
        try:
            tls = self._context(subscription)
        except (KeyError, ssl.SSLError, ValueError) as exc:
            detail = f"the ADP client certificate cannot be used ({type(exc).__name__})"
            return DeliveryResult(kind=ResultKind.REJECTED, detail=detail)
        try:
            token = await self._token(subscription, tls)
        except TokenError as exc:
            return DeliveryResult(kind=ResultKind.RETRY, detail=f"ADP sign-in failed: {exc}")
        except KeyError:
            return DeliveryResult(kind=ResultKind.REJECTED, detail="the ADP client id or secret is not configured")
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if delivery.followup:
            return await self._follow(subscription, delivery.followup, headers, tls)
        url = subscription.url.rstrip("/") + PUNCH_PATH
        try:
            async with self._http.post(
                url,
                json=punch_body(subscription, delivery),
                headers=headers,
                ssl=tls,
                timeout=self._timeout,
                allow_redirects=False,
            ) as resp:
                status, location, text = resp.status, resp.headers.get("Location"), await read_some(resp)
                body = await _json(resp, text)
        except NETWORK_ERRORS as exc:
            return unreachable(exc)
        if status == 401:
            self._tokens.forget(subscription.id)
            return DeliveryResult(kind=ResultKind.RETRY, status=401, detail="ADP refused the token; signing in again")
        if status == 400:
            _, message = _status_of(body)
            return DeliveryResult(
                kind=ResultKind.REJECTED,
                status=400,
                detail=f"ADP refused the punch: {short(message) if message else status_text(status)}",
            )
        if status == 202:
            event = body.get("events", [{}])[0] if isinstance(body, dict) and body.get("events") else {}
            event_id = event.get("eventID") if isinstance(event, dict) else None
            if not location and not event_id:
                return DeliveryResult(
                    kind=ResultKind.DELIVERED, status=202, detail="accepted by ADP (no status to follow)"
                )
            followup = location or f"{url}/{event_id}"
            if not followup.startswith("http"):
                followup = subscription.url.rstrip("/") + "/" + followup.lstrip("/")
            return await self._follow(subscription, followup, headers, tls)
        return classify(status, None, self._clock.now())

    async def _follow(
        self, sub: Subscription, url: str, headers: dict[str, str], tls: ssl.SSLContext
    ) -> DeliveryResult:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + float(sub.config.get("poll_s", "5"))
        while True:
            try:
                async with self._http.get(
                    url, headers=headers, ssl=tls, timeout=self._timeout, allow_redirects=False
                ) as resp:
                    status, text = resp.status, await read_some(resp)
                    body = await _json(resp, text)
                    retry_after = parse_retry_after(resp.headers.get("Retry-After"), self._clock.now())
            except NETWORK_ERRORS as exc:
                result = unreachable(exc)
                return DeliveryResult(kind=ResultKind.RETRY, detail=result.detail, followup=url)
            code, message = _status_of(body)
            if status == 200 and code in DONE:
                return DeliveryResult(kind=ResultKind.DELIVERED, status=200, detail="accepted by ADP")
            if status in (200, 400) and code in FAILED:
                why = short(message) if message else status_text(status)
                return DeliveryResult(kind=ResultKind.REJECTED, status=status, detail=f"ADP rejected the punch: {why}")
            if status >= 400 and status != 404:
                return DeliveryResult(
                    kind=ResultKind.RETRY, status=status, detail=f"ADP status: HTTP {status}", followup=url
                )
            wait = min(retry_after.total_seconds() if retry_after else 0.5, 1.0)
            if loop.time() + wait > deadline:
                detail = "ADP is still processing the punch; asking again later"
                return DeliveryResult(
                    kind=ResultKind.RETRY, status=status, retry_after=retry_after, detail=detail, followup=url
                )
            await asyncio.sleep(wait)  # the far side's pace, not synchronisation: ADP processes it meanwhile


async def _json(resp: aiohttp.ClientResponse, text: str) -> Any:
    import json

    if "json" not in (resp.content_type or ""):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
