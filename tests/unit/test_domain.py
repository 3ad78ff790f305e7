from __future__ import annotations

import pickle

import pytest

from attendance.core.domain.faces import MESSAGES, PhotoRefused, RefusalReason
from attendance.core.domain.model import DomainError, Role, check_timezone, normalise_email, parse_roles


def test_roles_from_a_csv_cell() -> None:
    assert parse_roles("") == {Role.EMPLOYEE}
    assert parse_roles("Manager; admin") == {Role.EMPLOYEE, Role.MANAGER, Role.ADMIN}
    assert parse_roles("payroll|manager") == {Role.EMPLOYEE, Role.PAYROLL, Role.MANAGER}
    with pytest.raises(DomainError, match="unknown role 'boss'"):
        parse_roles("boss")


def test_emails_are_normalised_and_checked() -> None:
    assert normalise_email("  Ada@Example.COM ") == "ada@example.com"
    for bad in ("", "ada", "ada@", "a b@example.com"):
        with pytest.raises(DomainError):
            normalise_email(bad)


def test_time_zones_must_exist() -> None:
    assert check_timezone("Europe/Berlin") == "Europe/Berlin"
    with pytest.raises(DomainError, match="IANA"):
        check_timezone("Mars/Olympus")


def test_every_refusal_has_a_sentence_for_a_person() -> None:
    assert set(MESSAGES) == set(RefusalReason)
    exc = PhotoRefused(RefusalReason.TOO_MANY_BYTES, max_mb=15)
    assert str(exc) == "That photo is too large. Please send one under 15 MB."


def test_refusals_survive_the_trip_from_a_worker_process() -> None:
    exc = pickle.loads(pickle.dumps(PhotoRefused(RefusalReason.TOO_MANY_PIXELS, limit_mp=50)))
    assert exc.reason is RefusalReason.TOO_MANY_PIXELS
    assert "at most 50 megapixels" in str(exc)
