"""The text commands people type in chat (`/attendance <command>` in Slack, plain text in
Teams), parsed into one shape. Pure: no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta


def consent_notice(forget_command: str) -> list[tuple[str, str]]:
    """What a person reads before agreeing to enrollment, as (heading, sentence) pairs."""
    return [
        (
            "What is stored",
            "a face template, a list of 128 numbers computed from the selfies you add, encrypted. Unless "
            "your employer turns it off, up to two check-ins that matched you very closely also add such "
            "numbers (never the photo), so that you are still recognised as your looks change; they "
            "are erased with the rest, and at once if you say a check-in was not you.",
        ),
        (
            "Your selfies",
            "this service keeps none. Each selfie is read to check you in, then deleted from our "
            "database (a kiosk photo within an hour at the latest). A selfie you post in Slack is "
            "also deleted from Slack once it is checked, if your admin keeps that setting on and your "
            "workspace lets apps delete files; otherwise it stays in Slack, where you can delete it. "
            "A photo you send in Teams stays in your OneDrive and in the chat, where you can delete it. "
            "Your check-in times are kept, as wage law requires.",
        ),
        ("Why", "to confirm it is you when you check in or out with a selfie."),
        (
            "How long",
            f"until you erase it with {forget_command} (at any time, at once), or your admin erases it when you leave.",
        ),
        (
            "Who sees it",
            "nobody. It is encrypted and only the matching service uses it. Your managers see "
            "your check-in times, never your face data.",
        ),
    ]


CONSENT_CHOICE = "Agreeing is your choice. If you don't, ask your manager how else to record your time."
CONSENT_AGREEMENT = (
    "I agree that a face template is made from my selfies and used to confirm my check-ins, as described above."
)

ALIASES = {"forget": "forget-me", "forgetme": "forget-me", "status": "me", "erase": "forget-me", "": "help"}
KNOWN = {"me", "enroll", "forget-me", "today", "week", "late", "absent", "export", "admin", "help", "off", "left"}


@dataclass(frozen=True, slots=True)
class ChatCommand:
    name: str  # one of KNOWN, or "unknown"
    args: tuple[str, ...]
    raw: str


def parse(text: str) -> ChatCommand:
    words = text.strip().split()
    head = words[0].lower() if words else ""
    rest = words[1:]
    if head == "forget" and rest and rest[0].lower() == "me":
        head, rest = "forget-me", rest[1:]
    head = ALIASES.get(head, head)
    return ChatCommand(head if head in KNOWN else "unknown", tuple(rest), text.strip())


_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")


def slack_mention(word: str) -> str | None:
    """The user id in an escaped Slack mention (``<@U123|jane>``)."""
    m = _MENTION.match(word.strip())
    return m.group(1) if m else None


def parse_day(args: tuple[str, ...], today: date) -> date:
    """``[YYYY-MM-DD | today | yesterday]``; ``ValueError`` with a sentence for the person."""
    if not args or args[0].lower() == "today":
        return today
    if args[0].lower() == "yesterday":
        return today - timedelta(days=1)
    try:
        return date.fromisoformat(args[0])
    except ValueError as exc:
        raise ValueError(f"{args[0]!r} is not a date; write it as YYYY-MM-DD, e.g. {today.isoformat()}") from exc


def parse_month(args: tuple[str, ...]) -> tuple[int, int]:
    m = re.fullmatch(r"(\d{4})-(\d{1,2})", args[0]) if args else None
    if m is None or not 1 <= int(m.group(2)) <= 12:
        raise ValueError("Which month? Write it as YYYY-MM, e.g. `export 2026-11`.")
    return int(m.group(1)), int(m.group(2))
