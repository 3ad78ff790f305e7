"""Per-tenant galleries in memory, rebuilt when the tenant's template version moves. A gallery
holds the templates of the face model in use only (``model_id``): a template enrolled with
another model is never compared."""

from __future__ import annotations

import asyncio
import logging

from attendance.core.domain.faces import FaceModelCard
from attendance.core.matching import Gallery
from attendance.core.ports import TemplateRepository, TenantRepository

log = logging.getLogger(__name__)


class TemplateGalleryCache:
    """The ``GalleryProvider`` port: one gallery per tenant, checked against its version."""

    def __init__(self, tenants: TenantRepository, templates: TemplateRepository, model: FaceModelCard) -> None:
        self._tenants = tenants
        self._templates = templates
        self._model = model
        self._cache: dict[str, Gallery] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def sizes(self) -> tuple[int, int, int]:
        galleries = list(self._cache.values())
        return len(galleries), sum(len(g) for g in galleries), sum(g.templates for g in galleries)

    async def gallery(self, tenant_id: str, version: int | None = None) -> Gallery:
        if version is None:
            tenant = await self._tenants.get(tenant_id)
            version = tenant.template_version if tenant else -1
        cached = self._cache.get(tenant_id)
        if cached is not None and cached.version == version:
            return cached
        async with self._locks.setdefault(tenant_id, asyncio.Lock()):
            cached = self._cache.get(tenant_id)
            if cached is not None and cached.version == version:
                return cached
            templates = await self._templates.for_tenant(tenant_id, model_id=self._model.id)
            gallery = Gallery.build(
                ((t.employee_id, t.embedding) for t in templates), dim=self._model.embedding_size, version=version
            )
            self._cache[tenant_id] = gallery
            log.info(
                "gallery loaded tenant=%s version=%s people=%s templates=%s",
                tenant_id,
                version,
                len(gallery),
                len(templates),
            )
            return gallery
