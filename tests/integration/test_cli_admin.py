"""The admin command line against the real database: through its entry point, and as a separate process
where the process itself matters (exit codes, one line on stderr)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def photos(tmp_path: Path, faces_dir: Path) -> Iterator[Path]:
    """A photo folder for the import: links to the face set, plus files made here."""
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "ada.jpg").symlink_to(faces_dir / "Serena_Williams" / "1.jpg")
    (folder / "bob.jpg").symlink_to(faces_dir / "Kit_Harington" / "1.jpg")
    (folder / "notes.jpg").write_text("not a photo at all")
    yield folder


CSV = """name,email,slack_user_id,teams_user_id,manager_email,roles,photo
Ada Lovelace,ada@example.com,U01,,grace@example.com,,ada.jpg
Bob Builder,bob@example.com,U02,,grace@example.com,,bob.jpg
Cy Clone,cy@example.com,U03,,,,notes.jpg
Dee Missing,dee@example.com,,,,,missing.jpg
Grace Hopper,grace@example.com,,29:grace,,manager;admin,
Broken,not-an-email,,,,,
Eve Sneaky,eve@example.com,,,,,../../etc/passwd
"""


def test_import_enrolls_up_to_three_photos_each_held_to_the_earlier_ones(  # type: ignore[no-untyped-def]
    cli, faces_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "three"
    folder.mkdir()
    for name, source in {
        "ada-1.jpg": "Serena_Williams/1.jpg",
        "ada-2.jpg": "Serena_Williams/2.jpg",
        "ada-3.jpg": "Kit_Harington/1.jpg",  # someone else's face among hers
    }.items():
        (folder / name).symlink_to(faces_dir / source)
    csv_path = tmp_path / "three.csv"
    csv_path.write_text("name,email,photo\nAda Lovelace,ada@example.com,ada-1.jpg;ada-2.jpg;ada-3.jpg\n")
    assert cli("tenants", "create", "Acme").returncode == 0
    args = ("employees", "import", str(csv_path), "--tenant", "Acme", "--photos", str(folder))
    result = cli(*args, "--consent-recorded-by", "hr@example.com")
    assert "imported 1 employees, enrolled 2 photos" in result.stdout, result.stdout + result.stderr
    assert "line 2 (ada@example.com): imported, photo 'ada-3.jpg' not enrolled: This face does not match" in (
        result.stdout
    )
    (row,) = json.loads(cli("employees", "list", "--tenant", "Acme", "--json").stdout)
    assert row["face_templates"] == 2


def test_tenants_create_and_list(cli) -> None:  # type: ignore[no-untyped-def]
    made = cli("tenants", "create", "Acme", "--slack-team", "T123", "--timezone", "Europe/Berlin")
    assert made.returncode == 0, made.stderr
    assert "created tenant 'Acme'" in made.stdout
    again = cli("tenants", "create", "acme")
    assert again.returncode == 1 and "already exists" in again.stderr
    bad_tz = cli("tenants", "create", "Globex", "--timezone", "Berlin")
    assert bad_tz.returncode == 1 and "unknown time zone" in bad_tz.stderr
    listed = cli("tenants", "list")
    assert "Acme" in listed.stdout and "slack:T123" in listed.stdout


def test_import_reports_every_problem_and_imports_the_rest(cli, photos: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("tenants", "create", "Acme").returncode == 0
    csv_path = tmp_path / "people.csv"
    csv_path.write_text(CSV)

    without_consent = cli("employees", "import", str(csv_path), "--tenant", "Acme", "--photos", str(photos))
    assert without_consent.returncode == 3
    assert "imported 6 employees, enrolled 0 photos" in without_consent.stdout
    assert "no consent on record" in without_consent.stdout

    result = cli(
        "employees",
        "import",
        str(csv_path),
        "--tenant",
        "Acme",
        "--photos",
        str(photos),
        "--consent-recorded-by",
        "hr@example.com",
    )
    out = result.stdout
    assert result.returncode == 3, result.stderr
    assert "imported 6 employees, enrolled 2 photos" in out  # same people again: updated, not doubled
    assert "line 4 (cy@example.com): imported, photo not enrolled: That file is not a photo I can read" in out
    assert "line 5 (dee@example.com): imported, photo not enrolled: cannot read 'missing.jpg'" in out
    assert "line 7 (not-an-email)" in out
    assert "line 8 (eve@example.com): imported, photo not enrolled" in out and "leaves the photo folder" in out

    listed = json.loads(cli("employees", "list", "--tenant", "Acme", "--json").stdout)
    by_email = {row["email"]: row for row in listed}
    assert len(listed) == 6
    assert by_email["ada@example.com"]["face_templates"] == 1
    assert by_email["ada@example.com"]["manager_id"] == by_email["grace@example.com"]["id"]
    assert by_email["grace@example.com"]["roles"] == ["admin", "employee", "manager"]

    shown = json.loads(cli("employees", "show", "ada@example.com", "--tenant", "Acme").stdout)
    assert shown["consent"]["recorded_by"] == "hr@example.com"
    assert shown["consent"]["method"] == "signed-form"
    assert len(shown["face_templates"]) == 1
    assert "embedding" not in json.dumps(shown)

    erased = cli("employees", "erase", "ada@example.com", "--tenant", "Acme", "--by", "ada@example.com")
    assert erased.returncode == 0 and "erased 1 face templates" in erased.stdout
    shown = json.loads(cli("employees", "show", "ada@example.com", "--tenant", "Acme").stdout)
    assert shown["face_templates"] == [] and shown["consent"] is None


def test_user_errors_are_one_clear_line(cli_process, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli = cli_process  # as a user runs it: a process, its exit code and one line on stderr
    missing = cli("employees", "import", str(tmp_path / "nope.csv"), "--tenant", "Acme")
    assert missing.returncode == 1 and "No such file" in missing.stderr
    assert "Traceback" not in missing.stderr
    no_tenant = cli("employees", "list", "--tenant", "Nobody")
    assert no_tenant.returncode == 1 and "no tenant named 'Nobody'" in no_tenant.stderr
    binary = tmp_path / "photo.csv"
    binary.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF")
    assert cli("tenants", "create", "Acme").returncode == 0
    wrong_type = cli("employees", "import", str(binary), "--tenant", "Acme")
    assert wrong_type.returncode == 1 and "not a UTF-8 text file" in wrong_type.stderr
