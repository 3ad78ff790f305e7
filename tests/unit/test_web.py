"""The web side's pure parts: session tokens, the kiosk's sentences, the sign-in throttle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt

from attendance.adapters.web.kiosk import UNSURE, greeting
from attendance.adapters.web.limits import RateLimit, Throttle
from attendance.adapters.web.sessions import SessionCodec
from attendance.adapters.web.signin import _local_path, throttle_key
from attendance.core.domain.checkins import OutcomeKind
from attendance.core.domain.model import DomainError, normalise_email
from attendance.settings import WebSettings

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
KEY = b"k" * 40


def test_a_session_token_is_read_back_and_refused_when_expired_forged_or_signed_by_an_unknown_key() -> None:
    codec = SessionCodec(WebSettings(), "s1", {"s1": KEY})
    token, max_age = codec.issue("tenant", "employee:e1", NOW)
    session = codec.read(token, NOW + timedelta(minutes=59))
    assert session is not None and (session.tenant_id, session.subject) == ("tenant", "employee:e1")
    assert max_age == 3600 and session.csrf
    assert codec.read(token, NOW + timedelta(minutes=61)) is None
    forged = jwt.encode(
        {"tid": "other", "sub": "employee:e1", "csrf": "x", "iat": 0, "exp": 2**40},
        b"z" * 40,
        algorithm="HS256",
        headers={"kid": "s1"},
    )
    assert codec.read(forged, NOW) is None
    unsigned = jwt.encode({"tid": "t", "sub": "s", "csrf": "x", "iat": 0, "exp": 2**40}, None, algorithm="none")
    assert codec.read(unsigned, NOW) is None
    other = SessionCodec(WebSettings(), "s2", {"s2": b"o" * 40})
    assert other.read(token, NOW) is None


def test_a_session_ends_at_its_maximum_age_however_often_it_is_renewed() -> None:
    codec = SessionCodec(WebSettings(session_minutes=60, session_max_hours=2), "s1", {"s1": KEY})
    first, _ = codec.issue("t", "employee:e", NOW)
    signed_in = codec.read(first, NOW)
    assert signed_in is not None
    _, age = codec.issue("t", "employee:e", NOW + timedelta(minutes=90), auth_time=signed_in.auth_time)
    assert age == 30 * 60  # renewed, but not past two hours after signing in


def test_the_kiosk_greets_by_first_name_and_asks_an_uncertain_person_to_try_again_or_use_chat() -> None:
    assert greeting(OutcomeKind.ACCEPTED, "Serena", "in", "08:59") == "Welcome, Serena! Checked in at 08:59."
    assert greeting(OutcomeKind.ACCEPTED, "Serena", "out", "17:02") == "Goodbye, Serena! Checked out at 17:02."
    assert "already checked in" in greeting(OutcomeKind.DUPLICATE, "Serena", "in", "08:59")
    for unsure in (OutcomeKind.RETRY, OutcomeKind.NOT_RECOGNISED, OutcomeKind.NOT_ENROLLED):
        assert greeting(unsure, "", None, "") == UNSURE
    assert "try again" in UNSURE and "chat" in UNSURE


def test_the_sign_in_throttle_counts_failures_per_email_within_its_window() -> None:
    throttle = Throttle(limit=3, window_s=60)
    for _ in range(2):
        throttle.failed("email:a@x")
    assert not throttle.blocked("email:a@x")
    throttle.failed("email:a@x")
    assert throttle.blocked("email:a@x") and not throttle.blocked("email:b@x")


def test_only_our_own_paths_are_followed_after_signing_in() -> None:
    assert _local_path("/today") and _local_path("/people/1?period=week")
    for target in (
        "//evil.example/",
        "/\\evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r//evil.example",
        "/x\\y",
        "/\x7f/evil",
        "\t/x",
    ):
        assert not _local_path(target), repr(target)


def test_the_pre_sign_in_state_lasts_ten_minutes_and_is_not_a_session() -> None:
    codec = SessionCodec(WebSettings(), "s1", {"s1": KEY})
    state = codec.sign_state({"state": "abc", "nonce": "n"}, NOW)
    expires = int((NOW + timedelta(minutes=10)).timestamp())
    expected = {"state": "abc", "nonce": "n", "exp": expires, "typ": "pre"}
    assert codec.read_state(state, NOW + timedelta(minutes=9)) == expected
    assert codec.read_state(state, NOW + timedelta(minutes=11)) is None
    session, _ = codec.issue("t", "employee:e", NOW)
    assert codec.read_state(session, NOW) is None and codec.read(state, NOW) is None


def test_emails_are_bounded_before_any_pattern_and_the_pattern_has_one_way_to_match() -> None:
    assert normalise_email(" Ada.Lovelace+x@Example.co.uk ") == "ada.lovelace+x@example.co.uk"
    for bad in ("a@b", "a@@b.c", "a b@c.d", "@b.c", "a@.b.c", "a@b..c", "a.@b.c"):
        try:
            normalise_email(bad)
        except DomainError:
            continue
        raise AssertionError(bad)
    hostile = "a@" + ".a" * 60 + "@"  # the old pattern's quadratic case, kept within the bound
    for text in (hostile, "a@" + "a." * 200_000 + "@", "x" * 10_000_000):
        try:
            normalise_email(text)
        except DomainError as exc:
            assert len(text) < 254 or "longer than 254" in str(exc)
        else:
            raise AssertionError("accepted")


def test_the_throttle_keys_on_the_normalised_email_and_a_flood_of_new_emails_cannot_clear_it() -> None:
    clock = [0.0]
    throttle = Throttle(limit=3, window_s=60, max_keys=100, now=lambda: clock[0])
    assert throttle_key(" Ada@Example.COM ") == throttle_key("ada@example.com") == "ada@example.com"
    assert len(throttle_key("x" * 100_000)) == 254
    for _ in range(3):
        throttle.failed(throttle_key("Ada@Example.com "))
    for n in range(5_000):  # a spray of made-up emails
        throttle.failed(f"spray{n}@example.com")
    assert throttle.blocked("ada@example.com")
    clock[0] = 61
    assert not throttle.blocked("ada@example.com")


def test_a_rate_limit_allows_a_burst_then_says_how_long_to_wait_and_forgets_idle_keys() -> None:
    clock = [0.0]
    limit = RateLimit(rate=1.0, burst=3, max_keys=10, now=lambda: clock[0])
    assert [limit.take("device-1") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limit.take("device-1") == 1.0 and limit.take("device-2") == 0.0
    for n in range(100):
        limit.take(f"other-{n}")
    assert limit.take("device-1") > 0  # still limited: a flood of other keys did not reset it
    clock[0] = 2.0
    assert limit.take("device-1") == 0.0


def test_a_token_of_another_type_or_without_a_session_id_is_not_a_session() -> None:
    codec = SessionCodec(WebSettings(), "s1", {"s1": KEY})
    token, _ = codec.issue("t", "employee:e", NOW)
    session = codec.read(token, NOW)
    assert session is not None and session.sid
    renewed, _ = codec.issue("t", "employee:e", NOW, sid=session.sid)
    assert codec.read(renewed, NOW).sid == session.sid  # type: ignore[union-attr]
    claims = jwt.decode(token, KEY, algorithms=["HS256"], options={"verify_exp": False})
    for changed in ({"typ": "pre"}, {"typ": None}, {"sid": None}):
        forged = jwt.encode({**claims, **changed}, KEY, algorithm="HS256", headers={"kid": "s1"})
        assert codec.read(forged, NOW) is None, changed
    # and a session is never taken for the pre-sign-in state
    assert codec.read_state(token, NOW) is None
