"""Every route of the dashboard, the REST API and the kiosk, with its permission, in one table.

A route is registered only from here (``WebSite.mount`` calls ``app.mount_routes``), wrapped in
the guard that enforces its ``allow``. Object-level rules (whose records; which tenant) are the
services' (``Principal``).

``allow``: a set of roles (any one of them suffices), ``SIGNED_IN`` (any person or token),
``DEVICE`` (a paired kiosk only) or ``PUBLIC``. Devices reach nothing but the kiosk routes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from attendance.core.domain.model import Role

PUBLIC = "public"
SIGNED_IN = "signed-in"
DEVICE = "device"
Allow = frozenset[Role] | str

EVERYONE = frozenset(Role)
MANAGERS = frozenset({Role.MANAGER, Role.ADMIN, Role.PAYROLL})
READERS = frozenset({Role.ADMIN, Role.PAYROLL})
ADMIN = frozenset({Role.ADMIN})
DECIDERS = frozenset({Role.MANAGER, Role.ADMIN})


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    description: str
    schema: Mapping[str, object]
    required: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Route:
    method: str
    path: str
    name: str  # the handler's name, and the aiohttp route name
    allow: Allow
    summary: str
    api: bool = False  # documented in the OpenAPI document
    tag: str = "pages"
    query: tuple[Param, ...] = ()
    body: str | None = None  # schema name of a JSON body
    response: str | None = None  # schema name of a 200/201 JSON answer
    status: int = 200
    content: str = "application/json"


DATE = {"type": "string", "format": "date"}
CURSOR = Param("cursor", "the next_cursor of the previous page", {"type": "string", "maxLength": 200})
LIMIT = Param("limit", "items per page (1-200, default 50)", {"type": "integer", "minimum": 1, "maximum": 200})
FROM = Param("from", "first local day (default: today, or the period's first)", DATE)
TO = Param("to", "last local day (default: from; at most 93 days)", DATE)
TEAM = Param("team", "only the people reporting to this manager (employee id)", {"type": "string", "maxLength": 64})
EMPLOYEE = Param("employee", "only this employee (id)", {"type": "string", "maxLength": 64})

V1 = "/api/v1"

API: tuple[Route, ...] = (
    Route(
        method="GET",
        path=f"{V1}/me",
        name="api_me",
        allow=SIGNED_IN,
        api=True,
        tag="access",
        summary="Who the token or session is, and its roles",
        response="Me",
    ),
    Route(
        method="GET",
        path=f"{V1}/employees",
        name="api_employees",
        allow=EVERYONE,
        api=True,
        tag="people",
        summary="Employees you can see",
        query=(CURSOR, LIMIT),
        response="EmployeePage",
    ),
    Route(
        method="GET",
        path=f"{V1}/employees/{{employee_id}}",
        name="api_employee",
        allow=EVERYONE,
        api=True,
        tag="people",
        summary="One employee",
        response="Employee",
    ),
    Route(
        method="DELETE",
        path=f"{V1}/employees/{{employee_id}}/face-data",
        name="api_face_erase",
        allow=ADMIN,
        api=True,
        tag="people",
        summary="Erase a person's face templates and consent (attendance stays)",
        response="Erased",
    ),
    Route(
        method="GET",
        path=f"{V1}/events",
        name="api_events",
        allow=EVERYONE,
        api=True,
        tag="attendance",
        summary="Attendance events, corrections included, oldest first",
        query=(FROM, TO, EMPLOYEE, TEAM, CURSOR, LIMIT),
        response="EventPage",
    ),
    Route(
        method="GET",
        path=f"{V1}/days",
        name="api_days",
        allow=EVERYONE,
        api=True,
        tag="attendance",
        summary="Day summaries per person (first in, last out, worked, breaks, lateness)",
        query=(FROM, TO, EMPLOYEE, TEAM, CURSOR, LIMIT),
        response="DayPage",
    ),
    Route(
        method="GET",
        path=f"{V1}/timesheets",
        name="api_timesheets",
        allow=EVERYONE,
        api=True,
        tag="attendance",
        summary="Totals per person over a range",
        query=(FROM, TO, EMPLOYEE, TEAM, CURSOR, LIMIT),
        response="TimesheetPage",
    ),
    Route(
        method="GET",
        path=f"{V1}/timesheets/export",
        name="api_timesheet_export",
        allow=EVERYONE,
        api=True,
        tag="attendance",
        summary="The day summaries of a range as a CSV or XLSX file",
        query=(
            Param("format", "csv (default) or xlsx", {"type": "string", "enum": ["csv", "xlsx"]}),
            FROM,
            TO,
            EMPLOYEE,
            TEAM,
        ),
        content="text/csv",
    ),
    Route(
        method="GET",
        path=f"{V1}/today",
        name="api_today",
        allow=EVERYONE,
        api=True,
        tag="attendance",
        summary="Who is in, out, late and absent today",
        query=(TEAM,),
        response="Today",
    ),
    Route(
        method="GET",
        path=f"{V1}/review",
        name="api_review",
        allow=READERS,
        api=True,
        tag="review",
        summary="The review queue: flagged check-ins and 'not me' reports",
        query=(
            Param(
                "status",
                "open (default), approved, rejected or all",
                {"type": "string", "enum": ["open", "approved", "rejected", "all"]},
            ),
            CURSOR,
            LIMIT,
        ),
        response="ReviewPage",
    ),
    Route(
        method="POST",
        path=f"{V1}/review/{{item_id}}/decision",
        name="api_review_decide",
        allow=ADMIN,
        api=True,
        tag="review",
        summary="Approve or reject a review item",
        body="Decision",
        response="ReviewItem",
    ),
    Route(
        method="GET",
        path=f"{V1}/corrections",
        name="api_corrections",
        allow=EVERYONE,
        api=True,
        tag="review",
        summary="Correction requests you can see",
        query=(
            Param(
                "status",
                "open, approved, rejected (default: all)",
                {"type": "string", "enum": ["open", "approved", "rejected"]},
            ),
            CURSOR,
            LIMIT,
        ),
        response="CorrectionPage",
    ),
    Route(
        method="POST",
        path=f"{V1}/corrections",
        name="api_correction_request",
        allow=EVERYONE,
        api=True,
        tag="review",
        summary="Ask for a correction of your own attendance",
        body="CorrectionInput",
        response="Correction",
        status=201,
    ),
    Route(
        method="POST",
        path=f"{V1}/corrections/{{request_id}}/decision",
        name="api_correction_decide",
        allow=DECIDERS,
        api=True,
        tag="review",
        summary="Approve or reject a correction request (their manager)",
        body="Decision",
        response="Correction",
    ),
    Route(
        method="GET",
        path=f"{V1}/time-off",
        name="api_time_off",
        allow=EVERYONE,
        api=True,
        tag="workforce",
        summary="Time off (asked for, approved, rejected) of the people you can see, in a range",
        query=(FROM, TO, EMPLOYEE),
        response="TimeOffList",
    ),
    Route(
        method="POST",
        path=f"{V1}/time-off",
        name="api_time_off_request",
        allow=EVERYONE,
        api=True,
        tag="workforce",
        summary="Ask for your own time off (your manager decides), or, as an admin, record someone's (approved)",
        body="TimeOffInput",
        response="TimeOff",
        status=201,
    ),
    Route(
        method="POST",
        path=f"{V1}/time-off/{{time_off_id}}/decision",
        name="api_time_off_decide",
        allow=DECIDERS,
        api=True,
        tag="workforce",
        summary="Approve or reject a time off request (their manager or an admin; an approval goes to payroll)",
        body="Decision",
        response="TimeOff",
    ),
    Route(
        method="PUT",
        path=f"{V1}/employees/{{employee_id}}/schedule",
        name="api_schedule_set",
        allow=ADMIN,
        api=True,
        tag="workforce",
        summary="A person's own working days and hours, weekly limit, holiday calendar and reminders",
        body="ScheduleInput",
        response="Employee",
    ),
    Route(
        method="POST",
        path=f"{V1}/employees/{{employee_id}}/deactivation",
        name="api_deactivate",
        allow=ADMIN,
        api=True,
        tag="workforce",
        summary="A leaver: inactive from a day (default today), face data erased at once, history kept",
        body="DeactivationInput",
        response="Employee",
    ),
    Route(
        method="DELETE",
        path=f"{V1}/employees/{{employee_id}}/deactivation",
        name="api_reactivate",
        allow=ADMIN,
        api=True,
        tag="workforce",
        summary="Active again (the face data is not restored: they enroll again)",
        response="Employee",
    ),
    Route(
        method="GET",
        path=f"{V1}/settings",
        name="api_settings",
        allow=READERS,
        api=True,
        tag="settings",
        summary="The organisation's settings",
        response="Settings",
    ),
    Route(
        method="PATCH",
        path=f"{V1}/settings",
        name="api_settings_update",
        allow=ADMIN,
        api=True,
        tag="settings",
        summary="Change settings (only the fields given)",
        body="SettingsPatch",
        response="Settings",
    ),
    Route(
        method="GET",
        path=f"{V1}/webhooks",
        name="api_webhooks",
        allow=READERS,
        api=True,
        tag="integrations",
        summary="Webhook and connector subscriptions",
        response="WebhookList",
    ),
    Route(
        method="POST",
        path=f"{V1}/webhooks",
        name="api_webhook_add",
        allow=ADMIN,
        api=True,
        tag="integrations",
        summary="Subscribe a URL (its signing secret is in this answer only)",
        body="WebhookInput",
        response="WebhookCreated",
        status=201,
    ),
    Route(
        method="DELETE",
        path=f"{V1}/webhooks/{{subscription_id}}",
        name="api_webhook_remove",
        allow=ADMIN,
        api=True,
        tag="integrations",
        summary="Remove a subscription",
        response="Removed",
    ),
    Route(
        method="GET",
        path=f"{V1}/deliveries",
        name="api_deliveries",
        allow=READERS,
        api=True,
        tag="integrations",
        summary="Deliveries to subscriptions, newest first",
        query=(
            Param(
                "state",
                "pending, delivered, dead, held or failed (dead)",
                {"type": "string", "enum": ["pending", "delivered", "dead", "held", "failed"]},
            ),
            LIMIT,
        ),
        response="DeliveryList",
    ),
    Route(
        method="POST",
        path=f"{V1}/deliveries/{{delivery_id}}/replay",
        name="api_delivery_replay",
        allow=ADMIN,
        api=True,
        tag="integrations",
        summary="Send a dead or delivered delivery again",
        response="Replayed",
    ),
    Route(
        method="GET",
        path=f"{V1}/audit",
        name="api_audit",
        allow=READERS,
        api=True,
        tag="access",
        summary="The audit log, newest first",
        query=(CURSOR, LIMIT),
        response="AuditPage",
    ),
    Route(
        method="GET",
        path=f"{V1}/tokens",
        name="api_tokens",
        allow=ADMIN,
        api=True,
        tag="access",
        summary="API and device tokens (never their secrets)",
        response="TokenList",
    ),
    Route(
        method="POST",
        path=f"{V1}/tokens",
        name="api_token_create",
        allow=ADMIN,
        api=True,
        tag="access",
        summary="Create a token; its secret is in this answer only",
        body="TokenInput",
        response="TokenCreated",
        status=201,
    ),
    Route(
        method="DELETE",
        path=f"{V1}/tokens/{{token_id}}",
        name="api_token_revoke",
        allow=ADMIN,
        api=True,
        tag="access",
        summary="Revoke a token",
        response="Removed",
    ),
    Route(method="GET", path=f"{V1}/openapi.json", name="api_openapi", allow=PUBLIC, summary="This document"),
)

PAGES: tuple[Route, ...] = (
    Route(method="GET", path="/", name="home", allow=SIGNED_IN, summary="Where a person starts"),
    Route(method="GET", path="/signin", name="signin_page", allow=PUBLIC, summary="Sign-in choices"),
    Route(method="POST", path="/signin", name="signin_password", allow=PUBLIC, summary="Local account sign-in"),
    Route(method="GET", path="/signin/{provider}", name="signin_start", allow=PUBLIC, summary="To Slack or Entra"),
    Route(
        method="GET",
        path="/signin/{provider}/callback",
        name="signin_callback",
        allow=PUBLIC,
        summary="Back from Slack or Entra",
    ),
    Route(method="POST", path="/signout", name="signout", allow=SIGNED_IN, summary="End the session"),
    Route(method="GET", path="/today", name="today_page", allow=MANAGERS, summary="Today board"),
    Route(method="GET", path="/today/board", name="today_fragment", allow=MANAGERS, summary="The board, refreshed"),
    Route(method="GET", path="/today/charts", name="today_charts", allow=MANAGERS, summary="The today page's charts"),
    Route(method="GET", path="/people/{employee_id}", name="person_page", allow=EVERYONE, summary="A person"),
    Route(
        method="POST",
        path="/people/{employee_id}/erase",
        name="face_erase",
        allow=ADMIN,
        summary="Erase a person's face data",
    ),
    Route(method="GET", path="/timesheets", name="timesheets_page", allow=MANAGERS, summary="Timesheets"),
    Route(method="GET", path="/timesheets/export", name="timesheets_export", allow=MANAGERS, summary="CSV or XLSX"),
    Route(method="GET", path="/review", name="review_page", allow=READERS, summary="Review queue"),
    Route(method="POST", path="/review/{item_id}", name="review_decide", allow=ADMIN, summary="Decide an item"),
    Route(method="GET", path="/corrections", name="corrections_page", allow=EVERYONE, summary="Corrections"),
    Route(method="POST", path="/corrections", name="correction_request", allow=EVERYONE, summary="Ask for one"),
    Route(
        method="POST",
        path="/corrections/{request_id}",
        name="correction_decide",
        allow=DECIDERS,
        summary="Decide a correction",
    ),
    Route(method="POST", path="/time-off", name="time_off_request", allow=EVERYONE, summary="Ask for time off"),
    Route(
        method="POST",
        path="/time-off/{time_off_id}",
        name="time_off_decide",
        allow=DECIDERS,
        summary="Decide a time off request",
    ),
    Route(
        method="POST",
        path="/people/{employee_id}/schedule",
        name="schedule_save",
        allow=ADMIN,
        summary="A person's schedule, calendar and reminders",
    ),
    Route(
        method="POST",
        path="/people/{employee_id}/deactivation",
        name="deactivation_save",
        allow=ADMIN,
        summary="Deactivate or reactivate a person",
    ),
    Route(method="GET", path="/settings", name="settings_page", allow=READERS, summary="Settings"),
    Route(method="POST", path="/settings", name="settings_save", allow=ADMIN, summary="Save settings"),
    Route(method="GET", path="/integrations", name="integrations_page", allow=READERS, summary="Integrations"),
    Route(
        method="POST",
        path="/integrations/deliveries/{delivery_id}/replay",
        name="delivery_replay",
        allow=ADMIN,
        summary="Replay a delivery",
    ),
    Route(method="GET", path="/access", name="access_page", allow=ADMIN, summary="Tokens and kiosks"),
    Route(method="POST", path="/access/tokens", name="token_create", allow=ADMIN, summary="Create a token"),
    Route(
        method="POST",
        path="/access/tokens/{token_id}/revoke",
        name="token_revoke",
        allow=ADMIN,
        summary="Revoke a token",
    ),
    Route(method="GET", path="/audit", name="audit_page", allow=READERS, summary="Audit log"),
    Route(method="GET", path="/api", name="api_page", allow=PUBLIC, summary="The API, readable"),
    Route(method="GET", path="/privacy", name="privacy_page", allow=PUBLIC, summary="What is stored, and why"),
    Route(method="GET", path="/terms", name="terms_page", allow=PUBLIC, summary="Terms of use"),
    Route(method="GET", path="/kiosk", name="kiosk_page", allow=PUBLIC, summary="The kiosk (or its pairing form)"),
    Route(method="POST", path="/kiosk/pair", name="kiosk_pair", allow=PUBLIC, summary="Pair a tablet"),
    Route(method="POST", path="/kiosk/check-ins", name="kiosk_check_in", allow=DEVICE, summary="A kiosk photo"),
    Route(
        method="GET",
        path="/kiosk/check-ins/{job_id}",
        name="kiosk_result",
        allow=DEVICE,
        summary="A kiosk check-in's result",
    ),
    Route(
        method="POST",
        path="/kiosk/enroll/code",
        name="kiosk_enroll_code",
        allow=DEVICE,
        summary="Whose enrollment code, and the notice",
    ),
    Route(
        method="POST",
        path="/kiosk/enroll",
        name="kiosk_enroll",
        allow=DEVICE,
        summary="Consent and photos, with the code",
    ),
    Route(
        method="POST",
        path="/people/{employee_id}/enrollment-code",
        name="enrollment_code",
        allow=ADMIN,
        summary="A kiosk enrollment code for a person",
    ),
)

ROUTES: tuple[Route, ...] = API + PAGES
BY_NAME = {r.name: r for r in ROUTES}
STATIC_PREFIX = "/static/"
