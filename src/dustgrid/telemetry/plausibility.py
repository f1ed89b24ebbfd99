"""Physically plausible values per metric: a named, versioned policy every JSON channel applies.

A value outside its metric's range (a negative concentration, PM10 of 1e300 µg/m³, 140 %
humidity) is a device or integration fault, not a measurement. Such a reading is stored - an
admin can see what arrived - but with ``valid = False`` and the platform's quality flag
:data:`IMPLAUSIBLE_FLAG`, so it never counts as valid data (roll-ups, alerts, the device's
latest values and last-seen metrics read valid rows only).

Ranges are in the metric's canonical unit (``telemetry/metrics.py``), checked after unit
conversion, and inclusive. Cumulative kinds (``cou``, ``hcou``, ``dcou``: totals over a
period, not concentrations) are not range-checked. Pure module: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from math import isfinite
from types import MappingProxyType
from typing import Final

#: Quality flag of a reading the platform judged implausible (not an HJ 212 device flag;
#: the ``reading.flag`` column holds two characters).
IMPLAUSIBLE_FLAG: Final = "X"
#: Error/notice code of such an item in ingest answers.
IMPLAUSIBLE: Final = "implausible"
CUMULATIVE_SUFFIX: Final = "cou"

_RANGES_2026_1: Final[Mapping[str, tuple[float, float]]] = MappingProxyType(
    {
        # µg/m³: a severe dust storm reaches about 10,000; dust monitors read up to 20-50 mg/m³
        "tsp": (0.0, 50_000.0),
        "pm10": (0.0, 50_000.0),
        "pm25": (0.0, 50_000.0),
        "pm1": (0.0, 50_000.0),
        "noise": (0.0, 180.0),  # dB(A): above any construction source, below instrument limits
        "temperature": (-60.0, 70.0),  # °C, outdoor air in China with margin
        "humidity": (0.0, 100.0),  # % RH
        "pressure": (50.0, 110.0),  # kPa: Tibetan plateau to below sea level with margin
        "wind_speed": (0.0, 75.0),  # m/s: above the strongest recorded typhoon gusts
        "wind_direction": (0.0, 360.0),  # degrees
    }
)


@dataclass(frozen=True, slots=True)
class PlausibleRanges:
    """Inclusive ``(low, high)`` per metric key; a metric without a range is not checked."""

    version: str = "2026.1"
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=lambda: _RANGES_2026_1)

    def check(self, metric: str, kind: str, value: float) -> str | None:
        """``None`` when ``value`` (canonical unit) is plausible, else why not (English)."""
        if not isfinite(value):
            return "not a finite number"
        if kind.endswith(CUMULATIVE_SUFFIX):
            return None
        bounds = self.ranges.get(metric)
        if bounds is None:
            return None
        low, high = bounds
        if low <= value <= high:
            return None
        return f"{value:g} outside {low:g}..{high:g} (plausible range {self.version})"


DEFAULT_PLAUSIBLE_RANGES: Final = PlausibleRanges()
