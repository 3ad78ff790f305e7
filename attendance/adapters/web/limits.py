"""In-process request limits of one ``serve`` process (docs/architecture.md says what several
replicas need): token buckets per key, and the password-guessing throttle.

Both are bounded in memory. A flood of new keys evicts the least recently seen keys that are not
limited; a key that is limited or blocked is kept, so flooding cannot clear it.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

Now = Callable[[], float]
SCAN = 64  # keys looked at per eviction: bounded work per request


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimit:
    """``rate`` requests a second on average, bursts of ``burst``, per key."""

    def __init__(self, rate: float, burst: int, *, max_keys: int = 50_000, now: Now = time.monotonic) -> None:
        self.rate, self.burst, self.max_keys, self._now = rate, burst, max_keys, now
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, key: str) -> float:
        """0.0 when the request may go ahead (and counts it); else the seconds to wait."""
        now = self._now()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(float(self.burst), now)
            self._buckets[key] = bucket
            self._evict()
        else:
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
            self._buckets.move_to_end(key)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    def _evict(self) -> None:
        scanned = 0
        while len(self._buckets) > self.max_keys:
            key, bucket = next(iter(self._buckets.items()))
            if bucket.tokens >= self.burst - 1 or scanned >= SCAN:  # barely used: forgetting it changes nothing
                del self._buckets[key]
            else:
                self._buckets.move_to_end(key)
            scanned += 1


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))


class Throttle:
    """Password guessing: after ``limit`` failures for a key within ``window_s``, that key is refused
    until the window has passed. Keys are bounded, normalised emails. At most ``max_keys`` keys are
    remembered; when full, the oldest keys that are not blocked are forgotten first."""

    def __init__(
        self, limit: int = 5, window_s: float = 900.0, *, max_keys: int = 100_000, now: Now = time.monotonic
    ) -> None:
        self.limit, self.window_s, self.max_keys, self._now = limit, window_s, max_keys, now
        self._failures: OrderedDict[str, list[float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> list[float]:
        kept = [t for t in self._failures.get(key, []) if now - t < self.window_s]
        if kept:
            self._failures[key] = kept
        else:
            self._failures.pop(key, None)
        return kept

    def blocked(self, key: str) -> bool:
        return len(self._recent(key, self._now())) >= self.limit

    def failed(self, key: str) -> None:
        now = self._now()
        self._failures.setdefault(key, []).append(now)
        self._failures.move_to_end(key)
        scanned = 0
        while len(self._failures) > self.max_keys:
            oldest, times = next(iter(self._failures.items()))
            if scanned < SCAN and len([t for t in times if now - t < self.window_s]) >= self.limit:
                self._failures.move_to_end(oldest)  # blocked: kept (only a table full of blocked keys drops one)
            else:
                del self._failures[oldest]
            scanned += 1
