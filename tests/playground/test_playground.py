"""The Teams bot driven through Microsoft 365 Agents Playground, Microsoft's own local Teams client.

The Playground (npm ``@microsoft/m365agentsplayground``, installed by ``make test-playground``) runs
as a child process and plays both Teams' client and its connector: it sends the bot real activities
without a token (the bot's anonymous mode) and takes the bot's replies on its ``/_connector``. The
test speaks to it over the HTTP API its own web page uses and reads the conversation from its
websocket, as that page does. The bot is the real server and check-in worker on the embedded
database with the demo company of ``attendance demo --playground``. The Playground has no file
upload, so a selfie is a custom activity with a Teams file attachment whose download link points at
a loopback server holding photos of the development face set (standing in for OneDrive).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from attendance.adapters.embedded.secantus import EmbeddedMongo
from attendance.entrypoints.bootstrap import access_deps, build, teams_bot
from attendance.services.demo import PLAYGROUND_USER, seed_demo
from attendance.settings import Settings, TeamsSettings
from tests.e2e.serving import serving

ROOT = Path(__file__).resolve().parents[2]
FILE_INFO = "application/vnd.microsoft.teams.file.download.info"
ALEX = "Queen_Rania"  # whose photos Alex Wilber, the Playground's user, sends
STRANGER = "John_McCain/1.jpg"
WAIT_S = 90.0  # an upper bound for one answer (enrollment runs dlib on three photos), never a pause


def playground_bin() -> Path:
    configured = os.environ.get("ATTENDANCE_PLAYGROUND_BIN")
    default = Path.home() / ".cache" / "attendance" / "playground" / "node_modules" / ".bin" / "agentsplayground"
    path = Path(configured) if configured else default
    if not path.exists():
        pytest.fail(f"the Agents Playground is not installed at {path}: run `make test-playground`, which installs it")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def text_of(message: dict[str, Any]) -> str:
    """What the person reads: the text, or the text blocks of the cards."""
    texts = [message["text"]] if message.get("text") else []
    for a in message.get("attachments") or []:
        texts += [b["text"] for b in a.get("content", {}).get("body", []) if b.get("type") == "TextBlock"]
    return "\n".join(texts)


def buttons_of(message: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        b["title"]: b.get("data", {})
        for a in message.get("attachments") or []
        for b in a.get("content", {}).get("actions", [])
    }


@dataclass
class Playground:
    http: aiohttp.ClientSession
    base: str
    ws: aiohttp.ClientWebSocketResponse
    config: dict[str, Any]
    photos: str  # the photo server's base URL
    seen: list[dict[str, Any]] = field(default_factory=list)

    @property
    def chat(self) -> str:
        return str(self.config["personalChat"]["id"])

    @property
    def user(self) -> str:
        return str(self.config["currentUser"]["id"])

    async def say(self, text: str) -> None:
        body = {"from": {"id": self.user}, "text": text, "textFormat": "plain"}
        async with self.http.post(f"{self.base}/_conversation/v1/conversations/{self.chat}/messages", json=body) as r:
            assert r.status == 200, await r.text()

    async def press(self, card: dict[str, Any], title: str, **inputs: str) -> None:
        """What the Playground's page does when a card's button is pressed."""
        value = {**buttons_of(card)[title], **inputs}
        body = {
            "conversation": {"id": self.chat},
            "from": {"id": self.user},
            "replyToId": card["messageId"],
            "value": value,
        }
        async with self.http.post(f"{self.base}/_conversation/v1/submit", json=body) as r:
            assert r.status == 200, await r.text()

    async def send_photos(self, *names: str, text: str = "") -> None:
        """A message with Teams file attachments, through the Playground's custom-activity route."""
        async with self.http.get(
            f"{self.base}/_internal/v1/customActivities/template", params={"conversationId": self.chat}
        ) as r:
            activity = await r.json()
        files = [
            {
                "contentType": FILE_INFO,
                "name": f"selfie-{i}.jpg",
                "content": {"downloadUrl": f"{self.photos}/{name}", "uniqueId": f"f{i}", "fileType": "jpg"},
            }
            for i, name in enumerate(names)
        ]
        activity.update(type="message", text=text, attachments=files)
        async with self.http.post(f"{self.base}/_internal/v1/customActivities", json=activity) as r:
            assert r.status < 300, await r.text()

    async def answer(self, ready: Callable[[str], bool]) -> dict[str, Any]:
        """The bot's next message whose text ``ready`` accepts (earlier ones are kept in ``seen``)."""
        before = len(self.seen)
        try:
            return await asyncio.wait_for(self._next(ready), WAIT_S)
        except TimeoutError:
            raise AssertionError(
                f"no such answer in {WAIT_S:.0f} s; the bot said {[text_of(m) for m in self.seen[before:]]}"
            ) from None

    async def _next(self, ready: Callable[[str], bool]) -> dict[str, Any]:
        bot = self.config["bot"]["id"]
        while True:
            msg = await self.ws.receive()
            assert msg.type is aiohttp.WSMsgType.TEXT, f"the Playground's stream ended: {msg.type}"
            data = json.loads(msg.data)
            message = data.get("message") or {}
            if data.get("action") == "createMessage" and message.get("from", {}).get("id") == bot:
                self.seen.append(message)  # (the person's own messages, edits and typing are not the bot's)
                if ready(text_of(message)):
                    return dict(message)


