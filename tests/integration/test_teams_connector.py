"""The worker's side of Teams with bot credentials: the token comes from the (stand-in) Entra
token endpoint over HTTP and goes only where the connector wants it; the pre-authorised download
URL never receives it. Real database, real worker and face engine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from attendance.adapters.embedded.secantus import EmbeddedMongo
from attendance.adapters.http.oauth import OAuthTokens
from attendance.adapters.teams.connector import BotConnector, EntraTeamsTokens, TeamsUnavailable
from attendance.core.domain.checkins import PhotoRef
from attendance.core.domain.model import ChatIdentity, new_id
from attendance.core.ports import PhotoUnavailable
from attendance.entrypoints.bootstrap import Container, build
from attendance.services.checkin import RequestCheckIn, submit_check_in
from attendance.services.worker import JobWorker
from attendance.settings import Settings, TeamsSettings
from tests.fakes.teams import APP_ID, APP_SECRET, FakeTeams
from tests.harness.checkins import FAST, tenant_with_people


@pytest.fixture
async def teams() -> AsyncIterator[FakeTeams]:
    t = FakeTeams(require_token=True)
    await t.start()
    yield t
    await t.stop()


def credentials(teams: FakeTeams, **more: Any) -> TeamsSettings:
    fields: dict[str, Any] = {
        "client_id": APP_ID,
        "client_secret": APP_SECRET,
        "token_url": teams.token_url,
        "service_hosts": ["127.0.0.1"],
        **more,
    }
    return TeamsSettings(**fields)


@pytest.fixture
async def c(settings: Settings, mongo_server: EmbeddedMongo, engine: Any, teams: FakeTeams) -> AsyncIterator[Container]:
    async with build(
        settings.model_copy(update={"teams": credentials(teams)}), uri=mongo_server.uri, engine=engine
    ) as c:
        yield c
        await c.client.drop_database(settings.database.name)


async def _check_in(
    c: Container, teams: FakeTeams, tenant_id: str, employee_id: str, attachment: dict[str, Any], fetch: str
) -> None:
    await c.deps.identities.link_user(tenant_id, employee_id, ChatIdentity("teams", "", f"aad-{employee_id}"))
    url = attachment.get("contentUrl") or attachment["content"]["downloadUrl"]
    await submit_check_in(
        RequestCheckIn(
            tenant_id=tenant_id,
            channel="teams",
            identity_kind="teams",
            identity=f"aad-{employee_id}",
            photo=PhotoRef(kind="teams", ref=url),
            idempotency_key=new_id(),
            context={"service_url": teams.service_url, "conversation": f"a:{employee_id}", "fetch": fetch},
        ),
        jobs=c.checkin.jobs,
        clock=c.checkin.clock,
    )


async def test_with_credentials_the_answer_and_pasted_image_carry_the_token_and_the_download_url_never(
    c: Container, teams: FakeTeams, photo: Any
) -> None:
    tenant_id, people = await tenant_with_people(c, photo)
    ada, bob = people["ada"], people["bob"]
    await _check_in(c, teams, tenant_id, ada.id, teams.upload(photo("Serena_Williams/2.jpg")), "download")
    await _check_in(c, teams, tenant_id, bob.id, teams.paste(photo("Queen_Rania/2.jpg")), "connector")
    worker = JobWorker(deps=c.checkin, replier=c.replier, buffer=c.buffer, settings=FAST, name="t")
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        await teams.wait_for(lambda: len(teams.sent) >= 2)
    finally:
        stop.set()
        await task
    token = f"Bearer {teams.tokens_issued[0]}"
    assert len(teams.tokens_issued) == 1  # fetched once, then cached
    assert {(kind, auth) for kind, _, auth in teams.downloads} == {("file", None), ("pasted", token)}
    assert [s.authorization for s in teams.sent] == [token, token] and teams.refused == 0
    texts = sorted(s.activity["summary"] for s in teams.sent)
    assert texts[0].startswith("Checked in at ") and texts[1].startswith("Checked in at ")


async def test_a_revoked_token_is_replaced_once_and_a_forged_service_url_gets_nothing(
    c: Container, teams: FakeTeams
) -> None:
    await c.teams.send(teams.service_url, "a:x", {"type": "message", "text": "one"})
    teams.tokens_issued.clear()  # the connector no longer accepts the cached token
    await c.teams.send(teams.service_url, "a:x", {"type": "message", "text": "two"})
    assert len(teams.tokens_issued) == 1 and [s.activity["text"] for s in teams.sent] == ["one", "two"]
    with pytest.raises(TeamsUnavailable, match="not a Microsoft host"):
        await c.teams.send("https://attacker.example/", "a:x", {"type": "message", "text": "three"})
    pasted = teams.paste(b"...")["contentUrl"]
    with pytest.raises(PhotoUnavailable, match="not on the conversation's Teams service"):
        await c.teams_photos.download(pasted, "connector", "https://smba.trafficmanager.net/emea/", None)
    with pytest.raises(PhotoUnavailable, match="Microsoft's file hosts"):
        await c.teams_photos.download("https://attacker.example/a.jpg", "download", teams.service_url, None)
    assert teams.downloads == []


async def test_a_file_download_follows_redirects_only_to_allowed_hosts_and_never_carries_the_token(
    c: Container, teams: FakeTeams
) -> None:
    upload = teams.upload(b"\xff\xd8 a photo")["content"]["downloadUrl"]
    blob, auth = upload.rsplit("/", 1)[1].split("?")
    # the file host redirects to another host (one the settings do not name): not followed
    with pytest.raises(PhotoUnavailable, match="chat platform's files"):
        await c.teams_photos.download(
            f"{teams.base}/moved/localhost/{blob}?{auth}", "download", teams.service_url, None
        )
    assert teams.downloads == []
    # a redirect within the allowed hosts is followed, without a token
    data = await c.teams_photos.download(
        f"{teams.base}/moved/127.0.0.1/{blob}?{auth}", "download", teams.service_url, None
    )
    assert data == b"\xff\xd8 a photo" and [(k, a) for k, _, a in teams.downloads] == [("file", None)]


async def test_wrong_credentials_are_a_clear_permanent_error(teams: FakeTeams) -> None:
    async with aiohttp.ClientSession() as http:
        bad = credentials(teams, client_secret="wrong")
        connector = BotConnector(http, EntraTeamsTokens(bad, OAuthTokens(http)), bad.allowed_hosts)
        with pytest.raises(TeamsUnavailable, match="refused the credentials") as caught:
            await connector.send(teams.service_url, "a:x", {"type": "message", "text": "hi"})
        assert caught.value.transient is False and teams.sent == []


async def test_dispatcher_alerts_reach_admins_who_wrote_to_the_bot(c: Container, teams: FakeTeams) -> None:
    from attendance.adapters.mongo.teams_addresses import MongoTeamsAddresses
    from attendance.core.domain.model import Employee, Role
    from attendance.core.messages import CreateTenant
    from attendance.core.ports import TeamsAddress
    from attendance.entrypoints.bootstrap import dispatcher
    from attendance.services.tenants import create_tenant

    tenant = await create_tenant(
        CreateTenant(name="Contoso", chats=(ChatIdentity("teams", "T1"),)),
        tenants=c.deps.tenants,
        identities=c.deps.identities,
    )
    admins = [
        await c.deps.employees.upsert(
            Employee(
                id=new_id(),
                tenant_id=tenant.id,
                name=n,
                email=f"{n}@c.example",
                roles=frozenset({Role.EMPLOYEE, Role.ADMIN}),
            )
        )
        for n in ("ada", "bea")
    ]
    now = c.deps.clock.now()
    await MongoTeamsAddresses(c.db).remember(
        tenant.id, admins[0].id, TeamsAddress(teams.service_url, "a:ada", "u"), now
    )
    await dispatcher(c).deps.alerts.alert(tenant.id, "Deliveries to https://hooks.example failed.", now)
    [sent] = teams.sent
    assert sent.conversation == "a:ada" and sent.authorization == f"Bearer {teams.tokens_issued[0]}"
    assert "Deliveries to https://hooks.example failed." in sent.activity["text"]
