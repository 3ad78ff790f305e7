"""`attendance eval`: recognition accuracy on a labelled face set, through production code.

Enrollment uses the enrollment path (the pipeline's enrollment gates and the duplicate /
other-person check, which also holds each person's later photos to their earlier ones); every
probe goes through the check-in pipeline and the production ``identify`` and ``verify``
decisions. Embeddings are computed once; the threshold sweep replays the decisions on them.

``enroll_photos`` (1 to 3, as chat enrollment takes): each person's first photos are enrolled, a
refused one replaced by the next, and the rest are probes; a person with fewer than
``enroll_photos + 1`` photos is skipped (neither enrolled nor probed) and counted.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from attendance.adapters.faces.composite import Layout, composite
from attendance.adapters.faces.faceset import FacePhoto, FaceSet
from attendance.adapters.faces.model import FaceBox, Rgb
from attendance.core.domain.faces import FaceAnalysis, FaceModelCard, PhotoRefused, Purpose
from attendance.core.domain.model import ADAPTED_PER_PERSON, MAX_TEMPLATES_PER_PERSON, MatchThresholds
from attendance.core.matching import Gallery, Outcome, check_enrollment, identify, may_adapt, verify

Analyse = Callable[[bytes, Purpose], FaceAnalysis]
Vector = npt.NDArray[np.float32]


@dataclass(slots=True)
class Embedded:
    """The face set after the pipeline: who was enrolled with what, and each probe's vector."""

    templates: list[tuple[str, Vector]]
    enroll_fallbacks: int
    not_enrolled: list[str]
    genuine: list[tuple[str, Vector | None, str]]  # identity, embedding (None: no usable face), label
    strangers: list[tuple[str, Vector | None, str]]
    refusals: list[tuple[str, str]]  # label, reason
    enroll_photos: int = 1
    skipped: list[str] = dataclasses.field(default_factory=list)  # too few photos for enroll_photos + 1
    dim: int = 128  # the model's embedding size


def embed_face_set(faces: FaceSet, analyse: Analyse, model: FaceModelCard, *, enroll_photos: int = 1) -> Embedded:
    """``analyse``: the pipeline of ``model``, whose calibrated thresholds gate the enrollment."""
    if not 1 <= enroll_photos <= MAX_TEMPLATES_PER_PERSON:
        raise ValueError(f"enroll_photos is 1 to {MAX_TEMPLATES_PER_PERSON}, not {enroll_photos}")
    thresholds = model.thresholds
    out = Embedded([], 0, [], [], [], [], enroll_photos=enroll_photos, dim=model.embedding_size)
    for identity, photos in faces.enrolled.items():
        if len(photos) < enroll_photos + 1:
            out.skipped.append(identity)
            continue
        used: list[FacePhoto] = []
        for photo in photos:
            if len(used) == enroll_photos:
                break
            try:
                analysis = analyse(photo.path.read_bytes(), Purpose.ENROLL)
            except PhotoRefused as exc:
                out.refusals.append((photo.label + " (enroll)", exc.reason.value))
                out.enroll_fallbacks += 1
                continue
            vec = np.asarray(analysis.embedding, dtype=np.float32)
            gallery = Gallery.build(out.templates, dim=out.dim)
            if check_enrollment(gallery, identity, vec, thresholds) is not None:
                out.refusals.append((photo.label + " (enroll)", "duplicate_or_other_person"))
                out.enroll_fallbacks += 1
                continue
            out.templates.append((identity, vec))
            if analysis.mirror is not None:  # a second row, as the gallery of the stored template has
                out.templates.append((identity, np.asarray(analysis.mirror, dtype=np.float32)))
            used.append(photo)
        if not used:
            out.not_enrolled.append(identity)
        for photo in photos:
            if photo not in used:
                out.genuine.append((identity, _probe(photo, analyse, out.refusals), photo.label))
    for identity, photos in faces.strangers.items():
        for photo in photos:
            out.strangers.append((identity, _probe(photo, analyse, out.refusals), photo.label))
    return out


