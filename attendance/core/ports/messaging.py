"""Ports for reaching people in chat outside a conversation: Teams addresses, download links,
messages over every platform."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from attendance.core.domain.model import (
    Employee,
    Tenant,
)


@dataclass(frozen=True, slots=True)
class TeamsAddress:
    """Where a person's personal chat with the Teams bot is."""

    service_url: str
    conversation_id: str
    user_id: str


class TeamsAddresses(Protocol):
    """Each person's personal chat with the Teams bot, remembered whenever they write to it."""

    async def remember(self, tenant_id: str, employee_id: str, address: TeamsAddress, now: datetime) -> None: ...
    async def of(self, tenant_id: str, employee_id: str) -> TeamsAddress | None: ...


class DownloadLinks(Protocol):
    """Files (exports) offered as a short-lived secret link."""

    async def put(self, tenant_id: str, created_by: str, name: str, data: bytes, now: datetime) -> str:
        """Store the file; returns the secret token for its link."""
        ...

    async def get(self, token: str, now: datetime) -> tuple[str, bytes] | None: ...


@dataclass(frozen=True, slots=True)
class ChatButton:
    """A button under a personal message; a click comes back to the conversation layer as
    ``action`` with ``value`` (``Conversation.button``)."""

    label: str
    action: str
    value: str
    style: str | None = None  # "primary" or "danger"


class ChatMessages(Protocol):
    async def tell(
        self, tenant: Tenant, people: Sequence[Employee], text: str, buttons: Sequence[ChatButton] = ()
    ) -> set[str]:
        """A personal message to each person, on every chat platform they are reachable on.
        Returns the ids of the people it reached (on at least one platform)."""
        ...


class SentLog(Protocol):
    """What was sent once (reminders, digests): a key claimed before sending."""

    async def claim(self, key: str, at: datetime) -> bool:
        """True for the first claim of ``key`` (send it); False when it was claimed before."""
        ...

    async def release(self, key: str) -> None:
        """The message could not be sent: it may be claimed again."""
        ...

    async def claimed(self, keys: Sequence[str]) -> dict[str, datetime]:
        """Which of ``keys`` were claimed, and when."""
        ...
