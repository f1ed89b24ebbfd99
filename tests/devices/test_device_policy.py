"""Onboarding due dates (working days, China calendar) and the steps timeline: pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest

from dustgrid.devices.policy import (
    DEFAULT_ONBOARDING_POLICY,
    DEFAULT_ONLINE_POLICY,
    OnboardingPolicy,
    OnlinePolicy,
    add_working_days,
    local_date,
)
from dustgrid.devices.timeline import Light, StepState, light_for, steps

# Friday 2026-11-20, 10:00 China time.
FRI = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def test_defaults_follow_domain_rules() -> None:
    assert DEFAULT_ONBOARDING_POLICY.test_days(pre_approved=True) == 3
    assert DEFAULT_ONBOARDING_POLICY.test_days(pre_approved=False) == 10
    assert DEFAULT_ONBOARDING_POLICY.install_days == 5
    assert DEFAULT_ONLINE_POLICY.offline_after_minutes == 30
    assert DEFAULT_ONBOARDING_POLICY.version and DEFAULT_ONLINE_POLICY.version


def test_test_due_skips_the_weekend() -> None:
    # Approved Friday: Mon 23, Tue 24, Wed 25 → 3 working days.
    assert DEFAULT_ONBOARDING_POLICY.test_due(FRI, pre_approved=True) == date(2026, 11, 25)
    # 10 working days: two full weeks of Monday–Friday.
    assert DEFAULT_ONBOARDING_POLICY.test_due(FRI, pre_approved=False) == date(2026, 12, 4)


def test_install_due_five_working_days() -> None:
    tested = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)  # Wednesday
    assert DEFAULT_ONBOARDING_POLICY.install_due(tested) == date(2026, 12, 2)


def test_weekend_approval_counts_from_monday() -> None:
    saturday = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)
    sunday = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
    assert DEFAULT_ONBOARDING_POLICY.test_due(saturday, pre_approved=True) == date(2026, 11, 25)
    assert DEFAULT_ONBOARDING_POLICY.test_due(sunday, pre_approved=True) == date(2026, 11, 25)


def test_day_is_taken_in_china_time() -> None:
    # Sunday 18:00 UTC is Monday 02:00 in China: counting starts after Monday.
    late_sunday_utc = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)
    assert local_date(late_sunday_utc) == date(2026, 11, 23)
    assert DEFAULT_ONBOARDING_POLICY.test_due(late_sunday_utc, pre_approved=True) == date(
        2026, 11, 26
    )


def test_national_day_holiday_and_makeup_saturday() -> None:
    # 2026: 1–7 October off, Saturday 10 October worked (调休).
    assert add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)


def test_policy_can_be_changed_and_is_validated() -> None:
    city = OnboardingPolicy(version="city-2027", test_days_pre_approved=2)
    assert city.test_due(FRI, pre_approved=True) == date(2026, 11, 24)
    with pytest.raises(ValueError):
        OnboardingPolicy(install_days=-1)
    with pytest.raises(ValueError):
        OnlinePolicy(offline_after_minutes=0)
    assert OnlinePolicy().threshold_minutes(None) == 30
    assert OnlinePolicy().threshold_minutes(90) == 90


def test_light_rules() -> None:
    due = date(2026, 11, 25)
    assert light_for(due, done_on=None, today=date(2026, 11, 24)) is Light.green
    assert light_for(due, done_on=None, today=due) is Light.yellow
    assert light_for(due, done_on=None, today=date(2026, 11, 26)) is Light.red
    assert light_for(due, done_on=date(2026, 11, 25), today=date(2026, 12, 9)) is Light.green
    assert light_for(due, done_on=date(2026, 11, 26), today=date(2026, 12, 9)) is Light.red
    assert light_for(None, done_on=None, today=due) is Light.none


@dataclass
class App:
    status: str
    submitted_at: datetime = FRI
    reviewed_at: datetime | None = None
    test_due_date: date | None = None
    tested_at: datetime | None = None
    install_due_date: date | None = None
    installed_at: datetime | None = None


def _states(app: App, today: date, seen: bool | None = None) -> dict[str, tuple[str, str]]:
    return {
        s.key: (s.state.value, s.light.value) for s in steps(app, today=today, online_seen=seen)
    }


def test_timeline_through_the_steps() -> None:
    today = date(2026, 11, 26)
    assert _states(App("submitted"), today)["review"] == ("pending", "none")
    approved = App("approved", reviewed_at=FRI, test_due_date=date(2026, 11, 25))
    s = _states(approved, today)
    assert s["review"] == ("done", "none")
    assert s["test"] == ("pending", "red")  # overdue: due 25th, today 26th
    assert s["install"] == ("waiting", "none")
    tested = App(
        "tested",
        reviewed_at=FRI,
        test_due_date=date(2026, 11, 25),
        tested_at=datetime(2026, 11, 26, 2, 0, tzinfo=UTC),
        install_due_date=date(2026, 12, 3),
    )
    s = _states(tested, today)
    assert s["test"] == ("done", "red")  # done a day late
    assert s["install"] == ("pending", "green")
    done = App(
        "completed",
        reviewed_at=FRI,
        test_due_date=date(2026, 11, 25),
        tested_at=datetime(2026, 11, 24, 2, 0, tzinfo=UTC),
        install_due_date=date(2026, 12, 1),
        installed_at=datetime(2026, 11, 30, 2, 0, tzinfo=UTC),
    )
    assert _states(done, today, seen=False)["online"] == ("pending", "none")
    s = _states(done, today, seen=True)
    assert s["test"] == ("done", "green") and s["install"] == ("done", "green")
    assert s["online"] == ("done", "none")
    failed = steps(App("test_failed", reviewed_at=FRI, tested_at=FRI), today=today)
    assert [x.state for x in failed][2:] == [StepState.failed, StepState.skipped, StepState.skipped]
    rejected = _states(App("rejected", reviewed_at=FRI), today)
    assert rejected["review"] == ("failed", "red") and rejected["test"][0] == "skipped"
