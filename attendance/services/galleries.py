"""Per-tenant galleries in memory, rebuilt when the tenant's template version moves, and at
least every ``MAX_AGE_S`` (so that templates adapted from check-ins, which do not move the
version, are used within the hour). A gallery holds the templates of the face model in use only
(``model_id``): a template enrolled with another model is never compared.

A load also settles the tenant's pending adapted templates (``core/domain/adaptation.py``):
confirmed ones join the gallery, dropped ones are deleted. Several workers may settle the same
templates at once: each reaches the same verdict, and each write is idempotent (the audit entry
of a confirmation has a key)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from attendance.core.domain.adaptation import settle_adapted
from attendance.core.domain.checkins import RETRIED_WITHIN
from attendance.core.domain.faces import FaceModelCard
from attendance.core.domain.model import ADAPTED_PER_PERSON, FaceTemplate
from attendance.core.matching import Gallery
from attendance.core.ports import AuditLog, Clock, ConsentRepository, JobQueue, TemplateRepository, TenantRepository

log = logging.getLogger(__name__)

MAX_AGE_S = 3600.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Settling:
    """What settling pending adapted templates reads and writes besides the templates."""

    consents: ConsentRepository
    jobs: JobQueue  # the refused attempts
    audit: AuditLog
    clock: Clock


class TemplateGalleryCache:
    """The ``GalleryProvider`` port: one gallery per tenant, checked against its version."""

    def __init__(
        self,
        tenants: TenantRepository,
        templates: TemplateRepository,
        model: FaceModelCard,
        settling: Settling,
        *,
        max_age_s: float = MAX_AGE_S,
    ) -> None:
        self._tenants = tenants
        self._templates = templates
        self._model = model
        self._settling = settling
        self._max_age_s = max_age_s
        self._loaded: dict[str, float] = {}  # tenant -> time.monotonic() of its gallery's load
        self._cache: dict[str, Gallery] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def _fresh(self, tenant_id: str) -> bool:
        return time.monotonic() - self._loaded.get(tenant_id, float("-inf")) < self._max_age_s

    def sizes(self) -> tuple[int, int, int]:
        galleries = list(self._cache.values())
        return len(galleries), sum(len(g) for g in galleries), sum(g.templates for g in galleries)

    async def gallery(self, tenant_id: str, version: int | None = None) -> Gallery:
        if version is None:
            tenant = await self._tenants.get(tenant_id)
            version = tenant.template_version if tenant else -1
        cached = self._cache.get(tenant_id)
        if cached is not None and cached.version == version and self._fresh(tenant_id):
            return cached
        async with self._locks.setdefault(tenant_id, asyncio.Lock()):
            cached = self._cache.get(tenant_id)
            if cached is not None and cached.version == version and self._fresh(tenant_id):
                return cached
            templates = await self._templates.for_tenant(tenant_id, model_id=self._model.id)
            if any(t.pending is not None for t in templates):
                templates = await self._settle(tenant_id, templates)
            rows = [(t, vector) for t in templates for vector in (t.embedding, t.mirror) if vector is not None]
            gallery = Gallery.build(  # an enrollment photo's mirror image is a row of its own
                ((t.employee_id, vector) for t, vector in rows),
                dim=self._model.embedding_size,
                version=version,
                adapted=[t.adapted_from is not None for t, _ in rows],
            )
            self._cache[tenant_id] = gallery
            self._loaded[tenant_id] = time.monotonic()
            log.info(
                "gallery loaded tenant=%s version=%s people=%s templates=%s",
                tenant_id,
                version,
                len(gallery),
                len(templates),
            )
            return gallery

    async def _settle(self, tenant_id: str, templates: Sequence[FaceTemplate]) -> list[FaceTemplate]:
        """Settle the pending adapted templates; the templates the gallery takes."""
        pending = [t.pending for t in templates if t.pending is not None]
        tenant = await self._tenants.get(tenant_id)
        consents = await self._settling.consents.active_for(tenant_id, {t.employee_id for t in templates if t.pending})
        identities = [p.identity for p in pending if p.identity is not None]
        since = min(p.received_at for p in pending) - RETRIED_WITHIN
        refusals = await self._settling.jobs.refusals(tenant_id, identities, since) if identities else []
        settled = settle_adapted(
            templates,
            adapting=tenant is not None and tenant.policy.adapt_templates,
            consents=consents,
            refusals=refusals,
            keep=ADAPTED_PER_PERSON,
            now=self._settling.clock.now(),
        )
        await self._templates.settle_adapted(tenant_id, settled)
        for t in templates:
            if t.id in settled.confirmed:
                await self._settling.audit.record(
                    tenant_id=tenant_id,
                    actor="worker",
                    action="face.adapted",
                    subject=t.employee_id,
                    at=t.created_at,
                    key=f"face.adapted:{t.id}",
                )
        log.info(
            "adapted templates settled tenant=%s kept=%s dropped=%s",
            tenant_id,
            len(settled.confirmed),
            len(settled.dropped),
        )
        dropped = set(settled.dropped)
        return [t for t in templates if t.id not in dropped and (t.pending is None or t.id in settled.confirmed)]
