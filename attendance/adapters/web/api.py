"""The REST API handlers (``/api/v1``): parse, call a service with the principal, serialise.
Permissions are in ``routes.py``; whose records a principal sees is the services' rule."""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from attendance.adapters.web import serialise as js
from attendance.adapters.web.app import ApiError, principal_of, read_capped
from attendance.adapters.web.deps import WebDeps
from attendance.core.domain.access import Principal, TokenKind
from attendance.core.domain.corrections import RequestStatus
from attendance.core.domain.deliveries import DeliveryState
from attendance.core.domain.model import Role
from attendance.core.errors import NotFound
from attendance.services import access, corrections, dashboard, tenant_settings, webhooks, workforce_requests
from attendance.services.chat import decide_review
from attendance.services.dashboard import parse_day
from attendance.services.exports import filename, to_csv, to_xlsx
from attendance.services.reports import local_range

MAX_JSON = 64 * 1024


async def json_body(request: web.Request) -> dict[str, Any]:
    raw = await read_capped(request, MAX_JSON, "The body is larger than 64 KB.")
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid", "The body is not JSON.") from None
    except RecursionError:
        raise ApiError(400, "invalid", "The body is nested too deeply.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid", "The body must be a JSON object.")
    return body


def limit_of(request: web.Request, default: int = 50) -> int:
    text = request.query.get("limit")
    if text is None:
        return default
    if not text.isdigit() or not 1 <= int(text) <= 200:
        raise ApiError(400, "invalid", "limit is a whole number from 1 to 200.")
    return int(text)


def cursor_text(request: web.Request) -> str | None:
    text = request.query.get("cursor")
    if text is not None and (not text or len(text) > 200):
        raise ApiError(400, "invalid", "That cursor is not one this server gave out.")
    return text


def bad_cursor() -> ApiError:
    return ApiError(400, "invalid", "That cursor is not one this server gave out.")


MAX_TEXT_FIELD = 2_048  # any text a person types here: names, reasons, URLs, notes