def _probe(photo: FacePhoto, analyse: Analyse, refusals: list[tuple[str, str]]) -> Vector | None:
    try:
        return np.asarray(analyse(photo.path.read_bytes(), Purpose.CHECK_IN).embedding, dtype=np.float32)
    except PhotoRefused as exc:
        refusals.append((photo.label, exc.reason.value))
        return None


def _rate(n: int, d: int) -> float:
    return round(n / d, 4) if d else 0.0


def score(e: Embedded, t: MatchThresholds) -> dict[str, float | int]:
    """Every figure of the report for one set of thresholds."""
    gallery = Gallery.build(e.templates, dim=e.dim)
    people = [gallery.person_id(i) for i in range(len(gallery))]
    c: dict[str, int] = dict.fromkeys(
        (
            "rank1",
            "accept_correct",
            "accept_wrong",
            "retry",
            "unknown",
            "no_face",
            "loo_trials",
            "loo_accepts",
            "stranger_accepts",
            "stranger_retries",
            "verify_accept",
            "verify_retry",
            "verify_impostor_trials",
            "verify_impostor_accepts",
            "verify_other_person_flags",
            "verify_loo_trials",
            "verify_loo_accepts",
        ),
        0,
    )
    without = _galleries_without(e)
    for identity, vec, _ in e.genuine:
        if vec is None:
            c["no_face"] += 1
            continue
        first, _second = gallery.nearest_two(vec)
        c["rank1"] += first.person >= 0 and gallery.person_id(first.person) == identity
        d = identify(gallery, vec, t)
        if d.outcome is Outcome.ACCEPTED:
            c["accept_correct" if d.employee_id == identity else "accept_wrong"] += 1
        elif d.outcome is Outcome.RETRY:
            c["retry"] += 1
        else:
            c["unknown"] += 1
        if gallery.index_of(identity) is not None:
            c["loo_trials"] += 1
            c["loo_accepts"] += identify(gallery, vec, t, exclude=identity).outcome is Outcome.ACCEPTED
            v = verify(gallery, identity, vec, t)
            c["verify_accept"] += v.outcome is Outcome.ACCEPTED
            c["verify_retry"] += v.outcome is Outcome.RETRY
            for claimed in people:  # someone not enrolled (this person left out) claiming each one
                if claimed != identity:
                    c["verify_loo_trials"] += 1
                    c["verify_loo_accepts"] += verify(without[identity], claimed, vec, t).outcome is Outcome.ACCEPTED
        _impostor_trials(gallery=gallery, people=people, vec=vec, identity=identity, t=t, c=c)
    for identity, vec, _ in e.strangers:
        if vec is None:
            continue
        d = identify(gallery, vec, t)
        c["stranger_accepts"] += d.outcome is Outcome.ACCEPTED
        c["stranger_retries"] += d.outcome is Outcome.RETRY
        _impostor_trials(gallery=gallery, people=people, vec=vec, identity=identity, t=t, c=c)
    genuine, strangers = len(e.genuine), len(e.strangers)
    return {
        "genuine": genuine,
        "rank1": _rate(c["rank1"], genuine),
        "accept_correct": _rate(c["accept_correct"], genuine),
        "accept_wrong": _rate(c["accept_wrong"], genuine),
        "retry": _rate(c["retry"], genuine),
        "unknown": _rate(c["unknown"], genuine),
        "no_face": c["no_face"],
        "enroll_fallbacks": e.enroll_fallbacks,
        "not_enrolled": len(e.not_enrolled),
        "enroll_photos": e.enroll_photos,
        "skipped_identities": len(e.skipped),
        "strangers": strangers,
        "stranger_accepts": _rate(c["stranger_accepts"], strangers),
        "stranger_retries": _rate(c["stranger_retries"], strangers),
        "loo_trials": c["loo_trials"],
        "loo_accepts": _rate(c["loo_accepts"], c["loo_trials"]),
        "verify_genuine": genuine,
        "verify_accept": _rate(c["verify_accept"], genuine),
        "verify_retry": _rate(c["verify_retry"], genuine),
        "verify_impostor_trials": c["verify_impostor_trials"],
        "verify_impostor_accepts": _rate(c["verify_impostor_accepts"], c["verify_impostor_trials"]),
        "verify_other_person_flags": _rate(c["verify_other_person_flags"], c["verify_impostor_trials"]),
        "verify_loo_trials": c["verify_loo_trials"],
        "verify_loo_accepts": _rate(c["verify_loo_accepts"], c["verify_loo_trials"]),
        "counts": c,  # type: ignore[dict-item]
    }


