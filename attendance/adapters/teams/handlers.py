"""The Teams handlers: parse what Teams sent, call a chat service, answer with text or a card.

They run inside the Agents SDK's turn, before Teams gets its 202: a few database reads and, for
a selfie, storing the check-in job (so an acknowledged selfie is never lost). The worker answers
the check-in later as a proactive message; enrollment and exports run as background tasks and
answer the same way. Everything is said through ``BotConnector``.
"""

from __future__ import annotations

import logging
from typing import Any

from attendance.adapters.teams import cards
from attendance.adapters.teams.activities import IncomingPhoto, Turn
from attendance.adapters.teams.connector import BotConnector
from attendance.adapters.teams.replier import TeamsAdminMessages, TeamsPhotoSource
from attendance.core.domain.checkins import PhotoRef, Requested
from attendance.core.domain.model import ChatIdentity, DomainError, Employee, Tenant
from attendance.core.errors import ServiceError
from attendance.core.ports import Clock, DownloadLinks, PhotoUnavailable, TeamsAddress, TeamsAddresses, TenantRepository
from attendance.services import chat
from attendance.services.background import Background
from attendance.services.checkin import CheckInDeps, RequestCheckIn, submit_check_in
from attendance.services.conversation import turns as talk
from attendance.services.conversation.answers import Answer, AskToDecide, Dialect, ExportMonth, TellAdmins
from attendance.services.conversation.commands import ChatCommand, parse
from attendance.services.conversation.lines import THREE_SELFIES, enrollment_result
from attendance.services.directory import tenant_for
from attendance.services.replies import photo_problem

log = logging.getLogger(__name__)

MAX_ENROLL_PHOTOS = 3
TEAMS = Dialect(
    workspace="Microsoft Teams organisation",
    account="your Microsoft account",
    command="`{}`",
    bold="**{}**",
    quote="*{}*",
    person_hint="name or email",
    manager_usage="PERSON MANAGER",
    forget="forget me",
    marks=("⚪", "🟢", "🔴"),
    celebrate="🎉",
    warning="⚠️",
    search="🔍",
    help_hint="Send a selfie to check in or out, or type **help** to see what I can do.",
    export_to="here as a download link",
)
NOT_CONNECTED = talk.not_connected(TEAMS)
IN_PERSONAL_CHAT = (
    "Check-ins happen in our personal chat, so your selfie stays between us. "
    "Open a chat with me and send your selfie there."
)
WELCOME = (
    "Hi! Send me a selfie here to check in or out (add *in* or *out* if you like). "
    "New here? Type **enroll**. Type **help** for everything else."
)


def not_on_staff(tenant: Tenant) -> str:
    return talk.not_on_staff(TEAMS, tenant)


