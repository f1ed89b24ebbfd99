"""Readings and clock-aligned windows, the shared ground of every alert rule.

Standards judge a site on averages over windows aligned to the local clock
(5-min, 15-min and hourly windows start at :00) and on local days, so the
window arithmetic lives in one place and every rule uses the same boundaries:
a window is the half-open interval ``[start, end)``, so a reading stamped
exactly 10:00:00 belongs to the 10:00 window, not the 09:00 one.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

DEFAULT_TZ_NAME = "Asia/Shanghai"

#: Flags whose values count: N normal, S manual entry.
VALID_FLAGS = frozenset({"N", "S"})
#: Flags whose values are excluded from averages and rules (fault, maintenance,
#: drift, calibration, test, below detection ...).
INVALID_FLAGS = frozenset({"F", "M", "D", "C", "T", "B"})
KNOWN_FLAGS = VALID_FLAGS | INVALID_FLAGS

METRICS = (
    "tsp",
    "pm10",
    "pm25",
    "pm1",
    "noise",
    "temperature",
    "humidity",
    "wind_speed",
    "wind_direction",
)
PARTICULATE_METRICS = frozenset({"tsp", "pm10", "pm25", "pm1"})

#: Canonical particulate unit is µg/m³; standards often quote mg/m³.
UG_PER_MG = 1000.0
MINUTES_PER_HOUR = 60
MINUTES_PER_DAY = 24 * MINUTES_PER_HOUR
#: Decibel scale factor of the energetic (Leq) average: L = 10·log10(p²/p0²).
DECIBEL_FACTOR = 10.0

Aggregation = Literal["mean", "leq"]


def mg_m3(value_mg: float) -> float:
    """Convert a limit quoted in mg/m³ to the canonical µg/m³."""
    return value_mg * UG_PER_MG


@dataclass(frozen=True)
class Reading:
    """One telemetry value; ``source`` names the station for reference series."""

    time: datetime
    metric: str
    value: float | None
    flag: str = "N"
    source: str = ""

    @property
    def valid(self) -> bool:
        """Only finite values with a valid flag may enter averages and rules."""
        return self.value is not None and math.isfinite(self.value) and self.flag in VALID_FLAGS


def check_window_minutes(minutes: int) -> None:
    """Windows must tile the local day so that every window lies inside one day."""
    if minutes <= 0 or MINUTES_PER_DAY % minutes:
        raise ValueError(f"window of {minutes} min does not divide a day")


def _aware(t: datetime) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"naive datetime {t.isoformat()}: attach the city's time zone first")
    return t


def window_start(t: datetime, minutes: int, tz: ZoneInfo) -> datetime:
    """Start (local time, aware) of the clock-aligned window containing ``t``."""
    check_window_minutes(minutes)
    local = _aware(t).astimezone(tz)
    of_day = local.hour * MINUTES_PER_HOUR + local.minute
    floored = of_day - of_day % minutes
    return local.replace(
        hour=floored // MINUTES_PER_HOUR,
        minute=floored % MINUTES_PER_HOUR,
        second=0,
        microsecond=0,
    )


def window_end(start: datetime, minutes: int, tz: ZoneInfo) -> datetime:
    """End of a window: elapsed (UTC) minutes, shown in local time."""
    return (start.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(tz)


def local_day(t: datetime, tz: ZoneInfo) -> date:
    """The city's local calendar day of an instant."""
    return _aware(t).astimezone(tz).date()


def parse_time(text: str, tz: ZoneInfo) -> datetime:
    """ISO-8601 → aware datetime; a time without an offset is the city's local time."""
    t = datetime.fromisoformat(text.strip())
    if t.tzinfo is None:
        t = t.replace(tzinfo=tz)
    return t


def bucket_values(
    readings: Iterable[Reading], metric: str, minutes: int, tz: ZoneInfo
) -> dict[datetime, list[float]]:
    """Valid values of ``metric`` grouped by window start; invalid data is dropped here."""
    check_window_minutes(minutes)
    buckets: dict[datetime, list[float]] = defaultdict(list)
    for r in readings:
        if r.metric == metric and r.valid and r.value is not None:
            buckets[window_start(r.time, minutes, tz)].append(r.value)
    return dict(buckets)


def aggregate(values: Sequence[float], how: Aggregation) -> float:
    """Window value: arithmetic mean, or energetic mean for decibel levels."""
    if not values:
        raise ValueError("cannot aggregate an empty window")
    if how == "mean":
        return math.fsum(values) / len(values)
    if how == "leq":
        energy = math.fsum(10 ** (v / DECIBEL_FACTOR) for v in values) / len(values)
        return DECIBEL_FACTOR * math.log10(energy)
    raise ValueError(f"unknown aggregation {how!r}")