def _galleries_without(e: Embedded) -> dict[str, Gallery]:
    """Per enrolled person, the gallery without them: their probes then stand for faces that were
    never enrolled (more of them than the stranger photos)."""
    people = {identity for identity, _ in e.templates}
    return {p: Gallery.build([(q, v) for q, v in e.templates if q != p], dim=e.dim) for p in sorted(people)}


def _impostor_trials(
    *, gallery: Gallery, people: Sequence[str], vec: Vector, identity: str, t: MatchThresholds, c: dict[str, int]
) -> None:
    for claimed in people:
        if claimed == identity:
            continue
        v = verify(gallery, claimed, vec, t)
        c["verify_impostor_trials"] += 1
        c["verify_impostor_accepts"] += v.outcome is Outcome.ACCEPTED
        c["verify_other_person_flags"] += v.outcome is Outcome.OTHER_PERSON


def sweep(e: Embedded, base: MatchThresholds, values: Sequence[float]) -> list[dict[str, float | int]]:
    """The same figures with T_accept = T_verify = x (retry bands and margins as in ``base``)."""
    rows = []
    for x in values:
        t = dataclasses.replace(
            base,
            accept=x,
            verify=x,
            retry=x + (base.retry - base.accept),
            verify_retry=x + (base.verify_retry - base.verify),
            verify_clear=x + (base.verify_clear - base.verify) if base.verify_clear else 0.0,
        )
        row = {k: v for k, v in score(e, t).items() if k != "counts"}
        rows.append({"threshold": round(x, 3), **row})
    return rows


SWEEP_VALUES = [round(0.36 + 0.02 * i, 2) for i in range(14)]  # 0.36 .. 0.62
CLEAR_VALUES = (0.57, 0.58, 0.59, 0.60)
CLEAR_MARGINS = (0.06, 0.08, 0.10, 0.12)


def clear_sweep(e: Embedded, base: MatchThresholds) -> list[dict[str, float | int]]:
    """Verification with verify's clear band from ``CLEAR_VALUES`` x ``CLEAR_MARGINS`` (the
    band off first); everything else as in ``base``."""
    rows = []
    for clear, margin in [(0.0, base.verify_clear_margin), *itertools.product(CLEAR_VALUES, CLEAR_MARGINS)]:
        t = dataclasses.replace(base, verify_clear=clear, verify_clear_margin=margin)
        c = score(e, t)["counts"]
        rows.append(
            {
                "verify_clear": t.verify_clear,
                "verify_clear_margin": margin,
                "verify_accept": _rate(c["verify_accept"], len(e.genuine)),  # type: ignore[index]
                "verify_impostor_accepts": c["verify_impostor_accepts"],  # type: ignore[index]
                "verify_impostor_trials": c["verify_impostor_trials"],  # type: ignore[index]
                "verify_loo_accepts": c["verify_loo_accepts"],  # type: ignore[index]
                "verify_loo_trials": c["verify_loo_trials"],  # type: ignore[index]
            }
        )
    return rows


# ------------------------------------------------------------ template adaptation (--adapt)


