"""The kiosk: a tablet at the door, paired once with a device token an admin created. It posts
a camera frame; the worker **identifies** the person (no claimed identity, strict thresholds);
the tablet asks for the result and greets the person by first name, or asks them to try again."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from aiohttp import web

from attendance.domain.access import PrincipalKind
from attendance.domain.checkins import JobState, OutcomeKind, PhotoRef, Requested
from attendance.services.access import SignInRefused, pair_device
from attendance.services.checkin import RequestCheckIn, submit_check_in
from bot.web.app import PRINCIPAL, ApiError, principal_of, read_capped
from bot.web.deps import WebDeps
from bot.web.signin import SignIn

MAX_PHOTO = 5 * 1024 * 1024
_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
UNSURE = "I'm not sure it's you. Please look at the camera and try again, or check in from chat."


def greeting(kind: OutcomeKind, first: str, direction: str | None, when: str) -> str:
    if kind is OutcomeKind.ACCEPTED:
        return f"Welcome, {first}! Checked in at {when}." if direction == "in" else (
            f"Goodbye, {first}! Checked out at {when}.")  # fmt: skip
    if kind is OutcomeKind.DUPLICATE:
        return f"{first}, you were already checked {direction} at {when}."
    return UNSURE


class Kiosk:
    def __init__(self, deps: WebDeps, signin: SignIn) -> None:
        self.d, self.signin = deps, signin

    async def kiosk_page(self, request: web.Request) -> web.StreamResponse:
        p = request.get(PRINCIPAL)
        if p is not None and p.kind is PrincipalKind.DEVICE:
            return self.signin.r.page(request, "kiosk.html", device=p)
        return self.signin.form_page(request, "kiosk_pair.html", error=None)

    async def kiosk_pair(self, request: web.Request) -> web.StreamResponse:
        try:
            form = await self.signin.check_form(request)
            principal = await pair_device(form.get("token", ""), deps=self.d.access)
        except SignInRefused as exc:
            return self.signin.form_page(request, "kiosk_pair.html", status=400, error=str(exc))
        return self.signin.start_session(principal, "/kiosk")

    async def kiosk_check_in(self, request: web.Request) -> web.Response:
        p = principal_of(request)
        key = request.headers.get("Idempotency-Key", "")
        if not _KEY.match(key):
            raise ApiError(400, "invalid", "Each photo needs an Idempotency-Key header (8-64 letters or digits).")
        if not request.content_type.startswith("image/"):
            raise ApiError(415, "unsupported", "Send the photo itself as image/jpeg.")
        data = await read_capped(request, MAX_PHOTO, "The photo is larger than 5 MB.")
        if not data:
            raise ApiError(400, "invalid", "The photo is empty. Please try again.")
        try:
            requested = Requested(request.query.get("direction", "auto"))
        except ValueError:
            raise ApiError(400, "invalid", "direction is in, out or auto.") from None
        buffered = await self.d.buffer.put(p.tenant_id, data)
        job, created = await submit_check_in(
            RequestCheckIn(tenant_id=p.tenant_id, channel="kiosk", identity_kind="none", identity=None,
                           photo=PhotoRef(kind="buffer", ref=buffered, size=len(data)),
                           idempotency_key=f"kiosk:{p.actor}:{key}", requested=requested,
                           context={"device": p.actor}),
            jobs=self.d.jobs, clock=self.d.dash.clock,
        )  # fmt: skip
        if not created:
            await self.d.buffer.delete(buffered)
        return web.json_response({"job_id": job.id}, status=202)

    async def kiosk_result(self, request: web.Request) -> web.Response:
        p = principal_of(request)
        job = await self.d.jobs.get(request.match_info["job_id"])
        if job is None or job.tenant_id != p.tenant_id or job.context.get("device") != p.actor:
            raise ApiError(404, "not_found", "No such check-in from this kiosk.")
        if job.state is not JobState.DONE or job.outcome is None:
            return web.json_response({"state": "pending"})
        o = job.outcome
        first = (o.name or "").split()[0] if o.name else ""
        tenant = await self.d.dash.tenants.get(p.tenant_id)
        zone = ZoneInfo(o.timezone or (tenant.timezone if tenant else "UTC"))
        when = o.at.astimezone(zone).strftime("%H:%M") if o.at else ""
        direction = o.direction.value if o.direction else None
        if o.kind is OutcomeKind.NO_USABLE_FACE and o.detail:
            message = o.detail
        elif o.kind is OutcomeKind.REPLAYED_PHOTO:
            message = "That picture was used before. Please take a new one."
        elif o.kind is OutcomeKind.FAILED:
            message = "Something went wrong on our side. Please try again, or check in from chat."
        else:
            message = greeting(o.kind, first, direction, when)
        ok = o.kind in (OutcomeKind.ACCEPTED, OutcomeKind.DUPLICATE)
        return web.json_response({"state": "done", "result": o.kind.value, "ok": ok, "first_name": first if ok else "",
                                  "direction": direction if ok else None, "time": when if ok else "",
                                  "message": message})  # fmt: skip
