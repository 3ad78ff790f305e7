"""Per-tenant galleries in memory, rebuilt when the tenant's template version moves, and at
least every ``MAX_AGE_S`` (so that templates adapted from check-ins, which do not move the
version, are used within the hour). A gallery holds the templates of the face model in use only
(``model_id``): a template enrolled with another model is never compared."""

from __future__ import annotations

import asyncio
import logging
import time

from attendance.core.domain.faces import FaceModelCard
from attendance.core.matching import Gallery
from attendance.core.ports import TemplateRepository, TenantRepository

log = logging.getLogger(__name__)

MAX_AGE_S = 3600.0


class TemplateGalleryCache:
    """The ``GalleryProvider`` port: one gallery per tenant, checked against its version."""

    def __init__(
        self,
        tenants: TenantRepository,
        templates: TemplateRepository,
        model: FaceModelCard,
        *,
        max_age_s: float = MAX_AGE_S,
    ) -> None:
        self._tenants = tenants
        self._templates = templates
        self._model = model
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
