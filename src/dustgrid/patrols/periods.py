"""ISO weeks (``2026-W50``) and the patrol periods that hold them. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from dustgrid.patrols.policy import WEEKLY, DutyPolicy

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def parse_week(text: str) -> date:
    """The Monday of ISO week ``YYYY-Www``; ValueError naming the expected form otherwise."""
    m = _WEEK.match(text.strip())
    if not m:
        raise ValueError(f"week must look like 2026-W50, got {text!r}")
    try:
        return date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
    except ValueError as exc:
        raise ValueError(f"no such ISO week: {text!r}") from exc


def week_label(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True, slots=True)
class Period:
    start: date  # a Monday
    end: date  # inclusive: the last Sunday
    kind: str  # weekly | fortnightly

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


def period_of(day: date, duty: DutyPolicy, anchor: date) -> Period:
    """The weekly or fortnightly period holding ``day`` (fortnights counted from ``anchor``)."""
    monday = monday_of(day)
    if duty.period == WEEKLY:
        return Period(monday, monday + timedelta(days=6), duty.period)
    offset = ((monday - monday_of(anchor)).days // 7) % 2
    start = monday - timedelta(days=7 * offset)
    return Period(start, start + timedelta(days=13), duty.period)
