"""Deadline arithmetic on working days, with frozen time, and the traffic lights."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from dustgrid.cases import deadlines
from dustgrid.cases.lights import Light, traffic_light
from dustgrid.cases.policy import DEFAULT_CASE_POLICY, Level
from dustgrid.cases.repository import Tab, filtered
from dustgrid.cases.states import CaseState, Clock
from dustgrid.config import Settings
from dustgrid.workcal.calendar import CHINA_TZ
from tests.cases.case_kit import MONDAY, case_in, mv, report, who
from tests.fixtures.city import City


def cst(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHINA_TZ)  # type: ignore[misc]


CAL = deadlines.work_calendar()


def clock(kind: Clock, start: datetime, level: Level | None = None) -> deadlines.ClockTimes:
    return deadlines.start_clock(
        kind,
        start=start,
        category="bare_soil_cover",
        source="third_party_inspector",
        disposition=None,
        responsible_level=level,
        policy=DEFAULT_CASE_POLICY,
        calendar=CAL,
    )


def test_monday_is_monday() -> None:
    assert MONDAY.astimezone(CHINA_TZ) == cst(2026, 3, 2, 10)
    assert date(2026, 3, 2).weekday() == 0


@pytest.mark.parametrize(
    ("kind", "start", "due"),
    [
        # one working day to acknowledge: Friday afternoon → Monday afternoon
        (Clock.acknowledge, cst(2026, 3, 6, 16), cst(2026, 3, 9, 16)),
        # Labour Day 2026 (1–5 May off): Thursday 30 April → Wednesday 6 May
        (Clock.acknowledge, cst(2026, 4, 30, 10), cst(2026, 5, 6, 10)),
        # three working days across the make-up Saturday 9 May
        (Clock.handle, cst(2026, 5, 7, 10), cst(2026, 5, 11, 10)),
        # reported on a Saturday: counting starts Monday 00:00, due Tuesday 00:00
        (Clock.dispatch, cst(2026, 3, 7, 15), cst(2026, 3, 10, 0)),
        # wall-clock clocks ignore the calendar
        (Clock.feedback, cst(2026, 3, 7, 15), cst(2026, 3, 8, 15)),
        (Clock.recheck, cst(2026, 9, 30, 9), cst(2026, 10, 7, 9)),
    ],
)
def test_due_times(kind: Clock, start: datetime, due: datetime) -> None:
    assert clock(kind, start).due_at == due


def test_whose_clock_it_is() -> None:
    assert clock(Clock.dispatch, MONDAY).level == Level.L1
    assert clock(Clock.acknowledge, MONDAY).level == Level.L2
    assert clock(Clock.handle, MONDAY, Level.L4).level == Level.L4
    assert clock(Clock.handle, MONDAY).level == Level.L3  # nobody named yet
    assert clock(Clock.verify, MONDAY, Level.L4).level == Level.L2


def test_city_holidays_from_settings(settings: Settings) -> None:
    local = settings.model_copy(update={"case_extra_holidays": [date(2026, 3, 9)]})
    cal = deadlines.work_calendar(local)
    t = deadlines.start_clock(
        Clock.acknowledge,
        start=cst(2026, 3, 6, 16),
        category="x",
        source="sensor",
        disposition=None,
        responsible_level=None,
        policy=DEFAULT_CASE_POLICY,
        calendar=cal,
    )
    assert t.due_at == cst(2026, 3, 10, 16)
    makeup = settings.model_copy(update={"case_extra_makeup_workdays": [date(2026, 3, 7)]})
    t2 = deadlines.start_clock(
        Clock.acknowledge,
        start=cst(2026, 3, 6, 16),
        category="x",
        source="sensor",
        disposition=None,
        responsible_level=None,
        policy=DEFAULT_CASE_POLICY,
        calendar=deadlines.work_calendar(makeup),
    )
    assert t2.due_at == cst(2026, 3, 7, 16)


def test_default_case_deadline_is_acknowledge_handle_verify() -> None:
    due = deadlines.default_case_deadline(
        start=MONDAY, category="x", source="sensor", policy=DEFAULT_CASE_POLICY, calendar=CAL
    )
    assert due == cst(2026, 3, 10, 10)  # 1 + 3 + 2 working days


@pytest.mark.parametrize(
    ("now", "light"),
    [
        (cst(2026, 3, 4, 19), Light.green),
        (cst(2026, 3, 4, 20), Light.yellow),  # 80% of 72 working hours is Wed 19:36
        (cst(2026, 3, 5, 10), Light.yellow),  # exactly due
        (cst(2026, 3, 5, 10, 1), Light.red),
    ],
)
def test_lights_on_a_handle_clock(now: datetime, light: Light) -> None:
    t = clock(Clock.handle, MONDAY, Level.L4)
    assert t.warn_at == cst(2026, 3, 4, 19, 36)
    assert deadlines.light_of(now, t.due_at, t.warn_at) == light
    assert traffic_light(MONDAY, t.due_at, now, CAL, DEFAULT_CASE_POLICY.lights) == light


def test_a_weekend_does_not_turn_the_light_yellow() -> None:
    start = cst(2026, 3, 5, 10)  # Thursday
    t = clock(Clock.handle, start, Level.L4)
    assert t.due_at == cst(2026, 3, 10, 10)
    for now in (cst(2026, 3, 7, 12), cst(2026, 3, 8, 23)):  # Saturday, Sunday
        assert deadlines.light_of(now, t.due_at, t.warn_at) == Light.green
        assert traffic_light(start, t.due_at, now, CAL, DEFAULT_CASE_POLICY.lights) == Light.green


def test_parse_deadline_date_means_end_of_day() -> None:
    assert deadlines.parse_deadline("2026-03-05", CAL) == cst(2026, 3, 6, 0)
    assert deadlines.parse_deadline("2026-03-05T12:00:00+08:00", CAL) == cst(2026, 3, 5, 12)
    naive = datetime.fromisoformat("2026-03-05T12:00")
    assert deadlines.parse_deadline(naive, CAL) == cst(2026, 3, 5, 12)


def test_case_columns_follow_the_clocks(db: Session, city: City, settings: Settings) -> None:
    case = case_in(db, city, settings, CaseState.accepted)
    assert case.clock == "handle" and case.level == "L4"  # off_hp1 is an officer
    assert case.due_at == cst(2026, 3, 5, 10) and case.remind_at == cst(2026, 3, 4, 19, 36)
    assert case.deadline_at == cst(2026, 3, 10, 10)
    friday = cst(2026, 3, 6, 9).astimezone(UTC)
    mv(db, city, settings, case, "start_handling", "off_hp1", now=friday)
    assert case.due_at == cst(2026, 3, 5, 10)  # starting work does not restart the clock
    mv(
        db,
        city,
        settings,
        case,
        "order_rectification",
        "off_hp1",
        now=friday,
        deadline="2026-03-10",
    )
    assert case.rectify_due_at == cst(2026, 3, 11, 0)
    assert case.clock == "recheck" and case.due_at == cst(2026, 3, 13, 9)


def test_light_filters_in_sql(db: Session, city: City, settings: Settings) -> None:
    case = report(db, city, settings)  # dispatch clock: due Tuesday 10:00
    admin = who(db, city, "admin")
    for now, light in (
        (MONDAY, "green"),
        (cst(2026, 3, 3, 9), "yellow"),
        (cst(2026, 3, 3, 11), "red"),
    ):
        ids = set(db.scalars(filtered(admin, tab=Tab.all, now=now, light=light)))
        assert case in ids, (now, light)
        others = {"green", "yellow", "red"} - {light}
        for other in others:
            assert case not in set(db.scalars(filtered(admin, tab=Tab.all, now=now, light=other)))
    late = cst(2026, 3, 3, 11)
    assert case in set(db.scalars(filtered(admin, tab=Tab.overdue, now=late)))
    assert case not in set(db.scalars(filtered(admin, tab=Tab.overdue, now=MONDAY)))
    assert timedelta(0) < case.due_at - MONDAY  # type: ignore[operator]
