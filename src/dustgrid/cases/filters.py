"""The case list's filters: what the inbox, the API and the export narrow a list by.

Opened dates are local days (the city's time zone), both ends included.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from dustgrid.cases.states import CaseSource, CaseState

LIGHTS = ("red", "yellow", "green")


@dataclass(frozen=True)
class CaseFilters:
    state: CaseState | None = None
    site_id: int | None = None
    source: CaseSource | None = None
    light: str | None = None
    district_id: int | None = None
    category: str | None = None
    opened_from: date | None = None
    opened_to: date | None = None

    def opened_bounds(self, tz: tzinfo) -> tuple[datetime | None, datetime | None]:
        """[start, end) instants of the local days ``opened_from`` .. ``opened_to``."""
        since = datetime.combine(self.opened_from, time(0), tz) if self.opened_from else None
        end = self.opened_to + timedelta(days=1) if self.opened_to else None
        before = datetime.combine(end, time(0), tz) if end else None
        return since, before

    @property
    def range_reversed(self) -> bool:
        return bool(self.opened_from and self.opened_to and self.opened_from > self.opened_to)
