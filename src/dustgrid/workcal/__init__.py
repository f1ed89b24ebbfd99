"""Working-day calendar: deadlines that skip weekends and public holidays (调休 aware)."""

from dustgrid.workcal.calendar import (
    CHINA_2025,
    CHINA_2026,
    CHINA_HOLIDAYS,
    CHINA_TZ,
    HolidayYear,
    WorkCalendar,
    china_calendar,
)

__all__ = [
    "CHINA_2025",
    "CHINA_2026",
    "CHINA_HOLIDAYS",
    "CHINA_TZ",
    "HolidayYear",
    "WorkCalendar",
    "china_calendar",
]
