"""What the overview shows and how often the big screen refreshes (named, versioned)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class OverviewPolicy:
    """``trend_days`` of daily PM10 means on the trend chart; the big screen asks for new
    figures every ``screen_refresh_seconds`` (it never reloads the page). ``pm10_daily_limit``
    is the line drawn on the trend: the 24-hour PM10 limit of GB 3095-2012, grade II (µg/m³)."""

    version: str = "2026.1"
    trend_days: int = 14
    screen_refresh_seconds: int = 30
    pm10_daily_limit: float = 150.0


DEFAULT_OVERVIEW_POLICY: Final = OverviewPolicy()
