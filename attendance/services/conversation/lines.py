"""One-line summaries of a day, the same in every chat app. Pure: no I/O."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from attendance.core.domain.checkins import DaySummary
from attendance.core.domain.model import MAX_TEMPLATES_PER_PERSON
from attendance.core.domain.workdays import DayStatus, DayVerdict
from attendance.services import chat
from attendance.services.dashboard import BoardRow


def first_name(name: str) -> str:
    """How the bot greets a person: the first word of their name."""
    return name.split(maxsplit=1)[0] if name.split() else name


def day_line(d: DaySummary, label: str, verdict: DayVerdict | None = None) -> str:
    """A person's day; a day without check-in says why when its status does (a holiday, time off,
    not a working day, inactive)."""
    zone = ZoneInfo(d.timezone)
    if d.first_in is None:
        return f"{label}: {why_not_in(verdict) or '—'}"
    first = d.first_in.astimezone(zone).strftime("%H:%M")
    last = d.last_out.astimezone(zone).strftime("%H:%M") if d.last_out else "still in"
    hours, minutes = divmod(d.worked_minutes, 60)
    late = f", late {int(d.late_by.total_seconds() // 60)} min" if d.late_by else ""
    return f"{label}: {first}–{last}, worked {hours}h{minutes:02d}{late}"


THREE_SELFIES = "Three selfies, a moment apart, make check-ins faster; one is enough to start."


def enrollment_result(
    report: chat.EnrollReport,
    name: str,
    bullet: str,
    try_again: str,
    *,
    then: str = "Send me a selfie here to check in or out.",
    more: str | None = None,
) -> str:
    """What the person reads after enrolling: how many photos were stored, why others were not,
    ``then``, what to do next, and, with fewer than three stored, ``more``: how to add the rest."""
    refused = "\n".join(f"{bullet} Photo {n}: {why}" for n, why in report.refused)
    if not report.enrolled:
        return f"None of your photos could be used, so nothing was stored:\n{refused}\n{try_again}"
    first = first_name(name)
    limit = MAX_TEMPLATES_PER_PERSON
    text = f"You're enrolled, {first} ({report.templates_now} of {limit} photos stored). {then}"
    if more is not None and report.templates_now < limit:
        missing = limit - report.templates_now
        selfies = f"{missing} more selfie{'s' if missing > 1 else ''}"
        text += f"\nAdding {selfies}, a moment apart, makes check-ins faster: {more}"
    return text + (f"\nSome photos could not be used:\n{refused}" if refused else "")


def why_not_in(verdict: DayVerdict | None) -> str | None:
    """Why someone has no check-in, when it is not an absence: the same words on every platform."""
    if verdict is None:
        return None
    match verdict.status:
        case DayStatus.HOLIDAY:
            return f"holiday ({verdict.holiday_name})" if verdict.holiday_name else "holiday"
        case DayStatus.TIME_OFF:
            kind = verdict.time_off_kind.value if verdict.time_off_kind else "time off"
            return f"time off ({kind})"
        case DayStatus.NOT_SCHEDULED:
            return "not a working day"
        case DayStatus.INACTIVE:
            return "inactive"
    return None


def board_line(row: BoardRow, marks: tuple[str, str, str]) -> str:
    """A person on a day's board; ``marks`` prefix the "not in", "in" and "out" states."""
    d = row.day
    zone = ZoneInfo(d.timezone)
    not_in, is_in, out = marks
    if d.first_in is None:
        return f"{not_in} {row.employee.name}: {why_not_in(row.verdict) or 'not in'}"
    first = d.first_in.astimezone(zone).strftime("%H:%M")
    late = f" (late {int(d.late_by.total_seconds() // 60)} min)" if d.late_by else ""
    if row.status == "in":
        return f"{is_in} {row.employee.name}: in since {first}{late}"
    last = d.last_out.astimezone(zone).strftime("%H:%M") if d.last_out else "?"
    return f"{out} {row.employee.name}: {first}–{last}{late}"
