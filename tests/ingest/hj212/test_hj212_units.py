"""The declarative code table and unit conversion to canonical units."""

from __future__ import annotations

import pytest

from dustgrid.ingest.hj212 import POLLUTANT_CODES, metric_for
from dustgrid.telemetry.metrics import METRICS, UnitError, convert, normalize_unit, to_canonical


def test_code_table_maps_to_known_metrics() -> None:
    assert {c: spec.metric for c, spec in POLLUTANT_CODES.items()} == {
        "a34001": "tsp",
        "a34002": "pm10",
        "a34004": "pm25",
        "a34005": "pm1",
        "LA": "noise",
        "Leq": "noise",
        "a01001": "temperature",
        "a01002": "humidity",
        "a01006": "pressure",
        "a01007": "wind_speed",
        "a01008": "wind_direction",
    }
    for spec in POLLUTANT_CODES.values():
        assert spec.unit == METRICS[spec.metric].unit and spec.name_zh and spec.name_en
    assert metric_for("w01018") is None


def test_canonical_units() -> None:
    assert {k: m.unit for k, m in METRICS.items()} == {
        "tsp": "µg/m³",
        "pm10": "µg/m³",
        "pm25": "µg/m³",
        "pm1": "µg/m³",
        "noise": "dB",
        "temperature": "°C",
        "humidity": "%",
        "pressure": "kPa",
        "wind_speed": "m/s",
        "wind_direction": "°",
    }


@pytest.mark.parametrize(
    ("metric", "value", "unit", "expected"),
    [
        ("pm10", 0.085, "mg/m3", 85.0),
        ("pm10", 0.085, "MG/M³", 85.0),
        ("pm25", 41.7, "ug/m3", 41.7),
        ("pm25", 41.7, "μg/m³", 41.7),  # Greek mu
        ("pressure", 1013.2, "hPa", 101.32),
        ("pressure", 101320.0, "Pa", 101.32),
        ("wind_speed", 36.0, "km/h", 10.0),
        ("temperature", 21.5, "℃", 21.5),
        ("noise", 63.0, "dB(A)", 63.0),
        ("humidity", 58.0, None, 58.0),
    ],
)
def test_to_canonical(metric: str, value: float, unit: str | None, expected: float) -> None:
    assert to_canonical(metric, value, unit) == pytest.approx(expected)


def test_conversion_errors() -> None:
    with pytest.raises(UnitError, match="unknown unit"):
        normalize_unit("furlongs")
    with pytest.raises(UnitError, match="cannot convert"):
        convert(1.0, "mg/m3", "kPa")
    with pytest.raises(UnitError, match="unknown metric"):
        to_canonical("ozone", 1.0, "ug/m3")
    assert convert(85.0, "µg/m³", "mg/m³") == pytest.approx(0.085)
