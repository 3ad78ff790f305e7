"""Every route × every role × own / other team / other organisation: no unexpected allow, ever.

The expectations are written here independently of the code: the route table says which roles
may call a route at all; then whose objects each role may reach (own records; the manager's
team; the whole organisation for admin and payroll; never another organisation's).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from attendance.adapters.web.routes import DEVICE, PUBLIC, ROUTES, Route
from attendance.core.domain.model import Role
from tests.web.conftest import Web
from tests.web.world import ROLES_OF, Things, make_things

ROLES = list(ROLES_OF)
PERSON_ROUTES = {
    "api_employee",
    "person_page",
    "api_face_erase",
    "face_erase",
    "enrollment_code",
    "api_schedule_set",
    "api_deactivate",
    "api_reactivate",
    "schedule_save",
    "deactivation_save",
}
DECIDE_ROUTES = {"api_correction_decide", "correction_decide"}
TIME_OFF_DECIDE_ROUTES = {"api_time_off_decide", "time_off_decide"}
EMPLOYEE_QUERY = {"api_events", "api_days", "api_timesheets", "api_timesheet_export", "api_time_off"}
THING_OF = {
    "item_id": "review_item",
    "subscription_id": "subscription",
    "delivery_id": "dead_delivery",
    "token_id": "spare_token",
}


# Who may call each route at all, written out again here (not read from the table), so that a
# widened permission in routes.py fails this test. Roles: E employee, M manager, A admin, P payroll.
WHO = {
    "api_me": "signed-in",
    "api_employees": "EMAP",
    "api_employee": "EMAP",
    "api_events": "EMAP",
    "api_days": "EMAP",
    "api_face_erase": "A",
    "face_erase": "A",
    "api_timesheets": "EMAP",
    "api_timesheet_export": "EMAP",
    "api_today": "EMAP",
    "api_review": "AP",
    "api_review_decide": "A",
    "api_corrections": "EMAP",
    "api_correction_request": "EMAP",
    "api_correction_decide": "MA",
    "api_time_off": "EMAP",
    "api_time_off_request": "EMAP",
    "api_time_off_decide": "MA",
    "api_schedule_set": "A",
    "api_deactivate": "A",
    "api_reactivate": "A",
    "time_off_request": "EMAP",
    "time_off_decide": "MA",
    "schedule_save": "A",
    "deactivation_save": "A",
    "api_settings": "AP",
    "api_settings_update": "A",
    "api_webhooks": "AP",
    "api_webhook_add": "A",
    "api_webhook_remove": "A",
    "api_deliveries": "AP",
    "api_delivery_replay": "A",
    "api_audit": "AP",
    "api_tokens": "A",
    "api_token_create": "A",
    "api_token_revoke": "A",
    "api_openapi": "public",
    "home": "signed-in",
    "signin_page": "public",
    "signin_password": "public",
    "signin_start": "public",
    "signin_callback": "public",
    "signout": "signed-in",
    "today_page": "MAP",
    "today_fragment": "MAP",
    "today_charts": "MAP",
    "person_page": "EMAP",
    "timesheets_page": "MAP",
    "timesheets_export": "MAP",
    "review_page": "AP",
    "review_decide": "A",
    "corrections_page": "EMAP",
    "correction_request": "EMAP",
    "correction_decide": "MA",
    "settings_page": "AP",
    "settings_save": "A",
    "integrations_page": "AP",
    "delivery_replay": "A",
    "access_page": "A",
    "token_create": "A",
    "token_revoke": "A",
    "audit_page": "AP",
    "api_page": "public",
    "privacy_page": "public",
    "terms_page": "public",
    "kiosk_page": "public",
    "kiosk_pair": "public",
    "kiosk_check_in": "device",
    "kiosk_result": "device",
    "kiosk_enroll_code": "device",
    "kiosk_enroll": "device",
    "enrollment_code": "A",
}
LETTER = {Role.EMPLOYEE: "E", Role.MANAGER: "M", Role.ADMIN: "A", Role.PAYROLL: "P"}


def roles_of(role: str) -> set[Role]:
    return {Role.EMPLOYEE, *ROLES_OF[role]}


def table_allows(route: Route, role: str) -> bool:
    who = WHO[route.name]
    if who in ("public", "signed-in"):
        return True
    if who == "device":
        return False
    return any(LETTER[r] in who for r in roles_of(role))


def test_the_route_table_says_what_this_test_expects() -> None:
    assert set(WHO) == {r.name for r in ROUTES}, "a route was added or removed: add it to WHO with its roles"
    for route in ROUTES:
        declared = route.allow if isinstance(route.allow, str) else "".join(LETTER[r] for r in Role if r in route.allow)
        expected = (
            WHO[route.name]
            if WHO[route.name] in ("public", "signed-in", "device")
            else "".join(LETTER[r] for r in Role if LETTER[r] in WHO[route.name])
        )
        assert declared == expected, f"{route.name}: the table allows {declared}, this test expects {expected}"


def sees(role: str, target: str) -> bool:
    """Whose records: target is the role's own person, 'employee' (the manager's report), 'outsider', 'foreign'."""
    if target == "foreign":
        return False
    if role in ("admin", "payroll"):
        return True
    if role == "manager":
        return target in ("manager", "employee")
    return target == role


def decides(role: str, target: str) -> bool:
    if target == "foreign":
        return False
    return role == "admin" or (role == "manager" and target == "employee")


def granted(status: int, location: str) -> bool:
    return status < 400 and not location.startswith("/signin")


def body_for(route: Route, w: Web) -> dict[str, Any]:
    yesterday = (w.c.deps.clock.now() - timedelta(days=1)).astimezone(ZoneInfo("Europe/Berlin")).strftime("%Y-%m-%d")
    if route.method == "GET":
        return {}
    if route.path.startswith("/api/"):
        bodies: dict[str, Any] = {
            "api_review_decide": {"decision": "reject"},
            "api_correction_decide": {"decision": "reject"},
            "api_correction_request": {"direction": "in", "at": f"{yesterday}T08:30", "reason": "forgot"},
            "api_time_off_decide": {"decision": "reject"},
            "api_time_off_request": {"first": "2030-01-07", "kind": "vacation"},
            "api_schedule_set": {"days": "mon,tue", "hours": "09:00-13:00"},
            "api_deactivate": {"on": "2099-01-01"},
            "api_settings_update": {"timezone": "Europe/Berlin"},
            "api_webhook_add": {"url": "https://hooks.example.com/x"},
            "api_token_create": {"name": "matrix", "kind": "device"},
        }
        return {"json": bodies.get(route.name, {})}
    forms: dict[str, dict[str, str]] = {
        "review_decide": {"decision": "reject"},
        "correction_decide": {"decision": "reject"},
        "correction_request": {"direction": "in", "at": f"{yesterday}T08:30", "reason": "forgot"},
        "time_off_decide": {"decision": "reject"},
        "time_off_request": {"first": "2030-01-14", "kind": "sick"},
        "schedule_save": {"day_mon": "on", "hours": "09:00-17:00", "reminders": "on"},
        "deactivation_save": {"action": "deactivate", "on": "2099-01-01"},
        "settings_save": {
            "timezone": "Europe/Berlin",
            "start": "09:00",
            "end": "17:00",
            "day_mon": "on",
            "grace_minutes": "5",
            "duplicate_window_minutes": "5",
            "replay_check": "on",
            "replay_retention_days": "90",
            "freshness_minutes": "10",
            "default_thresholds": "on",
            "verify": "0.55",
            "accept": "0.54",
        },
        "token_create": {"name": "matrix", "kind": "device"},
    }
    return {"data": forms.get(route.name, {"x": "y"})}


def cases(route: Route, w: Web, mine: Things, theirs: Things, role: str) -> list[tuple[str, str, bool]]:
    """(target, path, expected allow) for one route and one role."""
    allowed = table_allows(route, role)
    params = re.findall(r"{(\w+)}", route.path)
    if route.name in PERSON_ROUTES:
        out = []
        for target in ("manager", "employee", "outsider", role, "foreign"):
            person = w.b.people["employee"] if target == "foreign" else w.a.people[target]
            out.append((target, route.path.replace("{employee_id}", person.id), allowed and sees(role, target)))
        return out
    if route.name in DECIDE_ROUTES:
        return [
            (t, route.path.replace("{request_id}", rid), allowed and decides(role, t))
            for t, rid in (
                ("employee", mine.correction_of_employee),
                ("outsider", mine.correction_of_outsider),
                ("foreign", theirs.correction_of_employee),
            )
        ]
    if route.name in TIME_OFF_DECIDE_ROUTES:
        return [
            (t, route.path.replace("{time_off_id}", rid), allowed and decides(role, t))
            for t, rid in (
                ("employee", mine.time_off_of_employee),
                ("outsider", mine.time_off_of_outsider),
                ("foreign", theirs.time_off_of_employee),
            )
        ]
    if params and params[0] in THING_OF:
        attr = THING_OF[params[0]]
        return [
            ("own", route.path.replace(f"{{{params[0]}}}", getattr(mine, attr)), allowed),
            ("foreign", route.path.replace(f"{{{params[0]}}}", getattr(theirs, attr)), False),
        ]
    if route.name in EMPLOYEE_QUERY:
        out = [("none", route.path, allowed)]
        for target in ("employee", "outsider", "foreign"):
            person = w.b.people["employee"] if target == "foreign" else w.a.people[target]
            out.append((target, f"{route.path}?employee={person.id}", allowed and sees(role, target)))
        return out
    if params:  # provider, job_id: public sign-in pages and device routes
        value = {"provider": "slack", "job_id": "nope"}[params[0]]
        return [("none", route.path.replace(f"{{{params[0]}}}", value), allowed)]
    return [("none", route.path, allowed)]


def foreign_markers(w: Web, theirs: Things) -> list[str]:
    b = w.b
    return [
        b.name,
        *(p.id for p in b.people.values()),
        *(p.email for p in b.people.values()),
        theirs.review_item,
        theirs.correction_of_employee,
        theirs.time_off_of_employee,
        theirs.subscription,
        theirs.dead_delivery,
    ]


@pytest.mark.timeout(600)
async def test_every_route_with_every_role_allows_only_what_it_should(web: Web) -> None:
    w = web
    mine, theirs = await make_things(w.c, w.a), await make_things(w.c, w.b)
    markers = foreign_markers(w, theirs)
    unexpected, refused, checked = [], [], 0
    skip = {
        "signin_page",
        "signin_password",
        "signin_start",
        "signin_callback",
        "kiosk_pair",
        "api_openapi",
        "api_page",
        "kiosk_page",
        "privacy_page",
        "terms_page",
    }
    # public: no principal is needed, nothing of a tenant is shown
    for route in ROUTES:
        if route.name in skip:
            assert route.allow == PUBLIC, route.name
            continue
        for role in ROLES:
            for target, path, expected in cases(route, w, mine, theirs, role):
                r = await w.call(route.method, path, w.a.tokens[role], **body_for(route, w))
                text = await r.text() if r.content_type.startswith(("text/", "application/json")) else ""
                checked += 1
                got = granted(r.status, r.headers.get("Location", ""))
                if got and not expected:
                    unexpected.append(f"{route.method} {path} as {role} ({target}): {r.status}")
                if expected and not got and route.method == "GET":
                    refused.append(f"{route.method} {path} as {role} ({target}): {r.status} {text[:120]}")
                leaked = [m for m in markers if m in text and m not in path]  # an echo of the request is no leak
                assert not leaked, f"{route.method} {path} as {role} shows another organisation's data: {leaked}"
    assert not unexpected, "unexpected allows:\n" + "\n".join(unexpected)
    assert not refused, "refused though allowed:\n" + "\n".join(refused)
    assert checked > 250


async def test_a_kiosk_device_reaches_only_the_kiosk_and_nobody_reaches_anything_without_signing_in(web: Web) -> None:
    w = web
    r = await w.call("POST", "/api/v1/tokens", w.a.tokens["admin"], json={"name": "door", "kind": "device"})
    device = (await r.json())["secret"]
    for route in ROUTES:
        if route.allow in (PUBLIC, DEVICE):
            continue
        path = re.sub(r"{\w+}", "x" * 32, route.path)
        r = await w.call(route.method, path, device)
        assert r.status == 403, f"{route.method} {path} as a kiosk: {r.status}"
        r = await w.call(route.method, path)
        assert r.status == 401 or r.headers.get("Location", "").startswith("/signin?next="), (
            f"{route.method} {path} without signing in: {r.status}"
        )
    for route in ROUTES:
        if route.allow == DEVICE:
            for role in ROLES:
                path = re.sub(r"{\w+}", "x" * 32, route.path)
                r = await w.call(
                    route.method,
                    path,
                    w.a.tokens[role],
                    data=b"\xff\xd8",
                    headers={"Content-Type": "image/jpeg", "Idempotency-Key": "k" * 16},
                )
                assert r.status == 403, f"{route.method} {path} as {role}: {r.status}"


async def test_the_server_has_no_web_route_outside_the_table(web: Web) -> None:
    from aiohttp import web as aioweb

    from attendance.adapters.web.server import create_app
    from attendance.entrypoints.bootstrap import web_site

    async def ready() -> bool:
        return True

    app: aioweb.Application = create_app(database_ready=ready, mounts=[web_site(web.c).mount])
    declared = {(r.method, r.path) for r in ROUTES}
    for resource in app.router.resources():
        info = resource.get_info()
        path = info.get("path") or info.get("formatter") or info.get("prefix", "")
        if path in ("/healthz", "/readyz") or str(path).startswith("/static"):
            continue
        for route in resource:
            if route.method == "HEAD":
                continue
            assert (route.method, path) in declared, f"{route.method} {path} is served but not in routes.ROUTES"
