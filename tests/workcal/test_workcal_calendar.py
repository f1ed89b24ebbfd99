"""Working-day arithmetic across weekends, holidays and make-up days (调休)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from freezegun import freeze_time
from hypothesis import given
from hypothesis import strategies as st

from dustgrid.workcal import (
    CHINA_2025,
    CHINA_2026,
    CHINA_HOLIDAYS,
    CHINA_TZ,
    HolidayYear,
    WorkCalendar,
    china_calendar,
)

CAL = china_calendar()
PLAIN = WorkCalendar()


def at(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=CHINA_TZ)


@pytest.mark.parametrize(
    ("day", "works"),
    [
        (date(2025, 3, 7), True),  # Friday
        (date(2025, 3, 8), False),  # Saturday
        (date(2025, 1, 1), False),  # 元旦, a Wednesday
        (date(2025, 1, 26), True),  # Sunday worked for 春节
        (date(2025, 2, 3), False),  # Monday inside 春节
        (date(2025, 2, 8), True),  # Saturday worked for 春节
        (date(2025, 4, 27), True),  # Sunday worked for 劳动节
        (date(2025, 5, 5), False),  # Monday inside 劳动节
        (date(2025, 6, 2), False),  # 端午节 Monday
        (date(2025, 9, 28), True),  # Sunday worked for 国庆节
        (date(2025, 10, 8), False),  # Wednesday inside 国庆节、中秋节
        (date(2025, 10, 11), True),  # Saturday worked
        (date(2026, 1, 4), True),  # Sunday worked for 元旦
        (date(2026, 2, 23), False),  # Monday inside 春节
        (date(2026, 2, 28), True),  # Saturday worked
        (date(2026, 5, 9), True),  # Saturday worked for 劳动节
        (date(2026, 9, 25), False),  # 中秋节 Friday
        (date(2026, 10, 10), True),  # Saturday worked for 国庆节
    ],
)
def test_is_workday(day: date, works: bool) -> None:
    assert CAL.is_workday(day) is works


def test_plain_calendar_only_knows_weekends() -> None:
    assert PLAIN.is_workday(date(2025, 1, 1))
    assert not PLAIN.is_workday(date(2025, 1, 26))


@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        (at(2025, 3, 7, 10), 1, at(2025, 3, 10, 10)),  # Friday → Monday, same clock time
        (at(2025, 3, 7, 10), 0, at(2025, 3, 7, 10)),
        (at(2025, 3, 3, 0), 1, at(2025, 3, 4, 0)),  # a whole Monday, due as Tuesday starts
        (at(2025, 3, 7, 0), 1, at(2025, 3, 10, 0)),  # a whole Friday: due as Monday starts
        (at(2025, 1, 27, 0), 1, at(2025, 2, 5, 0)),  # last day before 春节: due after it
        (at(2025, 3, 8, 15), 1, at(2025, 3, 11, 0)),  # Saturday: Monday is the first day
        (at(2025, 3, 8, 15), 2, at(2025, 3, 12, 0)),
        (at(2025, 1, 27, 9), 1, at(2025, 2, 5, 9)),  # over the 春节 holiday
        (at(2025, 1, 24, 10), 1, at(2025, 1, 26, 10)),  # Friday → make-up Sunday
        (at(2025, 2, 7, 10), 1, at(2025, 2, 8, 10)),  # Friday → make-up Saturday
        (at(2025, 2, 7, 10), 3, at(2025, 2, 11, 10)),  # Sat 8 worked, Sun 9 not, Mon, Tue
        (at(2025, 9, 30, 14), 1, at(2025, 10, 9, 14)),  # over 国庆节
        (at(2025, 9, 30, 14), 3, at(2025, 10, 11, 14)),  # Thu 9, Fri 10, make-up Sat 11
        (at(2025, 10, 3, 9), 1, at(2025, 10, 10, 0)),  # inside the holiday: Oct 9 counts
        (at(2026, 2, 13, 10), 1, at(2026, 2, 14, 10)),  # make-up Saturday before 春节
        (at(2026, 2, 13, 10), 2, at(2026, 2, 24, 10)),
        (at(2025, 3, 7, 10), 30, at(2025, 4, 21, 10)),  # 30 working days, Qingming inside
    ],
)
def test_add_workdays(start: datetime, n: int, due: datetime) -> None:
    assert CAL.add_workdays(start, n) == due


def test_add_workdays_in_utc_counts_china_days() -> None:
    sunday_2000_utc = datetime(2025, 3, 9, 20, tzinfo=UTC)  # Monday 04:00 in China
    assert CAL.add_workdays(sunday_2000_utc, 1) == at(2025, 3, 11, 4)


def test_add_workdays_refuses_negative_and_naive() -> None:
    with pytest.raises(ValueError):
        CAL.add_workdays(at(2025, 3, 7), -1)
    with pytest.raises(ValueError):
        CAL.add_workdays(datetime(2025, 3, 7, 10), 1)  # noqa: DTZ001 - the point of the test


def test_add_calendar_days_ignores_holidays() -> None:
    assert CAL.add_calendar_days(at(2025, 9, 30, 14), 7) == at(2025, 10, 7, 14)


@pytest.mark.parametrize(
    ("a", "b", "n"),
    [
        (date(2025, 3, 3), date(2025, 3, 10), 5),
        (date(2025, 3, 10), date(2025, 3, 3), -5),
        (date(2025, 3, 3), date(2025, 3, 3), 0),
        (date(2025, 1, 27), date(2025, 2, 10), 5),  # Jan 27, Feb 5–7, make-up Feb 8
        (date(2025, 9, 29), date(2025, 10, 13), 5),  # Sep 29, 30, Oct 9, 10, make-up 11
    ],
)
def test_workdays_between(a: date, b: date, n: int) -> None:
    assert CAL.workdays_between(a, b) == n


@pytest.mark.parametrize(
    ("now", "fraction"),
    [
        (at(2025, 3, 7, 6), 0.0),  # before start
        (at(2025, 3, 7, 12), 0.0),
        (at(2025, 3, 7, 18), 0.25),
        (at(2025, 3, 8, 12), 0.5),  # Saturday: time stands still
        (at(2025, 3, 9, 23, 59), 0.5),
        (at(2025, 3, 10, 6), 0.75),
        (at(2025, 3, 10, 12), 1.0),
        (at(2025, 3, 11, 0), 1.5),
    ],
)
def test_elapsed_fraction_skips_the_weekend(now: datetime, fraction: float) -> None:
    start = at(2025, 3, 7, 12)
    due = CAL.add_workdays(start, 1)
    assert due == at(2025, 3, 10, 12)
    assert CAL.elapsed_fraction(start, due, now) == pytest.approx(fraction)


def test_elapsed_fraction_of_a_span_without_working_time() -> None:
    start, due = at(2025, 3, 8, 9), at(2025, 3, 9, 9)
    assert CAL.elapsed_fraction(start, due, at(2025, 3, 8, 12)) == 0.0
    assert CAL.elapsed_fraction(start, due, due) == 1.0
    assert CAL.elapsed_fraction(start, due, at(2025, 3, 10, 1)) == float("inf")
    with pytest.raises(ValueError):
        CAL.elapsed_fraction(due, start, due)


@freeze_time("2025-10-09 02:00:00")  # 10:00 in China, first working day after 国庆节
def test_elapsed_fraction_with_frozen_now() -> None:
    start = at(2025, 9, 30, 14)  # the last afternoon before the holiday
    due = CAL.add_workdays(start, 1)
    now = datetime.now(CHINA_TZ)
    assert CAL.elapsed_fraction(start, due, now) == pytest.approx(20 / 24)


def test_holiday_and_makeup_must_not_overlap() -> None:
    with pytest.raises(ValueError):
        WorkCalendar(holidays={date(2025, 1, 26)}, makeup_workdays={date(2025, 1, 26)})


@pytest.mark.parametrize("year", [CHINA_2025, CHINA_2026])
def test_holiday_tables_are_consistent(year: HolidayYear) -> None:
    assert all(d.year == year.year for d in year.holidays | year.makeup_workdays)
    assert all(d.weekday() >= 5 for d in year.makeup_workdays)  # 调休 days are weekends
    assert not year.holidays & year.makeup_workdays


def test_holiday_table_sizes() -> None:
    assert set(CHINA_HOLIDAYS) == {2025, 2026}
    assert len(CHINA_2025.holidays) == 1 + 8 + 3 + 5 + 3 + 8
    assert len(CHINA_2025.makeup_workdays) == 5
    assert len(CHINA_2026.holidays) == 3 + 9 + 3 + 5 + 3 + 3 + 7
    assert len(CHINA_2026.makeup_workdays) == 6


def test_a_city_can_add_local_days() -> None:
    cal = china_calendar([CHINA_2025], extra_holidays=[date(2025, 3, 10)])
    assert not cal.is_workday(date(2025, 3, 10))
    assert cal.is_workday(date(2026, 2, 16))  # 2026 left out on purpose: plain Monday


_starts = st.datetimes(  # hypothesis takes naive bounds and attaches the zone itself
    min_value=datetime(2025, 1, 1),  # noqa: DTZ001
    max_value=datetime(2026, 12, 1),  # noqa: DTZ001
    timezones=st.just(CHINA_TZ),
)


@given(start=_starts, n=st.integers(min_value=0, max_value=40))
def test_deadline_holds_exactly_n_working_days(start: datetime, n: int) -> None:
    due = CAL.add_workdays(start, n)
    assert due >= start
    assert CAL.working_time(start, due) == timedelta(days=n)
    if n:
        assert CAL.elapsed_fraction(start, due, due) == 1.0
        assert CAL.working_time(start, due + timedelta(microseconds=1)) > timedelta(days=n)
    assert CAL.is_workday(due)  # so "now > due" means late in working time too