def adapt_study(e: Embedded, t: MatchThresholds) -> dict[str, float | int]:
    """Check-ins in the order they would come, through the production decision and adaptation.

    Round k is everyone's k-th probe (a working day), then every stranger photo claiming each
    enrolled person in turn (impostors try every day too). A genuine probe is verified as its
    person on the gallery as it stands (enrollment templates plus the adapted ones so far); an
    accepted one that ``may_adapt`` becomes an adapted template, at most ``ADAPTED_PER_PERSON``
    per person, the oldest replaced. Figures: first-try accepts of the same probes without and
    with adaptation, templates added, impostor accepts and impostor adaptations during the
    rounds, and every impostor trial of ``score`` replayed on the final gallery."""
    adapted: dict[str, list[Vector]] = {}

    def gallery() -> Gallery:
        extra = [(pid, v) for pid, vs in adapted.items() for v in vs]
        return Gallery.build(e.templates + extra, dim=e.dim, adapted=[False] * len(e.templates) + [True] * len(extra))

    base = Gallery.build(e.templates, dim=e.dim)
    people = sorted({pid for pid, _ in e.templates})
    by_person: dict[str, list[Vector]] = {}
    for identity, vec, _ in e.genuine:
        if vec is not None and base.index_of(identity) is not None:
            by_person.setdefault(identity, []).append(vec)
    strangers = [vec for _, vec, _ in e.strangers if vec is not None]
    c = dict.fromkeys(("probes", "without", "with", "identify_without", "identify_with", "added"), 0)
    c |= dict.fromkeys(("impostor_trials", "impostor_accepts", "impostor_adapted"), 0)
    for k in range(max((len(v) for v in by_person.values()), default=0)):
        g = gallery()
        for identity, vecs in by_person.items():
            if k >= len(vecs):
                continue
            vec = vecs[k]
            c["probes"] += 1
            c["without"] += verify(base, identity, vec, t).outcome is Outcome.ACCEPTED
            c["identify_without"] += _identified(base, vec, identity, t)
            c["identify_with"] += _identified(g, vec, identity, t)
            decision = verify(g, identity, vec, t)
            if decision.outcome is Outcome.ACCEPTED:
                c["with"] += 1
                if may_adapt(g, decision, vec, t):
                    adapted[identity] = [*adapted.get(identity, []), vec][-ADAPTED_PER_PERSON:]
                    c["added"] += 1
        g = gallery()
        for i, vec in enumerate(strangers):
            claimed = people[(i + k) % len(people)]
            decision = verify(g, claimed, vec, t)
            c["impostor_trials"] += 1
            c["impostor_accepts"] += decision.outcome is Outcome.ACCEPTED
            c["impostor_adapted"] += may_adapt(g, decision, vec, t)
    final = gallery()
    replayed = dict.fromkeys(("verify_impostor_trials", "verify_impostor_accepts", "verify_other_person_flags"), 0)
    for identity, vec, _ in e.genuine + e.strangers:
        if vec is not None:  # every impostor trial of ``score``, on the final gallery
            _impostor_trials(gallery=final, people=people, vec=vec, identity=identity, t=t, c=replayed)
    n = c["probes"]
    return {
        "probes": n,
        "verify_accept_without": _rate(c["without"], n),
        "verify_accept_with": _rate(c["with"], n),
        "identify_accept_without": _rate(c["identify_without"], n),
        "identify_accept_with": _rate(c["identify_with"], n),
        "adapted_templates_added": c["added"],
        "adapted_templates_kept": sum(len(v) for v in adapted.values()),
        "impostor_trials_in_rounds": c["impostor_trials"],
        "impostor_accepts_in_rounds": c["impostor_accepts"],
        "impostor_adapted": c["impostor_adapted"],
        "impostor_trials_final": replayed["verify_impostor_trials"],
        "impostor_accepts_final": replayed["verify_impostor_accepts"],
    }


def _identified(g: Gallery, vec: Vector, identity: str, t: MatchThresholds) -> bool:
    d = identify(g, vec, t)
    return d.outcome is Outcome.ACCEPTED and d.employee_id == identity


# ------------------------------------------------------------ head pose (--pose)

POSE_TURNS = (0.10, 0.15, 0.20, 0.25)  # |yaw| a "turn your head" challenge could ask for


