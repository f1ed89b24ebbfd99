"""Working-day calendar for deadlines: weekends, public holidays and make-up workdays (调休).

Working time is the part of a time span that lies on working days, measured in the
calendar's time zone (China Standard Time by default). Time on a non-working day does not
elapse, so a deadline of *n* working days is the instant at which *n* × 24 hours of working
time have passed since the start:

* start on a working day at 10:00 → 10:00 on the *n*-th working day after it;
* start on a non-working day → counting begins at 00:00 of the next working day;
* a deadline that falls exactly at the end of a working day (start at 00:00, or on a
  non-working day) is placed at 00:00 of the *next working day*, not at the midnight that
  ends the counted day. Both instants hold the same working time, but only the later one
  makes a plain ``now > due`` comparison (a database query) agree with the working-time
  light: a case due "end of Friday" is not overdue on Saturday or Sunday.

The China holiday table below is data, not code: pass your own sets (or extend the
built-in ones) for other years or local arrangements. Years not in the table count only
weekends as non-working.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from types import MappingProxyType

CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")  # no DST since 1991
#: How pages and notices write a moment for people: the city's wall clock to the minute.
PEOPLE_TIME_FORMAT = "%Y-%m-%d %H:%M"


def people_time(value: datetime | None, tz: tzinfo = CHINA_TZ) -> str:
    """A stored (UTC) moment as people read it: the city's local time to the minute; ``""``
    for none. The one formatter of pages, exports and notices (never UTC on screen)."""
    return value.astimezone(tz).strftime(PEOPLE_TIME_FORMAT) if value is not None else ""


_DAY = timedelta(days=1)


def _aware(value: datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {value!r}")


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    """Weekends off, ``holidays`` off, ``makeup_workdays`` (weekend days worked) on."""

    holidays: Set[date] = field(default_factory=frozenset)
    makeup_workdays: Set[date] = field(default_factory=frozenset)
    tz: tzinfo = CHINA_TZ

    def __post_init__(self) -> None:
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "makeup_workdays", frozenset(self.makeup_workdays))
        both = self.holidays & self.makeup_workdays
        if both:
            raise ValueError(f"dates both holiday and make-up workday: {sorted(both)}")

    def is_workday(self, d: date) -> bool:
        """A make-up day always works; a holiday never; otherwise Monday to Friday."""
        if isinstance(d, datetime):
            _aware(d, "d")
            d = d.astimezone(self.tz).date()
        if d in self.makeup_workdays:
            return True
        if d in self.holidays:
            return False
        return d.weekday() < 5

    def next_workday(self, d: date) -> date:
        """The first working day strictly after ``d``."""
        d += _DAY
        while not self.is_workday(d):
            d += _DAY
        return d

    def _local(self, value: datetime, what: str) -> datetime:
        _aware(value, what)
        return value.astimezone(self.tz)

    def _midnight(self, d: date) -> datetime:
        return datetime.combine(d, time(0), tzinfo=self.tz)

    def add_working_time(self, start: datetime, amount: timedelta) -> datetime:
        """The latest instant by which exactly ``amount`` of working time has passed.

        It always lies on a working day (see the module doc for why the latest).
        """
        if amount < timedelta(0):
            raise ValueError("amount must not be negative")
        t, remaining = self._local(start, "start"), amount
        while True:
            next_midnight = self._midnight(t.date() + _DAY)
            if self.is_workday(t.date()):
                available = next_midnight - t
                if remaining < available:
                    return t + remaining
                remaining -= available
            t = next_midnight

    def add_workdays(self, start: datetime, n: int) -> datetime:
        """Deadline ``n`` working days after ``start`` (see the module doc for the rule)."""
        if n < 0:
            raise ValueError("n must not be negative")
        return self.add_working_time(start, n * _DAY)

    def add_calendar_days(self, start: datetime, n: int) -> datetime:
        """``n`` days later, holidays or not (e.g. the one-week recheck); same clock time."""
        return self._local(start, "start") + n * _DAY

    def workdays_between(self, a: date, b: date) -> int:
        """Working days ``d`` with ``a <= d < b``; negative when ``b`` is before ``a``."""
        if b < a:
            return -self.workdays_between(b, a)
        return sum(1 for i in range((b - a).days) if self.is_workday(a + i * _DAY))

    def working_time(self, a: datetime, b: datetime) -> timedelta:
        """Working time in ``[a, b)``; negative when ``b`` is before ``a``."""
        a, b = self._local(a, "a"), self._local(b, "b")
        if b < a:
            return -self.working_time(b, a)
        total, t = timedelta(0), a
        while t < b:
            next_midnight = self._midnight(t.date() + _DAY)
            if self.is_workday(t.date()):
                total += min(next_midnight, b) - t
            t = next_midnight
        return total

    def elapsed_fraction(self, start: datetime, due: datetime, now: datetime) -> float:
        """Share of the working time from ``start`` to ``due`` used by ``now``; > 1 when late.

        Before ``start`` it is 0. When the span holds no working time at all (both ends on
        one weekend), it is 0 before ``due``, 1 at ``due`` and infinite after.
        """
        start, due = self._local(start, "start"), self._local(due, "due")
        now = self._local(now, "now")
        if due < start:
            raise ValueError("due must not be before start")
        total = self.working_time(start, due)
        if total <= timedelta(0):
            return 0.0 if now < due else (1.0 if now == due else float("inf"))
        return max(self.working_time(start, now), timedelta(0)) / total


def _span(first: date, last: date) -> frozenset[date]:
    return frozenset(first + i * _DAY for i in range((last - first).days + 1))


@dataclass(frozen=True, slots=True)
class HolidayYear:
    """One year's official arrangement, with the notice it comes from."""

    year: int
    notice: str
    holidays: frozenset[date]
    makeup_workdays: frozenset[date]


