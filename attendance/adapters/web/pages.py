"""The dashboard's pages: server-rendered, each a thin handler over the same services as the API.
Forms post back here (with the session's CSRF value) and redirect, so a reload never re-posts."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from attendance.adapters.web.api import export_response
from attendance.adapters.web.app import principal_of
from attendance.adapters.web.deps import WebDeps
from attendance.adapters.web.openapi import document
from attendance.adapters.web.render import Renderer
from attendance.adapters.web.signin import redirect
from attendance.core.domain.access import TokenKind
from attendance.core.domain.corrections import RequestStatus
from attendance.core.domain.deliveries import DeliveryState
from attendance.core.domain.model import Role
from attendance.core.errors import ServiceError
from attendance.services import access, corrections, dashboard, tenant_settings, webhooks, workforce_requests
from attendance.services.chat import decide_review, describe_review
from attendance.services.conversation.commands import consent_notice
from attendance.services.kiosk_enrollment import IssuedCode, issue_enrollment_code

log = logging.getLogger(__name__)

PRIVACY_MORE = (
    (
        "What else is stored",
        "your name, work email, manager, roles and chat ids, from your employer's staff list; "
        "each check-in's time, direction, channel and how close the face matched; corrections "
        "and who made them; an audit log of who changed what.",
    ),
    (
        "Your rights",
        "you can erase your face data at any time, at once; your employer's admins can show you what is "
        "stored about you. Attendance records are kept as long as wage and working-time law requires.",
    ),
    (
        "How long it is kept",
        "face data is destroyed once you have not checked in for three years, or sooner if your employer "
        "set a shorter period, and at once when you leave or ask; your employer may also set how long "
        "attendance records are kept (the admins' Settings page and GET /api/v1/settings show the periods in force).",
    ),
    (
        "Who runs this",
        "your employer runs this service for its staff; ask them (your admin or HR) about anything on this page.",
    ),
)
TERMS = (
    (
        "What it is for",
        "recording your own working time: check in and out for yourself only, with a selfie of yourself.",
    ),
    (
        "Not allowed",
        "checking in for someone else, sending photos of other people, or trying to get around the "
        "checks; such attempts are refused and shown to your admins.",
    ),
    (
        "Your records",
        "they belong to your employer's time records; if one is wrong, ask for a correction (the "
        "dashboard's Requests page, or your manager).",
    ),
    (
        "The service",
        "is provided by your employer as it is; it may be unavailable at times, and then you record your "
        "time as your employer says.",
    ),
)


def _period(request: web.Request, today: date) -> tuple[str, date, date, date]:
    """(week|month, the day asked about, first, last) from ?period=&date=."""
    period = request.query.get("period", "week")
    if period not in ("week", "month"):
        period = "week"
    day = dashboard.parse_day(request.query.get("date"), today)
    first, last = dashboard.week_bounds(day) if period == "week" else dashboard.month_bounds(day)
    return period, day, first, last


def _shift(period: str, day: date, steps: int) -> date:
    if period == "week":
        return day + timedelta(weeks=steps)
    month = day.month - 1 + steps
    return date(day.year + month // 12, month % 12 + 1, 1)


class PageHandlers:
    def __init__(self, deps: WebDeps, renderer: Renderer) -> None:
        self.d, self.r = deps, renderer

    async def _today(self, request: web.Request) -> tuple[Any, date]:
        tenant = await dashboard.tenant_of(principal_of(request), deps=self.d.dash)
        return tenant, self.d.dash.clock.now().astimezone(ZoneInfo(tenant.timezone)).date()

    async def home(self, request: web.Request) -> web.StreamResponse:
        p = principal_of(request)
        if p.roles & {Role.MANAGER, Role.ADMIN, Role.PAYROLL}:
            return redirect("/today")
        if p.employee_id:
            return redirect(f"/people/{p.employee_id}")
        return redirect("/api")

    async def today_page(self, request: web.Request) -> web.StreamResponse:
        p = principal_of(request)
        team = request.query.get("team") or None
        board = await dashboard.today_board(p, deps=self.d.dash, team=team)
        managers = [x for x in await dashboard.visible(p, deps=self.d.dash) if Role.MANAGER in x.roles]
        return self.r.page(request, "today.html", board=board, team=team, managers=managers)

    async def today_charts(self, request: web.Request) -> web.StreamResponse:
        """Loaded by the today page after the board (weeks of events: the board does not wait for them)."""
        charts = await dashboard.charts(principal_of(request), deps=self.d.dash)
        return self.r.fragment("charts.html", charts=charts)

    async def today_fragment(self, request: web.Request) -> web.StreamResponse:
        p = principal_of(request)
        board = await dashboard.today_board(p, deps=self.d.dash, team=request.query.get("team") or None)
        return self.r.fragment("board.html", board=board)

    async def person_page(self, request: web.Request) -> web.StreamResponse:
        return await self._person(request)

    async def enrollment_code(self, request: web.Request) -> web.StreamResponse:
        """A one-time kiosk enrollment code for the person, shown on their page this once."""
        p = principal_of(request)
        tenant = await self.d.dash.tenants.get(p.tenant_id)
        if tenant is None:
            raise web.HTTPNotFound()
        issued = await issue_enrollment_code(
            tenant,
            request.match_info["employee_id"],
            issued_by=p.actor,
            deps=self.d.chat,
            codes=self.d.enrollment_codes,
        )
        return await self._person(request, issued=issued)

    async def _person(self, request: web.Request, issued: IssuedCode | None = None) -> web.StreamResponse:
        p = principal_of(request)
        tenant, today = await self._today(request)
        period, day, first, last = _period(request, today)
        view = await dashboard.person_view(p, request.match_info["employee_id"], first, last, deps=self.d.dash)
        own = view.employee.id == p.employee_id
        recent = (self.d.dash.clock.now() - timedelta(days=62), "")  # seen by person(): theirs, recent ones
        mine = await self.d.dash.corrections.page(
            p.tenant_id, employee_ids=[view.employee.id], status=None, after=recent, limit=500
        )
        requests = mine[-10:]
        templates = await self.d.chat.enrollment.templates.count(tenant.id, view.employee.id) if p.is_admin else 0
        leave = await workforce_requests.time_off_list(
            p, today - timedelta(days=31), today + timedelta(days=61), employee_id=view.employee.id, deps=self.d.chat
        )
        return self.r.page(
            request,
            "person.html",
            view=view,
            tenant=tenant,
            period=period,
            first=first,
            last=last,
            prev=_shift(period, day, -1),
            next=_shift(period, day, 1),
            own=own,
            requests=list(reversed(requests)),
            templates=templates,
            issued=issued,
            tz=view.employee.effective_timezone(tenant),
            days=list(zip(view.days, view.statuses, strict=True)),
            schedule=view.employee.effective_schedule(tenant),
            calendar=view.employee.effective_holidays(tenant),
            leave=leave,
            week_days=tenant_settings.DAYS,
        )

    async def face_erase(self, request: web.Request) -> web.StreamResponse:
        employee_id = request.match_info["employee_id"]
        await dashboard.erase_face_data_of(
            principal_of(request), employee_id, deps=self.d.dash, enrollment=self.d.chat.enrollment
        )
        return redirect(f"/people/{employee_id}?notice=erased")

    async def timesheets_page(self, request: web.Request) -> web.StreamResponse:
        p = principal_of(request)
        tenant, today = await self._today(request)
        period, day, first, last = _period(request, today)
        team = request.query.get("team") or None
        _, rows = await dashboard.timesheet(p, first, last, deps=self.d.dash, team=team)
        managers = [x for x in await dashboard.visible(p, deps=self.d.dash) if Role.MANAGER in x.roles]
        hours = [(r.employee.name[:16], round(r.totals.worked.total_seconds() / 3600, 1)) for r in rows[:30]]
        query = f"from={first}&to={last}" + (f"&team={team}" if team else "")
        return self.r.page(
            request,
            "timesheets.html",
            rows=rows,
            period=period,
            first=first,
            last=last,
            prev=_shift(period, day, -1),
            next=_shift(period, day, 1),
            team=team,
            managers=managers,
            hours=hours,
            query=query,
            tenant=tenant,
        )

    async def timesheets_export(self, request: web.Request) -> web.StreamResponse:
        p = principal_of(request)
        _, today = await self._today(request)
        first = dashboard.parse_day(request.query.get("from"), today)
        last = dashboard.parse_day(request.query.get("to"), first)
        team = request.query.get("team")
        ids = [x.id for x in await dashboard.visible(p, deps=self.d.dash) if x.manager_id == team] if team else None
        return await export_response(self.d, p, first, last, ids=ids, fmt=request.query.get("format", "csv"))

    async def review_page(self, request: web.Request) -> web.StreamResponse:
        p = principal_of(request)
        tenant = await dashboard.tenant_of(p, deps=self.d.dash)
        items = await self.d.chat.reviews.open_items(tenant.id, 100)
        described = [(item, *await describe_review(tenant, item, deps=self.d.chat)) for item in items]
        return self.r.page(request, "review.html", items=described)

    async def review_decide(self, request: web.Request) -> web.StreamResponse:
        p = principal_of(request)
        form = await request.post()
        approve = form.get("decision") == "approve"
        tenant = await dashboard.tenant_of(p, deps=self.d.dash)
        await decide_review(tenant, p, request.match_info["item_id"], approve, deps=self.d.chat)
        return redirect(f"/review?notice={'approved' if approve else 'rejected'}")

    async def corrections_page(self, request: web.Request) -> web.StreamResponse:
        p = principal_of(request)
        tenant = await dashboard.tenant_of(p, deps=self.d.dash)
        waiting = await corrections.corrections(p, status=RequestStatus.OPEN, after=None, limit=200, deps=self.d.dash)
        month = (self.d.dash.clock.now() - timedelta(days=31), "")
        lately = await corrections.corrections(p, status=None, after=month, limit=1000, deps=self.d.dash)
        people = {x.id: x for x in await dashboard.visible(p, deps=self.d.dash)}

        def row(r: Any) -> tuple[Any, Any, str]:
            who = people.get(r.employee_id)
            return r, who, corrections.describe(r, tenant, who) if who else ""

        open_rows = [row(r) for r in waiting]  # oldest first: a queue
        done_rows = [row(r) for r in reversed(lately) if r.status is not RequestStatus.OPEN][:50]
        deciding = {r.id for r, who, _ in open_rows if who is not None and p.may_decide_for(who)}
        leave = await workforce_requests.waiting(p, deps=self.d.chat)
        return self.r.page(
            request,
            "corrections.html",
            open_rows=open_rows,
            done_rows=done_rows,
            deciding=deciding,
            leave=leave,
            describe=workforce_requests.describe,
        )

    async def correction_request(self, request: web.Request) -> web.StreamResponse:
        p = principal_of(request)
        form = await request.post()
        text = {k: str(v) for k, v in form.items() if isinstance(v, str)}
        await corrections.request_correction(
            p,
            direction=text.get("direction") or None,
            at=text.get("at") or None,
            supersedes=text.get("supersedes") or None,
            void=text.get("void") == "yes",
            reason=text.get("reason", ""),
            deps=self.d.dash,
        )
        return redirect(f"/people/{p.employee_id}?notice=requested")

    async def correction_decide(self, request: web.Request) -> web.StreamResponse:
        p = principal_of(request)
        form = await request.post()
        approve = form.get("decision") == "approve"
        await corrections.decide_correction(
            p, request.match_info["request_id"], approve=approve, note=str(form.get("note", "")), deps=self.d.dash
        )
        return redirect(f"/corrections?notice={'approved' if approve else 'rejected'}")

    async def time_off_request(self, request: web.Request) -> web.StreamResponse:
        """Ask for one's own time off (an admin may name someone else: recorded, approved)."""
        p = principal_of(request)
        f = {k: str(v) for k, v in (await request.post()).items() if isinstance(v, str)}
        first = dashboard.parse_day(f.get("first"), date.min)
        if first == date.min:
            raise ServiceError("Choose the first day.")
        employee = f.get("employee") or None
        await workforce_requests.ask(
            p,
            first=first,
            last=dashboard.parse_day(f.get("last"), first),
            kind=f.get("kind") or "vacation",
            half_day=f.get("half_day") or None,
            note=f.get("note", ""),
            employee_id=employee,
            deps=self.d.chat,
        )
        mine = employee is None or employee == p.employee_id
        return redirect(f"/people/{employee or p.employee_id}?notice=time-off-{'asked' if mine else 'recorded'}")

    async def time_off_decide(self, request: web.Request) -> web.StreamResponse:
        p = principal_of(request)
        form = await request.post()
        approve = form.get("decision") == "approve"
        await workforce_requests.decide(p, request.match_info["time_off_id"], approve, deps=self.d.chat)
        return redirect(f"/corrections?notice={'approved' if approve else 'rejected'}")

    async def schedule_save(self, request: web.Request) -> web.StreamResponse:
        p = principal_of(request)
        employee_id = request.match_info["employee_id"]
        form = await request.post()
        f = {k: str(v) for k, v in form.items() if isinstance(v, str)}
        body: dict[str, object] = {"reminders": f.get("reminders") == "on"}
        if f.get("reset") == "yes":
            body["reset"] = True
        else:
            days = ",".join(d for d in tenant_settings.DAYS if f.get(f"day_{d}") == "on")
            body.update(days=days or None, hours=f.get("hours") or None, grace_minutes=f.get("grace_minutes") or None)
            body["weekly_hours"] = f.get("weekly_hours") or None
        body["holidays"] = f.get("holidays") or "company"
        await workforce_requests.set_schedule(p, employee_id, body, deps=self.d.chat)
        return redirect(f"/people/{employee_id}?notice=schedule-saved")

    async def deactivation_save(self, request: web.Request) -> web.StreamResponse:
        p = principal_of(request)
        employee_id = request.match_info["employee_id"]
        form = await request.post()
        if form.get("action") == "reactivate":
            await workforce_requests.reactivate(p, employee_id, deps=self.d.chat)
            return redirect(f"/people/{employee_id}?notice=reactivated")
        on = form.get("on")
        await workforce_requests.deactivate(p, employee_id, str(on) if on else None, deps=self.d.chat)
        return redirect(f"/people/{employee_id}?notice=deactivated")

    async def settings_page(self, request: web.Request) -> web.StreamResponse:
        p = principal_of(request)
        current = await tenant_settings.read_settings(p, deps=self.d.dash)
        return self.r.page(
            request,
            "settings.html",
            s=current,
            sweep=self.d.dash.model.sweep,
            days=tenant_settings.DAYS,
            error=None,
        )

    async def settings_save(self, request: web.Request) -> web.StreamResponse:
        p = principal_of(request)
        form = await request.post()
        f = {k: str(v) for k, v in form.items() if isinstance(v, str)}
        try:
            patch: dict[str, object] = {
                "timezone": f.get("timezone", ""),
                "schedule": {
                    "start": f.get("start", ""),
                    "end": f.get("end", ""),
                    "weekdays": [d for d in tenant_settings.DAYS if f"day_{d}" in f],
                    "grace_minutes": int(f.get("grace_minutes", "x")),
                },
                "policy": {
                    "duplicate_window_minutes": int(f.get("duplicate_window_minutes", "x")),
                    "replay_check": "replay_check" in f,
                    "replay_retention_days": int(f.get("replay_retention_days", "x")),
                    "freshness_minutes": int(f.get("freshness_minutes", "x")),
                    "delete_chat_photos": "delete_chat_photos" in f,
                    "adapt_templates": "adapt_templates" in f,
                    "pose_challenge": "pose_challenge" in f,
                },
                "thresholds": None
                if "default_thresholds" in f
                else {"verify": float(f.get("verify", "x")), "accept": float(f.get("accept", "x"))},
            }
            if "weekly_hours" in f:  # the working day's parts (a form without them leaves them as they are)
                patch["holidays"] = f.get("holidays") or None
                patch["weekly_hours"] = float(f["weekly_hours"])
                patch["reminders"] = {
                    "enabled": "reminders_enabled" in f,
                    "check_out_after_minutes": int(f.get("check_out_after_minutes", "x")),
                    "max_shift_hours": float(f.get("max_shift_hours", "x")),
                    "check_in_after_minutes": int(f.get("check_in_after_minutes", "x")),
                    "digest_at": f.get("digest_at", ""),
                    "weekly_digest": "weekly_digest" in f,
                }
            await tenant_settings.update_settings(p, patch, deps=self.d.dash)
        except (ValueError, ServiceError) as exc:
            message = str(exc) if isinstance(exc, ServiceError) else "Numbers only in the number fields."
            current = await tenant_settings.read_settings(p, deps=self.d.dash)
            return self.r.page(
                request,
                "settings.html",
                status=400,
                s=current,
                sweep=self.d.dash.model.sweep,
                days=tenant_settings.DAYS,
                error=message,
            )
        return redirect("/settings?notice=saved")

    async def integrations_page(self, request: web.Request) -> web.StreamResponse:
        p = principal_of(request)
        subs = await self.d.subscriptions.list(p.tenant_id)
        failed = await self.d.deliveries.list(p.tenant_id, states=[DeliveryState.DEAD], limit=50)
        stats = await self.d.deliveries.stats(p.tenant_id, self.d.dash.clock.now())
        names = {s.id: s for s in subs}
        return self.r.page(request, "integrations.html", subs=subs, failed=failed, stats=stats, names=names)

    async def delivery_replay(self, request: web.Request) -> web.StreamResponse:
        p = principal_of(request)
        tenant = await dashboard.tenant_of(p, deps=self.d.dash)
        await webhooks.replay(
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
        return redirect("/integrations?notice=replayed")

    async def access_page(self, request: web.Request, created: tuple[Any, str] | None = None) -> web.Response:
        p = principal_of(request)
        tokens = await access.list_tokens(p, deps=self.d.access)
        people = await dashboard.visible(p, deps=self.d.dash)
        return self.r.page(
            request, "access.html", tokens=tokens, people=people, created=created, roles=[r.value for r in Role]
        )

    async def token_create(self, request: web.Request) -> web.StreamResponse:
        p = principal_of(request)
        form = await request.post()
        f = {k: str(v) for k, v in form.items() if isinstance(v, str)}
        try:
            kind = TokenKind(f.get("kind", ""))
            roles = [Role(f["role"])] if f.get("role") else []
        except ValueError as exc:
            raise ServiceError("Choose a kind of token and, for an integration, its role.") from exc
        created = await access.create_token(
            p,
            name=f.get("name", ""),
            kind=kind,
            roles=roles,
            employee_id=f.get("employee_id") or None,
            deps=self.d.access,
        )
        return await self.access_page(request, created)

    async def token_revoke(self, request: web.Request) -> web.StreamResponse:
        await access.revoke_token(principal_of(request), request.match_info["token_id"], deps=self.d.access)
        return redirect("/access?notice=revoked")

    async def audit_page(self, request: web.Request) -> web.StreamResponse:
        from attendance.adapters.web import serialise as js

        p = principal_of(request)
        text = request.query.get("before")
        try:
            before = js.time_cursor(text) if text else None
        except ValueError as exc:
            raise ServiceError("That link is broken. Open the audit log again from the menu.") from exc
        entries = await self.d.trail.entries(
            p.tenant_id, before=before, limit=100, action=request.query.get("action") or None
        )
        older = js.encode_cursor(entries[-1].at, entries[-1].id) if len(entries) == 100 else None
        return self.r.page(
            request, "audit.html", entries=entries, older=older, tz=(await self._today(request))[0].timezone
        )

    async def privacy_page(self, request: web.Request) -> web.StreamResponse:
        """What is stored, why, for how long, who sees it, how to erase it (the consent notice's facts)."""
        sections = [*consent_notice("“forget me” in the chat with the bot"), *PRIVACY_MORE]
        return self._policy(request, "Privacy", sections, self.d.settings.web.privacy_file)

    async def terms_page(self, request: web.Request) -> web.StreamResponse:
        return self._policy(request, "Terms of use", TERMS, self.d.settings.web.terms_file)

    def _policy(
        self, request: web.Request, title: str, sections: Sequence[tuple[str, str]], replaced_by: Path | None
    ) -> web.Response:
        """The page as we wrote it, or the operator's text file instead (shown as text, paragraph by paragraph)."""
        paragraphs = None
        if replaced_by is not None:
            try:
                text = replaced_by.read_text(encoding="utf-8")[:100_000]
            except OSError:
                log.warning("the %s page file cannot be read; showing ours", title.lower())
            else:
                paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
        return self.r.page(request, "policy.html", title=title, sections=sections, paragraphs=paragraphs)

    async def api_page(self, request: web.Request) -> web.StreamResponse:
        return self.r.page(request, "api.html", doc=document())

    async def api_openapi(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(document(f"{request.scheme}://{request.host}"))
