"""A stand-in for Slack's side of the network, over real HTTP on loopback: the Web API methods
the app calls (under ``/api/``), private file downloads, the file upload URL, and the OAuth
token exchange. It checks the bot token where Slack would, answers a bad token on a file
download with an HTML login page and status 200 (as Slack does), and records every call.

Tests also use it to sign and send requests to the app as Slack would (``send_*``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web
from slack_sdk.signature import SignatureVerifier

TEAM = "T0ACME"
BOT_USER = "UBOT"


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str | None
    at: float = field(default_factory=time.monotonic)  # when Slack got it (the benchmarks time answers)


@dataclass
class SlackUser:
    id: str
    email: str
    name: str


@dataclass
class FakeSlack:
    signing_secret: str = "test-signing-secret"
    bot_token: str = "xoxb-test-token"
    client_id: str = "111.222"
    client_secret: str = "client-secret"
    users: dict[str, SlackUser] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    uploads: dict[str, bytes] = field(default_factory=dict)
    downloads: list[tuple[str, str | None]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)  # posted to a response_url
    oauth_bot_token: str = "xoxb-installed-token"
    port: int = 0
    gate: asyncio.Event | None = None  # when set to an Event, file downloads wait for it
    app_token: str = "xapp-1-test-app-token"
    sockets: list[web.WebSocketResponse] = field(default_factory=list)  # Socket Mode connections
    acks: list[dict[str, Any]] = field(default_factory=list)  # what the app answered on them
    _runner: web.AppRunner | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    # ------------------------------------------------------------ set-up

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/"

    def add_user(self, user_id: str, email: str, name: str) -> None:
        self.users[user_id] = SlackUser(user_id, email, name)

    def add_file(self, file_id: str, data: bytes, mimetype: str = "image/jpeg") -> dict[str, Any]:
        self.files[file_id] = data
        return {
            "id": file_id,
            "name": f"{file_id}.jpg",
            "mimetype": mimetype,
            "filetype": "jpg",
            "size": len(data),
            "url_private": f"{self.base}/files/{file_id}",
            "url_private_download": f"{self.base}/files/{file_id}",
        }

    def valid_tokens(self) -> set[str]:
        return {self.bot_token, self.oauth_bot_token}

    # ------------------------------------------------------------ the Web API

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            args.update(await request.json())
        elif request.can_read_body:
            args.update(dict(await request.post()))
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else args.get("token")
        self.calls.append(Call(method, args, token))
        self._changed.set()
        if method == "oauth.v2.access":
            return self._oauth_access(auth, args)
        if method == "apps.connections.open":  # Socket Mode: only the app-level token opens one
            if token != self.app_token:
                return web.json_response({"ok": False, "error": "invalid_auth"})
            return web.json_response({"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket-mode"})
        if token not in self.valid_tokens():
            return web.json_response({"ok": False, "error": "invalid_auth"})
        result = self._answer(method, args, token)
        return web.json_response(result)

    def _answer(self, method: str, args: dict[str, Any], token: str) -> dict[str, Any]:
        match method:
            case "auth.test":
                return {
                    "ok": True,
                    "team_id": TEAM,
                    "team": "Acme",
                    "user_id": BOT_USER,
                    "bot_id": "BBOT",
                    "url": "https://acme.slack.com/",
                }
            case "users.info":
                user = self.users.get(str(args.get("user")))
                if user is None:
                    return {"ok": False, "error": "user_not_found"}
                return {
                    "ok": True,
                    "user": {
                        "id": user.id,
                        "real_name": user.name,
                        "profile": {"email": user.email, "real_name": user.name},
                    },
                }
            case "users.lookupByEmail":
                found = next((u for u in self.users.values() if u.email == args.get("email")), None)
                return {"ok": True, "user": {"id": found.id}} if found else {"ok": False, "error": "users_not_found"}
            case "conversations.open":
                return {"ok": True, "channel": {"id": f"D{args.get('users')}"}}
            case "files.getUploadURLExternal":
                file_id = f"FUP{len(self.uploads) + 1}"
                return {"ok": True, "upload_url": f"{self.base}/upload/{file_id}", "file_id": file_id}
            case "files.completeUploadExternal":
                files = json.loads(str(args.get("files", "[]")))
                return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}
            case "files.info":
                file_id = str(args.get("file"))
                return {"ok": True, "file": self.add_file(file_id, self.files.get(file_id, b""))}
            case _:
                return {"ok": True, "ts": f"{time.time():.6f}", "channel": args.get("channel")}

    def _oauth_access(self, auth: str, args: dict[str, Any]) -> web.Response:
        expected = "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if auth != expected or args.get("code") != "good-code":
            return web.json_response({"ok": False, "error": "invalid_code"})
        return web.json_response(
            {
                "ok": True,
                "app_id": "A0APP",
                "access_token": self.oauth_bot_token,
                "token_type": "bot",
                "scope": "chat:write,commands,files:read",
                "bot_user_id": BOT_USER,
                "team": {"id": "T0NEW", "name": "Newco"},
                "enterprise": None,
                "is_enterprise_install": False,
                "authed_user": {"id": "UINSTALLER"},
            }
        )

    async def _file(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        auth = request.headers.get("Authorization")
        self.downloads.append((file_id, auth))
        self._changed.set()
        if self.gate is not None:  # a test holds downloads here (a worker caught mid-job)
            await self.gate.wait()
        if auth is None or auth.removeprefix("Bearer ") not in self.valid_tokens():
            return web.Response(text="<html>Sign in to Slack</html>", content_type="text/html")
        if file_id not in self.files:
            return web.Response(status=404)
        return web.Response(body=self.files[file_id], content_type="image/jpeg")

    async def _socket_mode(self, request: web.Request) -> web.WebSocketResponse:
        """Slack's end of a Socket Mode connection: hello, then envelopes pushed by ``push``; the
        app's acknowledgements (``{"envelope_id": ...}``) are kept in ``acks``."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0APP"}})
        self.sockets.append(ws)
        self._changed.set()
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                self.acks.append(json.loads(message.data))
                self._changed.set()
        self.sockets.remove(ws)
        return ws

    async def push(self, kind: str, payload: dict[str, Any]) -> str:
        """An envelope (``events_api``, ``slash_commands``, ``interactive``) over the newest
        Socket Mode connection; its id, to find the acknowledgement."""
        envelope_id = f"env-{len(self.acks)}-{time.time_ns()}"
        await self.wait_for(lambda: self.sockets)
        await self.sockets[-1].send_json(
            {"envelope_id": envelope_id, "type": kind, "accepts_response_payload": False, "payload": payload}
        )
        return envelope_id

    async def _respond(self, request: web.Request) -> web.Response:
        self.responses.append(await request.json())
        self._changed.set()
        return web.Response(text="ok")

    @property
    def response_url(self) -> str:
        return f"{self.base}/respond"

    async def _upload(self, request: web.Request) -> web.Response:
        self.uploads[request.match_info["file_id"]] = await request.read()
        self._changed.set()
        return web.Response(text=f"OK - {len(self.uploads)}")

    # ------------------------------------------------------------ what the app did

    def called(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    async def wait_for(self, ready: Callable[[], Any], timeout: float = 60.0) -> Any:
        """Until ``ready()`` returns something truthy (re-checked after every call Slack gets)."""
        async with asyncio.timeout(timeout):
            while not (result := ready()):
                self._changed.clear()
                await self._changed.wait()
        return result

    def calls_args(self, *methods: str) -> list[dict[str, Any]]:
        return [c.args for c in self.calls if c.method in methods]

    def messages_to(self, channel: str) -> list[dict[str, Any]]:
        return [
            c.args
            for c in self.calls
            if c.method in ("chat.postMessage", "chat.postEphemeral") and c.args.get("channel") == channel
        ]

    # ------------------------------------------------------------ requests to the app, signed

    def sign(self, body: str, timestamp: int | None = None) -> dict[str, str]:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        signature = SignatureVerifier(self.signing_secret).generate_signature(timestamp=ts, body=body) or ""
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}

    async def post(
        self,
        session: aiohttp.ClientSession,
        url: str,
        body: str,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        all_headers = {"Content-Type": content_type, **self.sign(body), **(headers or {})}
        async with session.post(url, data=body.encode(), headers=all_headers) as resp:
            return resp.status, await resp.text()

    @staticmethod
    def event_body(event: dict[str, Any], event_id: str, team: str = TEAM) -> str:
        return json.dumps(
            {
                "token": "x",
                "team_id": team,
                "api_app_id": "A0APP",
                "type": "event_callback",
                "event_id": event_id,
                "event_time": int(time.time()),
                "event": event,
                "authorizations": [{"team_id": team, "user_id": BOT_USER, "is_bot": True}],
            }
        )

    def command_body(
        self, command: str, text: str, user: str, team: str = TEAM, channel_name: str = "directmessage"
    ) -> str:
        return urllib.parse.urlencode(
            {
                "token": "x",
                "team_id": team,
                "user_id": user,
                "channel_id": f"D{user}",
                "channel_name": channel_name,
                "command": command,
                "text": text,
                "response_url": self.response_url,
                "trigger_id": "trig.1",
                "api_app_id": "A0APP",
            }
        )

    @staticmethod
    def interaction_body(payload: dict[str, Any]) -> str:
        return urllib.parse.urlencode({"payload": json.dumps(payload)})

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/files/{file_id}", self._file)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/respond", self._respond)
        app.router.add_get("/socket-mode", self._socket_mode)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        for ws in list(self.sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
