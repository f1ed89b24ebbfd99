"""Penalty ladder per site and the enterprise blacklist (000 §5(四)1, domain.md §5).

1st substantiated problem → rectify; 2nd → stop work 5 days and a penalty; 3rd and later →
stop work for a month. Only problems inside the policy's window count. The proposal is
advice for the handler, who still chooses the disposition.
"""

from __future__ import annotations

import calendar as _gregorian
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from dustgrid.cases.policy import DEFAULT_CASE_POLICY, BlacklistPolicy, LadderPolicy, LadderStep


@dataclass(frozen=True, slots=True)
class LadderProposal:
    nth: int  # rank of the new problem inside the window, 1 for the first
    step: LadderStep
    counted: tuple[date, ...]  # the prior problems that counted, oldest first
    policy_version: str


def counted_problems(prior: Iterable[date], new: date, policy: LadderPolicy) -> tuple[date, ...]:
    """Prior problems on or before ``new`` and at most ``window_days`` before it.

    A problem exactly ``window_days`` earlier still counts; one day more does not. Dates
    after ``new`` are ignored (they cannot be "prior").
    """
    return tuple(sorted(d for d in prior if 0 <= (new - d).days <= policy.window_days))


def propose_step(
    prior: Iterable[date], new: date, policy: LadderPolicy = DEFAULT_CASE_POLICY.ladder
) -> LadderProposal:
    """The ladder step for a new substantiated problem, given the site's earlier ones.

    ``prior`` must not include the new problem itself; the last step repeats for every
    problem beyond it (3rd, 4th, … → stop work for a month).
    """
    counted = counted_problems(prior, new, policy)
    nth = len(counted) + 1
    step = policy.steps[min(nth, len(policy.steps)) - 1]
    return LadderProposal(nth=nth, step=step, counted=counted, policy_version=policy.version)


def add_months(d: date, months: int) -> date:
    """Same day ``months`` later, clamped to the month's end (Jan 31 + 1 → Feb 28/29)."""
    index = d.year * 12 + d.month - 1 + months
    year, month = divmod(index, 12)
    last = _gregorian.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(d.day, last))


@dataclass(frozen=True, slots=True)
class StopWork:
    first_day: date
    last_day: date  # inclusive
    resume_on: date  # the first day work may restart


def stop_work_period(start: date, step: LadderStep) -> StopWork | None:
    """The stoppage a step orders from ``start`` (calendar days, start day included).

    Five days from 3 March: 3–7 March, resume on the 8th. A month from 3 March: 3 March to
    2 April, resume on 3 April. None when the step orders no stoppage.
    """
    if not (step.stop_work_days or step.stop_work_months):
        return None
    resume = add_months(start, step.stop_work_months) + timedelta(days=step.stop_work_days)
    return StopWork(first_day=start, last_day=resume - timedelta(days=1), resume_on=resume)


@dataclass(frozen=True, slots=True)
class BlacklistDecision:
    count: int
    threshold: int
    blacklisted: bool
    policy_version: str


def blacklist_decision(
    bad_records: int, policy: BlacklistPolicy = DEFAULT_CASE_POLICY.blacklist
) -> BlacklistDecision:
    """Blacklisted (restricted from bidding) at ``threshold`` bad-behaviour records or more."""
    if bad_records < 0:
        raise ValueError("bad_records must not be negative")
    return BlacklistDecision(
        count=bad_records,
        threshold=policy.threshold,
        blacklisted=bad_records >= policy.threshold,
        policy_version=policy.version,
    )
