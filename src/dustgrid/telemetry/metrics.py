"""Canonical telemetry metrics of a dust monitor, and unit conversion to them.

Home-Assistant style: every metric has a stable key, zh/en names and one canonical unit that
the platform stores and compares against thresholds. Devices report in whatever unit their
configuration says (a dust monitor may send PM10 in mg/m³), so ingest converts each value with
:func:`to_canonical` using the unit configured for that device. Pure module: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

# Canonical unit symbols (µ is U+00B5 MICRO SIGN, as Home Assistant writes it).
UG_M3: Final = "µg/m³"
MG_M3: Final = "mg/m³"
DB: Final = "dB"
CELSIUS: Final = "°C"
PERCENT: Final = "%"
KPA: Final = "kPa"
HPA: Final = "hPa"
PA: Final = "Pa"
M_S: Final = "m/s"
KM_H: Final = "km/h"
DEGREE: Final = "°"


class UnitError(ValueError):
    """A unit is unknown, or cannot be converted to the metric's canonical unit."""


@dataclass(frozen=True, slots=True)
class Metric:
    """One measured quantity: stable ``key``, display names and canonical ``unit``."""

    key: str
    name_zh: str
    name_en: str
    unit: str


_METRIC_LIST: Final = (
    Metric("tsp", "总悬浮颗粒物", "TSP", UG_M3),
    Metric("pm10", "可吸入颗粒物 PM10", "PM10", UG_M3),
    Metric("pm25", "细颗粒物 PM2.5", "PM2.5", UG_M3),
    Metric("pm1", "颗粒物 PM1.0", "PM1.0", UG_M3),
    Metric("noise", "噪声", "Noise", DB),
    Metric("temperature", "温度", "Temperature", CELSIUS),
    Metric("humidity", "湿度", "Humidity", PERCENT),
    Metric("pressure", "气压", "Pressure", KPA),
    Metric("wind_speed", "风速", "Wind speed", M_S),
    Metric("wind_direction", "风向", "Wind direction", DEGREE),
)

#: metric key -> :class:`Metric`.
METRICS: Final[Mapping[str, Metric]] = MappingProxyType({m.key: m for m in _METRIC_LIST})

# Spellings seen in device configs and vendor docs -> canonical symbol.
_UNIT_ALIASES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "µg/m³": UG_M3,
        "µg/m3": UG_M3,
        "μg/m³": UG_M3,  # U+03BC GREEK SMALL LETTER MU
        "μg/m3": UG_M3,
        "ug/m3": UG_M3,
        "ug/m³": UG_M3,
        "ug/nm3": UG_M3,
        "mg/m³": MG_M3,
        "mg/m3": MG_M3,
        "mg/nm3": MG_M3,
        "db": DB,
        "db(a)": DB,
        "dba": DB,
        "°c": CELSIUS,
        "℃": CELSIUS,
        "degc": CELSIUS,
        "%": PERCENT,
        "%rh": PERCENT,
        "rh%": PERCENT,
        "kpa": KPA,
        "hpa": HPA,
        "mbar": HPA,
        "pa": PA,
        "m/s": M_S,
        "km/h": KM_H,
        "°": DEGREE,
        "deg": DEGREE,
        "degree": DEGREE,
        "degrees": DEGREE,
    }
)

# (from, to) -> factor, for the canonical targets only; identity is handled separately.
_FACTORS: Final[Mapping[tuple[str, str], float]] = MappingProxyType(
    {
        (MG_M3, UG_M3): 1000.0,
        (UG_M3, MG_M3): 0.001,
        (HPA, KPA): 0.1,
        (PA, KPA): 0.001,
        (KPA, HPA): 10.0,
        (KPA, PA): 1000.0,
        (KM_H, M_S): 1.0 / 3.6,
        (M_S, KM_H): 3.6,
    }
)


def normalize_unit(unit: str) -> str:
    """Map a unit spelling (``"ug/m3"``, ``"MG/M3"``, ``"℃"``...) to its canonical symbol."""
    cleaned = unit.strip()
    found = _UNIT_ALIASES.get(cleaned) or _UNIT_ALIASES.get(cleaned.lower())
    if found is None:
        raise UnitError(f"unknown unit {unit!r}")
    return found


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """Convert ``value`` between two units of the same dimension."""
    src, dst = normalize_unit(from_unit), normalize_unit(to_unit)
    if src == dst:
        return value
    factor = _FACTORS.get((src, dst))
    if factor is None:
        raise UnitError(f"cannot convert {from_unit!r} to {to_unit!r}")
    return value * factor


def to_canonical(metric: str, value: float, unit: str | None) -> float:
    """Convert a device value of ``metric`` from the device's ``unit`` to the canonical unit.

    ``unit=None`` means "already canonical" (the device has no unit setting).
    """
    spec = METRICS.get(metric)
    if spec is None:
        raise UnitError(f"unknown metric {metric!r}")
    if unit is None:
        return value
    return convert(value, unit, spec.unit)