# 国务院办公厅关于2025年部分节假日安排的通知 (2024-11-12).
CHINA_2025 = HolidayYear(
    year=2025,
    notice="国务院办公厅关于2025年部分节假日安排的通知（2024年11月12日）",
    holidays=(
        _span(date(2025, 1, 1), date(2025, 1, 1))  # 元旦
        | _span(date(2025, 1, 28), date(2025, 2, 4))  # 春节
        | _span(date(2025, 4, 4), date(2025, 4, 6))  # 清明节
        | _span(date(2025, 5, 1), date(2025, 5, 5))  # 劳动节
        | _span(date(2025, 5, 31), date(2025, 6, 2))  # 端午节
        | _span(date(2025, 10, 1), date(2025, 10, 8))  # 国庆节、中秋节
    ),
    makeup_workdays=frozenset({
        date(2025, 1, 26), date(2025, 2, 8),  # 春节
        date(2025, 4, 27),  # 劳动节
        date(2025, 9, 28), date(2025, 10, 11),  # 国庆节、中秋节
    }),
)  # fmt: skip

# 国务院办公厅关于2026年部分节假日安排的通知 (2025-11-04, 新华社).
CHINA_2026 = HolidayYear(
    year=2026,
    notice="国务院办公厅关于2026年部分节假日安排的通知（2025年11月4日）",
    holidays=(
        _span(date(2026, 1, 1), date(2026, 1, 3))  # 元旦
        | _span(date(2026, 2, 15), date(2026, 2, 23))  # 春节
        | _span(date(2026, 4, 4), date(2026, 4, 6))  # 清明节
        | _span(date(2026, 5, 1), date(2026, 5, 5))  # 劳动节
        | _span(date(2026, 6, 19), date(2026, 6, 21))  # 端午节
        | _span(date(2026, 9, 25), date(2026, 9, 27))  # 中秋节
        | _span(date(2026, 10, 1), date(2026, 10, 7))  # 国庆节
    ),
    makeup_workdays=frozenset({
        date(2026, 1, 4),  # 元旦
        date(2026, 2, 14), date(2026, 2, 28),  # 春节
        date(2026, 5, 9),  # 劳动节
        date(2026, 9, 20), date(2026, 10, 10),  # 国庆节
    }),
)  # fmt: skip

CHINA_HOLIDAYS: Mapping[int, HolidayYear] = MappingProxyType(
    {y.year: y for y in (CHINA_2025, CHINA_2026)}
)


def china_calendar(
    years: Iterable[HolidayYear] = (CHINA_2025, CHINA_2026),
    *,
    extra_holidays: Iterable[date] = (),
    extra_makeup_workdays: Iterable[date] = (),
) -> WorkCalendar:
    """A calendar from the official tables plus local additions (a city may add its own)."""
    holidays, makeup = set(extra_holidays), set(extra_makeup_workdays)
    for y in years:
        holidays |= y.holidays
        makeup |= y.makeup_workdays
    return WorkCalendar(holidays=holidays, makeup_workdays=makeup)
