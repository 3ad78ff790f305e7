"""Slack without a public URL: Socket Mode. The service opens the WebSocket with the app-level
token (``apps.connections.open`` on the Slack stand-in, then a real WebSocket on loopback), a
selfie event arrives on it, is acknowledged on it, decided by the real worker and face engine,
and answered in the person's DM; there is no ``/slack/events`` without a signing secret."""

from __future__ import annotations

import time
import uuid
from typing import Any

import aiohttp
import pytest

from attendance.adapters.embedded.secantus import EmbeddedMongo
from attendance.entrypoints.bootstrap import build, slack_bot
from attendance.settings import ConfigurationError, Settings, SlackSettings
from tests.e2e.serving import serving
from tests.e2e.test_slack import _tenant
from tests.fakes.slack import FakeSlack


async def test_a_selfie_over_socket_mode_is_acknowledged_decided_and_answered(
    settings: Settings, mongo_server: EmbeddedMongo, engine: Any, slack: FakeSlack, photo: Any
) -> None:
    socket_only = SlackSettings(
        app_token=slack.app_token,  # type: ignore[arg-type]
        bot_token=slack.bot_token,  # type: ignore[arg-type]
        api_url=slack.api_url,
    )
    settings = settings.model_copy(update={"slack": socket_only})
    async with build(settings, uri=mongo_server.uri, engine=engine) as c, aiohttp.ClientSession() as http:
        bot = slack_bot(c)
        assert bot is not None
        try:
            async with serving(c, bot.mount) as url:
                _, people = await _tenant(c, slack, photo)
                async with http.post(f"{url}/slack/events", data=b"{}") as r:
                    assert r.status == 404  # no signing secret: no HTTP endpoint to forge requests to
                await bot.start_socket_mode()
                opened = slack.called("apps.connections.open")
                assert [call.token for call in opened] == [slack.app_token]
                file = slack.add_file(f"F{uuid.uuid4().hex[:8]}", photo("Serena_Williams/2.jpg"))
                event = {
                    "type": "message", "subtype": "file_share", "user": "UADA", "channel": "DUADA",
                    "channel_type": "im", "text": "", "ts": f"{time.time():.6f}", "files": [file],
                }  # fmt: skip
                body = {
                    "token": "x", "team_id": "T0ACME", "api_app_id": "A0APP", "type": "event_callback",
                    "event_id": f"Ev{uuid.uuid4().hex[:10]}", "event_time": int(time.time()), "event": event,
                }  # fmt: skip
                envelope = await slack.push("events_api", body)
                await slack.wait_for(lambda: any(a.get("envelope_id") == envelope for a in slack.acks))
                [answer] = await slack.wait_for(lambda: slack.messages_to("DUADA"))
                assert "Serena Williams" in str(answer) or "checked in" in str(answer).lower()
                recorded = await c.db["attendance_events"].count_documents({"employee_id": people["UADA"].id})
                assert recorded == 1
        finally:
            await bot.close()
            await c.client.drop_database(settings.database.name)


def test_socket_mode_serves_one_workspace_and_says_so_for_oauth() -> None:
    s = SlackSettings(app_token="xapp-1", client_id="1.2", client_secret="s")  # type: ignore[arg-type]
    assert s.enabled and s.socket_mode
    from attendance.adapters.slack.app import SlackBot

    with pytest.raises(ConfigurationError, match="Socket Mode"):
        SlackBot(s, handlers=None, background=None)  # type: ignore[arg-type]
    assert not SlackSettings().enabled
    assert not SlackSettings(app_token="xapp-1").enabled  # still needs the bot token  # type: ignore[arg-type]
