"""Parsing what people type, paging long answers, and the Slack manifest's consistency."""

from __future__ import annotations

import json
from datetime import date, time
from pathlib import Path

import pytest
import yaml

from attendance.adapters.slack.app import BOT_SCOPES, COMMANDS
from attendance.adapters.slack.blocks import SECTION_MAX, outcome_blocks, paged
from attendance.core.domain.checkins import Direction, Outcome, OutcomeKind
from attendance.core.domain.model import WorkSchedule
from attendance.core.errors import ServiceError
from attendance.services.chat import parse_schedule
from attendance.services.conversation.commands import parse, parse_day, parse_month, slack_mention
from attendance.services.replies import reply_text

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("text", "name", "args"),
    [
        ("", "help", ()),
        ("  ME ", "me", ()),
        ("status", "me", ()),
        ("forget me", "forget-me", ()),
        ("forget-me", "forget-me", ()),
        ("week <@U123|jane>", "week", ("<@U123|jane>",)),
        ("admin timezone Europe/Berlin", "admin", ("timezone", "Europe/Berlin")),
        ("delete everything", "unknown", ("everything",)),
    ],
)
def test_commands_are_parsed(text: str, name: str, args: tuple[str, ...]) -> None:
    cmd = parse(text)
    assert (cmd.name, cmd.args) == (name, args)


def test_mentions_days_and_months() -> None:
    assert slack_mention("<@U123ABC|jane>") == "U123ABC" and slack_mention("<@W9>") == "W9"
    assert slack_mention("@jane") is None and slack_mention("<#C1|general>") is None
    today = date(2026, 11, 25)
    assert parse_day((), today) == today and parse_day(("yesterday",), today) == date(2026, 11, 24)
    assert parse_day(("2026-11-02",), today) == date(2026, 11, 2)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_day(("last tuesday",), today)
    assert parse_month(("2026-02",)) == (2026, 2)
    for bad in [(), ("2026-13",), ("november",)]:
        with pytest.raises(ValueError, match="YYYY-MM"):
            parse_month(bad)


def test_schedules_are_parsed_with_clear_refusals() -> None:
    s = parse_schedule("08:30-16:30 mon-thu grace 10", WorkSchedule())
    assert (s.start, s.end, s.weekdays, s.grace_minutes) == (time(8, 30), time(16, 30), frozenset({0, 1, 2, 3}), 10)
    assert parse_schedule("07:00-15:00 sat,sun", WorkSchedule()).weekdays == frozenset({5, 6})
    for bad, why in [
        ("17:00-09:00", "end after"),
        ("9-5", "not a time range"),
        ("09:00-17:00 fri-mon", "backwards"),
        ("09:00-17:00 weekdays", "don't understand"),
        ("", "HH:MM-HH:MM"),
    ]:
        with pytest.raises(ServiceError, match=why):
            parse_schedule(bad, WorkSchedule())


def test_long_answers_are_paged_within_block_kit_limits() -> None:
    lines = [f"Person {n}: " + "x" * 200 for n in range(75)] + ["y" * 5000]
    first = paged(lines, title="Today", page=1, command="today")
    assert len(first) <= 50 and all(len(b["text"]["text"]) <= SECTION_MAX for b in first if b["type"] == "section")
    assert "(page 1 of 3)" in first[0]["text"]["text"]
    [button] = first[-1]["elements"]
    assert json.loads(button["value"]) == {"c": "today", "p": 2}
    last = paged(lines, title="Today", page=3, command="today")
    assert last[-1]["type"] == "section" and "y" * 300 in last[-1]["text"]["text"]
    assert "y" * 301 not in last[-1]["text"]["text"]  # one line never floods a section
    assert "Nobody." in paged([], title="Late", page=1, command="late")[1]["text"]["text"]


def test_answers_carry_the_name_and_what_to_do_next() -> None:
    from datetime import UTC, datetime

    accepted = Outcome(
        kind=OutcomeKind.ACCEPTED,
        direction=Direction.IN,
        at=datetime(2026, 11, 25, 8, 2, tzinfo=UTC),
        timezone="Europe/Berlin",
        event_id="e1",
        name="Jane Doe",
    )
    assert reply_text(accepted) == "Checked in at 09:02 (Europe/Berlin), Jane."
    ids = [e["action_id"] for b in outcome_blocks(accepted, "x") if b["type"] == "actions" for e in b["elements"]]
    assert ids == ["not_me", "undo"]
    invite = outcome_blocks(Outcome(kind=OutcomeKind.NOT_ENROLLED), "x")
    assert [e["action_id"] for b in invite if b["type"] == "actions" for e in b["elements"]] == ["enroll_open"]


def test_the_manifest_asks_for_exactly_the_scopes_and_commands_the_app_uses() -> None:
    manifest = yaml.safe_load((ROOT / "infra" / "slack" / "manifest.yaml").read_text())
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(BOT_SCOPES)
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == COMMANDS
    urls = [c["url"] for c in manifest["features"]["slash_commands"]]
    settings = manifest["settings"]
    urls += [settings["event_subscriptions"]["request_url"], settings["interactivity"]["request_url"]]
    assert set(urls) == {"https://YOUR-HOST/slack/events"}
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True
    assert manifest["settings"]["socket_mode_enabled"] is False


def test_the_socket_mode_manifest_has_the_same_app_and_no_url() -> None:
    """Socket Mode: the same scopes, commands and events, and no URL anywhere (nothing to reach)."""
    text = (ROOT / "infra" / "slack" / "manifest-socket-mode.yaml").read_text()
    socket, http = yaml.safe_load(text), yaml.safe_load((ROOT / "infra" / "slack" / "manifest.yaml").read_text())
    assert socket["settings"]["socket_mode_enabled"] is True
    assert sorted(socket["oauth_config"]["scopes"]["bot"]) == sorted(BOT_SCOPES)
    assert [c["command"] for c in socket["features"]["slash_commands"]] == COMMANDS
    assert (
        socket["settings"]["event_subscriptions"]["bot_events"] == http["settings"]["event_subscriptions"]["bot_events"]
    )
    assert "YOUR-HOST" not in text and "url:" not in text


def test_a_photo_that_could_not_be_fetched_is_explained_without_internals() -> None:
    def text(detail: str) -> str:
        return reply_text(Outcome(kind=OutcomeKind.NO_USABLE_FACE, reason="unavailable", detail=detail))

    assert text("the photo is larger than 15 MB") == "The photo is larger than 15 MB. Please send a smaller photo."
    assert "expired" in text("the uploaded photo has expired; please send it again")
    internal = text("the download was text/html, not a photo")
    assert "text/html" not in internal and internal.startswith("I couldn't get your photo.")