def pose_study(faces: FaceSet, analyse: Analyse) -> dict[str, object]:
    """Every photo of the set and its mirror image through the check-in pipeline: the head pose
    estimate's spread, and how well it tells a turn to the left from one to the right. A mirror
    flips the true yaw, so a good estimate gives ``yaw(mirror) = -yaw(photo)``; for each turn
    threshold T: how many photos read as turned (|yaw| >= T), and of those how many read as
    turned the other way once mirrored (the estimate's direction is right) or not (an error)."""
    pairs: list[tuple[float, float, float, float]] = []  # yaw, pitch, mirrored yaw, mirrored pitch
    for photo in faces.all_photos():
        data = photo.path.read_bytes()
        try:
            a = analyse(data, Purpose.CHECK_IN)
            b = analyse(mirrored(data), Purpose.CHECK_IN)
        except PhotoRefused:
            continue
        if a.pose is not None and b.pose is not None:
            pairs.append((a.pose.yaw, a.pose.pitch, b.pose.yaw, b.pose.pitch))
    yaws = np.array([p[0] for p in pairs])
    pitches = np.array([p[1] for p in pairs])
    flip_error = np.array([abs(p[0] + p[2]) for p in pairs])
    rows = []
    for t in POSE_TURNS:
        turned = [p for p in pairs if abs(p[0]) >= t]
        right = sum(1 for p in turned if p[2] * p[0] < 0 and abs(p[2]) >= t)
        wrong = sum(1 for p in turned if p[2] * p[0] > 0 and abs(p[2]) >= t)
        rows.append(
            {
                "turn": t,
                "photos_turned": len(turned),
                "share_turned": _rate(len(turned), len(pairs)),
                "mirror_turned_the_other_way": right,
                "mirror_turned_the_same_way": wrong,
            }
        )
    return {
        "photos": len(pairs),
        "yaw_abs_p50": _pct(np.abs(yaws), 50),
        "yaw_abs_p95": _pct(np.abs(yaws), 95),
        "pitch_p5": _pct(pitches, 5),
        "pitch_p50": _pct(pitches, 50),
        "pitch_p95": _pct(pitches, 95),
        "mirror_yaw_error_p50": _pct(flip_error, 50),
        "mirror_yaw_error_p95": _pct(flip_error, 95),
        "mirror_pitch_change_p95": _pct(np.array([abs(p[1] - p[3]) for p in pairs]), 95),
        "turns": rows,
    }


def _pct(values: npt.NDArray[np.float64], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if len(values) else None


def mirrored(data: bytes) -> bytes:
    """The photo flipped left to right (upright first), as a JPEG."""
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as image:
        flipped = ImageOps.mirror(ImageOps.exif_transpose(image).convert("RGB"))
    out = io.BytesIO()
    flipped.save(out, "JPEG", quality=95)
    return out.getvalue()


# ------------------------------------------------------------ background faces (two-person photos)

BACKGROUND_SCALES = (0.0, 0.7, 0.8, 0.9, 1.0)  # 0: the front face alone on the same canvas
RIVAL_RATIOS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.8, 0.9)  # the check-in rule's ratios the study replays
INTRUDER_CLAIMS = 4  # enrolled people each stranger-in-front photo is tried against
LAYOUTS: tuple[Layout, ...] = ("behind", "beside")


@dataclass(slots=True)
class Composite:
    """One two-person photo through the check-in pipeline with no two-people gate: the runner-up
    face's share of the dominant one (``dominant_face``), and whether the decision on the
    dominant face accepted the person it was meant to (genuine) or the intruder's claim."""

    layout: str
    scale: float
    intruder: bool
    rival: float | None  # None: refused for another reason (no face, too small...)
    accepted: bool


