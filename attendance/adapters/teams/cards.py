"""Adaptive Cards and message activities for the Teams app. Pure functions, no I/O.

Buttons are ``Action.Submit``: Teams sends their ``data`` back as a message activity whose
``value`` is that object (with the card's inputs merged in), so every button names its
``action`` and, where it needs one, the ``id`` it acts on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from attendance.core.domain.checkins import Outcome, OutcomeKind
from attendance.core.ports import ChatButton
from attendance.services.conversation.answers import AskToDecide, Dialect, ReviewShown
from attendance.services.conversation.commands import CONSENT_AGREEMENT, CONSENT_CHOICE, consent_notice
from attendance.services.conversation.turns import review_text

Card = dict[str, Any]
Activity = dict[str, Any]

ADAPTIVE = "application/vnd.microsoft.card.adaptive"
MAX_LINES = 40  # a long list is cut there, with a note to narrow it down
REVIEWS_SHOWN = 10


_CODE = re.compile(r"`([^`\n]{1,80})`")


def emphasis(text: str) -> str:
    """The shared sentences mark words to type as `code`, which Teams and Adaptive Cards show as
    plain backticks: there they are bold instead."""
    return _CODE.sub(r"**\1**", text)


def text_block(text: str, **style: Any) -> Card:
    return {"type": "TextBlock", "text": emphasis(text), "wrap": True, **style}


def submit(title: str, action: str, id_: str = "", *, style: str | None = None) -> Card:
    data: dict[str, str] = {"action": action, **({"id": id_} if id_ else {})}
    return {"type": "Action.Submit", "title": title, "data": data, **({"style": style} if style else {})}


def card(body: Sequence[Card], actions: Sequence[Card] = ()) -> Card:
    content: Card = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": list(body),
    }
    if actions:
        content["actions"] = list(actions)
    return {"contentType": ADAPTIVE, "content": content}


_MARKDOWN = str.maketrans({c: "\\" + c for c in "\\`*_[]()~<>#|"})


def escape(text: str) -> str:
    """Text from people or receivers inside markdown (card TextBlocks, a markdown message): the
    characters that make links, emphasis and HTML are escaped, so ``[Approve](https://evil)`` reads
    as itself."""
    return text.translate(_MARKDOWN)


def plain(text: str) -> Activity:
    """A message of plain text (``textFormat: plain``): nothing in it is read as markup."""
    return {"type": "message", "text": text, "textFormat": "plain"}


def message(text: str, *attachments: Card) -> Activity:
    """A message: markdown text, or cards with ``text`` as their one-line summary. Teams shows a
    card-only message as "Sent a card" in the chat list and its notification unless the activity
    has a ``summary``; a client that cannot draw the card shows its ``fallbackText``."""
    if not attachments:
        return {"type": "message", "text": emphasis(text), "textFormat": "markdown"}
    summary = text[:200].replace("`", "").strip() or "Attendance"
    sent = [
        {**a, "content": {"fallbackText": summary, **a["content"]}} if a.get("contentType") == ADAPTIVE else a
        for a in attachments
    ]
    return {"type": "message", "summary": summary, "attachments": sent}


def outcome_message(outcome: Outcome, text: str) -> Activity:
    """The answer to a check-in: the sentence, and what the person can do next."""
    style = (
        "good"
        if outcome.kind is OutcomeKind.ACCEPTED
        else "attention"
        if outcome.kind in (OutcomeKind.OTHER_PERSON, OutcomeKind.FAILED)
        else "default"
    )
    body = [text_block(text, weight="bolder", color=style)]
    actions: list[Card] = []
    if outcome.kind is OutcomeKind.ACCEPTED and outcome.event_id:
        actions = [
            submit("Not me", "not_me", outcome.event_id, style="destructive"),
            submit("Undo", "undo", outcome.event_id),
        ]
        body.append(text_block("Undo works for 5 minutes. **Not me** tells your admins.", size="small", isSubtle=True))
    elif outcome.kind is OutcomeKind.NOT_ENROLLED:
        actions = [submit("Enroll now", "enroll", style="positive")]
    return message(text, card(body, actions))


def consent_card() -> Card:
    facts = [{"title": head, "value": emphasis(text)} for head, text in consent_notice("`forget me`")]
    agree = {
        "type": "Input.Toggle",
        "id": "agree",
        "title": CONSENT_AGREEMENT,
        "valueOn": "true",
        "valueOff": "false",
        "value": "false",
    }
    return card(
        [
            text_block("Selfie check-in", size="large", weight="bolder"),
            text_block("To check in with a selfie, I need to know your face. Please read this first:"),
            {"type": "FactSet", "facts": facts},
            text_block(CONSENT_CHOICE, isSubtle=True),
            agree,
        ],
        [submit("Continue", "consent", style="positive"), submit("No, thanks", "consent_declined")],
    )


def list_card(title: str, lines: Sequence[str], empty: str = "Nobody.") -> Card:
    shown = list(lines[:MAX_LINES])
    body = [text_block(title, size="medium", weight="bolder")]
    body += [text_block(line, spacing="none") for line in shown] or [text_block(empty, isSubtle=True)]
    if len(lines) > MAX_LINES:
        body.append(
            text_block(f"…and {len(lines) - MAX_LINES} more. The dashboard or `export` has them all.", isSubtle=True)
        )
    return card(body)


def buttons_card(text: str, buttons: Sequence[ChatButton]) -> Card:
    """A personal message (a reminder) with its buttons; ``text`` is plain text."""
    styles = {"primary": "positive", "danger": "destructive"}
    shown = [submit(b.label, b.action, b.value, style=styles.get(b.style or "")) for b in buttons]
    return card([text_block(escape(text))], shown)


def decision_card(ask: AskToDecide) -> Card:
    """Something to approve or reject (a time off request), with its two buttons."""
    return card(
        [text_block(escape(ask.text))],
        [
            submit("Approve", ask.approve, ask.value, style="positive"),
            submit("Reject", ask.reject, ask.value, style="destructive"),
        ],
    )


def review_card(shown: ReviewShown, dialect: Dialect) -> Card:
    item, text = shown.item, review_text(dialect, shown, escape)
    return card(
        [text_block(text)],
        [
            submit("Approve", "review_approve", item.id, style="positive"),
            submit("Reject", "review_reject", item.id, style="destructive"),
        ],
    )


def file_card(name: str, url: str, comment: str) -> Card:
    return card(
        [text_block(comment), text_block(f"The link works for one hour: {name}", isSubtle=True)],
        [{"type": "Action.OpenUrl", "title": f"Download {name}", "url": url}],
    )