@contextlib.asynccontextmanager
async def photo_server(faces_dir: Path) -> AsyncIterator[str]:
    async def get(request: web.Request) -> web.StreamResponse:
        path = (faces_dir / request.match_info["name"]).resolve()
        if faces_dir.resolve() not in path.parents or not path.is_file():
            raise web.HTTPNotFound()
        return web.Response(body=path.read_bytes(), content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/{name:.+}", get)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def playground_process(bot_url: str, workdir: Path) -> AsyncIterator[str]:
    port = free_port()
    env = {**os.environ, "TEAMSAPPTESTER_BROWSER": "none"}
    log = workdir / "playground.log"
    args = ["-e", f"{bot_url}/api/messages", "-c", "msteams", "-p", str(port), "--dt"]
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            str(playground_bin()), *args, cwd=workdir, env=env, stdout=out, stderr=asyncio.subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http, asyncio.timeout(60):
            while True:  # until it answers, or the process ends
                assert proc.returncode is None, f"the Playground exited: {log.read_text(errors='replace')}"
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{base}/_internal/v1/config") as r:
                        if r.status == 200:
                            break
                await asyncio.sleep(0.2)  # polling a child process that is starting; no result depends on it
        yield base
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 20)


@pytest.fixture
async def pg(
    settings: Settings, mongo_server: EmbeddedMongo, engine: Any, faces_dir: Path, tmp_path: Path
) -> AsyncIterator[Playground]:
    settings = settings.model_copy(update={"teams": TeamsSettings(allow_anonymous=True)})  # type: ignore[call-arg]
    async with build(settings, uri=mongo_server.uri, engine=engine) as c:
        c_access = access_deps(c)
        await seed_demo(
            tenants=c.deps.tenants,
            employees=c.deps.employees,
            store=c.store,
            reviews=c.chat.reviews,
            access=c_access,
            playground=True,
        )
        bot = teams_bot(c)
        try:
            async with (
                serving(c, bot.mount) as url,
                photo_server(faces_dir) as photos,
                playground_process(url, tmp_path) as base,
                aiohttp.ClientSession() as http,
            ):
                async with http.get(f"{base}/_internal/v1/config") as r:
                    config = (await r.json())["config"]
                assert config["currentUser"]["email"] == PLAYGROUND_USER[1]
                async with http.ws_connect(
                    f"{base.replace('http', 'ws')}/_ws_conversation/v1/conversations/stream"
                ) as ws:
                    yield Playground(http, base, ws, config, photos)
        finally:
            await bot.close()
            await c.client.drop_database(settings.database.name)


async def test_help_enroll_a_selfie_and_undo_through_the_agents_playground(pg: Playground) -> None:
    await pg.say("help")
    help_card = await pg.answer(lambda t: t.startswith("What I can do"))
    assert "**enroll**" in text_of(help_card) and help_card["attachments"][0]["content"]["fallbackText"]

    await pg.say("enroll")
    consent = await pg.answer(lambda t: t.startswith("Selfie check-in"))
    assert set(buttons_of(consent)) == {"Continue", "No, thanks"}
    await pg.press(consent, "Continue", agree="true")
    await pg.answer(lambda t: t.startswith("Thank you. Now send me up to 3 selfies"))

    await pg.send_photos(f"{ALEX}/1.jpg", f"{ALEX}/2.jpg", f"{ALEX}/3.jpg")
    await pg.answer(lambda t: t.startswith("Thanks! I'm checking your photos"))
    await pg.answer(lambda t: t.startswith("You're enrolled, Alex (3 of 3 photos stored)"))

    await pg.send_photos(f"{ALEX}/4.jpg")
    checked_in = await pg.answer(lambda t: t.startswith("Checked in at"))
    assert "Alex" in text_of(checked_in) and {"Undo", "Not me"} <= set(buttons_of(checked_in))
    await pg.send_photos(f"{ALEX}/5.jpg", text="in")  # "in" again at once: the duplicate window, not recorded twice
    await pg.answer(lambda t: "already checked in" in t)
    await pg.send_photos(STRANGER)  # someone else's face from Alex's account
    await pg.answer(lambda t: t.startswith("I could not recognise you"))

    await pg.press(checked_in, "Undo")
    await pg.answer(lambda t: t.startswith("Undone: your check-in at"))
    await pg.say("status")
    status = await pg.answer(lambda t: t.startswith("Your attendance"))
    assert "Today: —" in text_of(status).splitlines(), text_of(status)  # the undone check-in is gone
