"""MongoDB adapters for the repository ports (PyMongo's async API), and the indexes.

Face embeddings are encrypted here, at the storage boundary: the database only ever sees
ciphertext bound (as associated data) to its tenant, employee and template id.

Exception tree::

    StorageError            the database did not hold what it should
    core.errors.StoreUnavailable  any other PyMongo error of a public method (``@translated``)
    (ports.AlreadyExists    a unique key is taken: tenant name, chat workspace or user id)
"""

from __future__ import annotations

import builtins
import dataclasses
import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import date, datetime, time
from typing import Any, ParamSpec, TypeVar

import numpy as np
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel, ReturnDocument, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from attendance.core.domain.adaptation import Settled
from attendance.core.domain.model import (
    CheckInPolicy,
    Consent,
    Employee,
    FaceQuality,
    FaceTemplate,
    MatchThresholds,
    PendingAdaptation,
    ReminderPolicy,
    Role,
    Tenant,
    WorkSchedule,
    new_id,
)
from attendance.core.errors import StoreUnavailable
from attendance.core.ports import AlreadyExists, AuditEntry, Resealed, TemplateCipher

Doc = dict[str, Any]
Database = AsyncDatabase[Doc]
DUPLICATE_KEY = 11000  # the server's error code for a unique key already taken


async def insert_new(collection: AsyncCollection[Doc], docs: Sequence[Doc]) -> None:
    """Insert the documents whose key is not there yet, in one round trip; the others are left as
    they are (written before: a re-run, another process). An upsert of each costs the embedded
    server a third more."""
    if not docs:
        return
    try:
        await collection.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
            raise


class StorageError(Exception):
    pass


P = ParamSpec("P")
R = TypeVar("R")
C = TypeVar("C", bound=type)


