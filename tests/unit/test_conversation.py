"""The conversation layer's pure parts: one help list and one set of sentences, written in each
platform's dialect; people's names never become markup."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from attendance.adapters.slack import blocks
from attendance.adapters.slack.listeners import SLACK
from attendance.adapters.teams import cards
from attendance.adapters.teams.handlers import TEAMS
from attendance.core.domain.checkins import ReviewItem, ReviewKind
from attendance.services.conversation import turns
from attendance.services.conversation.answers import Answer, Dialect, ReviewShown
from attendance.services.conversation.commands import KNOWN, parse

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def review(kind: ReviewKind, who: str, looks_like: str | None = None) -> ReviewShown:
    item = ReviewItem(id="r1", tenant_id="t", kind=kind, at=NOW, channel="slack", employee_id="e")
    return ReviewShown(item, who, looks_like, "09:00")


@pytest.mark.parametrize("dialect", [SLACK, TEAMS], ids=["slack", "teams"])
def test_the_help_list_names_every_command_once_in_the_platforms_words(dialect: Dialect) -> None:
    lines = turns.help_lines(dialect)
    usages = [usage for usage, _ in turns.help_table(dialect)]
    for name in KNOWN - {"forget-me"}:
        assert sum(u.split()[0] == name for u in usages) >= 1, name
    assert dialect.forget in usages and parse(dialect.forget).name == "forget-me"
    assert all(line.startswith(dialect.cmd("").rstrip("`*")[:2]) for line in lines)
    assert turns.help_lines(dialect, admin_only=True) == [line for line in lines if "admin" in line.split("—")[0]]


def test_the_same_sentence_in_each_dialect() -> None:
    cmd = parse("frobnicate")
    assert (
        turns.unknown_command(SLACK, cmd) == "I don't know `frobnicate`. Type `/attendance help` to see what I can do."
    )
    assert "type **help**" in turns.unknown_command(TEAMS, cmd)
    assert turns.not_connected(SLACK).startswith("This Slack workspace is not connected")
    assert turns.not_connected(TEAMS).startswith("This Microsoft Teams organisation is not connected")


def test_a_hostile_name_on_a_review_item_stays_text_on_both_platforms() -> None:
    slack_name, teams_name = "<https://evil.example|Approve>", "[Approve](https://evil.example)"
    slack_text = turns.review_text(SLACK, review(ReviewKind.NOT_ME, slack_name), blocks.escape)
    assert "<https://" not in slack_text and "&lt;https://evil.example|Approve&gt;" in slack_text
    teams_text = turns.review_text(TEAMS, review(ReviewKind.OTHER_PERSON, "Jane", teams_name), cards.escape)
    assert "](https://" not in teams_text and "**Jane**'s account" in teams_text and "looked like" in teams_text


def test_an_answer_renders_as_blocks_and_as_a_card() -> None:
    listing = Answer(text="Today, Mon 07 Dec", lines=("a", "b"))
    said = blocks.answer_blocks(listing, SLACK, command="today", page=1)
    assert [b["text"]["text"] for b in said] == ["*Today, Mon 07 Dec*", "a\nb\n"]
    assert blocks.answer_blocks(Answer(text="Done."), SLACK, command="x", page=1) == []  # a sentence alone: text
    shown = (review(ReviewKind.NOT_ME, "Jane"),)
    reviewed = blocks.answer_blocks(Answer(text="1 item(s) to review", reviews=shown), SLACK, command="x", page=1)
    assert [e["action_id"] for b in reviewed if b["type"] == "actions" for e in b["elements"]] == [
        "review_approve",
        "review_reject",
    ]
    card = cards.review_card(shown[0], TEAMS)
    assert [a["data"]["action"] for a in card["content"]["actions"]] == ["review_approve", "review_reject"]
