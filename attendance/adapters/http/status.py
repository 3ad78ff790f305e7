"""What an HTTP answer means for a delivery, shared by every connector.

2xx: delivered. 410: the endpoint is gone. Any other answer, a timeout or a refused connection:
worth another try on the schedule (a ``Retry-After`` is passed on). Connectors that can tell a
validation error from an outage (Workday's SOAP faults, ADP's 400s) say ``REJECTED`` themselves.
A destination that is not a public address (``attendance.adapters.http.egress``) is rejected, never sent.

What is stored and shown of a failed delivery is its status code and a short reason of ours,
never the receiver's body: a receiver URL pointed at an internal service would otherwise show
that service's answer to whoever set the URL.
"""

from __future__ import annotations

import http
from datetime import datetime

import aiohttp

from attendance.adapters.http.egress import EgressRefused
from attendance.core.domain.deliveries import Delivery, DeliveryResult, ResultKind, parse_retry_after

DETAIL_CHARS = 300


def short(text: str) -> str:
    """A receiver's answer, cut for the admin's eyes (never the request: it may hold secrets)."""
    text = " ".join(text.split())
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 1] + "…"


async def read_some(resp: aiohttp.ClientResponse, limit: int = 64_000) -> str:
    return (await resp.content.read(limit)).decode("utf-8", errors="replace")


def status_text(status: int) -> str:
    """``HTTP 503 Service Unavailable``: the code and its standard reason phrase."""
    try:
        return f"HTTP {status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def classify(status: int, retry_after: str | None, now: datetime) -> DeliveryResult:
    if 200 <= status < 300:
        return DeliveryResult(kind=ResultKind.DELIVERED, status=status)
    if status == 410:
        return DeliveryResult(kind=ResultKind.GONE, status=status, detail=status_text(status))
    return DeliveryResult(
        kind=ResultKind.RETRY,
        status=status,
        detail=status_text(status),
        retry_after=parse_retry_after(retry_after, now),
    )


def refusal_in(exc: BaseException) -> EgressRefused | None:
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None or isinstance(seen, EgressRefused):
            return seen
        seen = getattr(seen, "os_error", None) or seen.__cause__
    return None


def unreachable(exc: BaseException) -> DeliveryResult:
    refused = refusal_in(exc)
    if refused is not None:
        return DeliveryResult(kind=ResultKind.REJECTED, detail=f"not sent: {refused}")
    what = "timed out" if isinstance(exc, TimeoutError) else f"could not connect ({type(exc).__name__})"
    return DeliveryResult(kind=ResultKind.RETRY, detail=f"the endpoint {what}")


NETWORK_ERRORS = (aiohttp.ClientError, TimeoutError, OSError)


def worker_id_of(delivery: Delivery) -> str | None:
    """The HR/payroll system's id of the event's employee (``employee.worker_id``), if set."""
    employee = delivery.payload.get("employee")
    worker_id = employee.get("worker_id") if isinstance(employee, dict) else None
    return str(worker_id) if worker_id else None


def without_worker_id(delivery: Delivery, what: str) -> DeliveryResult | None:
    """Refused (for the admin to fix) when the employee has no worker id; else None."""
    if worker_id_of(delivery) is not None:
        return None
    employee = delivery.payload.get("employee")
    email = employee.get("email") if isinstance(employee, dict) else "?"
    return DeliveryResult(kind=ResultKind.REJECTED, detail=f"{email} has no {what} (set worker_id on the employee)")
