"""The ``HolidayCalendar`` port over the ``holidays`` package (public holidays of about 250
countries and their subdivisions, computed, with no network)."""

from __future__ import annotations

import functools
from datetime import date
from typing import Any

import holidays


class HolidaysPackageCalendar:
    def known(self, region: str) -> bool:
        country, _, subdivision = region.partition("-")
        subdivisions = holidays.list_supported_countries().get(country)
        return subdivisions is not None and (not subdivision or subdivision in subdivisions)

    def holiday(self, region: str, day: date) -> str | None:
        if not self.known(region):
            return None
        name = _year(region, day.year).get(day)
        return str(name) if name else None


@functools.lru_cache(maxsize=256)
def _year(region: str, year: int) -> Any:
    """One region's holidays of one year, computed once per process."""
    country, _, subdivision = region.partition("-")
    return holidays.country_holidays(country, subdiv=subdivision or None, years=year)
