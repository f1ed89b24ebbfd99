"""Device rule numbers as named, versioned settings (docs/domain.md §7, seed 003).

Pure data and date arithmetic, no ORM and no ``Settings``: a city that changes a number
passes its own policy object and bumps ``version``, so an old due date or offline period can
be explained by the policy it was computed under.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from dustgrid.workcal.calendar import WorkCalendar, china_calendar

#: The working-day calendar of the device deadlines: the official China holiday tables.
CALENDAR: WorkCalendar = china_calendar()


def add_working_days(start: date, n: int, calendar: WorkCalendar = CALENDAR) -> date:
    """The ``n``-th working day after ``start``; the start day itself is not counted.

    Why a date and not ``WorkCalendar.add_workdays``: a deadline of "n working days"
    written on a form is a whole day (the last day on which the step may be done), and by
    the usual rule for periods counted in days (民法典 第二百零一条: 开始的当日不计入) the
    day of the event does not count. Counting whole days also makes an approval on
    Saturday and one on the following Monday morning due on different days only when the
    calendar says so, not because of the clock time of the click.
    """
    if n < 0:
        raise ValueError("n must not be negative")
    d = start
    for _ in range(n):
        d = calendar.next_workday(d)
    return d


def local_date(at: datetime, calendar: WorkCalendar = CALENDAR) -> date:
    """The calendar day of an aware instant in the calendar's time zone (China time)."""
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    return at.astimezone(calendar.tz).date()


@dataclass(frozen=True, slots=True)
class OnboardingPolicy:
    """Deadlines of device onboarding (domain.md §7; seed 003).

    After the application is approved the devices are tested within 3 working days when
    the model is on the pre-approved list (已备案型号), otherwise within 10; after a passed
    test they are installed and connected within 5 working days.
    """

    version: str = "2024.1"
    test_days_pre_approved: int = 3
    test_days_other: int = 10
    install_days: int = 5

    def __post_init__(self) -> None:
        for name in ("test_days_pre_approved", "test_days_other", "install_days"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")

    def test_days(self, *, pre_approved: bool) -> int:
        return self.test_days_pre_approved if pre_approved else self.test_days_other

    def test_due(
        self, approved_at: datetime, *, pre_approved: bool, calendar: WorkCalendar = CALENDAR
    ) -> date:
        """Last day for the device test, counted from the day of approval."""
        days = self.test_days(pre_approved=pre_approved)
        return add_working_days(local_date(approved_at, calendar), days, calendar)

    def install_due(self, tested_at: datetime, *, calendar: WorkCalendar = CALENDAR) -> date:
        """Last day for installation and connection, counted from the day of the test."""
        return add_working_days(local_date(tested_at, calendar), self.install_days, calendar)


@dataclass(frozen=True, slots=True)
class OnlinePolicy:
    """When a silent device counts as offline (domain.md §7: providers promise an offline
    rate ≤ 10 %, so silences must be measured). 30 minutes is the platform default; a device
    may override it with ``Device.offline_after_minutes`` (a camera that reports hourly)."""

    version: str = "2024.1"
    offline_after_minutes: int = 30

    def __post_init__(self) -> None:
        if self.offline_after_minutes < 1:
            raise ValueError("offline_after_minutes must be at least 1")

    def threshold_minutes(self, device_setting: int | None) -> int:
        """The device's own silence limit when set, else the policy default."""
        return (
            device_setting
            if device_setting and device_setting > 0
            else (self.offline_after_minutes)
        )


DEFAULT_ONBOARDING_POLICY = OnboardingPolicy()
DEFAULT_ONLINE_POLICY = OnlinePolicy()
