"""Settling adapted templates.

A confident check-in (``matching.may_adapt``) stores its embedding as a *pending* adapted
template: one write on the check-in's path. The checks that used to follow it on that path are
made when a worker next loads the tenant's gallery, for all pending templates at once (galleries
take adapted templates at a load anyway, ``services/galleries.py``): a pending template is
confirmed when the tenant still adapts, the person's consent is active (it is kept under that
consent), and the same identity had no refused attempt (``REFUSED_MATCHES``) within
``RETRIED_WITHIN`` of the check-in, before or after it; otherwise it is dropped (and when it
waited longer than ``PENDING_KEPT``: the refusals are no longer known). Then each person
keeps their newest ``ADAPTED_PER_PERSON`` adapted templates. A pending template is never matched
against, and one stored after its person's erasure (a check-in decided meanwhile) finds no consent
and is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from attendance.core.domain.checkins import RETRIED_WITHIN
from attendance.core.domain.model import FaceTemplate

# a pending template not settled within this is dropped: the refused attempts it is checked
# against are kept only so long (the job queue keeps a job two days: adapters/mongo/checkins.py)
PENDING_KEPT = timedelta(days=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class Refusal:
    """A refused attempt (``REFUSED_MATCHES``) of a chat user, e-mail or employee id."""

    identity_kind: str
    identity: str
    received_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Settled:
    confirmed: dict[str, str] = field(default_factory=dict)  # template id -> the consent it is kept under
    dropped: list[str] = field(default_factory=list)  # template ids: a check failed, or beyond the keep limit

    def __bool__(self) -> bool:
        return bool(self.confirmed or self.dropped)


def settle_adapted(
    templates: Sequence[FaceTemplate],
    *,
    adapting: bool,
    consents: Mapping[str, str],
    refusals: Sequence[Refusal],
    keep: int,
    now: datetime,
) -> Settled:
    """``templates``: a tenant's templates, the pending ones among them; ``consents``: the active
    consent of each person (by employee id); ``refusals``: those of the pending templates'
    identities around their check-ins. A pending template older than ``PENDING_KEPT`` is dropped."""
    settled = Settled()
    for t in templates:
        if t.pending is None:
            continue
        p = t.pending
        refused = p.identity is not None and any(
            r.identity_kind == p.identity_kind
            and r.identity == p.identity
            and abs(r.received_at - p.received_at) <= RETRIED_WITHIN
            for r in refusals
        )
        consent = consents.get(t.employee_id)
        if adapting and consent is not None and not refused and now - p.received_at <= PENDING_KEPT:
            settled.confirmed[t.id] = consent
        else:
            settled.dropped.append(t.id)
    adapted: dict[str, list[FaceTemplate]] = {}
    for t in templates:
        if t.adapted_from is not None and (t.pending is None or t.id in settled.confirmed):
            adapted.setdefault(t.employee_id, []).append(t)
    for mine in adapted.values():
        mine.sort(key=lambda t: (t.created_at, t.id), reverse=True)
        for old in mine[keep:]:
            settled.confirmed.pop(old.id, None)
            settled.dropped.append(old.id)
    return settled
