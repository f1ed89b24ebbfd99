"""HJ 633-2012 IAQI/AQI at and between the breakpoints."""

from __future__ import annotations

import pytest

from dustgrid.alerts.engine.aqi import (
    IAQI_BREAKPOINTS,
    PM10_24H_BREAKPOINTS,
    PM25_24H_BREAKPOINTS,
    aqi,
    category,
    iaqi,
    iaqi_exact,
)


@pytest.mark.parametrize(
    ("pollutant", "breakpoints"), [("pm10", PM10_24H_BREAKPOINTS), ("pm25", PM25_24H_BREAKPOINTS)]
)
def test_iaqi_at_every_breakpoint(pollutant: str, breakpoints: tuple[float, ...]) -> None:
    for conc, level in zip(breakpoints, IAQI_BREAKPOINTS, strict=True):
        assert iaqi(pollutant, conc) == level


def test_breakpoint_tables_are_the_published_ones() -> None:
    assert PM10_24H_BREAKPOINTS == (0, 50, 150, 250, 350, 420, 500, 600)
    assert PM25_24H_BREAKPOINTS == (0, 35, 75, 115, 150, 250, 350, 500)
    assert IAQI_BREAKPOINTS == (0, 50, 100, 150, 200, 300, 400, 500)


def test_interpolation_and_rounding_up() -> None:
    assert iaqi_exact("pm10", 100) == 75.0
    assert iaqi_exact("pm25", 55) == 75.0
    # PM2.5 36: 50 + 50/40 * 1 = 51.25 -> published as 52 (round up)
    assert iaqi_exact("pm25", 36) == pytest.approx(51.25)
    assert iaqi("pm25", 36) == 52
    # just over a breakpoint rounds into the next category
    assert iaqi("pm10", 350.1) == 201
    assert iaqi("pm10", 700) == 500  # above the table: clamped
    with pytest.raises(ValueError):
        iaqi("pm10", -1)
    with pytest.raises(ValueError):
        iaqi("so2", 10)


@pytest.mark.parametrize(
    ("value", "zh", "en"),
    [
        (0, "优", "Excellent"),
        (50, "优", "Excellent"),
        (51, "良", "Good"),
        (100, "良", "Good"),
        (101, "轻度污染", "Lightly polluted"),
        (150, "轻度污染", "Lightly polluted"),
        (151, "中度污染", "Moderately polluted"),
        (200, "中度污染", "Moderately polluted"),
        (201, "重度污染", "Heavily polluted"),
        (300, "重度污染", "Heavily polluted"),
        (301, "严重污染", "Severely polluted"),
        (500, "严重污染", "Severely polluted"),
    ],
)
def test_categories(value: int, zh: str, en: str) -> None:
    assert (category(value).zh, category(value).en) == (zh, en)


def test_aqi_is_max_iaqi_with_primary_pollutant() -> None:
    result = aqi({"pm10": 250, "pm25": 75})
    assert result is not None
    assert (result.aqi, result.primary, result.category.level) == (150, ("pm10",), 3)
    tie = aqi({"pm10": 150, "pm25": 75})
    assert tie is not None and tie.primary == ("pm10", "pm25")
    clean = aqi({"pm10": 40, "pm25": None})
    assert clean is not None and clean.primary == () and clean.aqi == 40
    assert aqi({"pm10": None}) is None
