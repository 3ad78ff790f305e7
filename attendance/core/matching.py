"""Match policy: a per-tenant gallery of face templates and the two decisions made on it.

Pure core: imports only the standard library, numpy and the domain.

* ``verify`` answers "is this the person who claims to be posting?" (chat check-ins).
* ``identify`` answers "who, among the enrolled, is this?" (channels with no claimed identity).

Distances are Euclidean in the face model's embedding space; the model's card
(``FaceModelCard``) gives the embedding size and the calibrated thresholds, and a gallery holds
the templates of one model only. A gallery keeps every template of a person in one contiguous
block of a float32 matrix, so the nearest person and the nearest *other* person come from one
matrix-vector product and two reductions.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from attendance.core.domain.model import MatchThresholds

FloatArray = npt.NDArray[np.float32]


class Outcome(enum.StrEnum):
    ACCEPTED = "accepted"
    RETRY = "retry"
    OTHER_PERSON = "other_person"  # verify only: clearly a colleague's face
    NOT_RECOGNISED = "not_recognised"  # verify: not the claimed person; identify: unknown
    NOT_ENROLLED = "not_enrolled"  # verify only: the claimed person has no templates


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    outcome: Outcome
    employee_id: str | None  # accepted: who; other_person: the colleague it looks like
    distance: float | None  # to the accepted / claimed person's nearest template
    margin: float | None  # distance to the nearest other person minus ``distance``


@dataclass(frozen=True, slots=True)
class Nearest:
    person: int  # index into the gallery's people, -1 when there is none
    distance: float


class Gallery:
    """Templates of one tenant and one face model as a float32 matrix (one row per template,
    ``dim`` columns), one contiguous block of rows per person. A probe of another size is
    refused (``ValueError``): embeddings of two models are never compared. ``adapted`` marks the
    rows that came from confident check-ins (``may_adapt``), not from enrollment."""

    __slots__ = ("_adapted", "_ids", "_index", "_matrix", "_norms", "_starts", "version")

    def __init__(
        self,
        person_ids: npt.NDArray[np.bytes_],
        matrix: FloatArray,
        starts: npt.NDArray[np.int64],
        *,
        version: int = 0,
        adapted: npt.NDArray[np.bool_] | None = None,
    ) -> None:
        if matrix.ndim != 2 or matrix.shape[1] < 1:
            raise ValueError("a gallery matrix is (templates, embedding size)")
        if len(starts) != len(person_ids) or (len(starts) and starts[0] != 0):
            raise ValueError("one start row per person, the first at row 0")
        self._ids = person_ids
        self._matrix = np.ascontiguousarray(matrix, dtype=np.float32)
        self._starts = starts.astype(np.int64, copy=False)
        self._norms = np.einsum("ij,ij->i", self._matrix, self._matrix)
        self._index: dict[str, int] | None = None
        self._adapted = adapted if adapted is not None and adapted.any() else None
        if self._adapted is not None and self._adapted.shape != (len(self._matrix),):
            raise ValueError("one adapted flag per template row")
        self.version = version

    @classmethod
    def build(
        cls,
        templates: Iterable[tuple[str, Sequence[float] | FloatArray]],
        *,
        dim: int,
        version: int = 0,
        adapted: Iterable[bool] = (),
    ) -> Gallery:
        """``dim``: the model's embedding size; a template of another size is a ``ValueError``.
        ``adapted``: one flag per template, in the same order (none: all from enrollment)."""
        flags = iter(adapted)
        by_person: dict[str, list[tuple[Sequence[float] | FloatArray, bool]]] = {}
        for person_id, embedding in templates:
            by_person.setdefault(person_id, []).append((embedding, next(flags, False)))
        ids = list(by_person)
        rows = [np.asarray(e, dtype=np.float32) for pid in ids for e, _ in by_person[pid]]
        if any(r.shape != (dim,) for r in rows):
            raise ValueError(f"every template of this gallery has {dim} numbers")
        matrix = np.vstack(rows) if rows else np.empty((0, dim), dtype=np.float32)
        marks = np.array([a for pid in ids for _, a in by_person[pid]], dtype=np.bool_)
        counts = np.array([len(by_person[pid]) for pid in ids], dtype=np.int64)
        starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64) if ids else np.empty(0, np.int64)
        return cls(np.array([pid.encode() for pid in ids], dtype="S"), matrix, starts, version=version, adapted=marks)

    @property
    def templates(self) -> int:
        """Rows compared against (an enrollment photo's mirror image is a row of its own)."""
        return int(self._matrix.shape[0])

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def dim(self) -> int:
        return int(self._matrix.shape[1])

    @property
    def nbytes(self) -> int:
        return int(self._matrix.nbytes + self._norms.nbytes + self._starts.nbytes + self._ids.nbytes)

    def person_id(self, person: int) -> str:
        return bytes(self._ids[person]).decode()

    def index_of(self, person_id: str) -> int | None:
        if self._index is None:
            self._index = {bytes(pid).decode(): i for i, pid in enumerate(self._ids)}
        return self._index.get(person_id)

    def _block(self, person: int) -> tuple[int, int]:
        start = int(self._starts[person])
        end = int(self._starts[person + 1]) if person + 1 < len(self._starts) else len(self._matrix)
        return start, end

    def _probe(self, probe: FloatArray) -> FloatArray:
        p: FloatArray = np.asarray(probe, dtype=np.float32)
        if p.shape != (self.dim,):
            raise ValueError(f"a probe of {p.size} numbers against a gallery of {self.dim}: another face model")
        return p

    def _squared(self, probe: FloatArray) -> FloatArray:
        p = self._probe(probe)
        sq: FloatArray = self._norms - 2.0 * (self._matrix @ p) + float(p @ p)
        return sq

    def _squared_block(self, probe: FloatArray, person: int) -> FloatArray:
        """Squared distances to ``person``'s templates only (not the whole gallery)."""
        s, e = self._block(person)
        p = self._probe(probe)
        sq: FloatArray = self._norms[s:e] - 2.0 * (self._matrix[s:e] @ p) + float(p @ p)
        return sq

    def _owner(self, row: int) -> int:
        return int(np.searchsorted(self._starts, row, side="right")) - 1

    @staticmethod
    def _min_outside(sq: FloatArray, start: int, end: int) -> tuple[int, float]:
        """Row and value of the minimum of ``sq`` outside ``[start, end)``; (-1, inf) if none."""
        best_row, best = -1, float("inf")
        if start > 0:
            r = int(np.argmin(sq[:start]))
            best_row, best = r, float(sq[r])
        if end < len(sq):
            r = end + int(np.argmin(sq[end:]))
            if float(sq[r]) < best:
                best_row, best = r, float(sq[r])
        return best_row, best

    @staticmethod
    def _dist(sq: float) -> float:
        return float(np.sqrt(max(sq, 0.0)))

    def nearest_two(self, probe: FloatArray, *, exclude: str | None = None) -> tuple[Nearest, Nearest]:
        """The nearest person and the nearest other person, skipping ``exclude``."""
        none = Nearest(-1, float("inf"))
        if not len(self):
            return none, none
        sq = self._squared(probe)
        skip = self.index_of(exclude) if exclude is not None else None
        if skip is not None:
            s, e = self._block(skip)
            row, val = self._min_outside(sq, s, e)
            if row < 0:
                return none, none
            sq = sq.copy()
            sq[s:e] = np.inf
        else:
            row = int(np.argmin(sq))
            val = float(sq[row])
        first = self._owner(row)
        s, e = self._block(first)
        row2, val2 = self._min_outside(sq, s, e)
        second = Nearest(self._owner(row2), self._dist(val2)) if row2 >= 0 and np.isfinite(val2) else none
        return Nearest(first, self._dist(val)), second

    def enrolled_distance_to(self, probe: FloatArray, person: int) -> float:
        """The distance to ``person``'s nearest *enrollment* template (inf without one)."""
        s, e = self._block(person)
        sq = self._squared_block(probe, person)
        if self._adapted is not None:
            sq = sq[~self._adapted[s:e]]
        return self._dist(float(np.min(sq))) if len(sq) else float("inf")

    def mean_distance_to(self, probe: FloatArray, person: int) -> float:
        """The mean distance to all of ``person``'s templates (the nearest, with one)."""
        sq = self._squared_block(probe, person)
        return float(np.mean(np.sqrt(np.maximum(sq, 0.0))))

    def distance_to(self, probe: FloatArray, person: int) -> tuple[float, Nearest]:
        """Distance to ``person``'s nearest template, and the nearest other person."""
        sq = self._squared(probe)
        s, e = self._block(person)
        own = float(np.min(sq[s:e]))
        row, val = self._min_outside(sq, s, e)
        other = Nearest(self._owner(row), self._dist(val)) if row >= 0 else Nearest(-1, float("inf"))
        return self._dist(own), other


def identify(gallery: Gallery, probe: FloatArray, t: MatchThresholds, *, exclude: str | None = None) -> Decision:
    """Who is this? Accept the nearest person only when close and clearly closer than the next."""
    first, second = gallery.nearest_two(probe, exclude=exclude)
    if first.person < 0:
        return Decision(outcome=Outcome.NOT_RECOGNISED, employee_id=None, distance=None, margin=None)
    margin = second.distance - first.distance
    if first.distance <= t.accept and margin >= t.margin:
        return Decision(
            outcome=Outcome.ACCEPTED,
            employee_id=gallery.person_id(first.person),
            distance=first.distance,
            margin=margin,
        )
    outcome = Outcome.RETRY if first.distance <= t.retry else Outcome.NOT_RECOGNISED
    return Decision(outcome=outcome, employee_id=None, distance=first.distance, margin=margin)


CLEAR_GALLERY = 10  # people: below this, being the nearest of the gallery says little (verify's clear band)


def verify(gallery: Gallery, claimed_id: str, probe: FloatArray, t: MatchThresholds) -> Decision:
    """Is this the claimed person? One comparison, and a check that no colleague is closer.

    * accepted: within ``verify`` of the claimed person and nearer to them than to anyone else,
      or, in the clear band, within ``verify_clear`` and ``verify_clear_margin`` nearer to them
      than to anyone else in a gallery of ``CLEAR_GALLERY`` people or more; and, with several
      templates, within that bound + ``verify_support`` of them on average;
    * other person: nearer to a colleague who is within ``accept`` of the probe and at least
      ``margin`` nearer than the claimed person (someone checking in for a friend);
    * retry: within ``verify_retry`` of the claimed person but not accepted;
    * not recognised: otherwise.
    """
    person = gallery.index_of(claimed_id)
    if person is None:
        return Decision(outcome=Outcome.NOT_ENROLLED, employee_id=None, distance=None, margin=None)
    own, other = gallery.distance_to(probe, person)
    margin = other.distance - own
    bound: float | None = None  # the accept bound the probe falls under
    if other.person >= 0 and other.distance < own:
        if other.distance <= t.accept and -margin >= t.margin:
            return Decision(
                outcome=Outcome.OTHER_PERSON,
                employee_id=gallery.person_id(other.person),
                distance=own,
                margin=margin,
            )
    elif own <= t.verify and margin >= t.verify_margin:
        bound = t.verify
    elif t.verify < own <= t.verify_clear and margin >= t.verify_clear_margin and len(gallery) >= CLEAR_GALLERY:
        bound = t.verify_clear
    if bound is not None and gallery.mean_distance_to(probe, person) <= bound + t.verify_support:
        return Decision(outcome=Outcome.ACCEPTED, employee_id=claimed_id, distance=own, margin=margin)
    outcome = Outcome.RETRY if own <= t.verify_retry else Outcome.NOT_RECOGNISED
    return Decision(outcome=outcome, employee_id=None, distance=own, margin=margin)


def may_adapt(gallery: Gallery, decision: Decision, probe: FloatArray, t: MatchThresholds) -> bool:
    """Whether an accepted check-in's embedding may become an adapted template of its person:
    within ``t.adapt`` of one of their *enrollment* templates (not of an adapted one: a chain of
    look-alikes cannot walk the templates away from the enrolled face) and ``t.adapt_margin``
    nearer to them than to anyone else. The caller adds the tenant's conditions (the setting is
    on; the check-in was not retried, flagged or reviewed)."""
    if decision.outcome is not Outcome.ACCEPTED or decision.employee_id is None or decision.margin is None:
        return False
    person = gallery.index_of(decision.employee_id)
    if person is None or decision.margin < t.adapt_margin:
        return False
    if decision.distance is not None and decision.distance < t.adapt_novelty:
        return False  # as close to a template as a photo of the same moment: it would add nothing
    return gallery.enrolled_distance_to(probe, person) <= min(t.adapt, t.verify)


DUPLICATE_DISTANCE = 0.12  # the same photo re-sent, recompressed or resized lands well below this


def check_enrollment(gallery: Gallery, employee_id: str, probe: FloatArray, t: MatchThresholds) -> str | None:
    """Why a new template must not be stored, or None: ``duplicate``, ``not_same_person`` (a further
    photo must match the person's own templates within the verify threshold: otherwise anyone with
    a moment at someone's phone could add their face to that record) or ``other_person``."""
    person = gallery.index_of(employee_id)
    if person is not None:
        own, other = gallery.distance_to(probe, person)
        if own < DUPLICATE_DISTANCE:
            return "duplicate"
        if own > t.verify:
            return "not_same_person"
    else:
        other, _ = gallery.nearest_two(probe)
    if other.person >= 0 and other.distance <= t.accept:
        return "other_person"
    return None
