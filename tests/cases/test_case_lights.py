"""Traffic lights at the 0.8 and 1.0 boundaries, reminders and escalation targets."""

from __future__ import annotations

from datetime import datetime

import pytest
from freezegun import freeze_time

from dustgrid.cases.lights import (
    Light,
    elapsed_fraction,
    escalation_target,
    reminder_at,
    reminder_due,
    traffic_light,
)
from dustgrid.cases.policy import DEFAULT_CASE_POLICY, EscalationPolicy, Level, LightPolicy, hours
from dustgrid.workcal import CHINA_TZ, china_calendar

CAL = china_calendar()
LIGHTS = DEFAULT_CASE_POLICY.lights


def at(m: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(2025, m, d, h, mi, s, tzinfo=CHINA_TZ)


# Ten working days from Monday 3 March 2025 00:00: 240 hours of working time, due as the
# next working day starts (Monday 17 March 00:00), so the weekend before it is not late.
START, DUE = at(3, 3), at(3, 17)


def test_the_window_is_ten_working_days() -> None:
    assert CAL.add_workdays(START, 10) == DUE


@pytest.mark.parametrize(
    ("now", "fraction", "light"),
    [
        (at(3, 3), 0.0, Light.green),
        (at(3, 12, 21, 36), 0.79, Light.green),  # 189.6 h
        (at(3, 13), 0.8, Light.yellow),  # 192 h
        (at(3, 15, 12), 1.0, Light.yellow),  # Saturday after the last day: still on time
        (DUE, 1.0, Light.yellow),
        (at(3, 17, 2, 24), 1.01, Light.red),  # 242.4 h
    ],
)
def test_working_time_light_boundaries(now: datetime, fraction: float, light: Light) -> None:
    assert elapsed_fraction(START, DUE, now, CAL) == fraction
    assert traffic_light(START, DUE, now, CAL, LIGHTS) is light


@pytest.mark.parametrize(
    ("now", "light"),
    [
        (at(3, 8, 4, 57, 36), Light.green),  # 0.79 of 24 h
        (at(3, 8, 5, 12), Light.yellow),  # 0.8
        (at(3, 8, 10), Light.yellow),  # 1.0
        (at(3, 8, 10, 14, 24), Light.red),  # 1.01
    ],
)
def test_wall_clock_light_boundaries(now: datetime, light: Light) -> None:
    start = at(3, 7, 10)  # Friday; the 24-hour feedback clock runs through Saturday
    due = hours(24).due(start, CAL)
    assert traffic_light(start, due, now, CAL, LIGHTS, working_time=False) is light


def test_custom_thresholds() -> None:
    strict = LightPolicy(version="t", yellow_from=0.5, red_above=0.9)
    assert traffic_light(START, DUE, at(3, 10), CAL, strict) is Light.yellow  # 0.5
    assert traffic_light(START, DUE, at(3, 14, 12), CAL, strict) is Light.red  # 0.95


@freeze_time("2025-10-08 20:00:00")  # 04:00 in China on the first day after 国庆节
def test_light_with_frozen_now_across_the_holiday() -> None:
    start = datetime(2025, 9, 30, 9, tzinfo=CHINA_TZ)  # Tuesday before the holiday
    due = CAL.add_workdays(start, 1)
    assert due == datetime(2025, 10, 9, 9, tzinfo=CHINA_TZ)
    now = datetime.now(CHINA_TZ)
    assert elapsed_fraction(start, due, now, CAL) == pytest.approx(19 / 24)  # 15 h + 4 h
    assert traffic_light(start, due, now, CAL, LIGHTS) is Light.green
    # Had the holiday counted, the same case would already be yellow:
    assert traffic_light(start, due, now, CAL, LIGHTS, working_time=False) is Light.yellow


def test_reminder_due_at_the_lead_fraction() -> None:
    assert not reminder_due(START, DUE, at(3, 12, 21, 36), CAL, LIGHTS)
    assert reminder_due(START, DUE, at(3, 13), CAL, LIGHTS)


def test_reminder_at_is_in_working_time() -> None:
    assert reminder_at(START, DUE, CAL, LIGHTS) == at(3, 13)
    friday = at(3, 7, 12)
    due = CAL.add_workdays(friday, 1)  # Monday 12:00
    assert reminder_at(friday, due, CAL, LIGHTS) == at(3, 10, 7, 12)  # 19.2 h of working time
    assert reminder_at(friday, due, CAL, LIGHTS, working_time=False) == at(3, 9, 21, 36)


def test_due_before_start_is_an_error() -> None:
    with pytest.raises(ValueError):
        elapsed_fraction(DUE, START, DUE, CAL, working_time=False)
    with pytest.raises(ValueError):
        reminder_at(DUE, START, CAL, LIGHTS)


@pytest.mark.parametrize(
    ("level", "target"),
    [("L4", Level.L2), ("L3", Level.L2), ("L2", Level.L1), ("L1", None)],
)
def test_escalation_target(level: str, target: Level | None) -> None:
    assert escalation_target(level, EscalationPolicy()) == target
