"""Percentiles, the one definition every benchmark reports with."""

from __future__ import annotations

from collections.abc import Sequence


def percentile(values: Sequence[float], q: float, digits: int = 1) -> float | None:
    """The value at rank ``q`` (0 to 1) of the sorted values, nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], digits)
