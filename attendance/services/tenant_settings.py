"""A tenant's settings as the dashboard shows and changes them: time zone, schedule, grace,
match thresholds, fraud defences, retention. Admins change them; every change is audited."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import time

from attendance.core.domain.access import Principal
from attendance.core.domain.model import (
    CheckInPolicy,
    DomainError,
    MatchThresholds,
    ReminderPolicy,
    Tenant,
    WorkSchedule,
    check_timezone,
)
from attendance.core.errors import ServiceError
from attendance.services.access import require_admin
from attendance.services.dashboard import DashboardDeps, tenant_of
from attendance.services.workforce import parse_region

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def as_json(tenant: Tenant, calibrated: MatchThresholds) -> dict[str, object]:
    """``calibrated``: the face model's thresholds, in force unless the tenant set its own."""
    th = tenant.thresholds or calibrated
    s = tenant.schedule
    return {
        "name": tenant.name,
        "timezone": tenant.timezone,
        "schedule": {
            "start": s.start.strftime("%H:%M"),
            "end": s.end.strftime("%H:%M"),
            "weekdays": [DAYS[d] for d in sorted(s.weekdays)],
            "grace_minutes": s.grace_minutes,
        },
        "thresholds": {"custom": tenant.thresholds is not None, **dataclasses.asdict(th)},
        "policy": dataclasses.asdict(tenant.policy),
        "holidays": tenant.holidays,
        "weekly_hours": tenant.weekly_hours,
        "reminders": {
            **dataclasses.asdict(tenant.reminders),
            "digest_at": tenant.reminders.digest_at.strftime("%H:%M"),
        },
    }


async def read_settings(principal: Principal, *, deps: DashboardDeps) -> dict[str, object]:
    return as_json(await tenant_of(principal, deps=deps), deps.model.thresholds)


def _schedule(current: WorkSchedule, given: Mapping[str, object]) -> WorkSchedule:
    changes: dict[str, object] = {}
    try:
        for key in ("start", "end"):
            if key in given:
                changes[key] = time.fromisoformat(str(given[key]))
        if "weekdays" in given:
            days = given["weekdays"]
            if not isinstance(days, list) or not days or any(d not in DAYS for d in days):
                raise ServiceError("weekdays is a list of mon, tue, wed, thu, fri, sat, sun.")
            changes["weekdays"] = frozenset(DAYS.index(d) for d in days)
        if "grace_minutes" in given:
            grace = given["grace_minutes"]
            if not isinstance(grace, int) or isinstance(grace, bool) or not 0 <= grace <= 240:
                raise ServiceError("grace_minutes is a whole number from 0 to 240.")
            changes["grace_minutes"] = grace
    except ValueError as exc:
        raise ServiceError("start and end are times like 09:00.") from exc
    schedule = dataclasses.replace(current, **changes)  # type: ignore[arg-type]
    if schedule.end <= schedule.start:
        raise ServiceError("The working day must end after it starts.")
    return schedule


