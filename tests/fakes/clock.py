"""A clock that says what the test wants (the ``Clock`` port): time is the far side of a boundary."""

from __future__ import annotations

from datetime import datetime, timedelta


class FixedClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at += delta
