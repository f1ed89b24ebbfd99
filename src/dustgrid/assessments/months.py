"""Months and check weeks of the assessment (pure).

A month is ``YYYY-MM``. The weekly checks of a month are the Monday–Sunday weeks whose
Thursday lies in it (the ISO rule for which year a week belongs to, applied to months):
every week belongs to exactly one month, and a month has four or five checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from dustgrid.errors import Invalid

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, slots=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        m = _MONTH.match(text.strip())
        if m is None or not 1 <= int(m.group(2)) <= 12 or not 1900 <= int(m.group(1)) <= 9998:
            raise Invalid("assessments.error.bad_month", value=text)
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def next(self) -> Month:
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    @property
    def previous(self) -> Month:
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)

    @property
    def last(self) -> date:
        return self.next.first - timedelta(days=1)

    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    def check_weeks(self) -> list[tuple[date, date]]:
        """The weekly checks: (Monday, Sunday) of each week whose Thursday is in the month."""
        thursday = self.first + timedelta(days=(3 - self.first.weekday()) % 7)
        weeks = []
        while thursday <= self.last:
            monday = thursday - timedelta(days=3)
            weeks.append((monday, monday + timedelta(days=6)))
            thursday += timedelta(days=7)
        return weeks

    @property
    def span(self) -> tuple[date, date]:
        """First and last day the month's facts come from (its days and its check weeks)."""
        weeks = self.check_weeks()
        return min(self.first, weeks[0][0]), max(self.last, weeks[-1][1])
