"""IAQI / AQI for PM2.5 and PM10 per HJ 633-2012 (24-hour average breakpoints).

Used to put site numbers next to the regional air quality and to hold
difference-kind alerts during a regional pollution episode (a site cannot be
blamed for the background).  Only the particulate pollutants the platform
measures are covered.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

HJ633_VERSION = "HJ 633-2012"

#: Table 1 of HJ 633-2012: IAQI levels and 24-hour average concentration
#: breakpoints (µg/m³) for PM10 and PM2.5.
IAQI_BREAKPOINTS: tuple[float, ...] = (0, 50, 100, 150, 200, 300, 400, 500)
PM10_24H_BREAKPOINTS: tuple[float, ...] = (0, 50, 150, 250, 350, 420, 500, 600)
PM25_24H_BREAKPOINTS: tuple[float, ...] = (0, 35, 75, 115, 150, 250, 350, 500)
BREAKPOINTS: Mapping[str, tuple[float, ...]] = {
    "pm10": PM10_24H_BREAKPOINTS,
    "pm25": PM25_24H_BREAKPOINTS,
}
IAQI_MAX = IAQI_BREAKPOINTS[-1]
#: HJ 633-2012 §5: no primary pollutant is named while AQI ≤ 50 (优).
PRIMARY_POLLUTANT_AQI_ABOVE = 50
#: AQI above this is 重度污染 (heavily polluted) or worse.
HEAVY_POLLUTION_AQI_ABOVE = 200


@dataclass(frozen=True)
class Category:
    """An AQI category (空气质量指数类别) with its upper AQI bound (None: open)."""

    level: int
    zh: str
    en: str
    aqi_max: int | None


CATEGORIES: tuple[Category, ...] = (
    Category(1, "优", "Excellent", 50),
    Category(2, "良", "Good", 100),
    Category(3, "轻度污染", "Lightly polluted", 150),
    Category(4, "中度污染", "Moderately polluted", 200),
    Category(5, "重度污染", "Heavily polluted", 300),
    Category(6, "严重污染", "Severely polluted", None),
)


@dataclass(frozen=True)
class AqiResult:
    aqi: int
    category: Category
    primary: tuple[str, ...]
    iaqi: Mapping[str, int]


def iaqi_exact(pollutant: str, concentration: float) -> float:
    """Linear interpolation within the breakpoint segment (HJ 633-2012 eq. 1).

    Concentrations above the top breakpoint are clamped to IAQI 500: the
    standard stops computing there, and 500 is the honest "at least" value.
    """
    try:
        bps = BREAKPOINTS[pollutant]
    except KeyError:
        raise ValueError(f"no IAQI breakpoints for {pollutant!r}") from None
    if not math.isfinite(concentration) or concentration < 0:
        raise ValueError(f"concentration must be a finite non-negative number: {concentration}")
    if concentration >= bps[-1]:
        return float(IAQI_MAX)
    for i in range(1, len(bps)):
        if concentration <= bps[i]:
            bp_lo, bp_hi = bps[i - 1], bps[i]
            i_lo, i_hi = IAQI_BREAKPOINTS[i - 1], IAQI_BREAKPOINTS[i]
            return (i_hi - i_lo) / (bp_hi - bp_lo) * (concentration - bp_lo) + i_lo
    raise AssertionError("unreachable: breakpoints cover [0, max]")


def iaqi(pollutant: str, concentration: float) -> int:
    """IAQI rounded up to an integer, as HJ 633-2012 requires for publication."""
    return math.ceil(iaqi_exact(pollutant, concentration))


def category(aqi_value: float) -> Category:
    """Category of an (integer, rounded-up) AQI value."""
    value = math.ceil(aqi_value)
    for cat in CATEGORIES:
        if cat.aqi_max is None or value <= cat.aqi_max:
            return cat
    raise AssertionError("unreachable: last category is open-ended")


def aqi(concentrations: Mapping[str, float | None]) -> AqiResult | None:
    """AQI = max IAQI over the given pollutants; None when none has a value."""
    sub = {p: iaqi(p, c) for p, c in concentrations.items() if c is not None}
    if not sub:
        return None
    value = max(sub.values())
    primary = (
        tuple(sorted(p for p, v in sub.items() if v == value))
        if value > PRIMARY_POLLUTANT_AQI_ABOVE
        else ()
    )
    return AqiResult(aqi=value, category=category(value), primary=primary, iaqi=sub)
