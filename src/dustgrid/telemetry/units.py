"""Device values to canonical units, by the unit configured on the device.

A dust monitor is configured with one particulate unit (``Device.particulate_unit``:
``ug/m3`` or ``mg/m3``); every other metric it reports is already in the canonical unit of
:mod:`dustgrid.telemetry.metrics` (dB, °C, %, kPa, m/s, °). Ingest (HJ 212, HTTP, MQTT)
converts each value here before it is stored, so the database holds canonical units only.
"""

from __future__ import annotations

from typing import Final

from dustgrid.telemetry.metrics import METRICS
from dustgrid.telemetry.metrics import to_canonical as _convert

#: Metrics whose unit follows the device's ``particulate_unit`` setting.
PARTICULATES: Final = frozenset({"tsp", "pm10", "pm25", "pm1"})


def to_canonical(value: float, metric: str, device_unit: str | None) -> float:
    """``value`` of ``metric`` as sent by a device configured with ``device_unit``.

    Particulates are converted (``mg/m3`` → µg/m³ multiplies by 1000); other metrics are
    returned as they are. Raises :class:`~dustgrid.telemetry.metrics.UnitError` (a
    ``ValueError``) for an unknown metric or a unit that cannot be converted.
    """
    if metric not in PARTICULATES:
        if metric not in METRICS:
            return _convert(metric, value, None)  # raises UnitError: unknown metric
        return value
    if not device_unit:
        return value
    return _convert(metric, value, device_unit)
