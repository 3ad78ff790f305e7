"""JSON shapes of the REST API (the OpenAPI document's schemas describe exactly these)."""

from __future__ import annotations

import base64
import json
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from attendance.core.domain.access import ApiToken
from attendance.core.domain.checkins import AttendanceEvent, DaySummary, ReviewItem
from attendance.core.domain.corrections import CorrectionRequest
from attendance.core.domain.deliveries import Delivery
from attendance.core.domain.model import Employee, WorkSchedule
from attendance.core.domain.webhooks import Subscription
from attendance.core.domain.workdays import DayVerdict, TimeOff
from attendance.core.ports import AuditEntry
from attendance.services.dashboard import Board, Totals
from attendance.services.reports import aware

Json = dict[str, Any]


def ts(at: datetime | None) -> str | None:
    return aware(at).isoformat() if at is not None else None


def minutes(delta: Any) -> int:
    return int(delta.total_seconds() // 60)


def encode_cursor(*parts: object) -> str:
    raw = json.dumps([p.isoformat() if isinstance(p, datetime) else p for p in parts]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> list[Any]:
    """``ValueError`` when the text is not a cursor this server made."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        parts = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("not a cursor") from exc
    if not isinstance(parts, list) or not parts or not all(isinstance(p, (str, int)) for p in parts):
        raise ValueError("not a cursor")
    return parts


def time_cursor(text: str) -> tuple[datetime, str]:
    parts = decode_cursor(text)
    if len(parts) != 2 or not isinstance(parts[0], str) or not isinstance(parts[1], str):
        raise ValueError("not a cursor")
    at = datetime.fromisoformat(parts[0])
    return aware(at), parts[1]


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def schedule(s: WorkSchedule) -> Json:
    return {
        "start": s.start.strftime("%H:%M"),
        "end": s.end.strftime("%H:%M"),
        "weekdays": [DAYS[d] for d in sorted(s.weekdays)],
        "grace_minutes": s.grace_minutes,
    }


def employee(e: Employee) -> Json:
    """A person; ``schedule``, ``weekly_hours`` and ``holidays`` are their own (null: the company's)."""
    return {
        "id": e.id,
        "name": e.name,
        "email": e.email,
        "manager_id": e.manager_id,
        "timezone": e.timezone,
        "worker_id": e.worker_id,
        "roles": sorted(r.value for r in e.roles),
        "schedule": schedule(e.schedule) if e.schedule else None,
        "weekly_hours": e.weekly_hours,
        "holidays": e.holidays,
        "reminders": e.reminders,
        "inactive_from": e.inactive_from.isoformat() if e.inactive_from else None,
    }


def time_off(t: TimeOff) -> Json:
    return {
        "id": t.id,
        "employee_id": t.employee_id,
        "first": t.first.isoformat(),
        "last": t.last.isoformat(),
        "kind": t.kind.value,
        "half_day": t.half_day.value if t.half_day else None,
        "status": t.status.value,
        "note": t.note,
        "requested_by": t.requested_by,
        "created_at": ts(t.created_at),
        "decided_by": t.decided_by,
        "decided_at": ts(t.decided_at),
    }


def event(e: AttendanceEvent, in_force: bool | None = None) -> Json:
    out = {
        "id": e.id,
        "employee_id": e.employee_id,
        "direction": e.direction.value,
        "at": ts(e.at),
        "local_time": e.local.isoformat(),
        "timezone": e.timezone,
        "channel": e.channel,
        "decision": e.decision,
        "supersedes": e.supersedes,
        "void": e.void,
        "reason": e.reason,
        "recorded_by": e.recorded_by,
        "distance": e.distance,
    }
    if in_force is not None:
        out["in_force"] = in_force
    return out


def _local(at: datetime | None, tz: str) -> str | None:
    return at.astimezone(ZoneInfo(tz)).strftime("%H:%M") if at else None


def day(d: DaySummary, verdict: DayVerdict | None = None) -> Json:
    """A person's day; ``status`` is the day's status word (``workdays.DayStatus``; null: not started)."""
    v = verdict or DayVerdict(None)
    return {
        "employee_id": d.employee_id,
        "status": v.status.value if v.status else None,
        "holiday_name": v.holiday_name,
        "time_off_kind": v.time_off_kind.value if v.time_off_kind else None,
        "date": d.day.isoformat(),
        "first_in": _local(d.first_in, d.timezone),
        "last_out": _local(d.last_out, d.timezone),
        "worked_minutes": d.worked_minutes,
        "break_minutes": sum(minutes(b) for b in d.breaks),
        "breaks": len(d.breaks),
        "late_minutes": v.late_minutes if verdict else (minutes(d.late_by) if d.late_by else 0),
        "missing_check_out": d.missing_check_out,
        "events": d.events,
        "timezone": d.timezone,
    }


def totals(e: Employee, t: Totals) -> Json:
    return {
        "employee_id": e.id,
        "name": e.name,
        "worked_minutes": minutes(t.worked),
        "break_minutes": minutes(t.breaks),
        "late_days": t.late_days,
        "late_minutes": t.late_minutes,
        "overtime_minutes": minutes(t.overtime),
        "missing_check_outs": t.missing_check_outs,
        "days_present": t.days_present,
        "weekly_overtime_minutes": minutes(t.weekly_overtime),
        "days_absent": t.days_absent,
        "days_off": t.days_off,
        "holidays": t.holidays,
    }


BOARD_COUNTS = ("in", "out", "absent", "not yet", "off", "holiday", "time_off", "late", "open_yesterday")


def board(b: Board) -> Json:
    return {
        "date": b.day.isoformat(),
        "counts": {k: b.counts.get(k, 0) for k in BOARD_COUNTS},
        "teams": [
            {
                "name": name,
                "people": [
                    {
                        "employee_id": r.employee.id,
                        "name": r.employee.name,
                        "status": r.status,
                        "first_in": _local(r.day.first_in, r.day.timezone),
                        "last_out": _local(r.day.last_out, r.day.timezone),
                        "late_minutes": r.late_minutes,
                        "open_yesterday": r.open_yesterday,
                        "day_status": r.verdict.status.value if r.verdict.status else None,
                        "holiday_name": r.verdict.holiday_name,
                        "time_off_kind": r.verdict.time_off_kind.value if r.verdict.time_off_kind else None,
                    }
                    for r in rows
                ],
            }
            for name, rows in b.teams
        ],
    }


def review(item: ReviewItem) -> Json:
    return {
        "id": item.id,
        "kind": item.kind.value,
        "status": item.status,
        "at": ts(item.at),
        "channel": item.channel,
        "employee_id": item.employee_id,
        "looks_like": item.looks_like,
        "event_id": item.event_id,
        "attempted_at": ts(item.attempted_at),
        "reported_by": item.reported_by,
    }


def correction(r: CorrectionRequest) -> Json:
    return {
        "id": r.id,
        "employee_id": r.employee_id,
        "status": r.status.value,
        "reason": r.reason,
        "direction": r.direction.value if r.direction else None,
        "at": ts(r.at),
        "supersedes": r.supersedes,
        "void": r.void,
        "requested_by": r.requested_by,
        "requested_at": ts(r.requested_at),
        "decided_by": r.decided_by,
        "decided_at": ts(r.decided_at),
        "note": r.note,
        "event_id": r.event_id,
    }


def subscription(s: Subscription) -> Json:
    return {
        "id": s.id,
        "kind": s.kind,
        "url": s.url,
        "events": sorted(s.events),
        "state": s.state.value,
        "disabled_reason": s.disabled_reason,
        "created_at": ts(s.created_at),
    }


def delivery(d: Delivery) -> Json:
    return {
        "id": d.id,
        "subscription_id": d.subscription_id,
        "employee_id": d.employee_id,
        "type": d.type,
        "state": d.state.value,
        "attempts": d.attempts,
        "last_error": d.last_error,
        "created_at": ts(d.created_at),
        "next_attempt_at": ts(d.next_attempt_at),
        "delivered_at": ts(d.delivered_at),
    }


def audit(a: AuditEntry) -> Json:
    return {"id": a.id, "at": ts(a.at), "actor": a.actor, "action": a.action, "subject": a.subject}


def token(t: ApiToken) -> Json:
    return {
        "id": t.id,
        "name": t.name,
        "kind": t.kind.value,
        "roles": sorted(r.value for r in t.roles),
        "employee_id": t.employee_id,
        "created_by": t.created_by,
        "created_at": ts(t.created_at),
        "last_used_at": ts(t.last_used_at),
        "revoked_at": ts(t.revoked_at),
    }


def iso_day(d: date) -> str:
    return d.isoformat()
