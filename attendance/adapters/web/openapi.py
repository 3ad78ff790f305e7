"""The OpenAPI 3.1 document, built from the route table (``routes.API``) and the schemas below,
which describe exactly what ``serialise`` produces (a test validates live answers against them)."""

from __future__ import annotations

import re
from typing import Any

from attendance.adapters.web.routes import API, PUBLIC, Route

S = dict[str, Any]


def _n(kind: str) -> S:
    return {"type": [kind, "null"]}


def _obj(props: S, required: list[str] | None = None) -> S:
    return {
        "type": "object",
        "properties": props,
        "required": required if required is not None else list(props),
        "additionalProperties": False,
    }


def _ref(name: str) -> S:
    return {"$ref": f"#/components/schemas/{name}"}


def _page(item: str) -> S:
    return _obj({"items": {"type": "array", "items": _ref(item)}, "next_cursor": _n("string")})


def _list(item: str) -> S:
    return _obj({"items": {"type": "array", "items": _ref(item)}})


STR, INT, BOOL = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
TIME = {"type": "string", "format": "date-time"}
NTIME = {"type": ["string", "null"], "format": "date-time"}
ROLES = {"type": "array", "items": {"type": "string", "enum": ["employee", "manager", "admin", "payroll"]}}

SCHEMAS: dict[str, S] = {
    "Error": _obj({"error": _obj({"code": STR, "message": STR})}),
    "Me": _obj(
        {
            "tenant_id": STR,
            "name": STR,
            "kind": {"type": "string", "enum": ["session", "token", "device"]},
            "roles": ROLES,
            "employee_id": _n("string"),
        }
    ),
    "Employee": _obj(
        {
            "id": STR,
            "name": STR,
            "email": STR,
            "manager_id": _n("string"),
            "timezone": _n("string"),
            "worker_id": _n("string"),
            "roles": ROLES,
            "schedule": {
                "oneOf": [{"type": "null"}, _ref("Schedule")],
                "description": "their own; null: the company's",
            },
            "weekly_hours": {"type": ["number", "null"], "description": "their own weekly limit; null: the company's"},
            "holidays": {
                "type": ["string", "null"],
                "description": "their own calendar (DE-BY, none); null: the company's",
            },
            "reminders": BOOL,
            "inactive_from": {
                "type": ["string", "null"],
                "format": "date",
                "description": "left: inactive from that day",
            },
        }
    ),
    "Schedule": _obj({"start": STR, "end": STR, "weekdays": {"type": "array", "items": STR}, "grace_minutes": INT}),
    "ScheduleInput": _obj(
        {
            "days": {"type": "string", "description": "working days, e.g. mon,tue,wed or mon-fri"},
            "hours": {"type": "string", "description": "e.g. 09:00-13:00 (22:00-06:00 crosses midnight)"},
            "grace_minutes": {"type": "integer", "minimum": 0, "maximum": 240},
            "weekly_hours": {"type": "number", "minimum": 1, "maximum": 168},
            "holidays": {"type": "string", "description": "DE-BY, US-CA, none, or company (the company's)"},
            "reminders": BOOL,
            "reset": {"type": "boolean", "description": "back to the company's schedule and weekly limit"},
        },
        [],
    ),
    "DeactivationInput": _obj({"on": {"type": "string", "format": "date", "description": "default: today"}}, []),
    "TimeOff": _obj(
        {
            "id": STR,
            "employee_id": STR,
            "first": {"type": "string", "format": "date"},
            "last": {"type": "string", "format": "date"},
            "kind": {"type": "string", "enum": ["vacation", "sick", "other"]},
            "half_day": {"type": ["string", "null"], "enum": ["am", "pm", None]},
            "status": {"type": "string", "enum": ["requested", "approved", "rejected", "cancelled"]},
            "note": STR,
            "requested_by": STR,
            "created_at": TIME,
            "decided_by": _n("string"),
            "decided_at": NTIME,
        }
    ),
    "TimeOffList": _list("TimeOff"),
    "TimeOffInput": _obj(
        {
            "first": {"type": "string", "format": "date"},
            "last": {"type": "string", "format": "date", "description": "default: first"},
            "kind": {"type": "string", "enum": ["vacation", "sick", "other"]},
            "half_day": {"type": "string", "enum": ["am", "pm"]},
            "note": {"type": "string", "maxLength": 200},
            "employee": {"type": "string", "description": "admins: record it for this employee (approved at once)"},
        },
        ["first"],
    ),
    "EmployeePage": _page("Employee"),
    "Event": _obj(
        {
            "id": STR,
            "employee_id": STR,
            "direction": {"type": "string", "enum": ["in", "out"]},
            "at": TIME,
            "local_time": STR,
            "timezone": STR,
            "channel": STR,
            "decision": STR,
            "supersedes": _n("string"),
            "void": BOOL,
            "reason": _n("string"),
            "recorded_by": _n("string"),
            "distance": _n("number"),
        }
    ),
    "EventPage": _page("Event"),
    "Day": _obj(
        {
            "employee_id": STR,
            "status": {
                "type": ["string", "null"],
                "enum": ["present", "absent", "late", "holiday", "time_off", "not_scheduled", "inactive", None],
            },
            "holiday_name": _n("string"),
            "time_off_kind": _n("string"),
            "date": {"type": "string", "format": "date"},
            "first_in": _n("string"),
            "last_out": _n("string"),
            "worked_minutes": INT,
            "break_minutes": INT,
            "breaks": INT,
            "late_minutes": INT,
            "missing_check_out": BOOL,
            "events": INT,
            "timezone": STR,
        }
    ),
    "DayPage": _page("Day"),
    "TimesheetRow": _obj(
        {
            "employee_id": STR,
            "name": STR,
            "worked_minutes": INT,
            "break_minutes": INT,
            "late_days": INT,
            "late_minutes": INT,
            "overtime_minutes": INT,
            "missing_check_outs": INT,
            "days_present": INT,
            "weekly_overtime_minutes": INT,
            "days_absent": INT,
            "days_off": INT,
            "holidays": INT,
        }
    ),
    "TimesheetPage": _page("TimesheetRow"),
    "Today": _obj(
        {
            "date": {"type": "string", "format": "date"},
            "counts": {"type": "object", "additionalProperties": INT},
            "teams": {
                "type": "array",
                "items": _obj(
                    {
                        "name": STR,
                        "people": {
                            "type": "array",
                            "items": _obj(
                                {
                                    "employee_id": STR,
                                    "name": STR,
                                    "status": {
                                        "type": "string",
                                        "enum": ["in", "out", "absent", "not yet", "off", "holiday", "time_off"],
                                    },
                                    "first_in": _n("string"),
                                    "last_out": _n("string"),
                                    "late_minutes": INT,
                                    "open_yesterday": BOOL,
                                    "day_status": _n("string"),
                                    "holiday_name": _n("string"),
                                    "time_off_kind": _n("string"),
                                }
                            ),
                        },
                    }
                ),
            },
        }
    ),
    "ReviewItem": _obj(
        {
            "id": STR,
            "kind": {"type": "string", "enum": ["other_person", "not_me"]},
            "status": STR,
            "at": TIME,
            "channel": STR,
            "employee_id": _n("string"),
            "looks_like": _n("string"),
            "event_id": _n("string"),
            "attempted_at": NTIME,
            "reported_by": _n("string"),
        }
    ),
    "ReviewPage": _page("ReviewItem"),
    "Decision": _obj(
        {"decision": {"type": "string", "enum": ["approve", "reject"]}, "note": {"type": "string", "maxLength": 500}},
        ["decision"],
    ),
    "Correction": _obj(
        {
            "id": STR,
            "employee_id": STR,
            "status": {"type": "string", "enum": ["open", "approved", "rejected"]},
            "reason": STR,
            "direction": {"type": ["string", "null"], "enum": ["in", "out", None]},
            "at": NTIME,
            "supersedes": _n("string"),
            "void": BOOL,
            "requested_by": STR,
            "requested_at": TIME,
            "decided_by": _n("string"),
            "decided_at": NTIME,
            "note": _n("string"),
            "event_id": _n("string"),
        }
    ),
    "CorrectionPage": _page("Correction"),
    "CorrectionInput": _obj(
        {
            "direction": {"type": "string", "enum": ["in", "out"]},
            "at": {"type": "string", "description": "local date and time, 2026-12-03T08:55"},
            "supersedes": {"type": "string", "description": "the event to replace or remove"},
            "void": BOOL,
            "reason": {"type": "string", "minLength": 3, "maxLength": 500},
        },
        ["reason"],
    ),
    "Settings": _obj(
        {
            "name": STR,
            "timezone": STR,
            "schedule": _obj(
                {"start": STR, "end": STR, "weekdays": {"type": "array", "items": STR}, "grace_minutes": INT}
            ),
            "thresholds": _obj(
                {
                    "custom": BOOL,
                    "verify": {"type": "number"},
                    "verify_retry": {"type": "number"},
                    "verify_margin": {"type": "number"},
                    "accept": {"type": "number"},
                    "retry": {"type": "number"},
                    "margin": {"type": "number"},
                    "verify_support": {"type": "number"},
                    "verify_clear": {"type": "number"},
                    "verify_clear_margin": {"type": "number"},
                    "adapt": {"type": "number"},
                    "adapt_margin": {"type": "number"},
                    "adapt_novelty": {"type": "number"},
                }
            ),
            "policy": _obj(
                {
                    "duplicate_window_minutes": INT,
                    "replay_check": BOOL,
                    "replay_max_bits": INT,
                    "replay_retention_days": INT,
                    "freshness_minutes": INT,
                    "delete_chat_photos": BOOL,
                    "template_retention_days": INT,
                    "record_retention_days": INT,
                    "adapt_templates": BOOL,
                    "pose_challenge": BOOL,
                }
            ),
            "holidays": {"type": ["string", "null"], "description": "public holidays of this region; null: none"},
            "weekly_hours": {"type": "number"},
            "reminders": _obj(
                {
                    "enabled": BOOL,
                    "check_out_after_minutes": INT,
                    "max_shift_hours": {"type": "number"},
                    "check_in_after_minutes": INT,
                    "digest_at": STR,
                    "weekly_digest": BOOL,
                }
            ),
        }
    ),
    "SettingsPatch": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "timezone": STR,
            "schedule": {"type": "object"},
            "thresholds": {"type": ["object", "null"]},
            "policy": {"type": "object"},
            "holidays": {"type": ["string", "null"], "description": "DE-BY, US-CA...; null or none: no holidays"},
            "weekly_hours": {"type": "number", "minimum": 1, "maximum": 168},
            "reminders": {"type": "object"},
        },
    },
    "Webhook": _obj(
        {
            "id": STR,
            "kind": STR,
            "url": STR,
            "events": {"type": "array", "items": STR},
            "state": STR,
            "disabled_reason": _n("string"),
            "created_at": TIME,
        }
    ),
    "WebhookList": _list("Webhook"),
    "WebhookInput": _obj(
        {"url": {"type": "string", "format": "uri"}, "events": {"type": "array", "items": STR}}, ["url"]
    ),
    "WebhookCreated": {},  # below: a Webhook and its secret
    "Delivery": _obj(
        {
            "id": STR,
            "subscription_id": STR,
            "employee_id": STR,
            "type": STR,
            "state": STR,
            "attempts": INT,
            "last_error": _n("string"),
            "created_at": TIME,
            "next_attempt_at": NTIME,
            "delivered_at": NTIME,
        }
    ),
    "DeliveryList": _list("Delivery"),
    "Replayed": _obj({"queued": INT}),
    "Removed": _obj({"removed": BOOL, "dropped": INT}),
    "Erased": _obj({"templates_deleted": INT}),
    "AuditEntry": _obj({"id": STR, "at": TIME, "actor": STR, "action": STR, "subject": STR}),
    "AuditPage": _page("AuditEntry"),
    "Token": _obj(
        {
            "id": STR,
            "name": STR,
            "kind": {"type": "string", "enum": ["personal", "integration", "device"]},
            "roles": ROLES,
            "employee_id": _n("string"),
            "created_by": STR,
            "created_at": TIME,
            "last_used_at": NTIME,
            "revoked_at": NTIME,
        }
    ),
    "TokenList": _list("Token"),
    "TokenInput": _obj(
        {
            "name": {"type": "string", "minLength": 1, "maxLength": 80},
            "kind": {"type": "string", "enum": ["personal", "integration", "device"]},
            "roles": ROLES,
            "employee_id": STR,
        },
        ["name", "kind"],
    ),
    "TokenCreated": {},  # below: a Token and its secret
}
for _name in ("Webhook", "Token"):
    SCHEMAS[f"{_name}Created"] = _obj({**SCHEMAS[_name]["properties"], "secret": STR})

