"""Correction requests: an employee asks for a missed or wrong punch to be fixed; their manager
(or an admin) approves or rejects it. Approval writes a new correction event; nothing is edited."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from attendance.core.domain.checkins import Direction


class RequestStatus(enum.StrEnum):
    OPEN = "open"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True, kw_only=True)
class CorrectionRequest:
    """``supersedes`` empty: a missing punch (``direction`` at ``at``). Set: that event is
    replaced by one at ``at`` in ``direction``, or removed when ``void``."""

    id: str
    tenant_id: str
    employee_id: str
    reason: str
    requested_by: str
    requested_at: datetime
    direction: Direction | None = None
    at: datetime | None = None
    supersedes: str | None = None
    void: bool = False
    status: RequestStatus = RequestStatus.OPEN
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str | None = None
    event_id: str | None = None  # the correction event an approval wrote