def _translating(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    @functools.wraps(fn)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except PyMongoError as exc:
            raise StoreUnavailable(f"the database did not answer: {type(exc).__name__}") from exc

    return call


def translated(cls: C) -> C:
    """Every public coroutine method of ``cls`` raises ``StoreUnavailable`` where PyMongo raised:
    the driver's errors end at the storage boundary."""
    for name, member in list(vars(cls).items()):
        if not name.startswith("_") and inspect.iscoroutinefunction(member):
            setattr(cls, name, _translating(member))
    return cls


DRIVER_CONNECTIONS = 100  # PyMongo's own pool size: every role but the dispatcher keeps it


def connect(
    uri: str,
    *,
    server_selection_timeout_ms: int = 10_000,
    operation_timeout_ms: int = 30_000,
    max_connections: int = DRIVER_CONNECTIONS,
) -> AsyncMongoClient[Doc]:
    """One client per event loop and process; created by the composition root only. Every
    operation is bounded (``timeoutMS``, the wait for a free connection included): a stuck server
    is an error to retry, never a hang. ``max_connections``: the pool's size."""
    return AsyncMongoClient(
        uri,
        tz_aware=True,
        serverSelectionTimeoutMS=server_selection_timeout_ms,
        timeoutMS=operation_timeout_ms,
        maxPoolSize=max_connections,
    )


INDEXES: dict[str, list[IndexModel]] = {
    "tenants": [
        IndexModel([("name_key", ASCENDING)], unique=True, name="name_unique"),
    ],
    "employees": [
        IndexModel([("tenant_id", ASCENDING), ("email", ASCENDING)], unique=True, name="email_unique"),
    ],
    "face_templates": [
        IndexModel([("tenant_id", ASCENDING), ("employee_id", ASCENDING)], name="by_employee"),
        IndexModel([("tenant_id", ASCENDING), ("adapted_from", ASCENDING)], name="adapted_from"),
    ],
    "consents": [IndexModel([("tenant_id", ASCENDING), ("employee_id", ASCENDING)], name="by_employee")],
    "audit_log": [IndexModel([("tenant_id", ASCENDING), ("at", ASCENDING)], name="by_time")],
}


# ---------------------------------------------------------------- tenants


def _tenant_doc(t: Tenant) -> Doc:
    doc: Doc = {
        "_id": t.id,
        "name": t.name,
        "name_key": t.name.strip().casefold(),
        "timezone": t.timezone,
        "schedule": schedule_doc(t.schedule),
        "thresholds": None if t.thresholds is None else dataclasses.asdict(t.thresholds),
        "template_version": t.template_version,
        "policy": dataclasses.asdict(t.policy),
        "holidays": t.holidays,
        "weekly_hours": t.weekly_hours,
        "reminders": reminders_doc(t.reminders),
    }
    return doc


def reminders_doc(r: ReminderPolicy) -> Doc:
    return {**dataclasses.asdict(r), "digest_at": r.digest_at.strftime("%H:%M")}


def reminders_from(doc: Doc) -> ReminderPolicy:
    fields = {k: v for k, v in doc.items() if k in _REMINDER_FIELDS}
    if "digest_at" in fields:
        fields["digest_at"] = time.fromisoformat(str(fields["digest_at"]))
    return ReminderPolicy(**fields)


_REMINDER_FIELDS = {f.name for f in dataclasses.fields(ReminderPolicy)}


def schedule_doc(s: WorkSchedule) -> Doc:
    return {
        "start": s.start.strftime("%H:%M"),
        "end": s.end.strftime("%H:%M"),
        "weekdays": sorted(s.weekdays),
        "grace_minutes": s.grace_minutes,
    }


def schedule_from(doc: Doc) -> WorkSchedule:
    return WorkSchedule(
        start=time.fromisoformat(doc.get("start", "09:00")),
        end=time.fromisoformat(doc.get("end", "17:00")),
        weekdays=frozenset(doc.get("weekdays", [0, 1, 2, 3, 4])),
        grace_minutes=int(doc.get("grace_minutes", 5)),
    )


_POLICY_FIELDS = {f.name for f in dataclasses.fields(CheckInPolicy)}


def _tenant(doc: Doc) -> Tenant:
    th = doc.get("thresholds")
    return Tenant(
        id=doc["_id"],
        name=doc["name"],
        timezone=doc.get("timezone", "UTC"),
        schedule=schedule_from(doc.get("schedule") or {}),
        thresholds=MatchThresholds(**th) if th else None,
        template_version=int(doc.get("template_version", 0)),
        policy=CheckInPolicy(**{k: v for k, v in (doc.get("policy") or {}).items() if k in _POLICY_FIELDS}),
        holidays=doc.get("holidays"),
        weekly_hours=float(doc.get("weekly_hours", 40.0)),
        reminders=reminders_from(doc.get("reminders") or {}),
    )


@translated
class MongoTenantRepository:
    def __init__(self, db: Database) -> None:
        self._c: AsyncCollection[Doc] = db["tenants"]

    async def add(self, tenant: Tenant) -> None:
        try:
            await self._c.insert_one(_tenant_doc(tenant))
        except DuplicateKeyError as exc:
            raise AlreadyExists("a tenant with that name already exists") from exc

    async def get(self, tenant_id: str) -> Tenant | None:
        doc = await self._c.find_one({"_id": tenant_id})
        return _tenant(doc) if doc else None

    async def by_name(self, name: str) -> Tenant | None:
        doc = await self._c.find_one({"name_key": name.strip().casefold()})
        return _tenant(doc) if doc else None

    async def list(self) -> Sequence[Tenant]:
        return [_tenant(d) async for d in self._c.find({}).sort("name_key", ASCENDING)]

    async def set_policy(self, tenant_id: str, policy: CheckInPolicy) -> None:
        await self._c.update_one({"_id": tenant_id}, {"$set": {"policy": dataclasses.asdict(policy)}})

    async def set_timezone(self, tenant_id: str, timezone: str) -> None:
        await self._c.update_one({"_id": tenant_id}, {"$set": {"timezone": timezone}})

    async def set_schedule(self, tenant_id: str, schedule: WorkSchedule) -> None:
        doc = _tenant_doc(Tenant(id=tenant_id, name="-", schedule=schedule))
        await self._c.update_one({"_id": tenant_id}, {"$set": {"schedule": doc["schedule"]}})

    async def set_holidays(self, tenant_id: str, region: str | None) -> None:
        await self._c.update_one({"_id": tenant_id}, {"$set": {"holidays": region}})

    async def set_weekly_hours(self, tenant_id: str, hours: float) -> None:
        await self._c.update_one({"_id": tenant_id}, {"$set": {"weekly_hours": hours}})

    async def set_reminders(self, tenant_id: str, policy: ReminderPolicy) -> None:
        await self._c.update_one({"_id": tenant_id}, {"$set": {"reminders": reminders_doc(policy)}})

    async def set_thresholds(self, tenant_id: str, thresholds: MatchThresholds | None) -> None:
        doc = _tenant_doc(Tenant(id=tenant_id, name="-", thresholds=thresholds))
        await self._c.update_one({"_id": tenant_id}, {"$set": {"thresholds": doc["thresholds"]}})

    async def bump_template_version(self, tenant_id: str) -> int:
        doc = await self._c.find_one_and_update(
            {"_id": tenant_id}, {"$inc": {"template_version": 1}}, return_document=ReturnDocument.AFTER
        )
        if doc is None:
            raise StorageError(f"no tenant {tenant_id}")
        return int(doc["template_version"])


# ---------------------------------------------------------------- employees


def _employee_fields(e: Employee) -> Doc:
    doc: Doc = {
        "tenant_id": e.tenant_id,
        "name": e.name,
        "email": e.email,
        "manager_id": e.manager_id,
        "timezone": e.timezone,
        "roles": sorted(r.value for r in e.roles),
    }
    if e.worker_id:  # kept when a later write (a chat install) does not know it
        doc["worker_id"] = e.worker_id
    return doc


def _employee(doc: Doc) -> Employee:
    return Employee(
        id=doc["_id"],
        tenant_id=doc["tenant_id"],
        name=doc["name"],
        email=doc["email"],
        worker_id=doc.get("worker_id"),
        manager_id=doc.get("manager_id"),
        timezone=doc.get("timezone"),
        roles=frozenset(Role(r) for r in doc.get("roles", ["employee"])),
        schedule=schedule_from(doc["schedule"]) if doc.get("schedule") else None,
        weekly_hours=doc.get("weekly_hours"),
        holidays=doc.get("holidays"),
        inactive_from=date.fromisoformat(doc["inactive_from"]) if doc.get("inactive_from") else None,
        reminders=bool(doc.get("reminders", True)),
    )


@translated
class MongoEmployeeRepository:
    def __init__(self, db: Database) -> None:
        self._c: AsyncCollection[Doc] = db["employees"]

    async def upsert(self, employee: Employee) -> Employee:
        update: Doc = {"$set": _employee_fields(employee), "$setOnInsert": {"_id": employee.id or new_id()}}
        doc = await self._c.find_one_and_update(
            {"tenant_id": employee.tenant_id, "email": employee.email},
            update,
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert doc is not None, "an upsert returning the document after it always finds one"
        return _employee(doc)

    async def get(self, tenant_id: str, employee_id: str) -> Employee | None:
        doc = await self._c.find_one({"_id": employee_id, "tenant_id": tenant_id})
        return _employee(doc) if doc else None

    async def by_email(self, tenant_id: str, email: str) -> Employee | None:
        doc = await self._c.find_one({"tenant_id": tenant_id, "email": email.strip().lower()})
        return _employee(doc) if doc else None

    async def list(self, tenant_id: str) -> Sequence[Employee]:
        return [_employee(d) async for d in self._c.find({"tenant_id": tenant_id}).sort("email", ASCENDING)]

    async def set_manager(self, tenant_id: str, employee_id: str, manager_id: str | None) -> None:
        await self._c.update_one({"_id": employee_id, "tenant_id": tenant_id}, {"$set": {"manager_id": manager_id}})

    async def set_schedule(
        self, tenant_id: str, employee_id: str, schedule: WorkSchedule | None, weekly_hours: float | None
    ) -> None:
        fields = {"schedule": schedule_doc(schedule) if schedule else None, "weekly_hours": weekly_hours}
        await self._c.update_one({"_id": employee_id, "tenant_id": tenant_id}, {"$set": fields})

    async def set_holidays(self, tenant_id: str, employee_id: str, region: str | None) -> None:
        await self._c.update_one({"_id": employee_id, "tenant_id": tenant_id}, {"$set": {"holidays": region}})

    async def set_reminders(self, tenant_id: str, employee_id: str, on: bool) -> None:
        await self._c.update_one({"_id": employee_id, "tenant_id": tenant_id}, {"$set": {"reminders": on}})

    async def set_inactive_from(self, tenant_id: str, employee_id: str, day: date | None) -> None:
        value = day.isoformat() if day else None
        await self._c.update_one({"_id": employee_id, "tenant_id": tenant_id}, {"$set": {"inactive_from": value}})

    async def page(
        self, tenant_id: str, *, after: str | None, limit: int, visible_to: str | None = None
    ) -> builtins.list[Employee]:
        query: Doc = {"tenant_id": tenant_id}
        if after is not None:
            query["_id"] = {"$gt": after}
        if visible_to is not None:
            query["$or"] = [{"_id": visible_to}, {"manager_id": visible_to}]
        return [_employee(d) async for d in self._c.find(query).sort("_id", ASCENDING).limit(limit)]


# ---------------------------------------------------------------- consents


def _newest_active(consents: Sequence[Doc]) -> dict[str, Doc]:
    """Employee id -> their newest consent not withdrawn, among these."""
    newest: dict[str, Doc] = {}
    for d in consents:
        mine = newest.get(d["employee_id"])
        if d.get("withdrawn_at") is None and (mine is None or d["given_at"] > mine["given_at"]):
            newest[d["employee_id"]] = d
    return newest


@translated
class MongoConsentRepository:
    def __init__(self, db: Database) -> None:
        self._c: AsyncCollection[Doc] = db["consents"]

    async def add(self, consent: Consent) -> None:
        await self._c.insert_one(
            {
                "_id": consent.id,
                "tenant_id": consent.tenant_id,
                "employee_id": consent.employee_id,
                "notice_version": consent.notice_version,
                "given_at": consent.given_at,
                "recorded_by": consent.recorded_by,
                "method": consent.method,
                "withdrawn_at": consent.withdrawn_at,
            }
        )

    async def active(self, tenant_id: str, employee_id: str) -> Consent | None:
        # the filter is exactly the index (see INDEXES); the rest is picked here, from the few
        # consents of one person: a further field makes the embedded server read the whole tenant
        docs = await self._c.find({"tenant_id": tenant_id, "employee_id": employee_id}).to_list()
        doc = _newest_active(docs).get(employee_id)
        if doc is None:
            return None
        return Consent(
            id=doc["_id"],
            tenant_id=doc["tenant_id"],
            employee_id=doc["employee_id"],
            notice_version=doc["notice_version"],
            given_at=doc["given_at"],
            recorded_by=doc["recorded_by"],
            method=doc["method"],
            withdrawn_at=doc.get("withdrawn_at"),
        )

    async def active_for(self, tenant_id: str, employee_ids: Iterable[str]) -> dict[str, str]:
        people = {"tenant_id": tenant_id, "employee_id": {"$in": sorted(set(employee_ids))}}  # exactly the index
        docs = await self._c.find(people, {"employee_id": 1, "given_at": 1, "withdrawn_at": 1}).to_list()
        return {employee_id: str(d["_id"]) for employee_id, d in _newest_active(docs).items()}

    async def withdraw_all(self, tenant_id: str, employee_id: str, at: datetime) -> int:
        result = await self._c.update_many(
            {"tenant_id": tenant_id, "employee_id": employee_id, "withdrawn_at": None}, {"$set": {"withdrawn_at": at}}
        )
        return int(result.modified_count)


# ---------------------------------------------------------------- face templates


def _context(tenant_id: str, employee_id: str, template_id: str) -> bytes:
    return f"face-template:{tenant_id}:{employee_id}:{template_id}".encode()


@translated
class MongoTemplateRepository:
    """Stores ``float32`` embeddings encrypted with the injected cipher (AES-256-GCM)."""

    def __init__(self, db: Database, cipher: TemplateCipher) -> None:
        self._c: AsyncCollection[Doc] = db["face_templates"]
        self._cipher = cipher

    async def add(self, template: FaceTemplate) -> None:
        await self._insert(template)

    async def _insert(self, template: FaceTemplate) -> None:
        vectors = [template.embedding] if template.mirror is None else [template.embedding, template.mirror]
        plain = np.asarray(vectors, dtype="<f4").tobytes()  # sealed together: the mirror is as biometric
        key_id, blob = self._cipher.encrypt(plain, _context(template.tenant_id, template.employee_id, template.id))
        q = template.quality
        await self._c.insert_one(
            {
                "_id": template.id,
                "tenant_id": template.tenant_id,
                "employee_id": template.employee_id,
                "key_id": key_id,
                "ciphertext": blob,
                "model_id": template.model_id,
                "quality": {
                    "face_px": q.face_px,
                    "sharpness": q.sharpness,
                    "brightness": q.brightness,
                    "detector_score": q.detector_score,
                },
                "consent_id": template.consent_id,
                "created_at": template.created_at,
                "pending": None if template.pending is None else dataclasses.asdict(template.pending),
                "adapted_from": template.adapted_from,
                "vectors": len(vectors),
            }
        )

    async def add_adapted(self, template: FaceTemplate) -> bool:
        try:
            await self._insert(template)
        except DuplicateKeyError:
            return False
        return True

    async def settle_adapted(self, tenant_id: str, settled: Settled) -> None:
        confirm = [
            UpdateOne({"_id": template_id}, {"$set": {"consent_id": consent_id, "pending": None}})
            for template_id, consent_id in settled.confirmed.items()
        ]
        if confirm:
            await self._c.bulk_write(confirm, ordered=False)
        if settled.dropped:  # by _id alone: the caller read them from this tenant's templates
            await self._c.delete_many({"_id": {"$in": list(settled.dropped)}})

    async def drop_adapted_from(self, tenant_id: str, event_id: str) -> int:
        result = await self._c.delete_many({"tenant_id": tenant_id, "adapted_from": event_id})
        return int(result.deleted_count)

    async def reseal(self, *, dry_run: bool) -> Resealed:
        active = self._cipher.active_key_id
        current = await self._c.count_documents({"key_id": active})
        resealed = 0
        async for doc in self._c.find(
            {"key_id": {"$ne": active}}, {"key_id": 1, "ciphertext": 1, "tenant_id": 1, "employee_id": 1}
        ):
            context = _context(doc["tenant_id"], doc["employee_id"], doc["_id"])
            plain = self._cipher.decrypt(doc["key_id"], bytes(doc["ciphertext"]), context)
            if not dry_run:
                key_id, blob = self._cipher.encrypt(plain, context)
                done = await self._c.update_one(
                    {"_id": doc["_id"], "key_id": doc["key_id"], "ciphertext": doc["ciphertext"]},
                    {"$set": {"key_id": key_id, "ciphertext": blob}},
                )
                if done.modified_count == 0:
                    continue  # erased or replaced meanwhile: nothing of the old key left to reseal
            resealed += 1
        return Resealed(resealed=resealed, current=current)

    def _template(self, doc: Doc) -> FaceTemplate:
        plain = self._cipher.decrypt(
            doc["key_id"], bytes(doc["ciphertext"]), _context(doc["tenant_id"], doc["employee_id"], doc["_id"])
        )
        q = doc["quality"]
        vectors = np.frombuffer(plain, dtype="<f4").reshape(int(doc.get("vectors", 1)), -1)  # older ones: 1
        return FaceTemplate(
            id=doc["_id"],
            tenant_id=doc["tenant_id"],
            employee_id=doc["employee_id"],
            embedding=tuple(float(x) for x in vectors[0]),
            mirror=tuple(float(x) for x in vectors[1]) if len(vectors) > 1 else None,
            model_id=doc["model_id"],
            quality=FaceQuality(
                face_px=int(q["face_px"]),
                sharpness=float(q["sharpness"]),
                brightness=float(q["brightness"]),
                detector_score=float(q["detector_score"]),
            ),
            consent_id=doc["consent_id"],
            created_at=doc["created_at"],
            adapted_from=doc.get("adapted_from"),
            pending=PendingAdaptation(**doc["pending"]) if doc.get("pending") else None,
        )

    async def for_employee(self, tenant_id: str, employee_id: str) -> Sequence[FaceTemplate]:
        cursor = self._c.find({"tenant_id": tenant_id, "employee_id": employee_id}).sort("created_at", ASCENDING)
        return [self._template(d) async for d in cursor]

    async def for_tenant(self, tenant_id: str, *, model_id: str) -> Sequence[FaceTemplate]:
        found = self._c.find({"tenant_id": tenant_id, "model_id": model_id})
        return [self._template(d) async for d in found]

    async def count(self, tenant_id: str, employee_id: str) -> int:
        enrolled = {"tenant_id": tenant_id, "employee_id": employee_id, "adapted_from": None}  # or no such field
        return int(await self._c.count_documents(enrolled))

    async def delete_for_employee(self, tenant_id: str, employee_id: str) -> int:
        result = await self._c.delete_many({"tenant_id": tenant_id, "employee_id": employee_id})
        return int(result.deleted_count)


# ---------------------------------------------------------------- audit


@translated
class MongoAuditLog:
    def __init__(self, db: Database) -> None:
        self._c: AsyncCollection[Doc] = db["audit_log"]

    async def record(
        self, *, tenant_id: str, actor: str, action: str, subject: str, at: datetime, key: str | None = None
    ) -> None:
        entry = {"tenant_id": tenant_id, "actor": actor, "action": action, "subject": subject, "at": at}
        await insert_new(self._c, [{"_id": key or new_id(), **entry}])

    async def entries(
        self, tenant_id: str, *, before: tuple[datetime, str] | None, limit: int, action: str | None = None
    ) -> list[AuditEntry]:
        query: Doc = {"tenant_id": tenant_id}
        if before is not None:
            query["$or"] = [{"at": {"$lt": before[0]}}, {"at": before[0], "_id": {"$lt": before[1]}}]
        if action:
            query["action"] = action
        cursor = self._c.find(query).sort([("at", DESCENDING), ("_id", DESCENDING)]).limit(limit)
        return [
            AuditEntry(id=d["_id"], at=d["at"], actor=d["actor"], action=d["action"], subject=d["subject"])
            async for d in cursor
        ]