def text_field(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise ApiError(400, "invalid", f"'{name}' is required.")
        return None
    if not isinstance(value, str):
        raise ApiError(400, "invalid", f"'{name}' must be a string.")
    if len(value) > MAX_TEXT_FIELD:
        raise ApiError(400, "invalid", f"'{name}' is too long (at most {MAX_TEXT_FIELD:,} characters).")
    return value


def decision_of(body: dict[str, Any]) -> bool:
    value = body.get("decision")
    if value not in ("approve", "reject"):
        raise ApiError(400, "invalid", "'decision' is 'approve' or 'reject'.")
    return bool(value == "approve")


def page(items: list[Any], next_cursor: str | None) -> web.Response:
    return web.json_response({"items": items, "next_cursor": next_cursor})


class ApiHandlers:
    def __init__(self, deps: WebDeps) -> None:
        self.d = deps

    # ------------------------------------------------------------ helpers

    async def _range(self, request: web.Request, p: Principal) -> tuple[date, date]:
        tenant = await dashboard.tenant_of(p, deps=self.d.dash)
        today = self.d.dash.clock.now().astimezone(ZoneInfo(tenant.timezone)).date()
        first = parse_day(request.query.get("from"), today)
        last = parse_day(request.query.get("to"), first)
        dashboard.check_range(first, last)
        return first, last

    async def _people_ids(self, request: web.Request, p: Principal) -> list[str] | None:
        """The ids to read (None: the whole tenant, for admins and payroll without filters)."""
        employee, team = request.query.get("employee"), request.query.get("team")
        if employee:
            return [(await dashboard.person(p, employee, deps=self.d.dash)).id]
        if team:
            return [x.id for x in await dashboard.visible(p, deps=self.d.dash) if x.manager_id == team]
        if p.reads_all:
            return None
        return [x.id for x in await dashboard.visible(p, deps=self.d.dash)]

    # ------------------------------------------------------------ people and attendance

    async def api_me(self, request: web.Request) -> web.Response:
        p = principal_of(request)
        return web.json_response(
            {
                "tenant_id": p.tenant_id,
                "name": p.name,
                "kind": p.kind.value,
                "roles": sorted(r.value for r in p.roles),
                "employee_id": p.employee_id,
            }
        )

    async def api_employees(self, request: web.Request) -> web.Response:
        p = principal_of(request)
        limit, after = limit_of(request), cursor_text(request)
        if after is not None:
            try:
                after = str(js.decode_cursor(after)[0])
            except ValueError:
                raise bad_cursor() from None
        if not p.reads_all and p.employee_id is None:
            return page([], None)
        people = await self.d.dash.employees.page(
            p.tenant_id, after=after, limit=limit, visible_to=None if p.reads_all else p.employee_id
        )
        nxt = js.encode_cursor(people[-1].id) if len(people) == limit else None
        return page([js.employee(e) for e in people if p.may_see(e)], nxt)

    async def api_employee(self, request: web.Request) -> web.Response:
        p = principal_of(request)
        return web.json_response(
            js.employee(await dashboard.person(p, request.match_info["employee_id"], deps=self.d.dash))
        )

    async def api_face_erase(self, request: web.Request) -> web.Response:
        deleted = await dashboard.erase_face_data_of(
            principal_of(request),
            request.match_info["employee_id"],
            deps=self.d.dash,
            enrollment=self.d.chat.enrollment,
        )
        return web.json_response({"templates_deleted": deleted})

    async def api_events(self, request: web.Request) -> web.Response:
        p = principal_of(request)
        first, last = await self._range(request, p)
        ids = await self._people_ids(request, p)
        limit, text = limit_of(request, 100), cursor_text(request)
        try:
            after = js.time_cursor(text) if text else None
        except ValueError:
            raise bad_cursor() from None
        tenant = await dashboard.tenant_of(p, deps=self.d.dash)
        start, end = local_range(tenant, first, last)
        if ids == []:
            return page([], None)
        events = await self.d.dash.store.page(tenant.id, start, end, employee_ids=ids, after=after, limit=limit)
        nxt = js.encode_cursor(events[-1].at, events[-1].id) if len(events) == limit else None
        return page([js.event(e) for e in events if first <= e.local_date <= last], nxt)

    async def _sheet_page(self, request: web.Request) -> tuple[list[dashboard.SheetRow], str | None]:
        p = principal_of(request)
        first, last = await self._range(request, p)
        ids = await self._people_ids(request, p)
        limit, text = limit_of(request, 50), cursor_text(request)
        try:
            after = str(js.decode_cursor(text)[0]) if text else None
        except ValueError:
            raise bad_cursor() from None
        if ids is None:
            people = await self.d.dash.employees.page(p.tenant_id, after=after, limit=limit)
            ids = [x.id for x in people]
            more = len(people) == limit
        else:
            ids = sorted(i for i in ids if after is None or i > after)
            more = len(ids) > limit
            ids = ids[:limit]
        if not ids:
            return [], None
        _, rows = await dashboard.timesheet(p, first, last, deps=self.d.dash, employee_ids=ids)
        rows.sort(key=lambda r: r.employee.id)
        return rows, (js.encode_cursor(ids[-1]) if more else None)

    async def api_days(self, request: web.Request) -> web.Response:
        rows, nxt = await self._sheet_page(request)
        return page([js.day(d, v) for r in rows for d, v in zip(r.days, r.statuses, strict=True)], nxt)

    async def api_timesheets(self, request: web.Request) -> web.Response:
        rows, nxt = await self._sheet_page(request)
        return page([js.totals(r.employee, r.totals) for r in rows], nxt)

    async def api_timesheet_export(self, request: web.Request) -> web.StreamResponse:
        p = principal_of(request)
        first, last = await self._range(request, p)
        ids = await self._people_ids(request, p)
        return await export_response(self.d, p, first, last, ids=ids, fmt=request.query.get("format", "csv"))

    async def api_today(self, request: web.Request) -> web.Response:
        p = principal_of(request)
        board = await dashboard.today_board(p, deps=self.d.dash, team=request.query.get("team") or None)
        return web.json_response(js.board(board))

    # ------------------------------------------------------------ review and corrections

    async def api_review(self, request: web.Request) -> web.Response:
        p = principal_of(request)
        status = request.query.get("status", "open")
        if status not in ("open", "approved", "rejected", "all"):
            raise ApiError(400, "invalid", "status is open, approved, rejected or all.")
        limit, text = limit_of(request), cursor_text(request)
        try:
            after = js.time_cursor(text) if text else None
        except ValueError:
            raise bad_cursor() from None
        items = await self.d.chat.reviews.page(
            p.tenant_id, status=None if status == "all" else status, after=after, limit=limit
        )
        nxt = js.encode_cursor(items[-1].at, items[-1].id) if len(items) == limit else None
        return page([js.review(i) for i in items], nxt)

    async def api_review_decide(self, request: web.Request) -> web.Response:
        p = principal_of(request)
        approve = decision_of(await json_body(request))
        tenant = await dashboard.tenant_of(p, deps=self.d.dash)
        item, _ = await decide_review(tenant, p, request.match_info["item_id"], approve, deps=self.d.chat)
        decided = await self.d.chat.reviews.get(tenant.id, item.id)
        if decided is None:
            raise NotFound("That review item does not exist any more.")
        return web.json_response(js.review(decided))

    async def api_corrections(self, request: web.Request) -> web.Response:
        p = principal_of(request)
        status_text = request.query.get("status")
        try:
            status = RequestStatus(status_text) if status_text else None
        except ValueError:
            raise ApiError(400, "invalid", "status is open, approved or rejected.") from None
        limit, text = limit_of(request), cursor_text(request)
        try:
            after = js.time_cursor(text) if text else None
        except ValueError:
            raise bad_cursor() from None
        found = await corrections.corrections(p, status=status, after=after, limit=limit, deps=self.d.dash)
        nxt = js.encode_cursor(found[-1].requested_at, found[-1].id) if len(found) == limit else None
        return page([js.correction(r) for r in found], nxt)

    async def api_correction_request(self, request: web.Request) -> web.Response:
        p = principal_of(request)
        body = await json_body(request)
        void = body.get("void", False)
        if not isinstance(void, bool):
            raise ApiError(400, "invalid", "'void' is true or false.")
        made = await corrections.request_correction(
            p,
            direction=text_field(body, "direction"),
            at=text_field(body, "at"),
            supersedes=text_field(body, "supersedes"),
            void=void,
            reason=text_field(body, "reason", required=True) or "",
            deps=self.d.dash,
        )
        return web.json_response(js.correction(made), status=201)

    async def api_correction_decide(self, request: web.Request) -> web.Response:
        p = principal_of(request)
        body = await json_body(request)
        decided = await corrections.decide_correction(
            p,
            request.match_info["request_id"],
            approve=decision_of(body),
            note=text_field(body, "note"),
            deps=self.d.dash,
        )
        return web.json_response(js.correction(decided))

    # ------------------------------------------------------------ the working day

    async def api_time_off(self, request: web.Request) -> web.Response:
        p = principal_of(request)
        first, last = await self._range(request, p)
        rows = await workforce_requests.time_off_list(
            p, first, last, employee_id=request.query.get("employee") or None, deps=self.d.chat
        )
        return web.json_response({"items": [js.time_off(r.time_off) for r in rows]})

    async def api_time_off_request(self, request: web.Request) -> web.Response:
        p = principal_of(request)
        body = await json_body(request)
        first = parse_day(text_field(body, "first", required=True), date.min)
        made = await workforce_requests.ask(
            p,
            first=first,
            last=parse_day(text_field(body, "last"), first),
            kind=text_field(body, "kind") or "vacation",
            half_day=text_field(body, "half_day"),
            note=text_field(body, "note") or "",
            employee_id=text_field(body, "employee"),
            deps=self.d.chat,
        )
        return web.json_response(js.time_off(made), status=201)

    async def api_time_off_decide(self, request: web.Request) -> web.Response:
        p = principal_of(request)
        body = await json_body(request)
        decided = await workforce_requests.decide(
            p, request.match_info["time_off_id"], decision_of(body), deps=self.d.chat
        )
        return web.json_response(js.time_off(decided))

    async def api_schedule_set(self, request: web.Request) -> web.Response:
        p = principal_of(request)
        body = await json_body(request)
        person = await workforce_requests.set_schedule(p, request.match_info["employee_id"], body, deps=self.d.chat)
        return web.json_response(js.employee(person))

    async def api_deactivate(self, request: web.Request) -> web.Response:
        p = principal_of(request)
        body = await json_body(request)
        person = await workforce_requests.deactivate(
            p, request.match_info["employee_id"], text_field(body, "on"), deps=self.d.chat
        )
        return web.json_response(js.employee(person))

    async def api_reactivate(self, request: web.Request) -> web.Response:
        person = await workforce_requests.reactivate(
            principal_of(request), request.match_info["employee_id"], deps=self.d.chat
        )
        return web.json_response(js.employee(person))

    # ------------------------------------------------------------ settings and integrations

    async def api_settings(self, request: web.Request) -> web.Response:
        return web.json_response(await tenant_settings.read_settings(principal_of(request), deps=self.d.dash))

    async def api_settings_update(self, request: web.Request) -> web.Response:
        p = principal_of(request)
        return web.json_response(await tenant_settings.update_settings(p, await json_body(request), deps=self.d.dash))

    async def api_webhooks(self, request: web.Request) -> web.Response:
        p = principal_of(request)
        subs = await self.d.subscriptions.list(p.tenant_id)
        return web.json_response({"items": [js.subscription(s) for s in subs]})

    async def api_webhook_add(self, request: web.Request) -> web.Response:
        p = principal_of(request)
        body = await json_body(request)
        events = body.get("events", [])
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            raise ApiError(400, "invalid", "'events' is a list of event type names (empty: all).")
        tenant = await dashboard.tenant_of(p, deps=self.d.dash)
        sub, secret = await webhooks.add_subscription(
            tenant,
            text_field(body, "url", required=True) or "",
            events,
            by=p.actor,
            subscriptions=self.d.subscriptions,
            audit=self.d.dash.audit,
            clock=self.d.dash.clock,
            destinations=self.d.destinations,
        )
        return web.json_response({**js.subscription(sub), "secret": secret}, status=201)

    async def api_webhook_remove(self, request: web.Request) -> web.Response:
        p = principal_of(request)
        tenant = await dashboard.tenant_of(p, deps=self.d.dash)
        dropped = await webhooks.remove_subscription(
            tenant,
            request.match_info["subscription_id"],
            by=p.actor,
            subscriptions=self.d.subscriptions,
            deliveries=self.d.deliveries,
            audit=self.d.dash.audit,
            clock=self.d.dash.clock,
        )
        return web.json_response({"removed": True, "dropped": dropped})

    async def api_deliveries(self, request: web.Request) -> web.Response:
        p = principal_of(request)
        state = request.query.get("state")
        names = {"failed": DeliveryState.DEAD}
        try:
            states = [names.get(state) or DeliveryState(state)] if state else []
        except ValueError:
            raise ApiError(400, "invalid", "state is pending, delivered, dead, held or failed.") from None
        found = await self.d.deliveries.list(p.tenant_id, states=states, limit=limit_of(request))
        return web.json_response({"items": [js.delivery(x) for x in found]})

    async def api_delivery_replay(self, request: web.Request) -> web.Response:
        p = principal_of(request)
        tenant = await dashboard.tenant_of(p, deps=self.d.dash)
        queued = await webhooks.replay(
            tenant,
            delivery_id=request.match_info["delivery_id"],
            since=None,
            subscription_id=None,
            by=p.actor,
            subscriptions=self.d.subscriptions,
            deliveries=self.d.deliveries,
            audit=self.d.dash.audit,
            clock=self.d.dash.clock,
        )
        return web.json_response({"queued": queued})

    # ------------------------------------------------------------ access

    async def api_audit(self, request: web.Request) -> web.Response:
        p = principal_of(request)
        limit, text = limit_of(request), cursor_text(request)
        try:
            before = js.time_cursor(text) if text else None
        except ValueError:
            raise bad_cursor() from None
        entries = await self.d.trail.entries(p.tenant_id, before=before, limit=limit)
        nxt = js.encode_cursor(entries[-1].at, entries[-1].id) if len(entries) == limit else None
        return page([js.audit(a) for a in entries], nxt)

    async def api_tokens(self, request: web.Request) -> web.Response:
        tokens = await access.list_tokens(principal_of(request), deps=self.d.access)
        return web.json_response({"items": [js.token(t) for t in tokens]})

    async def api_token_create(self, request: web.Request) -> web.Response:
        p = principal_of(request)
        body = await json_body(request)
        try:
            kind = TokenKind(text_field(body, "kind", required=True) or "")
            roles = [Role(r) for r in body.get("roles", []) or []]
        except (ValueError, TypeError):
            raise ApiError(400, "invalid", "kind is personal, integration or device; roles are role names.") from None
        token, secret = await access.create_token(
            p,
            name=text_field(body, "name", required=True) or "",
            kind=kind,
            roles=roles,
            employee_id=text_field(body, "employee_id"),
            deps=self.d.access,
        )
        return web.json_response({**js.token(token), "secret": secret}, status=201)

    async def api_token_revoke(self, request: web.Request) -> web.Response:
        await access.revoke_token(principal_of(request), request.match_info["token_id"], deps=self.d.access)
        return web.json_response({"removed": True, "dropped": 0})


async def export_response(
    d: WebDeps, p: Principal, first: date, last: date, *, ids: list[str] | None, fmt: str
) -> web.Response:
    if fmt not in ("csv", "xlsx"):
        raise ApiError(400, "invalid", "format is csv or xlsx.")
    _, rows = await dashboard.timesheet(p, first, last, deps=d.dash, employee_ids=ids)
    name = filename(first, last, fmt)
    await dashboard.record_export(p, name, deps=d.dash)
    if fmt == "csv":
        body, ctype = to_csv(rows)[0], "text/csv"
    else:
        body, ctype = to_xlsx(rows), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return web.Response(
        body=body, content_type=ctype, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
