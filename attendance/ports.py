"""Ports: what the services need from the outside world, as ``typing.Protocol``s.

Adapters live elsewhere and are named by technology and port (``MongoTenantRepository``,
``DlibFaceEngine``, ...). Only ``bootstrap`` knows which adapter serves which port.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from attendance.domain.faces import FaceAnalysis, Purpose
from attendance.domain.model import Consent, Employee, FaceTemplate, Tenant
from attendance.matching import Gallery


class AlreadyExists(Exception):
    """A repository refused a write because a unique key is taken."""


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware datetime in UTC."""
        ...


class TenantRepository(Protocol):
    async def add(self, tenant: Tenant) -> None: ...
    async def get(self, tenant_id: str) -> Tenant | None: ...
    async def by_name(self, name: str) -> Tenant | None: ...
    async def list(self) -> Sequence[Tenant]: ...
    async def bump_template_version(self, tenant_id: str) -> int: ...


class EmployeeRepository(Protocol):
    async def upsert(self, employee: Employee) -> Employee:
        """Insert, or update the employee with the same tenant and email; returns the stored one."""
        ...

    async def get(self, tenant_id: str, employee_id: str) -> Employee | None: ...
    async def by_email(self, tenant_id: str, email: str) -> Employee | None: ...
    async def list(self, tenant_id: str) -> Sequence[Employee]: ...
    async def set_manager(self, tenant_id: str, employee_id: str, manager_id: str | None) -> None: ...


class ConsentRepository(Protocol):
    async def add(self, consent: Consent) -> None: ...
    async def active(self, tenant_id: str, employee_id: str) -> Consent | None: ...
    async def withdraw_all(self, tenant_id: str, employee_id: str, at: datetime) -> int: ...


class TemplateRepository(Protocol):
    """Face templates. The adapter encrypts embeddings on the way in, decrypts on the way out."""

    async def add(self, template: FaceTemplate) -> None: ...
    async def for_employee(self, tenant_id: str, employee_id: str) -> Sequence[FaceTemplate]: ...
    async def for_tenant(self, tenant_id: str) -> Sequence[FaceTemplate]: ...
    async def count(self, tenant_id: str, employee_id: str) -> int: ...
    async def delete_for_employee(self, tenant_id: str, employee_id: str) -> int: ...


class AuditLog(Protocol):
    async def record(self, *, tenant_id: str, actor: str, action: str, subject: str, at: datetime) -> None:
        """Who did what to whom. Never biometric data."""
        ...


class TemplateCipher(Protocol):
    """Authenticated encryption of embeddings; ``context`` binds a ciphertext to its owner."""

    @property
    def active_key_id(self) -> str: ...
    def encrypt(self, plaintext: bytes, context: bytes) -> tuple[str, bytes]: ...
    def decrypt(self, key_id: str, blob: bytes, context: bytes) -> bytes: ...


class FaceEngine(Protocol):
    async def analyse(self, photo: bytes, purpose: Purpose) -> FaceAnalysis:
        """Find the face and describe it, or raise ``PhotoRefused``."""
        ...


class PhotoFiles(Protocol):
    def read(self, name: str) -> bytes:
        """The bytes of the photo called ``name``; ``OSError``/``ValueError`` if it cannot be read."""
        ...


class GalleryProvider(Protocol):
    async def gallery(self, tenant_id: str) -> Gallery:
        """The tenant's current gallery (rebuilt when its template version changed)."""
        ...
