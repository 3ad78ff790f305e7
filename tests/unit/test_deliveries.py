"""The delivery rules: retry schedule, jitter, Retry-After, the state after an attempt, and what
an HTTP answer means."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from attendance.adapters.http.status import classify, short
from attendance.core.domain.deliveries import (
    DEFAULT_RETRY_SCHEDULE,
    Delivery,
    DeliveryResult,
    DeliveryState,
    ResultKind,
    after_attempt,
    next_attempt,
    parse_retry_after,
    parse_schedule,
)
from attendance.core.domain.model import DomainError

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def _delivery(attempts: int) -> Delivery:
    return Delivery(
        id="m:s",
        tenant_id="t",
        subscription_id="s",
        employee_id="e",
        msg_id="m",
        type="attendance.check_in.accepted",
        payload={},
        created_at=NOW,
        attempts=attempts,
    )


def test_the_default_schedule_is_the_standard_webhooks_one() -> None:
    assert DEFAULT_RETRY_SCHEDULE[:4] == (5, 300, 1800, 7200)
    assert DEFAULT_RETRY_SCHEDULE[-1] == 86400


def test_a_schedule_parses_from_seconds_and_refuses_nonsense() -> None:
    assert parse_schedule("0.2, 0.5,1") == (0.2, 0.5, 1.0)
    assert parse_schedule("") == ()
    with pytest.raises(DomainError, match="comma-separated"):
        parse_schedule("5s,10s")
    with pytest.raises(DomainError, match="negative"):
        parse_schedule("5,-1")


def test_each_retry_waits_its_delay_with_at_most_ten_percent_jitter() -> None:
    rng = random.Random(7)
    waits = [(next_attempt(1, (100,), NOW, rng=rng) or NOW) - NOW for _ in range(200)]
    assert all(timedelta(seconds=90) <= w <= timedelta(seconds=110) for w in waits)
    assert len(set(waits)) > 100  # spread out, not one instant for every event
    second = next_attempt(2, (1, 1000), NOW, rng=rng)
    assert second is not None and second - NOW > timedelta(seconds=899)


def test_the_schedule_runs_out() -> None:
    assert next_attempt(3, (1, 2), NOW) is None
    assert next_attempt(1, (), NOW) is None


def test_retry_after_is_honoured_when_longer_and_capped_at_a_day() -> None:
    longer = next_attempt(1, (5,), NOW, retry_after=timedelta(minutes=10))
    assert longer == NOW + timedelta(minutes=10)
    shorter = next_attempt(1, (100,), NOW, retry_after=timedelta(seconds=1), rng=random.Random(1))
    assert shorter is not None and shorter - NOW >= timedelta(seconds=90)
    capped = next_attempt(1, (5,), NOW, retry_after=timedelta(days=30))
    assert capped == NOW + timedelta(days=1)


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert parse_retry_after("120", NOW) == timedelta(seconds=120)
    assert parse_retry_after("Wed, 02 Dec 2026 12:05:00 GMT", NOW) == timedelta(minutes=5)
    assert parse_retry_after("Wed, 02 Dec 2026 11:00:00 GMT", NOW) is None  # in the past
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None


@pytest.mark.parametrize(
    ("kind", "attempts", "state"),
    [
        (ResultKind.DELIVERED, 1, DeliveryState.DELIVERED),
        (ResultKind.SKIPPED, 1, DeliveryState.DELIVERED),
        (ResultKind.REJECTED, 1, DeliveryState.DEAD),
        (ResultKind.GONE, 1, DeliveryState.HELD),
        (ResultKind.RETRY, 1, DeliveryState.PENDING),
        (ResultKind.RETRY, 2, DeliveryState.PENDING),
        (ResultKind.RETRY, 3, DeliveryState.DEAD),
    ],
)
def test_the_state_after_an_attempt(kind: ResultKind, attempts: int, state: DeliveryState) -> None:
    got, when = after_attempt(_delivery(attempts), DeliveryResult(kind=kind), (1, 2), NOW)
    assert got is state
    assert (when is not None) == (state is DeliveryState.PENDING)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (200, ResultKind.DELIVERED),
        (204, ResultKind.DELIVERED),
        (410, ResultKind.GONE),
        (500, ResultKind.RETRY),
        (429, ResultKind.RETRY),
        (404, ResultKind.RETRY),
        (301, ResultKind.RETRY),
    ],
)
def test_what_an_http_answer_means(status: int, kind: ResultKind) -> None:
    result = classify(status, "30", NOW)
    assert result.kind is kind
    assert result.status == status
    if kind is not ResultKind.DELIVERED:
        assert result.detail.startswith(f"HTTP {status} ")  # the code and its reason, never the body
    if kind is ResultKind.RETRY:
        assert result.retry_after == timedelta(seconds=30)


def test_a_receivers_long_answer_is_cut_for_the_admin() -> None:
    text = short("x" * 10_000)
    assert len(text) == 300 and text.endswith("…")
    assert short("a\n  b") == "a b"
