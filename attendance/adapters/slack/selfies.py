"""Check-in by selfie in Slack: a photo in the DM or with an ``@attendance`` mention, and the
``/checkin`` and ``/checkout`` forms. Each stores a check-in job before Slack gets its 200 (the
worker decides it and answers)."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from attendance.adapters.slack import blocks as ui
from attendance.adapters.slack.people import (
    NOT_CONNECTED,
    Ack,
    SlackPeople,
    files_of,
    full_file,
    not_on_staff,
    photo_ref,
    refusal,
)
from attendance.core.domain.checkins import Requested
from attendance.core.ports import Clock
from attendance.services.checkin import CheckInDeps, RequestCheckIn, submit_check_in

log = logging.getLogger(__name__)


class SlackSelfies:
    def __init__(self, *, people: SlackPeople, checkin: CheckInDeps, clock: Clock) -> None:
        self._people, self._checkin, self._clock = people, checkin, clock
        self._linked: set[tuple[str, str]] = set()  # (tenant id, Slack user) known to be an employee

    async def on_message(
        self, event: dict[str, Any], body: dict[str, Any], context: Any, client: AsyncWebClient
    ) -> None:
        """A message in the DM with the bot. (Channel posts come as ``app_mention``: the app does not
        read channels; an install made with an older manifest still sends them, and they are ignored.)"""
        if event.get("channel_type") != "im":
            return
        await self._selfie(event, body, context, client, "im")

    async def on_mention(
        self, event: dict[str, Any], body: dict[str, Any], context: Any, client: AsyncWebClient
    ) -> None:
        """``@attendance`` in a channel, with or without a selfie (the event carries its files)."""
        await self._selfie(event, body, context, client, "channel")

    async def _selfie(
        self, event: dict[str, Any], body: dict[str, Any], context: Any, client: AsyncWebClient, where: str
    ) -> None:
        if event.get("bot_id") or event.get("subtype") not in (None, "file_share"):
            return
        text = str(event.get("text") or "")
        user_id, channel = str(event.get("user", "")), str(event.get("channel", ""))
        files = [f for f in event.get("files") or [] if str(f.get("mimetype", "")).startswith("image/")]

        async def say(message: str) -> None:
            if where == "im":
                await client.chat_postMessage(channel=channel, text=message)
            else:
                await client.chat_postEphemeral(channel=channel, user=user_id, text=message)

        if not files:
            if event.get("files"):
                await say("That file isn't a photo. Send a selfie (JPEG, PNG, HEIC or WebP) to check in or out.")
            elif where == "im":
                await say(
                    "Send me a selfie to check in or out (add `in` or `out` if you like). "
                    "Type `/attendance help` for everything else."
                )
            return
        team_id = str(context.get("team_id") or "")
        tenant = await self._people.tenant(team_id, cached=True)
        if tenant is None:
            await say(NOT_CONNECTED)
            return
        if (tenant.id, user_id) not in self._linked:  # once per person: the worker resolves them again
            who = await self._people.who(team_id, user_id, client)
            if who is None or who.person is None:
                await say(not_on_staff(tenant))
                return
            self._linked.add((tenant.id, user_id))
        words = {w.strip(".,!").lower() for w in text.split()}
        requested = Requested.OUT if "out" in words else Requested.IN if "in" in words else Requested.AUTO
        photo = files[0]
        _, fresh = await submit_check_in(
            RequestCheckIn(
                tenant_id=tenant.id,
                channel="slack",
                identity_kind="slack",
                identity=user_id,
                photo=photo_ref(photo),
                idempotency_key=_selfie_key(where, body, event),
                requested=requested,
                context={
                    "team": team_id,
                    "channel": channel,
                    "user": user_id,
                    "where": where,
                    "file": str(photo.get("id") or ""),
                },
            ),
            jobs=self._checkin.jobs,
            clock=self._clock,
        )
        log.info("slack selfie queued new=%s", fresh)

    # ------------------------------------------------------------ /checkin, /checkout

    async def on_checkin_command(self, ack: Ack, body: dict[str, Any], context: Any, client: AsyncWebClient) -> None:
        direction = "out" if body.get("command") == "/checkout" else "in"
        who = await self._people.who(context.get("team_id"), str(body.get("user_id", "")), client)
        if who is None or who.person is None:
            await ack(text=refusal(who))
            return
        # from the DM with the app: the answer goes to the person's id (Slack delivers it there)
        where = "modal" if body.get("channel_name") == "directmessage" else "channel"
        meta = json.dumps({"d": direction, "c": body.get("channel_id", ""), "w": where})
        await client.views_open(trigger_id=body["trigger_id"], view=ui.checkin_modal(direction, meta))
        await ack()

    async def open_checkin_modal(self, ack: Ack, body: dict[str, Any], client: AsyncWebClient, direction: str) -> None:
        meta = json.dumps({"d": direction, "c": "", "w": "modal"})
        await client.views_open(trigger_id=body["trigger_id"], view=ui.checkin_modal(direction, meta))
        await ack()

    async def on_checkin_submit(self, ack: Ack, body: dict[str, Any], context: Any, client: AsyncWebClient) -> None:
        view = body["view"]
        files = files_of(view, "photo", "file")
        if not files:
            await ack(response_action="errors", errors={"photo": "Please add a selfie."})
            return
        user_id = str(body["user"]["id"])
        who = await self._people.who(context.get("team_id"), user_id, client)
        if who is None or who.person is None:
            await ack(response_action="update", view=ui.notice_view("Check-in", refusal(who)))
            return
        meta = json.loads(view.get("private_metadata") or "{}")
        file = await full_file(files[0], client)
        ctx = {
            "team": who.team_id,
            "user": user_id,
            "where": str(meta.get("w", "modal")),
            "channel": str(meta.get("c", "")),
            "file": str(file.get("id") or ""),
        }
        await submit_check_in(
            RequestCheckIn(
                tenant_id=who.tenant.id,
                channel="slack",
                identity_kind="slack",
                identity=user_id,
                photo=photo_ref(file),
                idempotency_key=f"view:{view['id']}",
                requested=Requested(meta.get("d", "auto")),
                context=ctx,
            ),
            jobs=self._checkin.jobs,
            clock=self._clock,
        )
        await ack()


def _selfie_key(where: str, body: dict[str, Any], event: dict[str, Any]) -> str:
    """One job per post: in a DM the event id (Slack's retries repeat it); in a channel the post's own
    address, so that an install still subscribed to channel messages makes one job of the message and
    its mention."""
    if where == "channel" or not body.get("event_id"):
        return f"{event.get('channel')}:{event.get('ts')}"
    return str(body["event_id"])
