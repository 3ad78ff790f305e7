"""``WorkdayConnector`` (the ``Connector`` port for ``workday`` subscriptions): check-ins and
check-outs as time clock events through the Time Tracking web service's
``Put_Time_Clock_Events`` (SOAP, synchronous: Workday validates each request at once).

Subscription settings (``config``): ``check_in_type`` and ``check_out_type`` (the tenant's time
clock event type ids), ``version`` (the web service version, default ``v42.0``). The URL is the
service endpoint (``https://HOST/ccx/service/TENANT/Time_Tracking/VERSION``). Credentials: an
integration system user (``username``, ``password``: WS-Security UsernameToken), or OAuth2
with a refresh token registered for that user (``client_id``, ``client_secret``,
``refresh_token``, ``token_url``).

Mapping: ``check_in.accepted`` / ``check_out.accepted`` -> one event each, its id our event id
(Workday refuses a second event with the same id, so a retry cannot double it); a correction
that adds a missed punch -> a new event; other corrections and day summaries are not sent
(Workday keeps its own time blocks; the admin corrects them there). A SOAP validation fault is
the admin's to fix: dead-lettered at once with Workday's message, never retried forever.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import aiohttp
from defusedxml import ElementTree as SafeET

from attendance.adapters.http.oauth import OAuthTokens, TokenError
from attendance.adapters.http.status import (
    NETWORK_ERRORS,
    classify,
    read_some,
    short,
    unreachable,
    without_worker_id,
    worker_id_of,
)
from attendance.core.domain.deliveries import Delivery, DeliveryResult, ResultKind
from attendance.core.domain.webhooks import Subscription
from attendance.core.ports import Clock

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
WD = "urn:com.workday/bsvc"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSS_PROFILE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
PASSWORD_TEXT = WSS_PROFILE + "#PasswordText"
DEFAULT_VERSION = "v42.0"


def _id(parent: ET.Element, tag: str, id_type: str, value: str) -> None:
    ref = ET.SubElement(parent, f"{{{WD}}}{tag}")
    ET.SubElement(ref, f"{{{WD}}}ID", {f"{{{WD}}}type": id_type}).text = value


def time_clock_request(sub: Subscription, delivery: Delivery, username: str | None, password: str | None) -> bytes:
    """The SOAP envelope of one ``Put_Time_Clock_Events`` request."""
    p = delivery.payload
    worker_id = worker_id_of(delivery)
    direction = str(p.get("direction"))
    event_type = sub.config["check_in_type" if direction == "in" else "check_out_type"]
    env = ET.Element(f"{{{SOAP}}}Envelope")
    header = ET.SubElement(env, f"{{{SOAP}}}Header")
    if username is not None and password is not None:
        token = ET.SubElement(ET.SubElement(header, f"{{{WSSE}}}Security"), f"{{{WSSE}}}UsernameToken")
        ET.SubElement(token, f"{{{WSSE}}}Username").text = username
        ET.SubElement(token, f"{{{WSSE}}}Password", {"Type": PASSWORD_TEXT}).text = password
    body = ET.SubElement(env, f"{{{SOAP}}}Body")
    req = ET.SubElement(
        body, f"{{{WD}}}Put_Time_Clock_Events_Request", {f"{{{WD}}}version": sub.config.get("version", DEFAULT_VERSION)}
    )
    data = ET.SubElement(ET.SubElement(req, f"{{{WD}}}Time_Clock_Event"), f"{{{WD}}}Time_Clock_Event_Data")
    ET.SubElement(data, f"{{{WD}}}Time_Clock_Event_ID").text = str(p.get("event_id"))
    _id(data, "Worker_Reference", "Employee_ID", str(worker_id))
    ET.SubElement(data, f"{{{WD}}}Event_Date_Time").text = str(p.get("at_local"))
    _id(data, "Time_Clock_Event_Type_Reference", "Time_Clock_Event_Type_ID", event_type)
    _id(data, "Time_Zone_Reference", "Time_Zone_ID", str(p.get("timezone")))
    return b'<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(env)


def fault_of(text: str) -> tuple[str, str] | None:
    """A SOAP fault's code and message (with Workday's validation details), or None."""
    try:
        root = SafeET.fromstring(text)
    except Exception:
        return None
    fault = root.find(f".//{{{SOAP}}}Fault")
    if fault is None:
        return None
    code = (fault.findtext("faultcode") or "").strip()
    message = (fault.findtext("faultstring") or "").strip()
    details = [m.text.strip() for m in fault.iter(f"{{{WD}}}Message") if m.text]
    return code, "; ".join([message, *details]) if details else message


class WorkdayConnector:
    def __init__(
        self, http: aiohttp.ClientSession, tokens: OAuthTokens, clock: Clock, *, timeout_s: float = 15.0
    ) -> None:
        self._http, self._tokens, self._clock = http, tokens, clock
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    def _unmapped(self, delivery: Delivery) -> str | None:
        p = delivery.payload
        if delivery.type == "attendance.day.summary":
            return "day summaries are not sent to Workday"
        if delivery.type == "attendance.event.corrected" and (p.get("supersedes") or p.get("void")):
            return "a correction of an earlier punch is made in Workday itself"
        return None

    async def deliver(self, subscription: Subscription, delivery: Delivery) -> DeliveryResult:
        why = self._unmapped(delivery)
        if why is not None:
            return DeliveryResult(kind=ResultKind.SKIPPED, detail=f"skipped: {why}")
        refused = without_worker_id(delivery, "Workday worker id")
        if refused is not None:
            return refused
        creds = subscription.credentials
        headers = {"content-type": "text/xml; charset=utf-8", "SOAPAction": '""'}
        username = password = None
        if "refresh_token" in creds:
            try:
                token = await self._tokens.token(
                    subscription.id,
                    creds["token_url"],
                    {"grant_type": "refresh_token", "refresh_token": creds["refresh_token"]},
                    basic=(creds["client_id"], creds["client_secret"]),
                )
            except TokenError as exc:
                return DeliveryResult(kind=ResultKind.RETRY, detail=f"Workday sign-in failed: {exc}")
            headers["Authorization"] = f"Bearer {token}"
        else:
            username, password = creds.get("username"), creds.get("password")
        body = time_clock_request(subscription, delivery, username, password)
        try:
            async with self._http.post(
                subscription.url, data=body, headers=headers, timeout=self._timeout, allow_redirects=False
            ) as resp:
                text = await read_some(resp)
                status, retry_after = resp.status, resp.headers.get("Retry-After")
        except NETWORK_ERRORS as exc:
            return unreachable(exc)
        if status == 401:
            self._tokens.forget(subscription.id)
            return DeliveryResult(
                kind=ResultKind.RETRY, status=401, detail="Workday refused the credentials; check the integration user"
            )
        fault = fault_of(text) if status >= 400 else None
        if fault is not None:
            code, message = fault
            if "validationError" in code or code.endswith("Client"):
                return DeliveryResult(
                    kind=ResultKind.REJECTED, status=status, detail=f"Workday refused the event: {short(message)}"
                )
            return DeliveryResult(kind=ResultKind.RETRY, status=status, detail=f"Workday fault: {short(message)}")
        return classify(status, retry_after, self._clock.now())
