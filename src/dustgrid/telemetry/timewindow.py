"""The one window of data times every channel accepts (HJ 212, HTTP, MQTT).

Why one window: a device with a broken clock (``DataTime=99991231235959`` or year 1) must be
answered the same way whichever channel it uses. A reading dated too far ahead or too far
back is acknowledged to the device (so it does not resend forever), counted in the ingest
statistics and flagged, but never stored as valid data and never moves the device's
last-seen time. The two limits are settings (``DUSTGRID_TELEMETRY_FUTURE_TOLERANCE_S`` and
``DUSTGRID_TELEMETRY_MAX_AGE_DAYS``); docs/devices.md explains them to integrators.

Pure: no database, no web library.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Final, Literal

#: Why a data time is outside the window (also the quality flag / error code used).
TOO_FAR_AHEAD: Final = "time_ahead"
TOO_FAR_BACK: Final = "time_behind"
UNREPRESENTABLE: Final = "time_invalid"

Verdict = Literal["time_ahead", "time_behind", "time_invalid"]


@dataclass(frozen=True, slots=True)
class ReadingTimeWindow:
    """How far ahead of and behind the receiving clock a reading's data time may be."""

    version: str = "2026.1"
    max_ahead: timedelta = timedelta(minutes=10)
    max_behind: timedelta = timedelta(days=30)

    def judge(self, data_time: datetime, now: datetime) -> Verdict | None:
        """``None`` when ``data_time`` (aware) lies in the window around ``now`` (aware)."""
        try:
            at = data_time.astimezone(UTC)
        except (OverflowError, ValueError):
            return UNREPRESENTABLE
        if at > _shifted(now, self.max_ahead):
            return TOO_FAR_AHEAD
        if at < _shifted(now, -self.max_behind):
            return TOO_FAR_BACK
        return None

    def to_utc(self, local: datetime, tz: tzinfo) -> datetime | None:
        """``local`` (naive, city time) as aware UTC, or ``None`` when that overflows.

        Year 1 or 9999 near the calendar's ends cannot be shifted by an offset; such a
        time is outside every window anyway.
        """
        try:
            aware = local if local.tzinfo is not None else local.replace(tzinfo=tz)
            return aware.astimezone(UTC)
        except (OverflowError, ValueError):
            return None


def _shifted(now: datetime, by: timedelta) -> datetime:
    """``now + by``, clamped to the calendar's ends (a city may configure a huge window)."""
    try:
        return now + by
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC) if by > timedelta(0) else _EARLIEST


_EARLIEST: Final = datetime.min.replace(tzinfo=UTC)
DEFAULT_TIME_WINDOW: Final = ReadingTimeWindow()


def time_window_from_settings(future_tolerance_s: int, max_age_days: int) -> ReadingTimeWindow:
    """The window a city configured (a ``+city`` version when it differs from the default)."""
    window = ReadingTimeWindow(
        max_ahead=timedelta(seconds=future_tolerance_s), max_behind=timedelta(days=max_age_days)
    )
    if (window.max_ahead, window.max_behind) == (
        DEFAULT_TIME_WINDOW.max_ahead,
        DEFAULT_TIME_WINDOW.max_behind,
    ):
        return DEFAULT_TIME_WINDOW
    return ReadingTimeWindow(
        version=f"{DEFAULT_TIME_WINDOW.version}+city",
        max_ahead=window.max_ahead,
        max_behind=window.max_behind,
    )
