"""Check-ins, events, corrections and reports from the command line, with a real worker process."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

CSV = "name,email,slack_user_id,teams_user_id,manager_email,roles,photo\nAda,ada@example.com,U1,,,,ada.jpg\n"


def test_check_in_list_correct_and_report(
    cli,
    worker_process: subprocess.Popen[bytes],
    faces_dir: Path,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "ada.jpg").symlink_to(faces_dir / "Serena_Williams" / "1.jpg")
    (tmp_path / "people.csv").write_text(CSV)
    assert cli("tenants", "create", "Acme", "--timezone", "Europe/Berlin").returncode == 0
    imported = cli(
        "employees",
        "import",
        str(tmp_path / "people.csv"),
        "--tenant",
        "Acme",
        "--photos",
        str(photos),
        "--consent-recorded-by",
        "hr@example.com",
    )
    assert imported.returncode == 0, imported.stdout + imported.stderr

    policy = json.loads(cli("tenants", "policy", "Acme", "--duplicate-window", "2").stdout)
    assert policy["duplicate_window_minutes"] == 2 and policy["replay_check"] is True

    selfie = str(faces_dir / "Serena_Williams" / "2.jpg")
    checked_in = cli("checkin", "submit", selfie, "--tenant", "Acme", "--employee", "ada@example.com", "--key", "k1")
    assert checked_in.returncode == 0, checked_in.stdout + checked_in.stderr
    assert "Checked in at" in checked_in.stdout and "(Europe/Berlin)" in checked_in.stdout
    again = cli("checkin", "submit", selfie, "--tenant", "Acme", "--employee", "ada@example.com", "--key", "k1")
    assert "already submitted with that key" in again.stdout and "Checked in at" in again.stdout
    replay = cli("checkin", "submit", selfie, "--tenant", "Acme", "--employee", "ada@example.com")
    assert replay.returncode == 4 and "already used" in replay.stdout
    wall = tmp_path / "wall.txt"
    wall.write_text("not a photo")
    refused = cli("checkin", "submit", str(wall), "--tenant", "Acme", "--employee", "ada@example.com")
    assert refused.returncode == 4 and "not a photo I can read" in refused.stdout

    listed = json.loads(cli("events", "list", "--tenant", "Acme", "--json").stdout)
    assert len(listed) == 1 and listed[0]["direction"] == "in" and listed[0]["timezone"] == "Europe/Berlin"
    event_id = listed[0]["id"]
    local_day = listed[0]["local"][:10]

    fixed = cli(
        "events",
        "correct",
        "--tenant",
        "Acme",
        "--employee",
        "ada@example.com",
        "--supersedes",
        event_id,
        "--at",
        f"{local_day} 08:00",
        "--reason",
        "badge reader queue",
        "--by",
        "boss@example.com",
    )
    assert fixed.returncode == 0, fixed.stderr
    out = cli(
        "events",
        "correct",
        "--tenant",
        "Acme",
        "--employee",
        "ada@example.com",
        "--direction",
        "out",
        "--at",
        f"{local_day} 16:30",
        "--reason",
        "forgot to check out",
    )
    assert out.returncode == 0, out.stderr
    twice = cli(
        "events",
        "correct",
        "--tenant",
        "Acme",
        "--employee",
        "ada@example.com",
        "--supersedes",
        event_id,
        "--reason",
        "again",
    )
    assert twice.returncode == 1 and "already corrected" in twice.stderr

    report = json.loads(cli("report", "day", "--tenant", "Acme", "--date", local_day, "--json").stdout)
    (ada,) = report["people"]
    day = ada["days"][0]
    assert (day["first_in"], day["last_out"], day["worked_minutes"]) == ("08:00", "16:30", 510)
    assert day["missing_check_out"] is False
    week = json.loads(cli("report", "week", "--tenant", "Acme", "--date", local_day, "--json").stdout)
    assert len(week["people"][0]["days"]) == 7 and week["people"][0]["worked_minutes"] == 510
    text = cli("report", "day", "--tenant", "Acme", "--date", local_day).stdout
    assert "ada@example.com" in text and "worked 8h30" in text
