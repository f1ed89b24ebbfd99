"""Each data-quality detector on a constructed series."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dustgrid.alerts.engine.quality import (
    Frame,
    clock_drift,
    flat_line,
    high_humidity,
    pm25_above_pm10,
    repeated_value,
    replayed_frames,
    replayed_series,
    spray_drop,
)
from dustgrid.alerts.engine.windows import Reading

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2024, 5, 1, 8, tzinfo=SH)


def m(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def series(values: list[float], metric: str = "pm10", step: int = 10) -> list[Reading]:
    return [Reading(m(i * step), metric, v) for i, v in enumerate(values)]


def test_flat_line_needs_duration_and_near_zero_spread() -> None:
    # 30 values every 10 min (4 h 50 min) wobbling by 0.2, then real variation
    stuck = series([80.0 + (0.2 if i % 2 else 0.0) for i in range(30)] + [120.0, 60.0, 95.0])
    [flag] = flat_line(stuck, "pm10")
    assert (flag.kind, flag.start, flag.end, flag.metric) == ("flat_line", m(0), m(290), "pm10")
    assert flat_line(series([80.0] * 10), "pm10") == []  # only 90 minutes
    lively = series([80.0 + (5.0 if i % 2 else 0.0) for i in range(30)])
    assert flat_line(lively, "pm10") == []
    # a data gap longer than max_gap splits the stretch
    gapped = series([80.0] * 12) + [Reading(m(400 + i * 10), "pm10", 80.0) for i in range(12)]
    assert flat_line(gapped, "pm10") == []


def test_repeated_value_run() -> None:
    values = [50.0, 61.0, *([61.0] * 10), 62.0]
    [flag] = repeated_value(series(values), "pm10")
    assert (flag.start, flag.end) == (m(10), m(110))
    assert "11 times" in flag.detail
    assert repeated_value(series([61.0] * 9), "pm10") == []
    invalid_breaks_nothing = series([61.0] * 10) + [Reading(m(5), "pm10", 61.0, "F")]
    assert len(repeated_value(invalid_breaks_nothing, "pm10")) == 1


def test_pm25_above_pm10_at_the_same_time() -> None:
    readings = (
        series([40.0, 60.0, 60.0, 30.0], "pm10")
        + series([30.0, 70.0, 65.0, 30.0], "pm25")
        + [Reading(m(50), "pm25", 99.0)]  # no PM10 at that time: not judged
    )
    [flag] = pm25_above_pm10(readings)
    assert (flag.start, flag.end, flag.kind) == (m(10), m(20), "pm25_above_pm10")
    assert "worst by 10" in flag.detail
    assert pm25_above_pm10(readings, tolerance=10.0) == []


def test_spray_drop_while_reference_stays_high() -> None:
    site = series([230.0, 240.0, 30.0, 25.0, 220.0])  # sprayed at 08:20-08:30
    reference = series([250.0] * 5)
    [flag] = spray_drop(site, reference)
    assert (flag.kind, flag.start, flag.end) == ("spray_drop", m(20), m(30))
    # a clean region (reference low) explains a low site value
    assert spray_drop(site, series([100.0] * 5)) == []
    # a site that was already low all along did not suddenly drop
    assert spray_drop(series([30.0] * 5), reference) == []
    # reference too old to compare
    assert spray_drop(site, [Reading(m(-120), "pm10", 250.0)]) == []


def test_clock_drift_both_directions() -> None:
    frames = [
        Frame(m(0), m(1), {"pm10": 50.0}),
        Frame(m(10), m(25), {"pm10": 50.0}),  # 15 min late clock
        Frame(m(40), m(20), {"pm10": 50.0}),  # data from the future
    ]
    flags = clock_drift(frames)
    assert [(f.start, f.detail) for f in flags] == [
        (m(40), "received -1200 s from data time"),
        (m(10), "received +900 s from data time"),
    ]


def test_replayed_frames() -> None:
    frames = [
        Frame(m(0), m(0.1), {"pm10": 50.0, "pm25": 20.0}),
        Frame(m(0), m(0.5), {"pm10": 50.0, "pm25": 20.0}),  # quick retry: fine
        Frame(m(0), m(60), {"pm25": 20.0, "pm10": 50.0}),  # replayed an hour later
        Frame(m(0), m(70), {"pm10": 51.0, "pm25": 20.0}),  # different values: correction
    ]
    [flag] = replayed_frames(frames)
    assert (flag.kind, flag.start) == ("replayed_frame", m(0))
    assert m(60).isoformat() in flag.detail


def _pm(values: list[float], start: int = 0) -> list[Reading]:
    """PM10 each minute, with PM2.5 at half and TSP at double, from minute ``start``."""
    out = []
    for i, v in enumerate(values):
        t = m(start + i)
        out += [Reading(t, "pm10", v), Reading(t, "pm25", v / 2), Reading(t, "tsp", v * 2)]
    return out


def test_replayed_series_flags_the_copy_not_the_original() -> None:
    clean = [60.0 + ((i * 7) % 11) * 1.3 for i in range(12)]  # 12 varied minutes
    dusty_then_copy = _pm(clean) + _pm([150.0, 170.0], 12) + _pm(clean, 14)
    [flag] = replayed_series(dusty_then_copy)
    assert (flag.kind, flag.start, flag.end, flag.metric) == ("replayed_series", m(14), m(25), None)
    assert flag.detail.startswith("12 readings repeat those from " + m(0).isoformat())


def test_replayed_series_needs_a_full_varied_run() -> None:
    clean = [60.0 + ((i * 7) % 11) * 1.3 for i in range(12)]
    assert replayed_series(_pm(clean) + _pm(clean[:9], 20)) == []  # 9 < 10 readings copied
    # a stuck sensor repeats too, but that is flat_line / repeated_value, not a replay
    assert replayed_series(_pm([61.0] * 40)) == []
    # one metric differing breaks the match: PM2.5 of the copy is not the original's
    copy = [
        r if r.metric != "pm25" else Reading(r.time, "pm25", (r.value or 0) + 1)
        for r in _pm(clean, 20)
    ]
    assert replayed_series(_pm(clean) + copy) == []
    # invalid readings (flag F: stopped) are not judged at all
    stopped = [Reading(r.time, r.metric, r.value, "F") for r in _pm(clean, 20)]
    assert replayed_series(_pm(clean) + stopped) == []
    assert len(replayed_series(_pm(clean) + _pm(clean, 20))) == 1


def test_high_humidity_spans() -> None:
    rh = series([60.0, 71.0, 90.0, 70.0, 75.0], "humidity")
    flags = high_humidity(rh)
    assert [(f.start, f.end) for f in flags] == [(m(10), m(20)), (m(40), m(40))]
    assert "max 90%" in flags[0].detail


def test_every_flag_kind_has_a_label_in_both_languages() -> None:
    import json
    from pathlib import Path

    from dustgrid.alerts.engine.quality import FLAG_KINDS

    root = Path(__file__).parents[2] / "src" / "dustgrid" / "i18n"
    for locale in ("zh-CN", "en"):
        labels = json.loads((root / locale / "alerts.json").read_text(encoding="utf-8"))
        assert all(labels.get(f"alerts.flag.{kind}") for kind in FLAG_KINDS), locale