def background_study(
    e: Embedded,
    faces: FaceSet,
    analyse: Analyse,
    locate: Callable[[bytes], tuple[Rgb, list[FaceBox]]],
    t: MatchThresholds,
) -> list[Composite]:
    """Two-person photos made from the face set (``composite``), through the check-in pipeline.
    ``analyse`` must not refuse two people (its rival ratio above 1): the study records each
    photo's rival share, and ``background_figures`` replays the rule at any ratio, as ``sweep``
    replays thresholds.

    - *genuine in front*: each genuine probe with a stranger's face added (``behind``: to the
      side and higher, as a colleague behind; ``beside``: the same height, as a shared selfie),
      verified as the probe's person;
    - *intruder in front*: each stranger photo with an enrolled person's face added, claimed as
      that person (verify) and identified: neither may accept the enrolled person.
    """
    gallery = Gallery.build(e.templates, dim=e.dim)
    people = sorted({identity for identity, _ in e.templates})
    located: dict[str, tuple[Rgb, FaceBox] | None] = {}

    def find(photo: FacePhoto) -> tuple[Rgb, FaceBox] | None:
        if photo.label not in located:
            pixels, boxes = locate(photo.path.read_bytes())
            located[photo.label] = (pixels, max(boxes, key=lambda b: b.area)) if boxes else None
        return located[photo.label]

    by_label = {p.label: p for p in faces.all_photos()}
    strangers = [p for p in faces.all_photos() if p.stranger and find(p) is not None]
    out: list[Composite] = []
    for layout in LAYOUTS:
        for scale in BACKGROUND_SCALES:
            for i, (identity, _, label) in enumerate(e.genuine):
                front, other = find(by_label[label]), find(strangers[i % len(strangers)])
                if front is not None and other is not None:
                    got = _composite_analysis(front, other, scale, layout, analyse)
                    ok = got is not None and verify(gallery, identity, got[0], t).outcome is Outcome.ACCEPTED
                    out.append(Composite(layout, scale, False, got[1] if got else None, ok))
            if scale == 0.0:
                continue  # a stranger alone is the ordinary stranger trial
            for i, photo in enumerate(strangers):
                for k in range(INTRUDER_CLAIMS):
                    claimed = people[(i * INTRUDER_CLAIMS + k) % len(people)]
                    behind = next((find(p) for p in faces.enrolled[claimed] if find(p) is not None), None)
                    front = find(photo)
                    if behind is None or front is None:
                        continue
                    got = _composite_analysis(front, behind, scale, layout, analyse)
                    ok = False
                    if got is not None:
                        ided = identify(gallery, got[0], t)
                        ok = verify(gallery, claimed, got[0], t).outcome is Outcome.ACCEPTED or (
                            ided.outcome is Outcome.ACCEPTED and ided.employee_id == claimed
                        )
                    out.append(Composite(layout, scale, True, got[1] if got else None, ok))
    return out


def background_figures(study: Sequence[Composite], rival_ratio: float) -> list[dict[str, float | int | str]]:
    """Per layout and scale, with the two-people gate at ``rival_ratio``: genuine probes verified
    and refused as two people, and intruder photos accepted as the enrolled person behind."""
    rows: list[dict[str, float | int | str]] = []
    for layout in LAYOUTS:
        for scale in BACKGROUND_SCALES:
            group = [c for c in study if c.layout == layout and c.scale == scale]
            genuine = [c for c in group if not c.intruder]
            intruders = [c for c in group if c.intruder]

            def passes(c: Composite) -> bool:
                return c.rival is not None and c.rival < rival_ratio

            rows.append(
                {
                    "layout": layout,
                    "scale": scale,
                    "probes": len(genuine),
                    "verified": _rate(sum(passes(c) and c.accepted for c in genuine), len(genuine)),
                    "two_people": _rate(sum(c.rival is not None and not passes(c) for c in genuine), len(genuine)),
                    "intruder_trials": len(intruders),
                    "intruder_accepts": sum(passes(c) and c.accepted for c in intruders),
                }
            )
    return rows


def _composite_analysis(
    front: tuple[Rgb, FaceBox], other: tuple[Rgb, FaceBox], scale: float, layout: Layout, analyse: Analyse
) -> tuple[Vector, float] | None:
    """The check-in embedding of the photo and its rival share, or None when it was refused."""
    photo = composite(front, other, scale=scale, layout=layout) if scale > 0 else composite(front, None, layout=layout)
    try:
        analysis = analyse(photo, Purpose.CHECK_IN)
    except PhotoRefused:
        return None
    return np.asarray(analysis.embedding, dtype=np.float32), analysis.rival
