"""What the roles tell an operator: the ``Metrics`` port (Prometheus in production,
``adapters/metrics``) and ``NoMetrics`` for tools and tests that do not export any; the ``Tracer``
port (OpenTelemetry when ``tracing.endpoint`` is set, ``adapters/tracing``) and ``NoTracer``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Protocol

Attribute = str | int | float | bool


class Metrics(Protocol):
    def http_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """One HTTP request answered (``route``: the route's name, never the raw path)."""
        ...

    def checkin_finished(self, outcome: str, decision_seconds: float) -> None:
        """A check-in job decided and answered: its outcome, and received-to-decided time."""
        ...

    def heartbeat(self, role: str) -> None:
        """The role's loop went round once (a stalled loop stops these)."""
        ...

    def face_analysed(self, decode_s: float, detect_s: float, encode_s: float) -> None:
        """One photo through the face pipeline: the time of each stage."""
        ...

    def galleries(self, loaded: int, people: int, templates: int) -> None:
        """What this process holds in memory to match against (tenants' galleries, their sizes)."""
        ...


class NoMetrics:
    def http_request(self, route: str, method: str, status: int, seconds: float) -> None:
        return None

    def checkin_finished(self, outcome: str, decision_seconds: float) -> None:
        return None

    def heartbeat(self, role: str) -> None:
        return None

    def face_analysed(self, decode_s: float, detect_s: float, encode_s: float) -> None:
        return None

    def galleries(self, loaded: int, people: int, templates: int) -> None:
        return None


class Span(Protocol):
    def set(self, key: str, value: Attribute) -> None:
        """An attribute learnt inside the span (an outcome, a status)."""
        ...


class Tracer(Protocol):
    def span(
        self, name: str, attributes: Mapping[str, Attribute] | None = None, *, parent: str | None = None
    ) -> AbstractContextManager[Span]:
        """A span around the block: a child of the current span, or of ``parent`` (a W3C
        ``traceparent`` carried from another process with queued work) when given. An exception
        leaving the block marks the span failed."""
        ...

    def carrier(self) -> str | None:
        """The current span as a W3C ``traceparent``, stored with work another process picks up;
        None when tracing is off or no span is current."""
        ...


class _NoSpan:
    def set(self, key: str, value: Attribute) -> None:
        return None


class NoTracer:
    @contextlib.contextmanager
    def span(
        self, name: str, attributes: Mapping[str, Attribute] | None = None, *, parent: str | None = None
    ) -> Iterator[Span]:
        yield _NoSpan()

    def carrier(self) -> str | None:
        return None