class TeamsHandlers:
    def __init__(
        self,
        *,
        chat_deps: chat.ChatDeps,
        checkin: CheckInDeps,
        tenants: TenantRepository,
        connector: BotConnector,
        photos: TeamsPhotoSource,
        addresses: TeamsAddresses,
        admins: TeamsAdminMessages,
        links: DownloadLinks,
        notice_version: str,
        clock: Clock,
        background: Background,
        public_url: str,
    ) -> None:
        self._chat, self._checkin, self._tenants, self._connector = chat_deps, checkin, tenants, connector
        self._photos, self._addresses, self._admins, self._links = photos, addresses, admins, links
        self._notice, self._clock, self._bg, self._public = notice_version, clock, background, public_url.rstrip("/")
        self._talk = talk.Conversation(chat_deps=chat_deps, clock=clock, dialect=TEAMS)
        self._known: set[tuple[str, str, str]] = set()  # (tenant, person, conversation) with a stored address

    # ------------------------------------------------------------ entry

    async def on_turn(self, turn: Turn) -> None:
        if not self._connector.allowed(turn.service_url):
            log.warning("teams activity with a service URL outside the allowed hosts; ignored")
            return
        if turn.kind == "conversationUpdate":
            if turn.bot_added and turn.personal:
                await self._installed(turn)
                await self.say(turn, WELCOME)
            return
        if turn.kind != "message":
            return
        if not turn.personal:
            await self.say(turn, IN_PERSONAL_CHAT)
            return
        identities = self._chat.enrollment.identities
        tenant = await tenant_for("teams", turn.teams_tenant, tenants=self._tenants, identities=identities)
        if tenant is None:
            await self.say(turn, NOT_CONNECTED)
            return
        try:
            teams_user = ChatIdentity("teams", turn.teams_tenant, turn.user_id)
        except DomainError:
            await self.say(turn, not_on_staff(tenant))
            return
        person = await chat.resolve_person(tenant, teams_user, lambda: self._email_of(turn), deps=self._chat)
        if person is None:
            await self.say(turn, not_on_staff(tenant))
            return
        await self._remember(tenant, person, turn)
        try:
            if turn.value is not None:
                await self._button(turn, tenant, person, turn.value)
            elif turn.photos:
                await self._photos_sent(turn, tenant, person)
            elif turn.other_files:
                await self.say(turn, "That file isn't a photo. Send a selfie (JPEG, PNG, HEIC or WebP) to check in.")
            else:
                await self._command(turn, tenant, person, parse(turn.text))
        except (ServiceError, ValueError) as exc:
            await self.say(turn, str(exc))

    async def _installed(self, turn: Turn) -> None:
        """The app was added to someone's personal scope (by them, or for everyone by an admin with
        Graph): remember the chat, so reminders reach them before they ever write."""
        identities = self._chat.enrollment.identities
        tenant = await tenant_for("teams", turn.teams_tenant, tenants=self._tenants, identities=identities)
        if tenant is None or not turn.user_id:
            return
        try:
            teams_user = ChatIdentity("teams", turn.teams_tenant, turn.user_id)
        except DomainError:
            return
        person = await chat.resolve_person(tenant, teams_user, lambda: self._email_of(turn), deps=self._chat)
        if person is not None:
            await self._remember(tenant, person, turn)

    async def say(self, turn: Turn, text: str, *attachments: cards.Card) -> None:
        await self._connector.send(
            turn.service_url, turn.conversation_id, cards.message(text, *attachments), reply_to=turn.activity_id or None
        )

    async def _email_of(self, turn: Turn) -> str | None:
        member = await self._connector.member(turn.service_url, turn.conversation_id, turn.from_id)
        email = (member or {}).get("email") or (member or {}).get("userPrincipalName")
        return str(email) if email else None

    async def _remember(self, tenant: Tenant, person: Employee, turn: Turn) -> None:
        key = (tenant.id, person.id, turn.conversation_id)
        if key not in self._known:
            address = TeamsAddress(turn.service_url, turn.conversation_id, turn.user_id)
            await self._addresses.remember(tenant.id, person.id, address, self._clock.now())
            self._known.add(key)

    # ------------------------------------------------------------ selfies

    async def _photos_sent(self, turn: Turn, tenant: Tenant, person: Employee) -> None:
        consented = await self._chat.enrollment.consents.active(tenant.id, person.id) is not None
        enrolled = await chat.is_enrolled(tenant, person, deps=self._chat)
        if "enroll" in turn.words or (consented and not enrolled):
            if not consented:
                await self.say(
                    turn, "First read what is stored and agree; then send your selfies again.", cards.consent_card()
                )
                return
            await self.say(turn, "Thanks! I'm checking your photos now; I'll tell you the result here in a moment.")
            self._bg.spawn(self._enroll(turn, tenant, person, turn.photos[:MAX_ENROLL_PHOTOS]), "teams-enroll")
            return
        words = turn.words
        requested = Requested.OUT if "out" in words else Requested.IN if "in" in words else Requested.AUTO
        photo = turn.photos[0]
        _, fresh = await submit_check_in(
            RequestCheckIn(
                tenant_id=tenant.id,
                channel="teams",
                identity_kind="teams",
                identity=turn.user_id,
                photo=PhotoRef(kind="teams", ref=photo.url),
                requested=requested,
                idempotency_key=f"teams:{turn.conversation_id}:{turn.activity_id}",
                context={"service_url": turn.service_url, "conversation": turn.conversation_id, "fetch": photo.fetch},
            ),
            jobs=self._checkin.jobs,
            clock=self._clock,
        )
        log.info("teams selfie queued new=%s", fresh)

    async def _enroll(self, turn: Turn, tenant: Tenant, person: Employee, photos: tuple[IncomingPhoto, ...]) -> None:
        fetched: list[bytes | str] = []
        for p in photos:
            try:
                fetched.append(await self._photos.download(p.url, p.fetch, turn.service_url, None))
            except PhotoUnavailable as exc:
                fetched.append(photo_problem(str(exc)))
        report = await chat.enroll_with_consent(tenant, person, fetched, notice_version=self._notice, deps=self._chat)
        text = enrollment_result(
            report, person.name, "-", "Send up to 3 new selfies.", more="send me more with the word *enroll*."
        )
        await self.say(turn, text)

    # ------------------------------------------------------------ buttons

    async def _button(self, turn: Turn, tenant: Tenant, person: Employee, value: dict[str, Any]) -> None:
        action, item_id = str(value.get("action")), str(value.get("id") or "")
        d = self._chat
        match action:
            case "enroll":
                await self._command(turn, tenant, person, parse("enroll"))
            case "consent" if str(value.get("agree")).lower() == "true":
                await chat.give_consent(tenant, person, notice_version=self._notice, deps=d)
                await self.say(
                    turn,
                    f"Thank you. Now send me up to 3 selfies in one message. {THREE_SELFIES} "
                    "Just you, facing the camera, in good light.",
                )
            case "consent":
                await self.say(turn, "Please tick the box to agree, or choose *No, thanks*.")
            case "consent_declined":
                await self.say(turn, "OK, nothing was stored. Ask your manager how else to record your time.")
            case _:
                answer = await self._talk.button(talk.Asker(tenant, person), action, item_id)
                await self._answer(turn, tenant, person, answer)

    async def _answer(self, turn: Turn, tenant: Tenant, person: Employee, answer: Answer) -> None:
        """Say the conversation's answer: a list as a card, review items as cards with their buttons."""
        if answer.reviews:
            await self.say(
                turn, answer.text, *[cards.review_card(r, TEAMS) for r in answer.reviews[: cards.REVIEWS_SHOWN]]
            )
        elif answer.lines is not None:
            await self.say(turn, answer.text, cards.list_card(answer.text, answer.lines))
        else:
            await self.say(turn, answer.text)
        match answer.follow_up:
            case ExportMonth() as job:
                self._bg.spawn(self._export(turn, tenant, person, job), "teams-export")
            case TellAdmins() as tell:
                self._bg.spawn(self._tell_admins(tenant, tell), "teams-tell-admins")
            case AskToDecide() as ask:
                self._bg.spawn(self._ask(tenant, ask), "teams-ask")

    async def _ask(self, tenant: Tenant, ask: AskToDecide) -> None:
        await self._admins.tell(tenant, list(ask.deciders), cards.message(ask.title, cards.decision_card(ask)))

    async def _tell_admins(self, tenant: Tenant, tell: TellAdmins) -> None:
        message = cards.message("A check-in to review", cards.review_card(tell.review, TEAMS))
        await self._admins.tell(tenant, list(tell.admins), message)

    # ------------------------------------------------------------ text commands

    async def _command(self, turn: Turn, tenant: Tenant, person: Employee, cmd: ChatCommand) -> None:
        if cmd.name == "enroll":
            if await self._chat.enrollment.consents.active(tenant.id, person.id) is not None:
                await self.say(
                    turn,
                    f"Send me up to 3 selfies in one message, with the word *enroll*. {THREE_SELFIES} "
                    "Just you, facing the camera, in good light.",
                )
            else:
                await self.say(turn, "Selfie check-in", cards.consent_card())
            return
        if cmd.name == "unknown" and turn.words & {"in", "out"}:
            await self.say(turn, "Attach a selfie to that message, then I can check you in or out.")
            return
        await self._answer(turn, tenant, person, await self._talk.command(talk.Asker(tenant, person), cmd))

    async def _export(self, turn: Turn, tenant: Tenant, person: Employee, job: ExportMonth) -> None:
        try:
            name, data, comment = await self._talk.export(talk.Asker(tenant, person), job)
        except ServiceError as exc:
            await self.say(turn, str(exc))
            return
        token = await self._links.put(tenant.id, person.id, name, data, self._clock.now())
        url = f"{self._public}/teams/downloads/{token}"
        await self.say(turn, comment, cards.file_card(name, url, comment))