def _numbers(given: Mapping[str, object], fields: Mapping[str, tuple[type, float, float]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in given.items():
        if key not in fields:
            raise ServiceError(f"unknown setting {key!r}")
        kind, lo, hi = fields[key]
        if kind is bool:
            if not isinstance(value, bool):
                raise ServiceError(f"{key} is true or false.")
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
            raise ServiceError(f"{key} is a number from {lo:g} to {hi:g}.")
        elif kind is int and not isinstance(value, int):
            raise ServiceError(f"{key} is a whole number.")
        out[key] = value
    return out


_WEEKLY = {"weekly_hours": (float, 1, 168)}
_REMINDER_FIELDS = {
    "enabled": (bool, 0, 1),
    "check_out_after_minutes": (int, 0, 1440),
    "max_shift_hours": (float, 1, 24),
    "check_in_after_minutes": (int, 0, 1440),
    "weekly_digest": (bool, 0, 1),
}


def _reminders(current: ReminderPolicy, given: Mapping[str, object]) -> ReminderPolicy:
    rest = {k: v for k, v in given.items() if k != "digest_at"}
    changes = _numbers(rest, _REMINDER_FIELDS)
    if "digest_at" in given:
        try:
            changes["digest_at"] = time.fromisoformat(str(given["digest_at"]))
        except ValueError:
            raise ServiceError("digest_at is a time like 09:45.") from None
    return dataclasses.replace(current, **changes)  # type: ignore[arg-type]


_THRESHOLD_FIELDS = {k: (float, 0.3, 0.8) for k in ("verify", "verify_retry", "accept", "retry")} | {
    "verify_margin": (float, 0.0, 0.3),
    "margin": (float, 0.0, 0.3),
    "verify_support": (float, 0.0, 0.3),
    "verify_clear": (float, 0.0, 0.8),
    "verify_clear_margin": (float, 0.0, 0.3),
    "adapt": (float, 0.0, 0.8),
    "adapt_margin": (float, 0.0, 0.3),
    "adapt_novelty": (float, 0.0, 0.5),
}
_POLICY_FIELDS = {
    "duplicate_window_minutes": (int, 0, 240),
    "replay_check": (bool, 0, 1),
    "replay_max_bits": (int, 0, 20),
    "replay_retention_days": (int, 1, 3650),
    "freshness_minutes": (int, 0, 1440),
    "delete_chat_photos": (bool, 0, 1),
    "template_retention_days": (int, 30, 3 * 365),
    "record_retention_days": (int, 0, 36500),
    "adapt_templates": (bool, 0, 1),
    "pose_challenge": (bool, 0, 1),
}


async def update_settings(
    principal: Principal, patch: Mapping[str, object], *, deps: DashboardDeps
) -> dict[str, object]:
    """Apply what ``patch`` names (all or nothing: everything is checked before anything is written)."""
    require_admin(principal)
    tenant = await tenant_of(principal, deps=deps)
    unknown = set(patch) - {"timezone", "schedule", "thresholds", "policy", "holidays", "weekly_hours", "reminders"}
    if unknown:
        raise ServiceError(f"unknown setting {sorted(unknown)[0]!r}")
    timezone = schedule = policy = reminders = weekly_hours = None
    holidays: str | bool | None = False  # False: unchanged
    thresholds: MatchThresholds | bool | None = False  # False: unchanged
    try:
        if "timezone" in patch:
            timezone = check_timezone(str(patch["timezone"]).strip())
        if "schedule" in patch:
            given = patch["schedule"]
            if not isinstance(given, dict):
                raise ServiceError("schedule is an object.")
            schedule = _schedule(tenant.schedule, given)
        if "thresholds" in patch:
            given = patch["thresholds"]
            if given is None:
                thresholds = None  # back to the calibrated defaults
            elif isinstance(given, dict):
                base = dataclasses.asdict(tenant.thresholds or deps.model.thresholds)
                thresholds = MatchThresholds(**{**base, **_numbers(given, _THRESHOLD_FIELDS)})
            else:
                raise ServiceError("thresholds is an object, or null for the defaults.")
        if "policy" in patch:
            given = patch["policy"]
            if not isinstance(given, dict):
                raise ServiceError("policy is an object.")
            policy = dataclasses.replace(tenant.policy, **_numbers(given, _POLICY_FIELDS))  # type: ignore[arg-type]
        if "holidays" in patch:
            given = patch["holidays"]
            if given is not None and not isinstance(given, str):
                raise ServiceError("holidays is a region like DE-BY or US-CA, or null for none.")
            holidays = parse_region(given or "none", deps.holidays)
        if "weekly_hours" in patch:
            weekly_hours = float(str(_numbers({"weekly_hours": patch["weekly_hours"]}, _WEEKLY)["weekly_hours"]))
        if "reminders" in patch:
            given = patch["reminders"]
            if not isinstance(given, dict):
                raise ServiceError("reminders is an object.")
            reminders = _reminders(tenant.reminders, given)
    except DomainError as exc:
        raise ServiceError(str(exc)) from exc
    if timezone is not None:
        await deps.tenants.set_timezone(tenant.id, timezone)
    if schedule is not None:
        await deps.tenants.set_schedule(tenant.id, schedule)
    if thresholds is not False:
        await deps.tenants.set_thresholds(tenant.id, thresholds if isinstance(thresholds, MatchThresholds) else None)
    if policy is not None:
        await deps.tenants.set_policy(tenant.id, policy)
    if holidays is not False:
        await deps.tenants.set_holidays(tenant.id, holidays if isinstance(holidays, str) else None)
    if weekly_hours is not None:
        await deps.tenants.set_weekly_hours(tenant.id, weekly_hours)
    if reminders is not None:
        await deps.tenants.set_reminders(tenant.id, reminders)
    await deps.audit.record(
        tenant_id=tenant.id,
        actor=principal.actor,
        action="settings.changed",
        subject=",".join(sorted(patch)),
        at=deps.clock.now(),
    )
    return await read_settings(principal, deps=deps)


__all__ = ["CheckInPolicy", "read_settings", "update_settings"]
