"""A stand-in for the far side of Teams on loopback: the Bot Connector service (conversations,
members, pasted-image attachments), a file host with pre-authorised download URLs, and an Entra
token endpoint. With ``require_token`` it checks the bearer token where the real service would
(connector calls and pasted images) and records what every download URL received."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.receivers import Server

TEAMS_TENANT = "72f988bf-0000-4000-8000-000000000001"
APP_ID = "00000000-0000-4000-8000-00000000b07"
APP_SECRET = "bot-secret-for-tests"


@dataclass
class Sent:
    conversation: str
    reply_to: str | None
    activity: dict[str, Any]
    authorization: str | None


@dataclass
class Member:
    id: str
    aad: str
    email: str
    name: str


@dataclass
class FakeTeams(Server):
    require_token: bool = False
    sent: list[Sent] = field(default_factory=list)
    members: dict[str, Member] = field(default_factory=dict)  # Teams user id (29:...) -> member
    blobs: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # id -> (bytes, content type)
    downloads: list[tuple[str, str, str | None]] = field(default_factory=list)  # (kind, id, Authorization)
    tokens_issued: list[str] = field(default_factory=list)
    refused: int = 0

    def __post_init__(self) -> None:
        super().__init__()

    def __hash__(self) -> int:
        return id(self)

    # ------------------------------------------------------------ set-up

    @property
    def service_url(self) -> str:
        return f"{self.base}/svc/"  # real service URLs end in "/"

    @property
    def token_url(self) -> str:
        return f"{self.base}/oauth2/v2.0/token"

    def add_member(self, teams_id: str, aad: str, email: str, name: str) -> None:
        self.members[teams_id] = Member(teams_id, aad, email, name)

    def upload(self, data: bytes, file_type: str = "jpg") -> dict[str, Any]:
        """An uploaded file's attachment: a pre-authorised, short-lived download URL."""
        blob = uuid.uuid4().hex
        self.blobs[blob] = (data, "application/octet-stream")
        return {
            "contentType": "application/vnd.microsoft.teams.file.download.info",
            "name": f"selfie.{file_type}",
            "content": {
                "downloadUrl": f"{self.base}/files/{blob}?tempauth=pre-authorised",
                "uniqueId": blob,
                "fileType": file_type,
            },
        }

    def paste(self, data: bytes) -> dict[str, Any]:
        """A pasted image's attachment: on the connector, fetched with the bot's token."""
        blob = uuid.uuid4().hex
        self.blobs[blob] = (data, "image/jpeg")
        return {"contentType": "image/*", "contentUrl": f"{self.service_url}v3/attachments/{blob}/views/original"}

    # ------------------------------------------------------------ reading what was sent

    def to(self, conversation: str) -> list[Sent]:
        return [s for s in self.sent if s.conversation == conversation]

    async def wait_for(self, ready: Callable[[], Any], timeout: float = 60.0) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (value := ready()):
            if loop.time() > deadline:
                raise AssertionError(f"timed out; sent so far: {[s.activity for s in self.sent]}")
            await asyncio.sleep(0.02)
        return value

    # ------------------------------------------------------------ the server

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/oauth2/v2.0/token", self._token)
        app.router.add_post("/svc/v3/conversations/{conv}/activities", self._send)
        app.router.add_post("/svc/v3/conversations/{conv}/activities/{reply}", self._send)
        app.router.add_get("/svc/v3/conversations/{conv}/members/{user}", self._member)
        app.router.add_get("/svc/v3/attachments/{blob}/views/original", self._attachment)
        app.router.add_get("/files/{blob}", self._file)
        app.router.add_get("/moved/{host}/{blob}", self._moved)
        return app

    async def _moved(self, request: web.Request) -> web.Response:
        """A file host that redirects the download to ``host`` (same port): an open redirect's shape."""
        port = request.url.port
        target = f"http://{request.match_info['host']}:{port}/files/{request.match_info['blob']}?{request.query_string}"
        raise web.HTTPFound(target)

    def _authorised(self, request: web.Request) -> bool:
        if not self.require_token:
            return True
        ok = request.headers.get("Authorization", "") in {f"Bearer {t}" for t in self.tokens_issued}
        self.refused += not ok
        return ok

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if (form.get("grant_type"), form.get("client_id"), form.get("client_secret")) != (
            "client_credentials",
            APP_ID,
            APP_SECRET,
        ) or form.get("scope") != "https://api.botframework.com/.default":
            return web.json_response({"error": "invalid_client"}, status=401)
        token = f"bf-{uuid.uuid4().hex}"
        self.tokens_issued.append(token)
        return web.json_response({"token_type": "Bearer", "expires_in": 3599, "access_token": token})

    async def _send(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": {"code": "Unauthorized"}}, status=401)
        activity = await request.json()
        self.sent.append(
            Sent(
                request.match_info["conv"],
                request.match_info.get("reply"),
                activity,
                request.headers.get("Authorization"),
            )
        )
        return web.json_response({"id": uuid.uuid4().hex})

    async def _member(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"error": {"code": "Unauthorized"}}, status=401)
        m = self.members.get(request.match_info["user"])
        if m is None:
            return web.json_response({"error": {"code": "MemberNotFoundInConversation"}}, status=404)
        return web.json_response(
            {"id": m.id, "aadObjectId": m.aad, "email": m.email, "userPrincipalName": m.email, "name": m.name}
        )

    async def _attachment(self, request: web.Request) -> web.Response:
        blob = request.match_info["blob"]
        self.downloads.append(("pasted", blob, request.headers.get("Authorization")))
        if not self._authorised(request):
            return web.Response(status=401, text="<html>sign in</html>", content_type="text/html")
        data, kind = self.blobs[blob]
        return web.Response(body=data, content_type=kind)

    async def _file(self, request: web.Request) -> web.Response:
        blob = request.match_info["blob"]
        self.downloads.append(("file", blob, request.headers.get("Authorization")))
        if request.query.get("tempauth") != "pre-authorised" or blob not in self.blobs:
            return web.Response(status=403)
        data, kind = self.blobs[blob]
        return web.Response(body=data, content_type=kind)
