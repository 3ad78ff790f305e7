"""Commands (imperative) and events (past tense) exchanged with the services."""

from __future__ import annotations

from dataclasses import dataclass

from attendance.core.domain.model import ChatIdentity


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateTenant:
    name: str
    timezone: str = "UTC"
    chats: tuple[ChatIdentity, ...] = ()  # the chat workspaces whose messages belong to it


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordConsent:
    tenant_id: str
    employee_id: str
    notice_version: str
    recorded_by: str
    method: str  # "chat" (the employee agreed in chat) or "signed-form" (an admin holds it)


@dataclass(frozen=True, slots=True, kw_only=True)
class EnrollPhoto:
    tenant_id: str
    employee_id: str
    photo: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class EraseFaceData:
    tenant_id: str
    employee_id: str
    requested_by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FaceEnrolled:
    tenant_id: str
    employee_id: str
    template_id: str
    templates_now: int


@dataclass(frozen=True, slots=True, kw_only=True)
class FaceDataErased:
    tenant_id: str
    employee_id: str
    templates_deleted: int


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkspaceInstalled:
    """A chat workspace installed the app (Slack's OAuth flow)."""

    team_id: str
    team_name: str
    installer_user_id: str | None
    installer_email: str | None
    installer_name: str | None = None
