"""Window alignment, validity and aggregation shared by all rules."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from dustgrid.alerts.engine.windows import (
    Reading,
    aggregate,
    bucket_values,
    local_day,
    mg_m3,
    parse_time,
    window_end,
    window_start,
)

SH = ZoneInfo("Asia/Shanghai")


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


@pytest.mark.parametrize(
    ("stamp", "minutes", "expected"),
    [
        ("2024-05-01T10:00:00", 60, "2024-05-01T10:00:00"),
        ("2024-05-01T09:59:59.999999", 60, "2024-05-01T09:00:00"),
        ("2024-05-01T10:14:59", 15, "2024-05-01T10:00:00"),
        ("2024-05-01T10:15:00", 15, "2024-05-01T10:15:00"),
        ("2024-05-01T10:04:59", 5, "2024-05-01T10:00:00"),
        ("2024-05-01T10:05:00", 5, "2024-05-01T10:05:00"),
        ("2024-05-01T23:59:59", 1440, "2024-05-01T00:00:00"),
    ],
)
def test_window_start_is_clock_aligned_half_open(stamp: str, minutes: int, expected: str) -> None:
    assert window_start(t(stamp), minutes, SH) == t(expected)


def test_window_alignment_uses_local_clock_not_utc() -> None:
    # 01:30 UTC is 09:30 in Shanghai: the 09:00 local window, not 01:00.
    start = window_start(datetime(2024, 5, 1, 1, 30, tzinfo=UTC), 60, SH)
    assert start.isoformat() == "2024-05-01T09:00:00+08:00"
    assert window_end(start, 60, SH).isoformat() == "2024-05-01T10:00:00+08:00"
    # 16:30 UTC on 1 May is 00:30 local on 2 May.
    assert local_day(datetime(2024, 5, 1, 16, 30, tzinfo=UTC), SH) == date(2024, 5, 2)


def test_naive_times_are_refused_but_parse_time_localises() -> None:
    with pytest.raises(ValueError, match="naive"):
        window_start(datetime(2024, 5, 1, 10), 60, SH)  # noqa: DTZ001
    assert parse_time("2024-05-01T10:00:00", SH) == t("2024-05-01T10:00:00")
    assert parse_time("2024-05-01T02:00:00Z", SH) == t("2024-05-01T10:00:00")


def test_window_must_divide_the_day() -> None:
    with pytest.raises(ValueError):
        window_start(t("2024-05-01T10:00:00"), 7, SH)


def test_only_valid_flags_and_finite_values_count() -> None:
    readings = [
        Reading(t("2024-05-01T10:00:00"), "pm10", 100.0, "N"),
        Reading(t("2024-05-01T10:10:00"), "pm10", 200.0, "S"),
        *[
            Reading(t("2024-05-01T10:20:00"), "pm10", 999.0, flag)
            for flag in ("F", "M", "D", "C", "T", "B")
        ],
        Reading(t("2024-05-01T10:30:00"), "pm10", None),
        Reading(t("2024-05-01T10:40:00"), "pm10", math.nan),
        Reading(t("2024-05-01T10:50:00"), "pm25", 50.0),
    ]
    assert bucket_values(readings, "pm10", 60, SH) == {t("2024-05-01T10:00:00"): [100.0, 200.0]}


def test_aggregate_mean_and_energetic_leq() -> None:
    assert aggregate([100.0, 200.0], "mean") == 150.0
    assert aggregate([60.0, 60.0], "leq") == pytest.approx(60.0)
    # 70 and 50 dB: 10*log10((10^7 + 10^5) / 2) = 67.0329...
    assert aggregate([70.0, 50.0], "leq") == pytest.approx(67.03291378, abs=1e-6)
    with pytest.raises(ValueError):
        aggregate([], "mean")


def test_mg_to_ug() -> None:
    assert mg_m3(0.8) == 800.0
