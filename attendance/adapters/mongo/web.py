"""Mongo adapters for the dashboard: API and device tokens (hashed), local accounts, and
correction requests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from attendance.adapters.mongo.repositories import Database, Doc, translated
from attendance.core.domain.access import ApiToken, EnrollmentCode, LocalUser, TokenKind
from attendance.core.domain.checkins import Direction
from attendance.core.domain.corrections import CorrectionRequest, RequestStatus
from attendance.core.domain.model import Role
from attendance.core.ports import AlreadyExists

WEB_INDEXES: dict[str, list[IndexModel]] = {
    "api_tokens": [
        IndexModel([("secret_hash", ASCENDING)], unique=True, name="hash_unique"),
        IndexModel([("tenant_id", ASCENDING), ("created_at", ASCENDING)], name="by_tenant"),
    ],
    "local_users": [IndexModel([("email", ASCENDING)], unique=True, name="email_unique")],
    "used_keys": [IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="ttl")],
    "enrollment_codes": [
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="ttl"),
        IndexModel([("tenant_id", ASCENDING), ("employee_id", ASCENDING)], name="by_employee"),
    ],
    "correction_requests": [
        IndexModel([("tenant_id", ASCENDING), ("requested_at", ASCENDING)], name="by_time"),
        IndexModel([("tenant_id", ASCENDING), ("employee_id", ASCENDING)], name="by_employee"),
    ],
}


def _token(d: Doc) -> ApiToken:
    return ApiToken(
        id=d["_id"],
        tenant_id=d["tenant_id"],
        name=d["name"],
        kind=TokenKind(d["kind"]),
        secret_hash=d["secret_hash"],
        created_by=d["created_by"],
        created_at=d["created_at"],
        roles=frozenset(Role(r) for r in d.get("roles", [])),
        employee_id=d.get("employee_id"),
        last_used_at=d.get("last_used_at"),
        revoked_at=d.get("revoked_at"),
    )


@translated
class MongoApiTokens:
    def __init__(self, db: Database) -> None:
        self._c: AsyncCollection[Doc] = db["api_tokens"]

    async def add(self, token: ApiToken) -> None:
        await self._c.insert_one(
            {
                "_id": token.id,
                "tenant_id": token.tenant_id,
                "name": token.name,
                "kind": token.kind.value,
                "secret_hash": token.secret_hash,
                "created_by": token.created_by,
                "created_at": token.created_at,
                "roles": sorted(r.value for r in token.roles),
                "employee_id": token.employee_id,
                "last_used_at": None,
                "revoked_at": None,
            }
        )

    async def by_hash(self, secret_hash: str) -> ApiToken | None:
        doc = await self._c.find_one({"secret_hash": secret_hash})
        return _token(doc) if doc else None

    async def get(self, tenant_id: str, token_id: str) -> ApiToken | None:
        doc = await self._c.find_one({"_id": token_id, "tenant_id": tenant_id})
        return _token(doc) if doc else None

    async def list(self, tenant_id: str) -> list[ApiToken]:
        return [_token(d) async for d in self._c.find({"tenant_id": tenant_id}).sort("created_at", ASCENDING)]

    async def revoke(self, tenant_id: str, token_id: str, at: datetime) -> bool:
        result = await self._c.update_one(
            {"_id": token_id, "tenant_id": tenant_id, "revoked_at": None}, {"$set": {"revoked_at": at}}
        )
        return result.modified_count == 1

    async def touch(self, token_id: str, at: datetime) -> None:
        await self._c.update_one({"_id": token_id}, {"$set": {"last_used_at": at}})


def _user(d: Doc) -> LocalUser:
    return LocalUser(
        id=d["_id"],
        tenant_id=d["tenant_id"],
        email=d["email"],
        password_hash=d["password_hash"],
        roles=frozenset(Role(r) for r in d.get("roles", [])),
        created_at=d["created_at"],
        employee_id=d.get("employee_id"),
    )


@translated
class MongoLocalUsers:
    def __init__(self, db: Database) -> None:
        self._c: AsyncCollection[Doc] = db["local_users"]

    async def add(self, user: LocalUser) -> None:
        try:
            await self._c.insert_one(
                {
                    "_id": user.id,
                    "tenant_id": user.tenant_id,
                    "email": user.email,
                    "password_hash": user.password_hash,
                    "roles": sorted(r.value for r in user.roles),
                    "created_at": user.created_at,
                    "employee_id": user.employee_id,
                }
            )
        except DuplicateKeyError as exc:
            raise AlreadyExists(f"{user.email} already has an account") from exc

    async def by_email(self, email: str) -> LocalUser | None:
        doc = await self._c.find_one({"email": email})
        return _user(doc) if doc else None

    async def get(self, tenant_id: str, user_id: str) -> LocalUser | None:
        doc = await self._c.find_one({"_id": user_id, "tenant_id": tenant_id})
        return _user(doc) if doc else None


def _request(d: Doc) -> CorrectionRequest:
    return CorrectionRequest(
        id=d["_id"],
        tenant_id=d["tenant_id"],
        employee_id=d["employee_id"],
        reason=d["reason"],
        requested_by=d["requested_by"],
        requested_at=d["requested_at"],
        direction=Direction(d["direction"]) if d.get("direction") else None,
        at=d.get("at"),
        supersedes=d.get("supersedes"),
        void=bool(d.get("void")),
        status=RequestStatus(d.get("status", "open")),
        decided_by=d.get("decided_by"),
        decided_at=d.get("decided_at"),
        note=d.get("note"),
        event_id=d.get("event_id"),
    )


@translated
class MongoCorrectionRequests:
    def __init__(self, db: Database) -> None:
        self._c: AsyncCollection[Doc] = db["correction_requests"]

    async def add(self, request: CorrectionRequest) -> None:
        r = request
        await self._c.insert_one(
            {
                "_id": r.id,
                "tenant_id": r.tenant_id,
                "employee_id": r.employee_id,
                "reason": r.reason,
                "requested_by": r.requested_by,
                "requested_at": r.requested_at,
                "direction": r.direction.value if r.direction else None,
                "at": r.at,
                "supersedes": r.supersedes,
                "void": r.void,
                "status": r.status.value,
            }
        )

    async def get(self, tenant_id: str, request_id: str) -> CorrectionRequest | None:
        doc = await self._c.find_one({"_id": request_id, "tenant_id": tenant_id})
        return _request(doc) if doc else None

    async def page(
        self,
        tenant_id: str,
        *,
        employee_ids: Sequence[str] | None,
        status: RequestStatus | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[CorrectionRequest]:
        query: Doc = {"tenant_id": tenant_id}
        if employee_ids is not None:
            query["employee_id"] = {"$in": list(employee_ids)}
        if status is not None:
            query["status"] = status.value
        if after is not None:
            query["$or"] = [{"requested_at": {"$gt": after[0]}}, {"requested_at": after[0], "_id": {"$gt": after[1]}}]
        cursor = self._c.find(query).sort([("requested_at", ASCENDING), ("_id", ASCENDING)]).limit(limit)
        return [_request(d) async for d in cursor]

    async def decide(
        self,
        tenant_id: str,
        request_id: str,
        *,
        status: RequestStatus,
        by: str,
        at: datetime,
        note: str | None,
        event_id: str | None,
    ) -> bool:
        result = await self._c.update_one(
            {"_id": request_id, "tenant_id": tenant_id, "status": RequestStatus.OPEN.value},
            {"$set": {"status": status.value, "decided_by": by, "decided_at": at, "note": note, "event_id": event_id}},
        )
        return result.modified_count == 1

    async def reopen(self, tenant_id: str, request_id: str) -> None:
        await self._c.update_one(
            {"_id": request_id, "tenant_id": tenant_id, "status": RequestStatus.APPROVED.value},
            {"$set": {"status": RequestStatus.OPEN.value, "decided_by": None, "decided_at": None, "event_id": None}},
        )


@translated
class MongoUsedKeys:
    """The ``UsedKeys`` port: one document per key, dropped by a TTL index when its time is up."""

    def __init__(self, db: Database) -> None:
        self._c: AsyncCollection[Doc] = db["used_keys"]

    async def mark(self, key: str, until: datetime) -> bool:
        try:
            await self._c.insert_one({"_id": key, "expires_at": until})
        except DuplicateKeyError:
            return False
        return True

    async def marked(self, key: str) -> bool:
        return await self._c.find_one({"_id": key}, {"_id": 1}) is not None


@translated
class MongoEnrollmentCodes:
    """The ``EnrollmentCodes`` port: one document per code, ``_id`` the code's hash; a TTL index drops
    expired ones (and ``valid`` checks the time itself, since the TTL monitor runs once a minute)."""

    def __init__(self, db: Database) -> None:
        self._c: AsyncCollection[Doc] = db["enrollment_codes"]

    async def replace(self, code: EnrollmentCode) -> None:
        await self._c.delete_many({"tenant_id": code.tenant_id, "employee_id": code.employee_id})
        await self._c.insert_one(
            {
                "_id": code.code_hash,
                "tenant_id": code.tenant_id,
                "employee_id": code.employee_id,
                "issued_by": code.issued_by,
                "issued_at": code.issued_at,
                "expires_at": code.expires_at,
            }
        )

    async def valid(self, tenant_id: str, code_hash: str, now: datetime) -> EnrollmentCode | None:
        d = await self._c.find_one({"_id": code_hash, "tenant_id": tenant_id, "expires_at": {"$gt": now}})
        if d is None:
            return None
        return EnrollmentCode(
            tenant_id=d["tenant_id"],
            employee_id=d["employee_id"],
            code_hash=d["_id"],
            issued_by=d["issued_by"],
            issued_at=d["issued_at"],
            expires_at=d["expires_at"],
        )

    async def use(self, tenant_id: str, code_hash: str) -> bool:
        return (await self._c.delete_one({"_id": code_hash, "tenant_id": tenant_id})).deleted_count == 1
