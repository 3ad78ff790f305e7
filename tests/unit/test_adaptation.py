"""Settling pending adapted templates (core/domain/adaptation.py): what is kept and what is not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from attendance.core.domain.adaptation import PENDING_KEPT, Refusal, settle_adapted
from attendance.core.domain.model import FaceQuality, FaceTemplate, PendingAdaptation

T0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)  # the gallery load that settles them
Q = FaceQuality(face_px=120, sharpness=50.0, brightness=120.0, detector_score=1.0)


def template(tid: str, person: str, minutes: int, *, pending: str | None = "U1", adapted: bool = True) -> FaceTemplate:
    at = T0 + timedelta(minutes=minutes)
    return FaceTemplate(
        id=tid,
        tenant_id="t",
        employee_id=person,
        embedding=(0.1,) * 128,
        model_id="m",
        quality=Q,
        consent_id="" if pending else "c-old",
        created_at=at,
        adapted_from=f"job-{tid}" if adapted else None,
        pending=PendingAdaptation(identity_kind="slack", identity=pending, received_at=at) if pending else None,
    )


def test_a_pending_template_is_kept_under_the_persons_active_consent() -> None:
    settled = settle_adapted(
        [template("e", "ada", -600, pending=None, adapted=False), template("p", "ada", 0)],
        adapting=True,
        consents={"ada": "c1"},
        refusals=[],
        keep=2,
        now=NOW,
    )
    assert settled.confirmed == {"p": "c1"} and settled.dropped == []


def test_without_consent_after_a_retry_or_with_adaptation_off_it_is_dropped() -> None:
    pending = [template("a", "ada", 0, pending="UA"), template("b", "bob", 0, pending="UB")]
    retried = Refusal(identity_kind="slack", identity="UB", received_at=T0 - timedelta(minutes=29))
    elsewhere = Refusal(identity_kind="teams", identity="UA", received_at=T0)  # another platform's UA
    long_before = Refusal(identity_kind="slack", identity="UA", received_at=T0 - timedelta(minutes=31))
    settled = settle_adapted(
        pending,
        adapting=True,
        consents={"ada": "c1", "bob": "c2"},
        refusals=[retried, elsewhere, long_before],
        keep=2,
        now=NOW,
    )
    assert settled.confirmed == {"a": "c1"} and settled.dropped == ["b"]  # Bob had been retrying
    after = Refusal(identity_kind="slack", identity="UA", received_at=T0 + timedelta(minutes=10))
    assert settle_adapted(
        pending, adapting=True, consents={"ada": "c1"}, refusals=[after], keep=2, now=NOW
    ).dropped == [
        "a",
        "b",
    ]
    off = settle_adapted(pending, adapting=False, consents={"ada": "c1", "bob": "c2"}, refusals=[], keep=2, now=NOW)
    assert off.confirmed == {} and sorted(off.dropped) == ["a", "b"]


def test_a_person_keeps_the_newest_adapted_templates_confirmed_or_not_yet() -> None:
    templates = [
        template("enrolled", "ada", -900, pending=None, adapted=False),
        template("old", "ada", -300, pending=None),
        template("p1", "ada", 10),
        template("p2", "ada", 20),
        template("p3", "ada", 30),
        template("bob", "bob", 5),
    ]
    settled = settle_adapted(
        templates, adapting=True, consents={"ada": "c1", "bob": "c2"}, refusals=[], keep=2, now=NOW
    )
    assert settled.confirmed == {"p3": "c1", "p2": "c1", "bob": "c2"}
    assert sorted(settled.dropped) == ["old", "p1"]  # never the enrollment template
    assert not settle_adapted(templates[:2], adapting=True, consents={}, refusals=[], keep=2, now=NOW)  # nothing to do


def test_a_pending_template_that_waited_longer_than_its_refusals_are_kept_is_dropped() -> None:
    late = T0 + PENDING_KEPT + timedelta(minutes=1)
    settled = settle_adapted(
        [template("p", "ada", 0)], adapting=True, consents={"ada": "c1"}, refusals=[], keep=2, now=late
    )
    assert settled.dropped == ["p"] and not settled.confirmed
