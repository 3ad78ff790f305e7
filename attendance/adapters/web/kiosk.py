"""The kiosk: a tablet at the door, paired once with a device token an admin created. It posts
a camera frame; the worker **identifies** the person (no claimed identity, strict thresholds);
the tablet asks for the result and greets the person by first name, or asks them to try again.

It also enrolls: a person types the one-time code an admin issued for them, reads the consent
notice, agrees, and the camera takes up to three photos (``services/kiosk_enrollment.py``). Wrong
codes count against the kiosk: after five in 15 minutes it takes no code for a while."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from aiohttp import BodyPartReader, web

from attendance.adapters.web.app import PRINCIPAL, ApiError, principal_of, read_capped
from attendance.adapters.web.deps import WebDeps
from attendance.adapters.web.limits import Throttle
from attendance.adapters.web.signin import SignIn
from attendance.core.domain.access import PrincipalKind
from attendance.core.domain.checkins import JobState, OutcomeKind, PhotoRef, Requested
from attendance.core.domain.model import Tenant
from attendance.core.errors import ServiceError
from attendance.services.access import SignInRefused, pair_device
from attendance.services.checkin import RequestCheckIn, submit_check_in
from attendance.services.conversation.commands import CONSENT_AGREEMENT, CONSENT_CHOICE, consent_notice
from attendance.services.conversation.lines import enrollment_result, first_name
from attendance.services.kiosk_enrollment import MAX_KIOSK_PHOTOS, CodeRefused, enroll_at_kiosk, person_of_code

MAX_PHOTO = 5 * 1024 * 1024
_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
UNSURE = "I'm not sure it's you. Please look at the camera and try again, or check in from chat."


def greeting(kind: OutcomeKind, first: str, direction: str | None, when: str) -> str:
    if kind is OutcomeKind.ACCEPTED:
        return (
            f"Welcome, {first}! Checked in at {when}."
            if direction == "in"
            else (f"Goodbye, {first}! Checked out at {when}.")
        )
    if kind is OutcomeKind.DUPLICATE:
        return f"{first}, you were already checked {direction} at {when}."
    return UNSURE


GUESSING = "Too many wrong codes on this kiosk. Wait 15 minutes, or ask your admin for help."
MAX_FIELD = 64


class Kiosk:
    def __init__(self, deps: WebDeps, signin: SignIn) -> None:
        self.d, self.signin = deps, signin
        self.guesses = Throttle()  # per kiosk: wrong enrollment codes

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
            RequestCheckIn(
                tenant_id=p.tenant_id,
                channel="kiosk",
                identity_kind="none",
                identity=None,
                photo=PhotoRef(kind="buffer", ref=buffered, size=len(data)),
                idempotency_key=f"kiosk:{p.actor}:{key}",
                requested=requested,
                context={"device": p.actor},
            ),
            jobs=self.d.jobs,
            clock=self.d.dash.clock,
        )
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
        first = first_name(o.name or "")
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
        return web.json_response(
            {
                "state": "done",
                "result": o.kind.value,
                "ok": ok,
                "first_name": first if ok else "",
                "direction": direction if ok else None,
                "time": when if ok else "",
                "message": message,
            }
        )

    async def _tenant(self, tenant_id: str) -> Tenant:
        tenant = await self.d.dash.tenants.get(tenant_id)
        if tenant is None:
            raise ApiError(404, "not_found", "This kiosk's organisation no longer exists.")
        return tenant

    async def kiosk_enroll_code(self, request: web.Request) -> web.Response:
        """Whose code it is, and the notice they read before agreeing."""
        p = principal_of(request)
        if self.guesses.blocked(p.actor):
            raise ApiError(429, "too_many", GUESSING)
        try:
            body = await request.json()
        except ValueError:
            raise ApiError(400, "invalid", 'Send the code as JSON: {"code": "ABCD-2345"}.') from None
        typed = body.get("code") if isinstance(body, dict) else None
        if not isinstance(typed, str):
            raise ApiError(400, "invalid", "Type the enrollment code your admin gave you.")
        try:
            person = await person_of_code(
                await self._tenant(p.tenant_id), typed, deps=self.d.chat, codes=self.d.enrollment_codes
            )
        except CodeRefused as exc:
            self.guesses.failed(p.actor)
            raise ApiError(400, "invalid_code", str(exc)) from None
        notice = [{"title": t, "text": x} for t, x in consent_notice("the words “forget me” in chat")]
        return web.json_response(
            {
                "first_name": first_name(person.name),
                "notice": notice,
                "choice": CONSENT_CHOICE,
                "agreement": CONSENT_AGREEMENT,
                "photos": MAX_KIOSK_PHOTOS,
            }
        )

    async def kiosk_enroll(self, request: web.Request) -> web.Response:
        """A multipart form: ``code``, ``agree`` (``true``) and 1-3 ``photo`` parts (image/jpeg)."""
        p = principal_of(request)
        if self.guesses.blocked(p.actor):
            raise ApiError(429, "too_many", GUESSING)
        if not request.content_type.startswith("multipart/form-data"):
            raise ApiError(415, "unsupported", "Send the code, the agreement and the photos as multipart/form-data.")
        try:
            fields, photos = await _read_form(request)
        except ValueError:  # no boundary, a broken part: nothing of it is used
            raise ApiError(400, "invalid", "The form could not be read. Please try again.") from None
        tenant = await self._tenant(p.tenant_id)
        try:
            person, report = await enroll_at_kiosk(
                tenant,
                fields.get("code", ""),
                [x for x in photos if x],
                agreed=fields.get("agree") == "true",
                device=p.actor,
                notice_version=self.d.settings.consent_notice_version,
                deps=self.d.chat,
                codes=self.d.enrollment_codes,
            )
        except CodeRefused as exc:
            self.guesses.failed(p.actor)
            raise ApiError(400, "invalid_code", str(exc)) from None
        except ServiceError as exc:
            raise ApiError(400, "invalid", str(exc)) from None
        message = enrollment_result(
            report,
            person.name,
            "–",
            "Take new photos: just you, facing the camera.",
            then="Tap the button to check in or out.",
        )
        return web.json_response(
            {
                "ok": report.enrolled > 0,
                "enrolled": report.enrolled,
                "templates": report.templates_now,
                "first_name": first_name(person.name),
                "message": message,
            }
        )


async def _capped(part: BodyPartReader, cap: int, too_large: str) -> bytes:
    chunks, size = [], 0
    while chunk := await part.read_chunk(64 * 1024):
        size += len(chunk)
        if size > cap:
            raise ApiError(413, "too_large", too_large)
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_form(request: web.Request) -> tuple[dict[str, str], list[bytes]]:
    """The kiosk's enrollment form: its text fields and its photos, each bounded."""
    fields: dict[str, str] = {}
    photos: list[bytes] = []
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or part.name not in ("code", "agree", "photo"):
            raise ApiError(400, "invalid", "Only code, agree and photo belong in the form.")
        if part.name == "photo":
            if len(photos) == MAX_KIOSK_PHOTOS:
                raise ApiError(400, "invalid", f"At most {MAX_KIOSK_PHOTOS} photos.")
            if not (part.headers.get("Content-Type") or "").startswith("image/"):
                raise ApiError(415, "unsupported", "Each photo is sent as an image (image/jpeg).")
            photos.append(await _capped(part, MAX_PHOTO, "A photo is larger than 5 MB."))
        else:
            fields[part.name] = (await _capped(part, MAX_FIELD, "That field is too long.")).decode(errors="replace")
    return fields, photos
