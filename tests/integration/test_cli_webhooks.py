"""`attendance webhooks`: the secret is shown once and stored encrypted; rotate, disable, remove."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pymongo import MongoClient


def test_webhook_subscriptions_from_the_command_line(cli: Any, cli_env: dict[str, str]) -> None:
    assert cli("tenants", "create", "Acme").returncode == 0
    added = cli(
        "webhooks",
        "add",
        "--tenant",
        "Acme",
        "--url",
        "https://hr.example/hooks",
        "--events",
        "attendance.check_in.accepted",
        "attendance.check_out.accepted",
    )
    assert added.returncode == 0, added.stderr
    secret = re.search(r"(whsec_[A-Za-z0-9+/=]+)", added.stdout)
    sub_id = re.search(r"webhook (\w+) sends", added.stdout)
    assert secret and sub_id
    sub_id_s, secret_s = sub_id.group(1), secret.group(1)

    listed = cli("webhooks", "list", "--tenant", "Acme")
    assert sub_id_s in listed.stdout and "active" in listed.stdout and "whsec_" not in listed.stdout
    with MongoClient(cli_env["MONGODB_URI"]) as client:
        doc = client[cli_env["ATTENDANCE_DATABASE__NAME"]]["subscriptions"].find_one({"_id": sub_id_s})
    assert doc is not None and secret_s.encode() not in repr(doc).encode()  # encrypted at rest

    rotated = cli("webhooks", "rotate-secret", sub_id_s, "--tenant", "Acme", "--grace-hours", "2")
    assert rotated.returncode == 0 and "whsec_" in rotated.stdout and secret_s not in rotated.stdout
    assert "old secret still signing" in cli("webhooks", "list", "--tenant", "Acme").stdout

    assert cli("webhooks", "disable", sub_id_s, "--tenant", "Acme").returncode == 0
    assert "disabled (disabled by an admin)" in cli("webhooks", "list", "--tenant", "Acme").stdout
    bad = cli("webhooks", "add", "--tenant", "Acme", "--url", "ftp://x/y")
    assert bad.returncode == 1 and "is not an http(s) URL" in bad.stderr
    unknown = cli("webhooks", "add", "--tenant", "Acme", "--url", "https://x.example/", "--events", "everything")
    assert unknown.returncode == 1 and "unknown event type" in unknown.stderr
    assert cli("webhooks", "remove", sub_id_s, "--tenant", "Acme").returncode == 0
    gone = cli("webhooks", "remove", sub_id_s, "--tenant", "Acme")
    assert gone.returncode == 1 and "no webhook" in gone.stderr
    assert "has no webhooks" in cli("webhooks", "list", "--tenant", "Acme").stdout


def test_a_connector_from_the_command_line_keeps_its_credentials_encrypted(
    cli: Any, cli_env: dict[str, str], tmp_path: Path
) -> None:
    assert cli("tenants", "create", "Acme").returncode == 0
    (tmp_path / "isu-password").write_text("s3cret-isu-pw")
    config = tmp_path / "workday.json"
    credentials = {"username": "ISU_Attendance", "password": "@isu-password"}
    config.write_text(
        json.dumps({"config": {"check_in_type": "CLOCK_IN", "check_out_type": "CLOCK_OUT"}, "credentials": credentials})
    )
    url = "https://wd2-impl-services1.workday.com/ccx/service/acme/Time_Tracking/v42.0"
    added = cli("connectors", "add", "--tenant", "Acme", "--type", "workday", "--url", url, "--config", str(config))
    assert added.returncode == 0, added.stderr
    assert "workday connector" in added.stdout and "s3cret" not in added.stdout
    assert "\tworkday\tactive\t" in cli("webhooks", "list", "--tenant", "Acme").stdout
    with MongoClient(cli_env["MONGODB_URI"]) as client:
        doc = client[cli_env["ATTENDANCE_DATABASE__NAME"]]["subscriptions"].find_one({"kind": "workday"})
    assert doc is not None and doc["config"]["check_in_type"] == "CLOCK_IN"
    assert b"s3cret-isu-pw" not in repr(doc).encode()  # the password read from the file is sealed

    config.write_text(
        json.dumps(
            {
                "config": {"check_in_type": "IN", "check_out_type": "OUT"},
                "credentials": {"username": "u", "password": "@no-such-file"},
            }
        )
    )
    missing = cli("connectors", "add", "--tenant", "Acme", "--type", "workday", "--url", url, "--config", str(config))
    assert missing.returncode == 1 and "no-such-file" in missing.stderr and "Traceback" not in missing.stderr
    config.write_text(json.dumps({"config": {"check_in_type": "IN"}, "credentials": {}}))
    incomplete = cli(
        "connectors", "add", "--tenant", "Acme", "--type", "workday", "--url", url, "--config", str(config)
    )
    assert incomplete.returncode == 1 and "needs check_out_type" in incomplete.stderr
