"""Penalty ladder inside and outside the window; stop-work dates; blacklist threshold."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from dustgrid.cases.ladder import (
    StopWork,
    add_months,
    blacklist_decision,
    propose_step,
    stop_work_period,
)
from dustgrid.cases.policy import BlacklistPolicy, LadderAction, LadderPolicy

NEW = date(2025, 6, 10)


def test_first_problem_is_rectify() -> None:
    p = propose_step([], NEW)
    assert (p.nth, p.step.action, p.counted) == (1, LadderAction.rectify, ())
    assert stop_work_period(NEW, p.step) is None


def test_second_problem_stops_work_five_days_with_a_penalty() -> None:
    p = propose_step([date(2025, 3, 1)], NEW)
    assert p.nth == 2
    assert p.step.action is LadderAction.stop_work_and_penalty and p.step.penalty
    assert stop_work_period(NEW, p.step) == StopWork(
        first_day=NEW, last_day=date(2025, 6, 14), resume_on=date(2025, 6, 15)
    )


@pytest.mark.parametrize("prior_count", [2, 3, 7])
def test_third_and_later_problems_stop_work_a_month(prior_count: int) -> None:
    prior = [NEW - timedelta(days=10 * i) for i in range(1, prior_count + 1)]
    p = propose_step(prior, NEW)
    assert p.nth == prior_count + 1
    assert p.step.action is LadderAction.stop_work
    assert stop_work_period(NEW, p.step) == StopWork(
        first_day=NEW, last_day=date(2025, 7, 9), resume_on=date(2025, 7, 10)
    )


@pytest.mark.parametrize(
    ("days_before", "counts"),
    [(0, True), (1, True), (364, True), (365, True), (366, False), (-1, False)],
)
def test_window_edges(days_before: int, counts: bool) -> None:
    p = propose_step([NEW - timedelta(days=days_before)], NEW)
    assert p.nth == (2 if counts else 1)


def test_old_problems_outside_the_window_do_not_count() -> None:
    prior = [date(2023, 1, 5), date(2024, 2, 1), date(2025, 1, 20)]  # only the last counts
    p = propose_step(prior, NEW)
    assert p.counted == (date(2025, 1, 20),)
    assert p.step.action is LadderAction.stop_work_and_penalty


def test_configurable_window() -> None:
    short = LadderPolicy(version="t", window_days=30)
    prior = [NEW - timedelta(days=20), NEW - timedelta(days=40)]
    p = propose_step(prior, NEW, short)
    assert (p.nth, p.policy_version) == (2, "t")


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2025, 3, 3), 1, date(2025, 4, 3)),
        (date(2025, 1, 31), 1, date(2025, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2025, 12, 15), 1, date(2026, 1, 15)),
        (date(2025, 11, 30), 3, date(2026, 2, 28)),
    ],
)
def test_add_months(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


def test_month_stoppage_from_the_end_of_january() -> None:
    step = LadderPolicy().steps[2]
    assert stop_work_period(date(2025, 1, 31), step) == StopWork(
        first_day=date(2025, 1, 31), last_day=date(2025, 2, 27), resume_on=date(2025, 2, 28)
    )


@pytest.mark.parametrize(("count", "blacklisted"), [(0, False), (2, False), (3, True), (4, True)])
def test_blacklist_at_three_bad_records(count: int, blacklisted: bool) -> None:
    d = blacklist_decision(count)
    assert (d.count, d.threshold, d.blacklisted) == (count, 3, blacklisted)


def test_blacklist_threshold_is_configurable() -> None:
    d = blacklist_decision(2, BlacklistPolicy(version="t", threshold=2))
    assert d.blacklisted and d.policy_version == "t"
    with pytest.raises(ValueError):
        blacklist_decision(-1)
