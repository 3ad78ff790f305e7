"""What the conversation says, platform neutral: an ``Answer`` goes out, a ``Dialect`` says how
a platform writes commands and emphasis. Slack renders an answer as Block Kit, Teams as an
Adaptive Card; neither decides what is said. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from attendance.core.domain.checkins import ReviewItem
from attendance.core.domain.model import Employee


@dataclass(frozen=True, slots=True, kw_only=True)
class Dialect:
    """How one chat platform writes what the conversation says."""

    workspace: str  # "Slack workspace", "Microsoft Teams organisation"
    account: str  # whose email the staff list is matched on: "your Slack profile"
    command: str  # a command to type, ``{}`` the command: "`/attendance {}`", "**{}**"
    bold: str  # "*{}*", "**{}**"
    quote: str  # words the person typed, echoed: "`{}`", "*{}*"
    person_hint: str  # how to name someone in a command: "@person", "name or email"
    manager_usage: str  # the two people of `admin manager`: "@person @manager", "PERSON MANAGER"
    forget: str  # the erase command's words: "forget-me", "forget me"
    marks: tuple[str, str, str]  # board marks for "not in", "in" and "out"
    celebrate: str  # after "Nothing to review."
    warning: str  # before a "not me" report
    search: str  # before a refused selfie that looked like someone else
    help_hint: str  # what to do after an unknown command
    export_to: str  # where an export is sent: "to our DM", "here"

    def cmd(self, words: str) -> str:
        return self.command.format(words)

    def strong(self, words: str) -> str:
        return self.bold.format(words)


@dataclass(frozen=True, slots=True)
class ReviewShown:
    """A flagged check-in as an admin sees it, with *Approve* and *Reject*."""

    item: ReviewItem
    who: str
    looks_like: str | None
    when: str


@dataclass(frozen=True, slots=True)
class ExportMonth:
    """After answering: make the month's CSV and give it to the person (Slack: a file in the DM;
    Teams: a download link)."""

    year: int
    month: int


@dataclass(frozen=True, slots=True)
class TellAdmins:
    """After answering: show the admins a check-in to review."""

    review: ReviewShown
    admins: tuple[Employee, ...]


@dataclass(frozen=True, slots=True)
class AskToDecide:
    """After answering: ask the people who decide (a manager, else the admins) to approve or
    reject something, with two buttons carrying ``value``."""

    title: str
    text: str
    approve: str  # the buttons' action ids
    reject: str
    value: str
    deciders: tuple[Employee, ...]


FollowUp = ExportMonth | TellAdmins | AskToDecide


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """One answer. ``text`` is what is said, or a list's title when ``lines`` is set."""

    text: str
    lines: tuple[str, ...] | None = None  # a list (Slack pages it, Teams shows it in a card)
    reviews: tuple[ReviewShown, ...] = ()  # flagged check-ins, each with Approve / Reject
    follow_up: FollowUp | None = None  # work the platform starts after answering
    replace: bool = True  # an answer to a button replaces the message the button was on
