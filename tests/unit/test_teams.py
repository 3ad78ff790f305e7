"""Teams pieces without I/O: reading activities, settings, hosts, cards and the app package."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image

from attendance.adapters.teams.activities import turn_of
from attendance.adapters.teams.cards import outcome_message
from attendance.adapters.teams.connector import endpoint, host_allowed
from attendance.adapters.teams.replier import FETCH_CONNECTOR, FETCH_DOWNLOAD
from attendance.core.domain.checkins import Direction, Outcome, OutcomeKind
from attendance.settings import Settings, TeamsSettings

ROOT = Path(__file__).resolve().parents[2]


def activity(**over: object) -> dict[str, object]:
    a: dict[str, object] = {
        "type": "message",
        "id": "1733",
        "serviceUrl": "https://smba.trafficmanager.net/emea/",
        "from": {"id": "29:abc", "aadObjectId": "aad-1"},
        "recipient": {"id": "28:bot"},
        "conversation": {"id": "a:conv", "conversationType": "personal", "tenantId": "T1"},
        "text": "",
    }
    a.update(over)
    return a


def test_both_photo_shapes_are_read_and_the_html_rendering_and_other_files_are_not() -> None:
    turn = turn_of(
        activity(
            attachments=[
                {
                    "contentType": "application/vnd.microsoft.teams.file.download.info",
                    "name": "me.HEIC",
                    "content": {"downloadUrl": "https://contoso.sharepoint.com/x?tempauth=1", "fileType": "heic"},
                },
                {
                    "contentType": "image/*",
                    "contentUrl": "https://smba.trafficmanager.net/emea/v3/attachments/9/views/original",
                },
                {"contentType": "text/html", "content": "<div><img src=...></div>"},
                {
                    "contentType": "application/vnd.microsoft.teams.file.download.info",
                    "content": {"downloadUrl": "https://contoso.sharepoint.com/y", "fileType": "pdf"},
                },
                {"contentType": "image/png", "contentUrl": "javascript:alert(1)"},
            ]
        )
    )
    assert [(p.fetch, p.url.split("/")[2]) for p in turn.photos] == [
        (FETCH_DOWNLOAD, "contoso.sharepoint.com"),
        (FETCH_CONNECTOR, "smba.trafficmanager.net"),
    ]
    assert turn.other_files == 1


def test_who_and_where_come_from_the_activity_with_fallbacks() -> None:
    turn = turn_of(activity(text="<at>Attendance</at>&nbsp; Week  <b>Jane</b> ", value={"action": "undo", "id": "e1"}))
    assert (turn.user_id, turn.from_id, turn.teams_tenant, turn.personal) == ("aad-1", "29:abc", "T1", True)
    assert turn.text == "Week Jane" and turn.value == {"action": "undo", "id": "e1"}
    bare = turn_of(
        activity(
            **{
                "from": {"id": "29:abc"},
                "conversation": {"id": "c", "conversationType": "channel"},
                "channelData": {"tenant": {"id": "T2"}},
                "value": {"no": "action"},
            }
        )
    )
    assert (bare.user_id, bare.teams_tenant, bare.personal, bare.value) == ("29:abc", "T2", False, None)
    hostile = turn_of({"type": "message", "from": ["x"], "conversation": 5, "attachments": {"a": 1}, "text": 7})
    assert (hostile.user_id, hostile.conversation_id, hostile.photos, hostile.text) == ("", "", (), "")
    added = turn_of(activity(type="conversationUpdate", membersAdded=[{"id": "29:abc"}, {"id": "28:bot"}]))
    assert added.bot_added and not turn_of(activity(type="conversationUpdate", membersAdded=[{"id": "29:x"}])).bot_added


def test_the_sdks_own_variable_names_configure_the_bot(monkeypatch: pytest.MonkeyPatch) -> None:
    closed = Settings().teams
    assert not closed.anonymous and not closed.has_credentials and "127.0.0.1" not in closed.allowed_hosts
    anonymous = TeamsSettings(allow_anonymous=True)
    assert anonymous.anonymous and "127.0.0.1" in anonymous.allowed_hosts
    monkeypatch.setenv("CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID", "app-1")
    monkeypatch.setenv("CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTSECRET", "s3cret")
    monkeypatch.setenv("CONNECTIONS__SERVICE_CONNECTION__SETTINGS__TENANTID", "tenant-9")
    teams = Settings().teams
    assert not teams.anonymous and teams.client_id == "app-1" and "s3cret" not in repr(teams)
    assert teams.token_endpoint == "https://login.microsoftonline.com/tenant-9/oauth2/v2.0/token"
    assert "127.0.0.1" not in teams.allowed_hosts


def test_only_microsoft_hosts_and_their_subdomains_are_allowed_and_urls_join_either_way() -> None:
    teams = TeamsSettings(client_id="a", client_secret="b")  # type: ignore[arg-type]
    hosts = teams.download_hosts
    assert host_allowed("https://smba.trafficmanager.net/emea/", hosts)
    assert host_allowed("https://contoso-my.sharepoint.com/personal/x", hosts)
    # the bot's token goes to the connector only, never to a file host
    assert host_allowed("https://smba.trafficmanager.net/emea/", teams.allowed_hosts)
    for file_host in ("https://contoso-my.sharepoint.com/x", "https://x.blob.core.windows.net/y", "https://a.svc.ms/"):
        assert not host_allowed(file_host, teams.allowed_hosts), file_host
    for bad in ("https://evilsharepoint.com/x", "https://sharepoint.com.evil.example/", "http://127.0.0.1/", "x"):
        assert not host_allowed(bad, hosts), bad
    assert endpoint("https://s/emea/", "/v3/c") == "https://s/emea/v3/c"
    assert endpoint("http://localhost:56150/_connector", "v3/c") == "http://localhost:56150/_connector/v3/c"


def test_an_accepted_check_in_card_offers_not_me_and_undo_for_that_event() -> None:
    outcome = Outcome(
        kind=OutcomeKind.ACCEPTED,
        direction=Direction.IN,
        at=datetime(2026, 12, 3, 8, tzinfo=UTC),
        timezone="Europe/Berlin",
        employee_id="e",
        event_id="ev1",
        name="Jane Doe",
    )
    msg = outcome_message(outcome, "Checked in at 09:00 (Europe/Berlin), Jane.")
    content = msg["attachments"][0]["content"]
    assert msg["summary"].startswith("Checked in") and content["body"][0]["text"].endswith("Jane.")
    assert [(a["title"], a["data"]) for a in content["actions"]] == [
        ("Not me", {"action": "not_me", "id": "ev1"}),
        ("Undo", {"action": "undo", "id": "ev1"}),
    ]


def test_the_app_package_holds_the_manifest_with_files_on_and_both_icons(tmp_path: Path) -> None:
    out = tmp_path / "app.zip"
    bot_id = "11111111-2222-4333-8444-555555555555"
    run = [sys.executable, str(ROOT / "scripts" / "teams_package.py"), "--host", "att.example.com", "--out", str(out)]
    refused = subprocess.run([*run, "--bot-id", "YOUR-BOT"], capture_output=True, text=True)
    assert refused.returncode == 2 and "GUID" in refused.stderr and not out.exists()
    assert subprocess.run([*run, "--bot-id", bot_id], capture_output=True).returncode == 0
    with zipfile.ZipFile(out) as z:
        manifest = json.loads(z.read("manifest.json"))
        sizes = {name: Image.open(z.open(name)).size for name in ("color.png", "outline.png")}
    [bot] = manifest["bots"]
    assert manifest["id"] == bot["botId"] == bot_id and bot["supportsFiles"] is True and "personal" in bot["scopes"]
    assert manifest["validDomains"] == ["att.example.com"] and "${" not in json.dumps(manifest)
    assert sizes == {"color.png": (192, 192), "outline.png": (32, 32)}
    import tomllib

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert manifest["version"] == version and "permissions" not in manifest  # legacy, and no longer used


def test_the_app_manifest_validates_against_microsofts_schema_of_its_version(tmp_path: Path) -> None:
    import jsonschema

    out = tmp_path / "app.zip"
    run = [sys.executable, str(ROOT / "scripts" / "teams_package.py"), "--host", "att.example.com", "--out", str(out)]
    assert (
        subprocess.run([*run, "--bot-id", "11111111-2222-4333-8444-555555555555"], capture_output=True).returncode == 0
    )
    with zipfile.ZipFile(out) as z:
        manifest = json.loads(z.read("manifest.json"))
    version = manifest["manifestVersion"]
    assert manifest["$schema"].endswith(f"/teams/v{version}/MicrosoftTeams.schema.json")
    schema = json.loads((ROOT / "infra" / "teams" / "schema" / f"MicrosoftTeams.schema.v{version}.json").read_text())
    # The file says draft-04 but pins manifestVersion with draft-06's "const" (which a draft-04 validator
    # ignores); it uses nothing that draft 7 reads differently, so draft 7 checks all of it.
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    assert [e.message for e in validator.iter_errors(manifest)] == []
    # the schema has teeth: another version's number, an unknown field, a missing privacy link are refused
    broken = json.loads(json.dumps(manifest))
    broken["manifestVersion"] = "1.17"
    broken["bots"][0]["colour"] = "green"
    del broken["developer"]["privacyUrl"]
    assert len(list(validator.iter_errors(broken))) == 3


def test_anonymous_mode_is_asked_for_by_name_and_serve_refuses_it_off_loopback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from attendance.entrypoints.cli import main
    from attendance.settings import ConfigurationError

    monkeypatch.setenv("TEAMS_ALLOW_ANONYMOUS", "1")
    teams = Settings().teams
    assert teams.anonymous
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        teams.check_bind(host)
    for host in ("0.0.0.0", "::", "10.0.0.5", "attendance.example"):
        with pytest.raises(ConfigurationError, match="loopback"):
            teams.check_bind(host)
    assert main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 1
    assert "TEAMS_ALLOW_ANONYMOUS=1 accepts unsigned Teams messages" in capsys.readouterr().err
    # with the bot's credentials anonymous mode is never on, whatever the variable says
    with_credentials = TeamsSettings(client_id="a", client_secret="b", allow_anonymous=True)  # type: ignore[arg-type]
    assert not with_credentials.anonymous
    with_credentials.check_bind("0.0.0.0")


def test_mentions_are_removed_in_one_pass_even_from_hostile_text() -> None:
    from attendance.adapters.teams.activities import clean_text, without_mentions

    assert without_mentions("<at>Attendance</at> week <AT>Bot</AT>") == "  week  "
    assert without_mentions("a <at>unclosed") == "a <at>unclosed"
    assert clean_text("<at>x</at>" * 3 + " in ") == "in"
    hostile = "<at>" * 200_000  # a lazy pattern rescanned the rest of the text for every opener
    assert clean_text(hostile) == ""  # read up to 8,000 characters, every tag dropped
    assert clean_text("<at>" * 100_000 + "</at> in") == ""  # the tail past the bound is never looked at
