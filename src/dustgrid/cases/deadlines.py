"""Clocks of a case: the policy and calendar in force, and the instants a clock sets.

The numbers come from the versioned ``CasePolicy`` (``policy.py``) and the working-day
calendar (``workcal.calendar``); this module only turns them into the columns a case
stores when a clock starts (``due_at``, ``warn_at``, ``remind_at``), so
lights, reminders and escalation are later plain comparisons in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from dustgrid.cases import lights
from dustgrid.cases.policy import DEFAULT_CASE_POLICY, CasePolicy, DeadlineRule, Level
from dustgrid.cases.states import Clock
from dustgrid.config import Settings
from dustgrid.workcal.calendar import WorkCalendar, china_calendar


def case_policy(settings: Settings | None = None) -> CasePolicy:
    """The policy in force: the default bundle with the city's overrides from settings.

    An override changes the version (``+local``) so records computed under it say so.
    """
    policy = DEFAULT_CASE_POLICY
    if settings is None:
        return policy
    ladder, blacklist = policy.ladder, policy.blacklist
    window = settings.case_ladder_window_days
    if window is not None and window != ladder.window_days:
        ladder = replace(ladder, window_days=window, version=f"{ladder.version}+local")
    threshold = settings.case_blacklist_threshold
    if threshold is not None and threshold != blacklist.threshold:
        blacklist = replace(blacklist, threshold=threshold, version=f"{blacklist.version}+local")
    if ladder is policy.ladder and blacklist is policy.blacklist:
        return policy
    return replace(policy, ladder=ladder, blacklist=blacklist, version=f"{policy.version}+local")


@lru_cache(maxsize=8)
def _calendar(holidays: tuple[date, ...], makeup: tuple[date, ...]) -> WorkCalendar:
    return china_calendar(extra_holidays=holidays, extra_makeup_workdays=makeup)


def work_calendar(settings: Settings | None = None) -> WorkCalendar:
    """National holidays and make-up days plus the city's own (settings)."""
    if settings is None:
        return _calendar((), ())
    return _calendar(
        tuple(sorted(settings.case_extra_holidays)),
        tuple(sorted(settings.case_extra_makeup_workdays)),
    )


# Whose clock each one is: dispatching is L1's, acknowledging and verifying L2's; the City
# Brain's 24-hour feedback clock is the district grid's (L2, seed 000 §1(二): the district
# confirms or dismisses); the rest belong to the responsible person (their level, L3 when
# nobody is named yet).
CLOCK_LEVEL: dict[Clock, Level | None] = {
    Clock.feedback: Level.L2,
    Clock.dispatch: Level.L1,
    Clock.acknowledge: Level.L2,
    Clock.verify: Level.L2,
    Clock.handle: None,
    Clock.rectify: None,
    Clock.recheck: None,
    Clock.penalty: None,
}


# Clocks of moves that only pass a case on (dispatch, transfer, return): they never replace
# a running feedback clock, so forwarding a City Brain push does not answer it.
FORWARDING_CLOCKS = frozenset({Clock.dispatch, Clock.acknowledge})


def keeps_feedback_clock(running: str | None, clock: Clock | None) -> bool:
    """True when a move starting ``clock`` only forwards a case whose feedback clock runs."""
    return running == Clock.feedback.value and clock in FORWARDING_CLOCKS


def clock_level(clock: Clock, responsible_level: Level | None) -> Level:
    return CLOCK_LEVEL[clock] or responsible_level or Level.L3


def deadline_rule(
    policy: CasePolicy,
    clock: Clock,
    *,
    category: str,
    source: str,
    disposition: str | None,
    level: str | None,
) -> DeadlineRule:
    """Most specific rule: by the case's category first, else by its source."""
    rule = policy.deadlines.rule_for(clock, category=category, disposition=disposition, level=level)
    if rule.category is None:
        rule = policy.deadlines.rule_for(
            clock, category=source, disposition=disposition, level=level
        )
    return rule


@dataclass(frozen=True, slots=True)
class ClockTimes:
    clock: Clock
    level: Level
    started_at: datetime
    due_at: datetime
    warn_at: datetime  # the light turns yellow
    remind_at: datetime  # the reminder goes out
    working_time: bool
    basis: str


