"""The outbox as stored: a row per ``OutboxMessage`` with its ``state`` (pending until the
dispatcher fans it out into deliveries), written idempotently beside what caused it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pymongo.asynchronous.collection import AsyncCollection

from attendance.adapters.mongo.repositories import Doc, insert_new
from attendance.core.domain.deliveries import OutboxMessage

OUTBOX_PENDING, OUTBOX_DISPATCHED = "pending", "dispatched"


def outbox_doc(msg: OutboxMessage) -> Doc:
    """An outbox row as stored: the message, and ``state`` (pending until fanned out)."""
    return {
        "_id": msg.id,
        "tenant_id": msg.tenant_id,
        "employee_id": msg.employee_id,
        "event_id": msg.event_id,
        "type": msg.type,
        "occurred_at": msg.occurred_at,
        "payload": msg.payload,
        "created_at": msg.created_at,
        "state": OUTBOX_PENDING,
        "trace": msg.trace,
    }


def outbox_message(doc: Doc) -> OutboxMessage:
    return OutboxMessage(
        id=str(doc["_id"]),
        tenant_id=str(doc["tenant_id"]),
        employee_id=str(doc["employee_id"]),
        event_id=str(doc.get("event_id", "")),
        type=str(doc["type"]),
        occurred_at=doc.get("occurred_at") or doc["created_at"],
        payload=dict(doc.get("payload") or {}),
        created_at=doc["created_at"],
        trace=doc.get("trace"),
    )


async def write_outbox(
    outbox: AsyncCollection[Doc], rows: Sequence[OutboxMessage], trace: Callable[[], str | None] | None = None
) -> None:
    """Idempotent by id: a message written again (a re-run) changes nothing. ``trace``: tells the
    current trace's carrier, stored with a row that has none (its deliveries continue the trace)."""
    carrier = trace() if trace is not None else None
    docs = [outbox_doc(row) for row in rows]
    for doc in docs:
        doc["trace"] = doc["trace"] or carrier
    await insert_new(outbox, docs)
