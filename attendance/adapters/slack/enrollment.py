"""Face enrollment in Slack: the form (consent and 1 to 3 selfies), then the photos checked
after Slack's answer and the result told in the DM."""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from attendance.adapters.slack import blocks as ui
from attendance.adapters.slack.people import Ack, SlackPeople, Who, files_of, full_file, photo_ref, refusal
from attendance.adapters.slack.replier import SlackPhotoSource
from attendance.core.ports import PhotoUnavailable
from attendance.services import chat
from attendance.services.background import Background
from attendance.services.conversation.lines import enrollment_result
from attendance.services.replies import photo_problem

MAX_ENROLL_FILES = 3


class SlackEnrollment:
    def __init__(
        self,
        *,
        people: SlackPeople,
        chat_deps: chat.ChatDeps,
        photos: SlackPhotoSource,
        notice_version: str,
        background: Background,
    ) -> None:
        self._people, self._chat, self._photos = people, chat_deps, photos
        self._notice, self._bg = notice_version, background

    async def open_enroll_modal(self, ack: Ack, body: dict[str, Any], client: AsyncWebClient) -> None:
        await client.views_open(trigger_id=body["trigger_id"], view=ui.enroll_modal())
        await ack()

    async def on_enroll_submit(self, ack: Ack, body: dict[str, Any], context: Any, client: AsyncWebClient) -> None:
        view = body["view"]
        state = view.get("state", {}).get("values", {})
        agreed = [o.get("value") for o in state.get("consent", {}).get("agree", {}).get("selected_options") or []]
        files = files_of(view, "photos", "files")
        errors = {}
        if "agree" not in agreed:
            errors["consent"] = "Please tick the box to agree, or press Cancel."
        if not 1 <= len(files) <= MAX_ENROLL_FILES:
            errors["photos"] = "Please add 1 to 3 selfies."
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        user_id = str(body["user"]["id"])
        who = await self._people.who(context.get("team_id"), user_id, client)
        if who is None or who.person is None:
            await ack(response_action="update", view=ui.notice_view("Enrollment", refusal(who)))
            return
        await ack(
            response_action="update",
            view=ui.notice_view(
                "Enrollment",
                "Thanks! I'm checking your photos now; I'll tell you the result in our DM in a few seconds.",
            ),
        )
        self._bg.spawn(self._enroll(who, files, client), "slack-enroll")

    async def _enroll(self, who: Who, files: list[dict[str, Any]], client: AsyncWebClient) -> None:
        assert who.person is not None
        photos: list[bytes | str] = []
        for f in files:
            try:
                ref = photo_ref(await full_file(f, client))
                photos.append(await self._photos.download(who.team_id, ref.ref, ref.size))
            except PhotoUnavailable as exc:
                photos.append(photo_problem(str(exc)))
        report = await chat.enroll_with_consent(
            who.tenant, who.person, photos, notice_version=self._notice, deps=self._chat
        )
        text = enrollment_result(
            report,
            who.person.name,
            "•",
            "Try again with `/attendance enroll`.",
            more="use `/attendance enroll` again.",
        )
        await client.chat_postMessage(channel=who.user_id, text=text)
