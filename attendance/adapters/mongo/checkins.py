"""MongoDB adapters of the check-in pipeline: the job queue and the attendance store (the
fraud defences, the review queue and the photo buffer are in ``safeguards``).

Attendance is appended without multi-document transactions, as an idempotent sequence: each
event of an employee takes the next number under a unique index (two concurrent check-ins
cannot both take it; the loser reads again), its id is the job's (a re-run finds it), and its
outbox rows and fingerprint are written after it with ids derived from it (a re-run completes
them). Nothing is ever left locked by a worker that dies halfway.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError, WriteError

from attendance.adapters.mongo.outbox import write_outbox
from attendance.adapters.mongo.repositories import DUPLICATE_KEY, Database, Doc, translated
from attendance.core.domain.adaptation import Refusal
from attendance.core.domain.challenges import CHALLENGE_TTL, Challenge, Pose
from attendance.core.domain.checkins import (
    REFUSED_MATCHES,
    AttendanceEvent,
    CheckInJob,
    Direction,
    JobState,
    Outcome,
    OutcomeKind,
    PhotoRef,
    Requested,
)
from attendance.core.domain.deliveries import OutboxMessage
from attendance.core.ports import Fingerprint, SequenceTaken

# how often a claim also looks for jobs whose lease ended (and reads the whole queue)
EXPIRED_EVERY = timedelta(seconds=2)
WINDOW = (timedelta(milliseconds=20), timedelta(minutes=5))  # the claim's window after the head: its bounds
RECENT = timedelta(days=7)  # how far back ``day`` looks for a recent sequence number
JOB_KEPT = timedelta(days=2)  # far longer than Slack (minutes) or Teams redeliver an activity; and than
# a pending adapted template waits (adaptation.PENDING_KEPT) plus RETRIED_WITHIN: its refusals are jobs

CHECKIN_INDEXES: dict[str, list[IndexModel]] = {
    "checkin_jobs": [
        IndexModel([("tenant_id", ASCENDING), ("idempotency_key", ASCENDING)], unique=True, name="idempotency"),
        IndexModel([("state", ASCENDING), ("next_attempt_at", ASCENDING)], name="due"),
        IndexModel([("state", ASCENDING), ("lease_until", ASCENDING)], name="leases"),
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="ttl"),  # finished jobs only
        IndexModel([("identity", ASCENDING), ("received_at", ASCENDING)], name="by_identity"),
    ],
    "pose_challenges": [
        IndexModel([("expires_at", ASCENDING)], expireAfterSeconds=0, name="ttl"),
    ],
    "attendance_events": [
        IndexModel(
            [("tenant_id", ASCENDING), ("employee_id", ASCENDING), ("seq", ASCENDING)], unique=True, name="sequence"
        ),
        IndexModel([("tenant_id", ASCENDING), ("employee_id", ASCENDING), ("at", ASCENDING)], name="by_employee"),
        IndexModel([("tenant_id", ASCENDING), ("at", ASCENDING)], name="by_time"),
    ],
    "outbox": [
        # the rows to fan out, and a delivery's claim asking whether an earlier row of its employee
        # still waits to be fanned out (the rows made before the deliveries it asks about)
        IndexModel([("state", ASCENDING), ("created_at", ASCENDING)], name="pending"),
    ],
}


# ---------------------------------------------------------------- (de)serialisation


def outcome_doc(o: Outcome) -> Doc:
    doc = dataclasses.asdict(o)
    doc["kind"] = o.kind.value
    doc["direction"] = o.direction.value if o.direction else None
    return doc


def outcome_from(doc: Doc | None) -> Outcome | None:
    if not doc:
        return None
    known = {f.name for f in dataclasses.fields(Outcome)}
    fields = {k: v for k, v in doc.items() if k in known} | {"kind": OutcomeKind(doc["kind"])}
    fields["direction"] = Direction(doc["direction"]) if doc.get("direction") else None
    return Outcome(**fields)


def event_doc(e: AttendanceEvent) -> Doc:
    local = e.local
    return {
        "_id": e.id,
        "tenant_id": e.tenant_id,
        "employee_id": e.employee_id,
        "direction": e.direction.value,
        "at": e.at,
        "timezone": e.timezone,
        "local_date": local.date().isoformat(),
        "local_time": local.strftime("%H:%M:%S"),
        "channel": e.channel,
        "job_id": e.job_id,
        "decision": e.decision,
        "distance": e.distance,
        "margin": e.margin,
        "supersedes": e.supersedes,
        "void": e.void,
        "reason": e.reason,
        "recorded_by": e.recorded_by,
    }


def _utc(at: datetime) -> datetime:
    """As ``datetime.UTC`` (the driver's own UTC tzinfo is a Python class: slow to convert from)."""
    if at.tzinfo is None or at.utcoffset() == timedelta(0):
        return at.replace(tzinfo=UTC)  # naive times from the driver are UTC
    return at.astimezone(UTC)


def event_from(d: Doc) -> AttendanceEvent:
    return AttendanceEvent(
        id=d["_id"],
        tenant_id=d["tenant_id"],
        employee_id=d["employee_id"],
        direction=Direction(d["direction"]),
        at=_utc(d["at"]),
        timezone=d["timezone"],
        channel=d["channel"],
        job_id=d.get("job_id"),
        decision=d.get("decision", "accepted"),
        distance=d.get("distance"),
        margin=d.get("margin"),
        supersedes=d.get("supersedes"),
        void=bool(d.get("void")),
        reason=d.get("reason"),
        recorded_by=d.get("recorded_by"),
    )


def _job_doc(j: CheckInJob) -> Doc:
    return {
        "_id": j.id,
        "tenant_id": j.tenant_id,
        "channel": j.channel,
        "identity_kind": j.identity_kind,
        "identity": j.identity,
        "photo": dataclasses.asdict(j.photo),
        "requested": j.requested.value,
        "received_at": j.received_at,
        "idempotency_key": j.idempotency_key,
        "reply_to": j.reply_to,
        "context": j.context,
        "trace": j.trace,
        "state": j.state.value,
        "attempts": j.attempts,
        "next_attempt_at": j.received_at,
        "lease_until": None,
        "outcome": None,
        "decided_at": None,
        "finished_at": None,
        "last_error": None,
    }


def _job(d: Doc) -> CheckInJob:
    return CheckInJob(
        id=d["_id"],
        tenant_id=d["tenant_id"],
        channel=d["channel"],
        identity_kind=d["identity_kind"],
        identity=d.get("identity"),
        photo=PhotoRef(**d["photo"]),
        requested=Requested(d["requested"]),
        received_at=d["received_at"],
        idempotency_key=d["idempotency_key"],
        reply_to=d.get("reply_to"),
        context=dict(d.get("context") or {}),
        trace=d.get("trace"),
        state=JobState(d["state"]),
        attempts=int(d.get("attempts", 0)),
        outcome=outcome_from(d.get("outcome")),
    )


def _signed64(value: int) -> int:
    """BSON integers are signed 64-bit: store the hash's bit pattern as one."""
    return value - (1 << 64) if value >= (1 << 63) else value


# ---------------------------------------------------------------- job queue


@translated
class MongoJobQueue:
    """Jobs in ``checkin_jobs``. ``submit`` commits in groups: requests that arrive while an insert
    is in flight go together in the next ``insert_many`` (one round trip instead of one each), so
    that a burst of check-ins is stored, and acknowledged, quickly. No request waits on purpose.

    ``trace``: tells the current trace's carrier (``Tracer.carrier``), stored with each job that
    has none so that the worker's spans continue the request's trace."""

    BATCH_MAX = 200

    def __init__(self, db: Database, trace: Callable[[], str | None] | None = None) -> None:
        self._trace = trace
        self._c: AsyncCollection[Doc] = db["checkin_jobs"]
        self._workers: AsyncCollection[Doc] = db["workers"]
        self._pending: list[tuple[CheckInJob, asyncio.Future[tuple[CheckInJob, bool]]]] = []
        self._expired_looked_at: datetime | None = None
        self._head: datetime | None = None  # the due time of the newest job the last claim took
        self._window = WINDOW[0]
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, job: CheckInJob) -> tuple[CheckInJob, bool]:
        if self._trace is not None and job.trace is None:  # here, in the caller's context (not the flusher's)
            job = dataclasses.replace(job, trace=self._trace())
        future: asyncio.Future[tuple[CheckInJob, bool]] = asyncio.get_running_loop().create_future()
        self._pending.append((job, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await asyncio.shield(future)  # a caller that gives up does not cancel the others' insert

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self.BATCH_MAX], self._pending[self.BATCH_MAX :]
            try:
                errors = await self._insert([job for job, _ in batch])
            except PyMongoError as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for index, (job, future) in enumerate(batch):
                try:
                    result = (job, True) if index not in errors else await self._existing(job, errors[index])
                except PyMongoError as exc:
                    if not future.done():
                        future.set_exception(exc)
                    continue
                if not future.done():
                    future.set_result(result)

    async def _insert(self, jobs: list[CheckInJob]) -> dict[int, Doc]:
        """The write errors by position (the others are stored)."""
        try:
            await self._c.insert_many([_job_doc(j) for j in jobs], ordered=False)
        except BulkWriteError as exc:
            return {e["index"]: e for e in exc.details.get("writeErrors", [])}
        return {}

    async def _existing(self, job: CheckInJob, error: Doc) -> tuple[CheckInJob, bool]:
        if error.get("code") != DUPLICATE_KEY:
            raise WriteError(str(error.get("errmsg", "insert failed")), error.get("code"), error)
        doc = await self._c.find_one({"tenant_id": job.tenant_id, "idempotency_key": job.idempotency_key})
        if doc is None:
            raise WriteError("a duplicate job vanished", error.get("code"), error)
        return _job(doc), False

    async def claim(self, worker: str, now: datetime, lease: timedelta, limit: int) -> list[CheckInJob]:
        """Due jobs in a batch: one indexed read for the candidates, one ``update_many`` that takes
        those still queued (a job another worker took meanwhile no longer matches). When it took
        them all, the read's documents are what this claim won; when another worker took some
        first, one more read finds those this claim took (its token). (No ``findAndModify``: on the
        embedded server it costs 20-60 ms, ten times an update; docs/capacity.md.)

        The read looks in a window after the head, the due time of the newest job this queue's
        last claim took: every job due before it was taken then, and a job comes back (a retry, a
        give-back) due later than that. The embedded server reads every job of a range, however few
        a claim takes, so a backlog of hundreds would make each claim read them all; the window
        holds a few (it widens when it comes back short, narrows when it comes back full). Every
        ``EXPIRED_EVERY`` a claim reads the whole queue instead (from the oldest due job: one
        submitted by a server whose clock is behind waits that long at most), and looks for jobs
        whose lease ended: a dead worker's job waits a lease plus that at most."""
        token = f"{worker}:{uuid.uuid4().hex}"
        take = {
            "$set": {"state": JobState.RUNNING.value, "lease_until": now + lease, "worker": worker, "claim": token},
            "$inc": {"attempts": 1},
        }
        due: Doc = {"state": JobState.QUEUED.value, "next_attempt_at": {"$lte": now}}
        reads: list[tuple[str, Doc, str]] = [("queue", due, "next_attempt_at")]
        if self._expired_looked_at is None or now - self._expired_looked_at >= EXPIRED_EVERY:
            self._expired_looked_at, self._head = now, None
            expired = {"state": JobState.RUNNING.value, "lease_until": {"$lt": now}}
            reads.append(("expired", expired, "lease_until"))
        elif self._head is not None and self._head + self._window < now:
            after_head = {"$gte": self._head, "$lte": self._head + self._window}
            reads.insert(
                0, ("window", {"state": JobState.QUEUED.value, "next_attempt_at": after_head}, "next_attempt_at")
            )
        won: list[CheckInJob] = []
        contended: list[str] = []
        for read, query, order in reads:
            want = limit - len(won) - len(contended)
            if want <= 0:
                break
            found = self._c.find(query).sort([("state", ASCENDING), (order, ASCENDING)])
            docs = await found.limit(want).to_list()
            if read == "window":  # short: the rest of the queue is read next, and the window widens
                full = len(docs) == want
                self._window = max(WINDOW[0], self._window / 2) if full else min(WINDOW[1], self._window * 4)
            if not docs:
                continue
            taken = await self._c.update_many({"_id": {"$in": [d["_id"] for d in docs]}, **query}, take)
            if read != "expired":
                self._head = max(d["next_attempt_at"] for d in docs)
            if taken.modified_count == len(docs):  # each of them, as read, plus this claim's change
                won += [
                    _job({**d, "state": JobState.RUNNING.value, "attempts": d.get("attempts", 0) + 1}) for d in docs
                ]
            else:
                contended += [d["_id"] for d in docs]
        if contended:
            won += [_job(d) async for d in self._c.find({"_id": {"$in": contended}, "claim": token})]
        return sorted(won, key=lambda j: j.received_at)

    async def retry_later(self, job_id: str, at: datetime, error: str, *, counts: bool = True) -> None:
        update: Doc = {
            "$set": {"state": JobState.QUEUED.value, "next_attempt_at": at, "lease_until": None, "last_error": error}
        }
        if not counts:  # waiting for a lock is not the job's fault: give the attempt back
            update["$inc"] = {"attempts": -1}
        await self._c.update_one({"_id": job_id}, update)

    async def finish(self, job_id: str, outcome: Outcome, decided_at: datetime, now: datetime) -> None:
        """Done: the photo's address is dropped (a Teams download URL is pre-authorised), and the
        job is kept ``JOB_KEPT`` for its idempotency key (the platforms' redeliveries), then expires."""
        await self._c.update_one(
            {"_id": job_id},
            {
                "$set": {
                    "state": JobState.DONE.value,
                    "outcome": outcome_doc(outcome),
                    "decided_at": decided_at,
                    "finished_at": now,
                    "lease_until": None,
                    "photo.ref": "",
                    "expires_at": now + JOB_KEPT,
                }
            },
        )

    async def refusals(self, tenant_id: str, identities: Sequence[str], since: datetime) -> list[Refusal]:
        # exactly the index ``by_identity``: the rest is checked here, on these people's jobs (kept
        # JOB_KEPT at most)
        jobs = self._c.find(
            {"identity": {"$in": sorted(set(identities))}},
            {"tenant_id": 1, "identity_kind": 1, "identity": 1, "received_at": 1, "outcome.kind": 1},
        )
        refused = {k.value for k in REFUSED_MATCHES}
        return [
            Refusal(identity_kind=d["identity_kind"], identity=d["identity"], received_at=_utc(d["received_at"]))
            async for d in jobs
            if d.get("tenant_id") == tenant_id
            and (d.get("outcome") or {}).get("kind") in refused
            and _utc(d["received_at"]) >= since
        ]

    async def get(self, job_id: str) -> CheckInJob | None:
        doc = await self._c.find_one({"_id": job_id})
        return _job(doc) if doc else None

    async def backlog(self, now: datetime) -> tuple[int, float]:
        waiting: Doc = {"state": {"$in": [JobState.QUEUED.value, JobState.RUNNING.value]}}
        depth = await self._c.count_documents(waiting)
        oldest = await self._c.find_one(waiting, {"received_at": 1}, sort=[("received_at", ASCENDING)])
        age = (now - oldest["received_at"]).total_seconds() if oldest else 0.0
        return depth, max(0.0, age)

    async def heartbeat(self, worker: str, now: datetime, done: int) -> None:
        await self._workers.update_one(
            {"_id": worker}, {"$set": {"seen_at": now, "done": done}, "$setOnInsert": {"started_at": now}}, upsert=True
        )


# ---------------------------------------------------------------- attendance


@translated
class MongoAttendanceStore:
    def __init__(self, db: Database, trace: Callable[[], str | None] | None = None) -> None:
        self._db, self._trace = db, trace  # trace: the carrier stored with outbox rows (tracing on)
        self._events: AsyncCollection[Doc] = db["attendance_events"]

    async def day(
        self, tenant_id: str, employee_id: str, start: datetime, end: datetime
    ) -> tuple[int, list[AttendanceEvent]]:
        """The last number is looked for from the highest among the person's events of the week
        before: ``seq >= it`` reads the few events numbered since, where the plain "highest seq"
        read costs, on the embedded server, every event the person ever had (it reads a whole
        index range before sorting: 15 ms at 500 events, 60 ms at 2,000, against under 1 ms)."""
        person: Doc = {"tenant_id": tenant_id, "employee_id": employee_id}
        docs = await self._events.find({**person, "at": {"$gte": start - RECENT, "$lt": end}}).to_list()
        docs.sort(key=lambda d: d["at"])  # here: the embedded server's own sort costs more than the read
        since = max((int(d.get("seq", 0)) for d in docs), default=0)  # a lower bound: corrections come later
        if since:
            numbers = self._events.find({**person, "seq": {"$gte": since}}, {"seq": 1})
            last = max([int(d.get("seq", 0)) async for d in numbers], default=since)
        else:
            highest = await self._events.find_one(person, {"seq": 1}, sort=[("seq", DESCENDING)])
            last = int(highest.get("seq", 0)) if highest else 0
        return last, [e for e in map(event_from, docs) if e.at >= start]

    async def append(
        self, event: AttendanceEvent, seq: int, outbox: Sequence[OutboxMessage], fingerprint: Fingerprint | None
    ) -> None:
        try:
            await self._events.insert_one({**event_doc(event), "seq": seq})
        except DuplicateKeyError as exc:
            if await self._events.find_one({"_id": event.id}, {"_id": 1}) is None:
                raise SequenceTaken(f"sequence {seq} of {event.employee_id} is taken") from exc
            # else: this very event was stored by an earlier run; complete what may be missing
        await self.complete(event, outbox, fingerprint)

    async def complete(
        self, event: AttendanceEvent, outbox: Sequence[OutboxMessage], fingerprint: Fingerprint | None
    ) -> None:
        await write_outbox(self._db["outbox"], outbox, self._trace)
        if fingerprint is not None:
            await self._db["photo_fingerprints"].update_one(
                {"_id": event.id},
                {
                    "$setOnInsert": {
                        "tenant_id": event.tenant_id,
                        "fp": _signed64(fingerprint.value),
                        "created_at": fingerprint.at,
                        "expires_at": fingerprint.at + timedelta(days=fingerprint.retention_days),
                    }
                },
                upsert=True,
            )

    async def events(
        self, tenant_id: str, start: datetime, end: datetime, employee_id: str | None = None
    ) -> list[AttendanceEvent]:
        query: Doc = {"tenant_id": tenant_id, "at": {"$gte": start, "$lt": end}}
        if employee_id is not None:
            query["employee_id"] = employee_id
        return [event_from(d) async for d in self._events.find(query).sort("at", ASCENDING)]

    async def events_for(
        self, tenant_id: str, start: datetime, end: datetime, employee_ids: Sequence[str]
    ) -> list[AttendanceEvent]:
        query: Doc = {
            "tenant_id": tenant_id,
            "employee_id": {"$in": list(employee_ids)},
            "at": {"$gte": start, "$lt": end},
        }
        return [event_from(d) async for d in self._events.find(query).sort("at", ASCENDING)]

    async def event(self, tenant_id: str, event_id: str) -> AttendanceEvent | None:
        doc = await self._events.find_one({"_id": event_id, "tenant_id": tenant_id})
        return event_from(doc) if doc else None

    async def last_at(self, tenant_id: str, employee_id: str) -> datetime | None:
        doc = await self._events.find_one(
            {"tenant_id": tenant_id, "employee_id": employee_id}, {"at": 1}, sort=[("at", DESCENDING)]
        )
        return _utc(doc["at"]) if doc else None

    async def delete_before(self, tenant_id: str, before: datetime) -> int:
        result = await self._events.delete_many({"tenant_id": tenant_id, "at": {"$lt": before}})
        return int(result.deleted_count)

    async def is_superseded(self, tenant_id: str, event_id: str) -> bool:
        found = await self._events.find_one({"tenant_id": tenant_id, "supersedes": event_id}, {"_id": 1})
        return found is not None

    async def page(
        self,
        tenant_id: str,
        start: datetime,
        end: datetime,
        *,
        employee_ids: Sequence[str] | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[AttendanceEvent]:
        query: Doc = {"tenant_id": tenant_id, "at": {"$gte": start, "$lt": end}}
        if employee_ids is not None:
            query["employee_id"] = {"$in": list(employee_ids)}
        if after is not None:
            query["$or"] = [{"at": {"$gt": after[0]}}, {"at": after[0], "_id": {"$gt": after[1]}}]
        cursor = self._events.find(query).sort([("at", ASCENDING), ("_id", ASCENDING)]).limit(limit)
        return [event_from(d) async for d in cursor]


@translated
class MongoChallengeStore:
    """``pose_challenges``: one per person (``_id`` tenant:employee), dropped by a TTL index once
    long expired (an expired one is ignored before that)."""

    def __init__(self, db: Database) -> None:
        self._c: AsyncCollection[Doc] = db["pose_challenges"]

    async def pending(self, tenant_id: str, employee_id: str) -> Challenge | None:
        doc = await self._c.find_one({"_id": f"{tenant_id}:{employee_id}"})
        if doc is None:
            return None
        return Challenge(
            tenant_id=tenant_id,
            employee_id=employee_id,
            pose=Pose(doc["pose"]),
            issued_at=doc["issued_at"],
            job_id=doc["job_id"],
        )

    async def ask(self, challenge: Challenge) -> None:
        await self._c.replace_one(
            {"_id": f"{challenge.tenant_id}:{challenge.employee_id}"},
            {
                "pose": challenge.pose.value,
                "issued_at": challenge.issued_at,
                "job_id": challenge.job_id,
                "expires_at": challenge.issued_at + CHALLENGE_TTL * 10,
            },
            upsert=True,
        )

    async def answered(self, tenant_id: str, employee_id: str) -> None:
        await self._c.delete_one({"_id": f"{tenant_id}:{employee_id}"})