def start_clock(
    clock: Clock,
    *,
    start: datetime,
    category: str,
    source: str,
    disposition: str | None,
    responsible_level: Level | None,
    policy: CasePolicy,
    calendar: WorkCalendar,
    due_at: datetime | None = None,
) -> ClockTimes:
    """The instants of a clock started at ``start`` (``due_at`` overrides the policy)."""
    level = clock_level(clock, responsible_level)
    rule = deadline_rule(
        policy, clock, category=category, source=source, disposition=disposition, level=level
    )
    working = rule.duration.working_time
    due = due_at or rule.duration.due(start, calendar)
    due = max(due, start)
    warn_policy = replace(policy.lights, remind_at=policy.lights.yellow_from)
    warn = lights.reminder_at(start, due, calendar, warn_policy, working_time=working)
    remind = lights.reminder_at(start, due, calendar, policy.lights, working_time=working)
    return ClockTimes(clock, level, start, due, warn, remind, working, rule.basis)


def default_due(
    clock: Clock,
    *,
    start: datetime,
    category: str,
    source: str,
    disposition: str | None,
    level: Level | None,
    policy: CasePolicy,
    calendar: WorkCalendar,
) -> datetime:
    rule = deadline_rule(
        policy,
        clock,
        category=category,
        source=source,
        disposition=disposition,
        level=clock_level(clock, level),
    )
    return rule.duration.due(start, calendar)


def default_case_deadline(
    *,
    start: datetime,
    category: str,
    source: str,
    policy: CasePolicy,
    calendar: WorkCalendar,
) -> datetime:
    """The overall deadline L1 proposes at dispatch: acknowledge, then handle, then verify."""
    t = start
    for clock in (Clock.acknowledge, Clock.handle, Clock.verify):
        t = default_due(
            clock,
            start=t,
            category=category,
            source=source,
            disposition=None,
            level=None,
            policy=policy,
            calendar=calendar,
        )
    return t


def warn_time(
    start: datetime, due: datetime, policy: CasePolicy, calendar: WorkCalendar
) -> datetime:
    """Yellow threshold of the overall deadline (working time, like the default clocks)."""
    warn_policy = replace(policy.lights, remind_at=policy.lights.yellow_from)
    return lights.reminder_at(start, max(due, start), calendar, warn_policy)


def parse_deadline(value: object, calendar: WorkCalendar) -> datetime:
    """An aware datetime from a form or API value; a bare date means the end of that day."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=calendar.tz)
        return value
    if isinstance(value, date):
        return datetime.combine(value + timedelta(days=1), time(0), tzinfo=calendar.tz)
    text = str(value).strip()
    if len(text) == 10:
        return parse_deadline(date.fromisoformat(text), calendar)
    return parse_deadline(datetime.fromisoformat(text), calendar)


def light_of(
    now: datetime, due_at: datetime | None, warn_at: datetime | None
) -> lights.Light | None:
    """The light from the stored columns (the same rule the SQL filters use)."""
    if due_at is None:
        return None
    if now > due_at:
        return lights.Light.red
    if warn_at is not None and now >= warn_at:
        return lights.Light.yellow
    return lights.Light.green


def apply_clock(case: Any, times: ClockTimes | None) -> dict[str, Any] | None:
    """Store a started clock on the case (or clear every clock column for ``None``).

    A new clock means a new reminder and, once its ``due_at`` passes, a new escalation.
    """
    if times is None:
        case.clock = case.level = None
        case.clock_started_at = case.due_at = case.warn_at = case.remind_at = None
        return None
    case.clock, case.level = times.clock.value, times.level.value
    case.clock_working_time = times.working_time
    case.clock_started_at, case.due_at, case.warn_at = times.started_at, times.due_at, times.warn_at
    case.remind_at = times.remind_at
    return {
        "clock": times.clock.value,
        "level": times.level.value,
        "due_at": times.due_at.isoformat(),
        "basis": times.basis,
    }


def escalated_to(
    level: str | None, due_at: datetime | None, now: datetime, policy: CasePolicy
) -> str | None:
    """The level an overdue clock has been escalated to (derived from the clock alone)."""
    if level is None or due_at is None or now <= due_at:
        return None
    target = policy.escalation.target(level)
    return target.value if target else None
