"""The far side of outbound delivery, on loopback over real HTTP(S): a Standard Webhooks receiver,
a Workday Time_Tracking stand-in and an ADP Workforce Now stand-in (mutual TLS)."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree as ET

from aiohttp import web
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


async def wait_until(ready: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    """Poll a condition with a deadline (the other side is a separate process)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not ready():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class Server:
    def __init__(self) -> None:
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._ssl: ssl.SSLContext | None = None

    def app(self) -> web.Application:
        raise NotImplementedError

    @property
    def base(self) -> str:
        return f"{'https' if self._ssl else 'http'}://127.0.0.1:{self.port}"

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._ssl = ssl_context or self._ssl
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=self._ssl, reuse_address=True)
        await site.start()
        if not self.port:
            self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


class WebhookReceiver(Server):
    """Verifies every request with the ``standardwebhooks`` library; keeps an idempotent log of
    accepted ``webhook-id``s (a repeat is answered 200 and counted, not logged again)."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[str, str] = {}  # path -> secret
        self.received: list[str] = []  # every verified request's webhook-id, repeats included
        self.accepted: list[str] = []
        self.bodies: dict[str, dict[str, Any]] = {}
        self.bad_signatures = 0
        self.status: dict[str, int] = {}  # path -> forced status
        self.hold: asyncio.Event | None = None  # when set, requests wait for it
        self.held = 0
        self.delay_s = 0.0  # a receiver that takes its time per request (the benchmarks' simulated work)
        self.first_at: float | None = None  # loop time of the first and the latest verified request
        self.last_at = 0.0

    def url(self, path: str) -> str:
        return f"{self.base}/{path}"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{path}", self._hook)
        return app

    async def _hook(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        body = await request.read()
        try:
            payload = Webhook(self.secrets[path]).verify(body, dict(request.headers))
        except (WebhookVerificationError, KeyError):
            self.bad_signatures += 1
            return web.Response(status=401, text="bad signature")
        msg_id = request.headers["webhook-id"]
        if self.delay_s:
            await asyncio.sleep(self.delay_s)  # simulated work, not synchronisation
        self.received.append(msg_id)
        self.last_at = asyncio.get_running_loop().time()
        self.first_at = self.first_at or self.last_at
        if path in self.status:
            return web.Response(status=self.status[path], text="forced", headers={"Retry-After": "0"})
        if self.hold is not None:
            self.held += 1
            await self.hold.wait()
        if msg_id not in self.bodies:
            self.accepted.append(msg_id)
            self.bodies[msg_id] = payload
        return web.Response(status=204)


SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
WD = "urn:com.workday/bsvc"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"


class WorkdayStandIn(Server):
    """``Put_Time_Clock_Events``: checks the WS-Security user (or a bearer token from its token
    endpoint), the required fields, and that the worker exists; answers as Workday does, with a
    ``validationError`` SOAP fault for a bad request."""

    def __init__(self, user: str, password: str, workers: set[str], event_types: set[str]) -> None:
        super().__init__()
        self.user, self.password, self.workers, self.event_types = user, password, workers, event_types
        self.events: dict[str, dict[str, str]] = {}
        self.refused: list[str] = []
        self.tokens: set[str] = set()
        self.refresh_token = "rt-1"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/ccx/service/acme/Time_Tracking/v42.0", self._soap)
        app.router.add_post("/ccx/oauth2/acme/token", self._token)
        return app

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != self.refresh_token:
            return web.json_response({"error": "invalid_grant"}, status=400)
        token = f"wd-token-{len(self.tokens)}"
        self.tokens.add(token)
        return web.json_response({"access_token": token, "token_type": "Bearer", "expires_in": 3600})

    @staticmethod
    def fault(code: str, message: str, status: int = 500) -> web.Response:
        xml = (
            f'<env:Envelope xmlns:env="{SOAP}" xmlns:wd="{WD}"><env:Body><env:Fault>'
            f"<faultcode>{code}</faultcode><faultstring>{message}</faultstring><detail>"
            f"<wd:Validation_Fault><wd:Validation_Error><wd:Message>{message}</wd:Message>"
            "</wd:Validation_Error></wd:Validation_Fault></detail></env:Fault></env:Body>"
            "</env:Envelope>"
        )
        return web.Response(status=status, text=xml, content_type="text/xml")

    async def _soap(self, request: web.Request) -> web.Response:
        root = ET.fromstring(await request.read())
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        user = root.findtext(f".//{{{WSSE}}}Username")
        password = root.findtext(f".//{{{WSSE}}}Password")
        if bearer not in self.tokens and (user, password) != (self.user, self.password):
            return self.fault("SOAP-ENV:Client.authenticationError", "invalid username or password", 401)
        data = root.find(
            f".//{{{WD}}}Put_Time_Clock_Events_Request/{{{WD}}}Time_Clock_Event/{{{WD}}}Time_Clock_Event_Data"
        )
        if data is None:
            return self.fault("SOAP-ENV:Client.validationError", "Time_Clock_Event_Data is required")
        fields = {
            "id": data.findtext(f"{{{WD}}}Time_Clock_Event_ID") or "",
            "worker": data.findtext(f"{{{WD}}}Worker_Reference/{{{WD}}}ID[@{{{WD}}}type='Employee_ID']") or "",
            "at": data.findtext(f"{{{WD}}}Event_Date_Time") or "",
            "type": data.findtext(f"{{{WD}}}Time_Clock_Event_Type_Reference/{{{WD}}}ID") or "",
            "zone": data.findtext(f"{{{WD}}}Time_Zone_Reference/{{{WD}}}ID") or "",
        }
        missing = [k for k, v in fields.items() if not v]
        if missing or ("+" not in fields["at"][10:] and "-" not in fields["at"][10:]):
            return self.fault("SOAP-ENV:Client.validationError", f"required: {missing or 'a date-time with offset'}")
        if fields["worker"] not in self.workers:
            self.refused.append(fields["id"])
            message = f"Invalid ID value. '{fields['worker']}' is not a valid ID value for type = 'Employee_ID'"
            return self.fault("SOAP-ENV:Client.validationError", message)
        if fields["type"] not in self.event_types:
            return self.fault("SOAP-ENV:Client.validationError", f"unknown time clock event type {fields['type']}")
        self.events.setdefault(fields["id"], fields)
        ok = (
            f'<env:Envelope xmlns:env="{SOAP}"><env:Body><wd:Put_Time_Clock_Events_Response xmlns:wd="{WD}"/>'
            "</env:Body></env:Envelope>"
        )
        return web.Response(text=ok, content_type="text/xml")


class AdpStandIn(Server):
    """Served over TLS that requires a client certificate signed by the test CA. The token
    endpoint checks the client credentials; a punch needs the bearer token; it is answered 202
    and reported ``inProgress`` on the first status request, then ``complete`` (or ``failed``
    for an unknown associate)."""

    def __init__(self, client_id: str, client_secret: str, associates: set[str]) -> None:
        super().__init__()
        self.client_id, self.client_secret, self.associates = client_id, client_secret, associates
        self.tokens_issued = 0
        self.tokens: set[str] = set()
        self.punches: dict[str, dict[str, Any]] = {}
        self.status_calls: dict[str, int] = {}
        self.peer_certs: list[str] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/auth/oauth/v2/token", self._token)
        app.router.add_post("/events/time/v1/data-collection-entries.process", self._punch)
        app.router.add_get("/events/time/v1/data-collection-entries.process/{event_id}", self._status)
        return app

    def _peer(self, request: web.Request) -> None:
        transport = request.transport
        cert = transport.get_extra_info("peercert") if transport else None
        assert cert, "the TLS layer let a request without a client certificate through"
        self.peer_certs.append(dict(x[0] for x in cert["subject"])["commonName"])

    async def _token(self, request: web.Request) -> web.Response:
        self._peer(request)
        form = await request.post()
        if (form.get("grant_type"), form.get("client_id"), form.get("client_secret")) != (
            "client_credentials",
            self.client_id,
            self.client_secret,
        ):
            return web.json_response({"error": "invalid_client"}, status=401)
        self.tokens_issued += 1
        token = f"adp-{self.tokens_issued}"
        self.tokens.add(token)
        return web.json_response({"access_token": token, "token_type": "Bearer", "expires_in": 3600})

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization", "").removeprefix("Bearer ") in self.tokens

    async def _punch(self, request: web.Request) -> web.Response:
        self._peer(request)
        if not self._authorised(request):
            return web.json_response({"error": "invalid_token"}, status=401)
        body = json.loads(await request.read())
        data = body["events"][0]["data"]
        entry = data["transform"]["dataCollectionEntry"]
        if not all(entry.get(k) for k in ("entryID", "entryCode", "entryDateTime", "timeZone")):
            return web.json_response(
                {
                    "confirmMessage": {
                        "processMessages": [
                            {
                                "userMessage": {
                                    "messageTxt": "entryID, entryCode, entryDateTime and timeZone are required"
                                }
                            }
                        ]
                    }
                },
                status=400,
            )
        event_id = f"ev-{entry['entryID']}"
        self.punches.setdefault(event_id, {"associate": data["eventContext"]["associateOID"], **entry})
        return web.json_response(
            {"events": [{"eventID": event_id, "eventStatusCode": {"codeValue": "inProgress"}}]}, status=202
        )

    async def _status(self, request: web.Request) -> web.Response:
        self._peer(request)
        if not self._authorised(request):
            return web.json_response({"error": "invalid_token"}, status=401)
        event_id = request.match_info["event_id"]
        if event_id not in self.punches:
            return web.json_response({}, status=404)
        self.status_calls[event_id] = self.status_calls.get(event_id, 0) + 1
        messages: list[dict[str, Any]]
        if self.status_calls[event_id] == 1:
            code, messages = "inProgress", []
        elif self.punches[event_id]["associate"] in self.associates:
            code, messages = "complete", []
        else:
            code, messages = "failed", [{"userMessage": {"messageTxt": "Associate is not valid for time entry"}}]
        return web.json_response(
            {
                "events": [
                    {
                        "eventID": event_id,
                        "eventStatusCode": {"codeValue": code},
                        "confirmMessage": {"processMessages": messages},
                    }
                ]
            },
            headers={"Retry-After": "0"},
        )
