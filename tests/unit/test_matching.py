"""The match policy on synthetic vectors: every outcome of verify and identify."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from attendance.core.domain.model import DomainError, MatchThresholds
from attendance.core.matching import (
    CLEAR_GALLERY,
    Gallery,
    Outcome,
    check_enrollment,
    identify,
    may_adapt,
    verify,
)

T = MatchThresholds(verify=0.5, verify_retry=0.6, verify_margin=0.0, accept=0.5, retry=0.6, margin=0.1)


def vec(*head: float) -> np.ndarray:
    v = np.zeros(128, dtype=np.float32)
    v[: len(head)] = head
    return v


def gallery() -> Gallery:
    # alice has two templates; bob and carol one each; all far apart (distance 2 between people)
    return Gallery.build(
        [
            ("alice", vec(1.0)),
            ("bob", vec(0.0, 1.0)),
            ("alice", vec(1.0, 0.0, 0.2)),
            ("carol", vec(0.0, 0.0, 0.0, 1.0)),
        ],
        dim=128,
        version=3,
    )


def near(base: np.ndarray, distance: float, axis: int = 100) -> np.ndarray:
    out = base.copy()
    out[axis] += distance
    return out


def test_gallery_groups_templates_per_person() -> None:
    g = gallery()
    assert len(g) == 3
    assert g.version == 3
    assert [g.person_id(i) for i in range(3)] == ["alice", "bob", "carol"]
    assert g.index_of("bob") == 1
    assert g.index_of("nobody") is None


def test_nearest_two_reports_distinct_people_and_exclusion() -> None:
    g = gallery()
    first, second = g.nearest_two(near(vec(1.0, 0.0, 0.2), 0.1))
    assert g.person_id(first.person) == "alice"
    assert first.distance == pytest.approx(0.1, abs=1e-5)
    assert g.person_id(second.person) in {"bob", "carol"}
    first, _ = g.nearest_two(vec(1.0), exclude="alice")
    assert g.person_id(first.person) != "alice"


def test_identify_accepts_close_and_clear() -> None:
    d = identify(gallery(), near(vec(0.0, 1.0), 0.3), T)
    assert d.outcome is Outcome.ACCEPTED
    assert d.employee_id == "bob"
    assert d.distance == pytest.approx(0.3, abs=1e-5)


def test_identify_retry_band_and_unknown() -> None:
    assert identify(gallery(), near(vec(0.0, 1.0), 0.55), T).outcome is Outcome.RETRY
    d = identify(gallery(), near(vec(0.0, 1.0), 0.9), T)
    assert d.outcome is Outcome.NOT_RECOGNISED
    assert d.employee_id is None


def test_identify_refuses_when_two_people_are_equally_close() -> None:
    g = Gallery.build([("a", vec(1.0)), ("b", vec(1.0, 0.1))], dim=128)
    d = identify(g, vec(1.0, 0.05), T)  # 0.05 from both: no margin
    assert d.outcome is Outcome.RETRY
    assert d.employee_id is None


def test_identify_on_empty_gallery() -> None:
    assert identify(Gallery.build([], dim=128), vec(1.0), T).outcome is Outcome.NOT_RECOGNISED


def test_verify_accepts_the_claimed_person() -> None:
    d = verify(gallery(), "alice", near(vec(1.0), 0.2), T)
    assert d.outcome is Outcome.ACCEPTED
    assert d.employee_id == "alice"


def test_verify_flags_a_colleagues_face() -> None:
    d = verify(gallery(), "alice", near(vec(0.0, 1.0), 0.1), T)  # bob's face on alice's account
    assert d.outcome is Outcome.OTHER_PERSON
    assert d.employee_id == "bob"


def test_verify_retry_band_and_not_recognised() -> None:
    assert verify(gallery(), "alice", near(vec(1.0), 0.55), T).outcome is Outcome.RETRY
    assert verify(gallery(), "alice", near(vec(1.0), 0.8), T).outcome is Outcome.NOT_RECOGNISED


def test_verify_never_accepts_when_a_colleague_is_closer() -> None:
    g = Gallery.build([("a", vec(1.0)), ("b", vec(1.0, 0.3))], dim=128)
    probe = vec(1.0, 0.2)  # 0.2 from a, 0.1 from b: closer to b, but not by the margin
    d = verify(g, "a", probe, T)
    assert d.outcome is Outcome.RETRY


def test_verify_someone_not_enrolled() -> None:
    assert verify(gallery(), "dave", vec(1.0), T).outcome is Outcome.NOT_ENROLLED


def test_verify_with_a_single_person_gallery() -> None:
    g = Gallery.build([("a", vec(1.0))], dim=128)
    assert verify(g, "a", near(vec(1.0), 0.1), T).outcome is Outcome.ACCEPTED


CLEAR = dataclasses.replace(T, verify_clear=0.56, verify_clear_margin=0.1)


def office(people: int, *, lookalike_at: float | None = None) -> Gallery:
    """``people`` people 2 apart on their own axes, "a" first; with ``lookalike_at``, "b" is a
    face that far from a probe 0.55 from "a" (``near(vec(1.0), 0.55)``)."""
    rows = [(f"p{i}", vec(*([0.0] * i), 1.0)) for i in range(1, people)]
    if lookalike_at is not None:
        rows[0] = ("b", near(near(vec(1.0), 0.55), lookalike_at, axis=101))
    return Gallery.build([("a", vec(1.0)), *rows], dim=128)


def test_verify_clear_band_accepts_only_the_clear_nearest_of_an_office() -> None:
    probe = near(vec(1.0), 0.55)  # past verify (0.5), within verify_clear (0.56)
    assert len(office(CLEAR_GALLERY)) == CLEAR_GALLERY
    accepted = verify(office(CLEAR_GALLERY), "a", probe, CLEAR)
    assert accepted.outcome is Outcome.ACCEPTED
    assert accepted.employee_id == "a"
    # someone else almost as near: 0.05 farther than "a", not the 0.1 the band asks
    assert verify(office(CLEAR_GALLERY, lookalike_at=0.6), "a", probe, CLEAR).outcome is Outcome.RETRY
    assert verify(office(CLEAR_GALLERY, lookalike_at=0.66), "a", probe, CLEAR).outcome is Outcome.ACCEPTED
    # too few people for being the nearest to mean much; the band off; past the band
    assert verify(office(CLEAR_GALLERY - 1), "a", probe, CLEAR).outcome is Outcome.RETRY
    assert verify(office(CLEAR_GALLERY), "a", probe, T).outcome is Outcome.RETRY
    assert verify(office(CLEAR_GALLERY), "a", near(vec(1.0), 0.57), CLEAR).outcome is Outcome.RETRY


def test_check_enrollment_duplicate_and_other_person() -> None:
    g = gallery()
    assert check_enrollment(g, "alice", near(vec(1.0), 0.01), T) == "duplicate"
    assert check_enrollment(g, "alice", near(vec(1.0), 0.3), T) is None
    assert check_enrollment(g, "dave", near(vec(0.0, 1.0), 0.2), T) == "other_person"
    assert check_enrollment(g, "dave", vec(0.0, 0.0, 0.0, 0.0, 1.0), T) is None


def test_thresholds_are_validated() -> None:
    with pytest.raises(DomainError):
        MatchThresholds(verify=0.6, verify_retry=0.5, verify_margin=0, accept=0.5, retry=0.6, margin=0.1)
    with pytest.raises(DomainError):
        MatchThresholds(verify=0.5, verify_retry=0.6, verify_margin=0, accept=0.5, retry=0.6, margin=-1)
    for outside in (0.45, 0.65):  # the clear band lies between verify and verify_retry
        with pytest.raises(DomainError):
            dataclasses.replace(T, verify_clear=outside)
    assert dataclasses.replace(T, verify_clear=0.0).verify_clear == 0.0  # no band


def test_gallery_matches_brute_force_on_random_data() -> None:
    rng = np.random.default_rng(1)
    people = [f"p{i}" for i in range(50)]
    templates = [(p, rng.normal(0, 0.1, 128).astype(np.float32)) for p in people for _ in range(2)]
    g = Gallery.build(templates, dim=128)
    probe = rng.normal(0, 0.1, 128).astype(np.float32)
    per_person: dict[str, float] = {}
    for p, v in templates:
        per_person[p] = min(per_person.get(p, 9.0), float(np.linalg.norm(v - probe)))
    ranked = sorted(per_person.items(), key=lambda kv: kv[1])
    first, second = g.nearest_two(probe)
    assert g.person_id(first.person) == ranked[0][0]
    assert first.distance == pytest.approx(ranked[0][1], abs=1e-4)
    assert g.person_id(second.person) == ranked[1][0]
    assert second.distance == pytest.approx(ranked[1][1], abs=1e-4)


def test_a_gallery_holds_one_models_size_and_refuses_a_probe_of_another() -> None:
    g = Gallery.build([("a", vec(1.0))], dim=128)
    assert g.dim == 128
    with pytest.raises(ValueError, match="another face model"):
        identify(g, np.zeros(512, dtype=np.float32), T)
    with pytest.raises(ValueError, match="128 numbers"):
        Gallery.build([("a", vec(1.0)), ("b", np.zeros(512, dtype=np.float32))], dim=128)
    empty = Gallery.build([], dim=512)
    assert empty.dim == 512 and identify(empty, np.zeros(512, dtype=np.float32), T).outcome is Outcome.NOT_RECOGNISED


def test_with_several_templates_one_close_match_is_not_enough() -> None:
    """A probe near one of a person's photos by chance but far from the others is asked to retry;
    near all of them, it is accepted; with a single template the mean is that template."""
    first, second = vec(1.0), vec(1.0, 0.0, 0.0, 0.0, 0.5)  # the person's two photos, 0.5 apart
    g = Gallery.build([("ada", first), ("ada", second), ("bob", vec(0.0, 1.0))], dim=128)
    by_chance = near(first, 0.45, axis=5)  # 0.45 from one photo, about 0.67 from the other
    assert g.mean_distance_to(by_chance, 0) > T.verify + T.verify_support
    assert verify(g, "ada", by_chance, T).outcome is Outcome.RETRY
    between = (first + second) / 2 + near(vec(), 0.1)  # about 0.27 from both
    assert verify(g, "ada", between, T).outcome is Outcome.ACCEPTED
    alone = Gallery.build([("ada", first), ("bob", vec(0.0, 1.0))], dim=128)
    assert alone.mean_distance_to(by_chance, 0) == pytest.approx(0.45, abs=1e-5)
    assert verify(alone, "ada", by_chance, T).outcome is Outcome.ACCEPTED


# ---------------------------------------------------------------- template adaptation

A = MatchThresholds(
    verify=0.5,
    verify_retry=0.6,
    verify_margin=0.0,
    accept=0.5,
    retry=0.6,
    margin=0.1,
    adapt=0.3,
    adapt_margin=0.2,
    adapt_novelty=0.1,
)


def test_only_a_confident_accepted_check_in_may_adapt() -> None:
    g = Gallery.build([("ada", vec(1.0)), ("bob", vec(0.0, 1.0))], dim=128)
    close, farther = near(vec(1.0), 0.2), near(vec(1.0), 0.4)
    assert may_adapt(g, verify(g, "ada", close, A), close, A)
    accepted_but_not_confident = verify(g, "ada", farther, A)
    assert accepted_but_not_confident.outcome is Outcome.ACCEPTED
    assert not may_adapt(g, accepted_but_not_confident, farther, A)
    retry = near(vec(1.0), 0.55)
    assert not may_adapt(g, verify(g, "ada", retry, A), retry, A)
    same_moment = near(vec(1.0), 0.05)  # as close as a second photo of the same moment: nothing new
    assert not may_adapt(g, verify(g, "ada", same_moment, A), same_moment, A)
    crowded = Gallery.build([("ada", vec(1.0)), ("bob", vec(1.0, 0.38))], dim=128)  # bob is near ada
    between = near(vec(1.0), 0.2, axis=1)  # 0.2 from ada, 0.18 from bob... nearer bob: not accepted
    assert not may_adapt(crowded, verify(crowded, "ada", between, A), between, A)
    clear_of_bob = near(vec(1.0), 0.2, axis=100)  # 0.2 from ada, about 0.43 from bob: margin 0.23
    assert may_adapt(crowded, verify(crowded, "ada", clear_of_bob, A), clear_of_bob, A)
    tight = Gallery.build([("ada", vec(1.0)), ("bob", vec(1.0, 0.3))], dim=128)  # margin about 0.16 < 0.2
    assert verify(tight, "ada", clear_of_bob, A).outcome is Outcome.ACCEPTED
    assert not may_adapt(tight, verify(tight, "ada", clear_of_bob, A), clear_of_bob, A)


def test_a_chain_of_look_alikes_cannot_walk_a_template_to_another_person() -> None:
    """Probes that creep from Ada's face towards Bob's in small steps, each accepted as Ada when
    it can be and adapted when ``may_adapt`` allows (the oldest of two replaced): no adapted
    template ever lies beyond ``adapt`` of Ada's enrollment photo, and Bob's face is never
    accepted as Ada."""
    walk = dataclasses.replace(A, adapt_novelty=0.0)  # every step may adapt: only the anchor holds it
    ada, bob = vec(1.0), vec(0.0, 1.0)  # 1.41 apart
    enrolled = [("ada", ada), ("bob", bob)]
    learnt: list[np.ndarray] = []
    for step in range(1, 41):
        probe = ada + (bob - ada) * step / 40  # 0.035 further each step
        g = Gallery.build(
            enrolled + [("ada", v) for v in learnt], dim=128, adapted=[False, False] + [True] * len(learnt)
        )
        decision = verify(g, "ada", probe, walk)
        if may_adapt(g, decision, probe, walk):
            learnt = [*learnt, probe][-2:]
        assert all(float(np.linalg.norm(v - ada)) <= walk.adapt for v in learnt)
    g = Gallery.build(enrolled + [("ada", v) for v in learnt], dim=128, adapted=[False, False] + [True] * len(learnt))
    assert learnt, "the first steps were confident and were learnt"
    assert verify(g, "ada", bob, walk).outcome is not Outcome.ACCEPTED


def test_adapted_templates_help_matching_but_never_anchor_adaptation() -> None:
    ada = vec(1.0)
    learnt = near(ada, 0.3)
    g = Gallery.build([("ada", ada), ("ada", learnt)], dim=128, adapted=[False, True])
    beyond = near(learnt, 0.2)  # 0.2 from the adapted template, 0.5 from the enrollment photo
    assert g.enrolled_distance_to(beyond, 0) == pytest.approx(0.5, abs=1e-5)
    assert not may_adapt(g, verify(g, "ada", beyond, A), beyond, A)
