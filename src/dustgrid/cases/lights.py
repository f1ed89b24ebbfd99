"""Traffic lights, reminders and escalation for a running case clock (domain.md §4–§5).

Pure functions of (start, due, now): the caller stores when a clock started and its due
time (``policy.Duration.due``) and asks here how far along it is. Working-day clocks are
measured in working time, so a weekend does not turn a light yellow; wall-clock clocks
(the 24-hour City Brain feedback, the one-week recheck) pass ``working_time=False``.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

from dustgrid.cases.policy import EscalationPolicy, Level, LightPolicy
from dustgrid.workcal.calendar import WorkCalendar


class Light(enum.StrEnum):
    green = "green"
    yellow = "yellow"
    red = "red"


def elapsed_fraction(
    start: datetime,
    due: datetime,
    now: datetime,
    calendar: WorkCalendar,
    *,
    working_time: bool = True,
) -> float:
    """Share of the allowed time used at ``now``: 0 before start, 1 at due, > 1 when late."""
    if working_time:
        return calendar.elapsed_fraction(start, due, now)
    if due < start:
        raise ValueError("due must not be before start")
    if due == start:
        return 0.0 if now < due else (1.0 if now == due else float("inf"))
    return max(now - start, timedelta(0)) / (due - start)


def traffic_light(
    start: datetime,
    due: datetime,
    now: datetime,
    calendar: WorkCalendar,
    policy: LightPolicy,
    *,
    working_time: bool = True,
) -> Light:
    """Green below ``yellow_from``, yellow up to ``red_above`` inclusive, red beyond."""
    f = elapsed_fraction(start, due, now, calendar, working_time=working_time)
    if f > policy.red_above:
        return Light.red
    if f >= policy.yellow_from:
        return Light.yellow
    return Light.green


def reminder_due(
    start: datetime,
    due: datetime,
    now: datetime,
    calendar: WorkCalendar,
    policy: LightPolicy,
    *,
    working_time: bool = True,
) -> bool:
    """Whether the responsible person should have been reminded by ``now``."""
    f = elapsed_fraction(start, due, now, calendar, working_time=working_time)
    return f >= policy.remind_at


def reminder_at(
    start: datetime,
    due: datetime,
    calendar: WorkCalendar,
    policy: LightPolicy,
    *,
    working_time: bool = True,
) -> datetime:
    """When to send the reminder, so a scheduler can enqueue it once at clock start."""
    if due < start:
        raise ValueError("due must not be before start")
    if working_time:
        total = calendar.working_time(start, due)
        return calendar.add_working_time(start, total * policy.remind_at)
    return start + (due - start) * policy.remind_at


def escalation_target(level: str, policy: EscalationPolicy) -> Level | None:
    """Whom an overdue (red) case goes to: L3/L4 → L2, L2 → L1, None above L1."""
    return policy.target(level)