_ERRORS = {
    "400": "invalid input",
    "401": "not signed in, or an unknown token",
    "403": "your role does not allow it",
    "404": "not found among what you can see",
    "429": "too many requests for this token; wait the seconds Retry-After says",
}


def _operation(route: Route) -> S:
    params = [
        {"name": m, "in": "path", "required": True, "schema": {"type": "string", "maxLength": 64}}
        for m in re.findall(r"{(\w+)}", route.path)
    ]
    params += [
        {"name": q.name, "in": "query", "required": q.required, "description": q.description, "schema": dict(q.schema)}
        for q in route.query
    ]
    if route.response:
        ok: S = {"description": "OK", "content": {"application/json": {"schema": _ref(route.response)}}}
    else:
        ok = {
            "description": "a file",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                    "schema": {"type": "string", "contentEncoding": "binary"}
                },
            },
        }
    responses: S = {str(route.status): ok}
    for code, text in _ERRORS.items():
        responses[code] = {"description": text, "content": {"application/json": {"schema": _ref("Error")}}}
    op: S = {"operationId": route.name, "summary": route.summary, "tags": [route.tag], "responses": responses}
    if params:
        op["parameters"] = params
    if route.body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(route.body)}}}
    if route.allow == PUBLIC:
        op["security"] = []
    else:
        roles = (
            "any signed-in person or token"
            if isinstance(route.allow, str)
            else ", ".join(sorted(r.value for r in route.allow))
        )
        op["description"] = f"Allowed: {roles}."
    return op


def document(server_url: str = "/") -> S:
    paths: dict[str, S] = {}
    for route in API:
        if not route.api:
            continue
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "attendance API",
            "version": "1.0.0",
            "description": "Attendance of the signed-in person's organisation. Lists are paginated: pass "
            '`next_cursor` back as `cursor`. Errors are `{"error": {"code", "message"}}`.',
        },
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}, {"session": []}],
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "an API token an admin created"},
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "attendance_session",
                    "description": "the dashboard's session; writes also need the X-CSRF-Token header",
                },
            },
        },
        "paths": paths,
    }
