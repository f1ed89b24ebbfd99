"""Versioned case settings: deadline lookup with fallback, escalation chain, validation."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest

from dustgrid.cases.policy import (
    DEFAULT_CASE_POLICY,
    DEFAULT_DEADLINE_POLICY,
    ROLE_LEVEL,
    BlacklistPolicy,
    CasePolicy,
    DeadlinePolicy,
    DeadlineRule,
    DedupPolicy,
    EscalationPolicy,
    LadderPolicy,
    LadderStep,
    Level,
    LightPolicy,
    calendar_days,
    hours,
    working_days,
)
from dustgrid.cases.states import Clock, Disposition
from dustgrid.identity.roles import Role
from dustgrid.workcal import CHINA_TZ, china_calendar

CAL = china_calendar()


def test_default_deadlines() -> None:
    expected = {
        Clock.feedback: hours(24),
        Clock.dispatch: working_days(1),
        Clock.acknowledge: working_days(1),
        Clock.handle: working_days(3),
        Clock.rectify: working_days(3),
        Clock.recheck: calendar_days(7),
        Clock.penalty: working_days(30),
        Clock.verify: working_days(2),
    }
    assert set(expected) == set(Clock)  # every clock has a general rule
    for clock, duration in expected.items():
        assert DEFAULT_DEADLINE_POLICY.lookup(clock) == duration
    assert all(r.basis for r in DEFAULT_DEADLINE_POLICY.rules)  # every number says where it is from


SPECIFIC = DeadlinePolicy(
    version="test.1",
    rules=(
        DeadlineRule(Clock.handle, working_days(3)),
        DeadlineRule(Clock.handle, working_days(2), level=Level.L4),
        DeadlineRule(Clock.handle, working_days(5), disposition=Disposition.penalty),
        DeadlineRule(Clock.handle, working_days(1), category="hotline_12319"),
        DeadlineRule(Clock.handle, hours(12), category="hotline_12319", level=Level.L4),
    ),
)


@pytest.mark.parametrize(
    ("category", "disposition", "level", "expected"),
    [
        (None, None, None, working_days(3)),  # general
        ("video_ai", None, None, working_days(3)),  # unknown category falls back
        (None, None, Level.L4, working_days(2)),
        (None, None, Level.L3, working_days(3)),
        (None, Disposition.penalty, Level.L4, working_days(5)),  # disposition beats level
        ("hotline_12319", Disposition.penalty, None, working_days(1)),  # category beats both
        ("hotline_12319", None, Level.L4, hours(12)),  # most specific of all
    ],
)
def test_lookup_falls_back_from_specific_to_general(
    category: str | None, disposition: Disposition | None, level: Level | None, expected: object
) -> None:
    got = SPECIFIC.lookup("handle", category=category, disposition=disposition, level=level)
    assert got == expected


def test_lookup_without_any_rule() -> None:
    with pytest.raises(LookupError):
        SPECIFIC.lookup(Clock.penalty)


def test_duplicate_rules_are_refused() -> None:
    with pytest.raises(ValueError):
        DeadlinePolicy("x", (DeadlineRule(Clock.handle, hours(1)),) * 2)


def test_duration_due() -> None:
    start = datetime(2025, 9, 30, 14, tzinfo=CHINA_TZ)
    assert working_days(1).due(start, CAL) == datetime(2025, 10, 9, 14, tzinfo=CHINA_TZ)
    assert calendar_days(7).due(start, CAL) == datetime(2025, 10, 7, 14, tzinfo=CHINA_TZ)
    assert hours(24).due(start, CAL) == datetime(2025, 10, 1, 14, tzinfo=CHINA_TZ)
    assert working_days(1).working_time and not hours(24).working_time
    with pytest.raises(ValueError):
        hours(-1)


@pytest.mark.parametrize(
    ("level", "target"),
    [(Level.L4, Level.L2), (Level.L3, Level.L2), (Level.L2, Level.L1), (Level.L1, None)],
)
def test_escalation_chain(level: Level, target: Level | None) -> None:
    assert EscalationPolicy().target(level) == target


def test_role_levels() -> None:
    assert dict(ROLE_LEVEL) == {
        Role.city_admin: Level.L1,
        Role.district_admin: Level.L2,
        Role.station_staff: Level.L3,
        Role.officer: Level.L4,
    }


def test_rule_numbers_are_the_domain_defaults() -> None:
    assert (LightPolicy().yellow_from, LightPolicy().red_above) == (0.8, 1.0)
    assert LightPolicy().remind_at == 0.8
    ladder = LadderPolicy()
    assert ladder.window_days == 365
    assert [(s.stop_work_days, s.stop_work_months, s.penalty) for s in ladder.steps] == [
        (0, 0, False),
        (5, 0, True),
        (0, 1, False),
    ]
    assert BlacklistPolicy().threshold == 3
    assert DedupPolicy().video_ai_window.total_seconds() == 6 * 3600


@pytest.mark.parametrize(
    "setting",
    [
        DEFAULT_CASE_POLICY,
        DEFAULT_DEADLINE_POLICY,
        LightPolicy(),
        EscalationPolicy(),
        LadderPolicy(),
        BlacklistPolicy(),
        DedupPolicy(),
    ],
)
def test_every_setting_is_frozen_and_versioned(setting: object) -> None:
    assert getattr(setting, "version", "")
    with pytest.raises(dataclasses.FrozenInstanceError):
        setting.version = "changed"  # type: ignore[attr-defined]


def test_a_city_overrides_by_replacing_and_bumping_the_version() -> None:
    policy = dataclasses.replace(
        DEFAULT_CASE_POLICY, version="shenyang.2", blacklist=BlacklistPolicy("shenyang.2", 2)
    )
    assert isinstance(policy, CasePolicy)
    assert policy.blacklist.threshold == 2 and DEFAULT_CASE_POLICY.blacklist.threshold == 3


@pytest.mark.parametrize(
    "make",
    [
        lambda: LightPolicy(yellow_from=1.2, red_above=1.0),
        lambda: LightPolicy(yellow_from=0),
        lambda: LightPolicy(remind_at=0),
        lambda: LadderPolicy(steps=(LadderStep(2, LadderPolicy().steps[0].action),)),
        lambda: LadderPolicy(window_days=-1),
    ],
)
def test_invalid_settings_are_refused(make: object) -> None:
    with pytest.raises(ValueError):
        make()  # type: ignore[operator]
