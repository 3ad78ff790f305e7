"""Block Kit for the Slack app: messages, modals and the App Home. Pure functions, no I/O.

Limits kept here: a section's text is at most 3000 characters, a message at most 50 blocks,
a view at most 100; long lists are paged with a *Next page* button.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from attendance.core.domain.checkins import Outcome, OutcomeKind
from attendance.services.conversation.answers import Answer, AskToDecide, Dialect, ReviewShown
from attendance.services.conversation.commands import CONSENT_AGREEMENT, CONSENT_CHOICE, consent_notice
from attendance.services.conversation.lines import THREE_SELFIES
from attendance.services.conversation.turns import review_text

Block = dict[str, Any]

SECTION_MAX = 3000
PAGE_LINES = 30
REVIEWS_SHOWN = 12  # 4 blocks each within a message's 50
PHOTO_TYPES = ["jpg", "jpeg", "png", "heic", "webp"]

CONSENT_NOTICE = "\n".join(
    [*(f"*{head}:* {text}" for head, text in consent_notice("`/attendance forget-me`")), CONSENT_CHOICE]
)


def escape(text: str) -> str:
    """Text from people or receivers shown in mrkdwn: Slack's three control characters escaped, so
    ``<https://evil|Approve>`` reads as itself and is not a link or a mention."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_MAX]}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:SECTION_MAX]}]}


def button(text: str, action_id: str, value: str = "", style: str | None = None) -> dict[str, Any]:
    b: dict[str, Any] = {"type": "button", "text": {"type": "plain_text", "text": text}, "action_id": action_id}
    if value:
        b["value"] = value
    if style:
        b["style"] = style
    return b


def actions(*elements: dict[str, Any], block_id: str | None = None) -> Block:
    block: Block = {"type": "actions", "elements": list(elements)}
    if block_id:
        block["block_id"] = block_id
    return block


def outcome_blocks(outcome: Outcome, text: str) -> list[Block]:
    """The answer to a check-in: the sentence, and what the person can do next."""
    blocks = [section(text)]
    if outcome.kind is OutcomeKind.ACCEPTED and outcome.event_id:
        blocks.append(
            actions(
                button("Not me", "not_me", outcome.event_id, style="danger"),
                button("Undo", "undo", outcome.event_id),
            )
        )
        blocks.append(context("Undo works for 5 minutes. *Not me* tells your admins."))
    elif outcome.kind is OutcomeKind.NOT_ENROLLED:
        blocks.append(actions(button("Enroll now", "enroll_open", style="primary")))
    return blocks


def paged(lines: Sequence[str], *, title: str, page: int, command: str, per_page: int = PAGE_LINES) -> list[Block]:
    """``lines`` as sections of at most ``per_page`` lines, with a *Next page* button."""
    pages = max(1, -(-len(lines) // per_page))
    page = min(max(page, 1), pages)
    chunk = lines[(page - 1) * per_page : page * per_page]
    header = f"*{title}*" + (f"  (page {page} of {pages})" if pages > 1 else "")
    blocks: list[Block] = [section(header)]
    text = ""
    for full in chunk or ["Nobody."]:
        line = full[:300]
        if len(text) + len(line) + 1 > SECTION_MAX - 100:
            blocks.append(section(text))
            text = ""
        text += line + "\n"
    blocks.append(section(text))
    if page < pages:
        blocks.append(actions(button("Next page", "page", json.dumps({"c": command, "p": page + 1}))))
    return blocks[:50]


def checkin_modal(direction: str, metadata: str) -> dict[str, Any]:
    verb = "in" if direction == "in" else "out"
    return {
        "type": "modal",
        "callback_id": "checkin_modal",
        "private_metadata": metadata[:3000],
        "title": {"type": "plain_text", "text": f"Check {verb}"},
        "submit": {"type": "plain_text", "text": f"Check {verb}"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": "photo",
                "label": {"type": "plain_text", "text": "Your selfie"},
                "element": {"type": "file_input", "action_id": "file", "filetypes": PHOTO_TYPES, "max_files": 1},
            },
            context("Take it now, facing the camera in good light. I'll answer in our DM within seconds."),
        ],
    }


def enroll_modal() -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "enroll_modal",
        "title": {"type": "plain_text", "text": "Selfie check-in"},
        "submit": {"type": "plain_text", "text": "Enroll"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            section("To check in with a selfie, I need to know your face. Please read this first:"),
            section(CONSENT_NOTICE),
            {
                "type": "input",
                "block_id": "consent",
                "label": {"type": "plain_text", "text": "Your consent"},
                "element": {
                    "type": "checkboxes",
                    "action_id": "agree",
                    "options": [{"text": {"type": "mrkdwn", "text": CONSENT_AGREEMENT}, "value": "agree"}],
                },
            },
            {
                "type": "input",
                "block_id": "photos",
                "label": {"type": "plain_text", "text": "Up to 3 selfies"},
                "element": {"type": "file_input", "action_id": "files", "filetypes": PHOTO_TYPES, "max_files": 3},
            },
            context(f"{THREE_SELFIES} Just you, facing the camera, in good light; no sunglasses."),
        ],
    }


def notice_view(title: str, text: str) -> dict[str, Any]:
    """What a modal turns into after it was submitted."""
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": title[:24]},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [section(text)],
    }


def answer_blocks(answer: Answer, dialect: Dialect, *, command: str, page: int) -> list[Block]:
    """The conversation's answer as Block Kit: a list is paged, review items get their buttons, a
    sentence alone is said as text (no blocks)."""
    if answer.reviews:
        out: list[Block] = [section(f"*{answer.text}*")]
        for shown in answer.reviews[:REVIEWS_SHOWN]:
            out += review_blocks(shown, dialect)
        return out[:50]
    if answer.lines is not None:
        return paged(answer.lines, title=answer.text, page=page, command=command)
    return []


def review_blocks(shown: ReviewShown, dialect: Dialect) -> list[Block]:
    item, text = shown.item, review_text(dialect, shown, escape)
    return [
        section(text),
        actions(
            button("Approve", "review_approve", item.id, style="primary"),
            button("Reject", "review_reject", item.id, style="danger"),
        ),
    ]


def decision_blocks(ask: AskToDecide) -> list[Block]:
    """Something to approve or reject (a time off request), with its two buttons."""
    return [
        section(escape(ask.text)),
        actions(
            button("Approve", ask.approve, ask.value, style="primary"),
            button("Reject", ask.reject, ask.value, style="danger"),
        ),
    ]


def home_view(
    name: str, status: str, week: Sequence[str], board: Sequence[str] | None, enrolled: bool
) -> dict[str, Any]:
    blocks: list[Block] = [
        section(f"*Hi {name}!*  {status}"),
        actions(
            button("Check in", "home_checkin", "in", style="primary"),
            button("Check out", "home_checkin", "out"),
            *([] if enrolled else [button("Enroll my face", "enroll_open")]),
            button("Help", "home_help"),
        ),
        context("You can also send a selfie in the Messages tab (add `in` or `out` if you like)."),
        {"type": "divider"},
        section("*Your last days*\n" + ("\n".join(week) or "Nothing recorded yet.")),
    ]
    if board is not None:
        blocks += [{"type": "divider"}, section("*Your team today*")]
        text = ""
        for line in board:
            if len(text) + len(line) > SECTION_MAX - 100:
                blocks.append(section(text))
                text = ""
            text += line + "\n"
        blocks.append(section(text or "Nobody reports to you yet."))
    return {"type": "home", "blocks": blocks[:100]}
