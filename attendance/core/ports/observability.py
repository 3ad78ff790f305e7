"""What the roles tell an operator: the ``Metrics`` port (Prometheus in production,
``adapters/metrics``) and ``NoMetrics`` for tools and tests that do not export any."""

from __future__ import annotations

from typing import Protocol


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
