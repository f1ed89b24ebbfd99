"""Data-quality detectors: pure functions that flag suspicious telemetry.

Alerts are only as good as the data, and sites have reasons to cheat (spraying
the sensor, replaying old frames) or simply break (stuck sensors, wrong
clocks).  Each detector states its rule in its docstring, takes its
thresholds as named keyword settings, and returns :class:`QualityFlag`
records; none changes the data, so a reviewer decides what to invalidate.
Detectors that judge values use valid readings only (flags N and S).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from dustgrid.alerts.engine.windows import Reading

FLAT_LINE_MIN_DURATION = timedelta(hours=3)
FLAT_LINE_MAX_STD = 0.5  # metric units; population standard deviation
FLAT_LINE_MAX_GAP = timedelta(hours=1)
REPEAT_MIN_COUNT = 10
PM_ORDER_TOLERANCE = 0.0  # µg/m³ PM2.5 may exceed PM10 by before flagging
SPRAY_REFERENCE_MIN = 150.0  # µg/m³: reference "stays high"
SPRAY_MAX_RATIO = 0.3  # site at or below this share of the reference is implausible
SPRAY_PRIOR_MIN_RATIO = 0.7  # before the drop the site tracked the reference
SPRAY_LOOKBACK = timedelta(minutes=30)  # the drop must be this sudden
SPRAY_MATCH_WITHIN = timedelta(hours=1)  # newest reference value this old still counts
CLOCK_DRIFT_MAX = timedelta(minutes=10)
REPLAY_MIN_DELAY = timedelta(minutes=5)  # quicker duplicates are transport retries
REPLAY_SERIES_MIN_RUN = 10  # consecutive readings that must match an earlier run
REPLAY_SERIES_MIN_DISTINCT = 5  # a copied run must vary (flat/repeated runs are other flags)
REPLAY_SERIES_METRICS = ("tsp", "pm10", "pm25")
HUMIDITY_RH_ABOVE = 70.0  # % RH; optical PM sensors over-read in humid air

#: Every kind a detector here can report (labels: ``alerts.flag.<kind>`` in the i18n files).
FLAG_KINDS = (
    "flat_line",
    "repeated_value",
    "pm25_above_pm10",
    "spray_drop",
    "clock_drift",
    "replayed_frame",
    "replayed_series",
    "high_humidity",
)

T = TypeVar("T")


@dataclass(frozen=True)
class QualityFlag:
    kind: str
    start: datetime
    end: datetime
    detail: str
    metric: str | None = None


@dataclass(frozen=True)
class Frame:
    """One uploaded frame as received: device data time, server receive time, values."""

    data_time: datetime
    receive_time: datetime
    values: Mapping[str, float | None]


def _valid(readings: Iterable[Reading], metric: str) -> list[Reading]:
    return sorted((r for r in readings if r.metric == metric and r.valid), key=lambda r: r.time)


def _runs(items: Sequence[T], pred: Callable[[T], bool]) -> list[list[T]]:
    """Maximal runs of consecutive items satisfying ``pred``."""
    runs: list[list[T]] = []
    current: list[T] = []
    for item in items:
        if pred(item):
            current.append(item)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


def _v(r: Reading) -> float:
    assert r.value is not None
    return r.value


def flat_line(
    readings: Iterable[Reading],
    metric: str,
    *,
    min_duration: timedelta = FLAT_LINE_MIN_DURATION,
    max_std: float = FLAT_LINE_MAX_STD,
    max_gap: timedelta = FLAT_LINE_MAX_GAP,
) -> list[QualityFlag]:
    """Stuck sensor: a stretch of at least ``min_duration`` whose std dev ≤ ``max_std``.

    Greedy left-to-right segmentation: a segment grows while adding the next
    value keeps its population std dev within ``max_std`` and no gap exceeds
    ``max_gap``; the first value that breaks it starts the next segment.
    """
    flags: list[QualityFlag] = []
    seg: list[Reading] = []
    n, mean, m2 = 0, 0.0, 0.0

    def close() -> None:
        if seg and seg[-1].time - seg[0].time >= min_duration:
            values = [_v(r) for r in seg]
            span = f"{min(values):g}–{max(values):g}"
            detail = f"{len(seg)} values with std dev ≤ {max_std:g} (range {span})"
            flags.append(QualityFlag("flat_line", seg[0].time, seg[-1].time, detail, metric))

    for r in _valid(readings, metric):
        x = _v(r)
        n1 = n + 1
        d = x - mean
        mean1 = mean + d / n1
        m2_1 = m2 + d * (x - mean1)
        gap_ok = not seg or r.time - seg[-1].time <= max_gap
        if seg and gap_ok and math.sqrt(m2_1 / n1) <= max_std:
            seg.append(r)
            n, mean, m2 = n1, mean1, m2_1
        else:
            close()
            seg = [r]
            n, mean, m2 = 1, x, 0.0
    close()
    return flags


def repeated_value(
    readings: Iterable[Reading], metric: str, *, min_count: int = REPEAT_MIN_COUNT
) -> list[QualityFlag]:
    """The exact same value ``min_count`` or more times in a row (frozen output)."""
    flags = []
    run: list[Reading] = []
    for r in [*_valid(readings, metric), None]:
        if r is not None and run and _v(r) == _v(run[0]):
            run.append(r)
            continue
        if len(run) >= min_count:
            detail = f"value {_v(run[0]):g} repeated {len(run)} times"
            flags.append(QualityFlag("repeated_value", run[0].time, run[-1].time, detail, metric))
        run = [r] if r is not None else []
    return flags


def pm25_above_pm10(
    readings: Iterable[Reading], *, tolerance: float = PM_ORDER_TOLERANCE
) -> list[QualityFlag]:
    """PM2.5 is part of PM10, so PM2.5 > PM10 + tolerance at one time is impossible.

    Readings are paired by identical data time; runs of consecutive impossible
    pairs are reported as one flag each.
    """
    items = list(readings)
    pm10 = {r.time: _v(r) for r in _valid(items, "pm10")}
    pairs = [(r.time, _v(r), pm10[r.time]) for r in _valid(items, "pm25") if r.time in pm10]
    flags = []
    for run in _runs(pairs, lambda p: p[1] > p[2] + tolerance):
        worst = max(p[1] - p[2] for p in run)
        detail = f"{len(run)} readings with PM2.5 > PM10, worst by {worst:g}"
        flags.append(QualityFlag("pm25_above_pm10", run[0][0], run[-1][0], detail, "pm25"))
    return flags


def _reference_at(
    reference: Iterable[Reading], metric: str, match_within: timedelta
) -> Callable[[datetime], float | None]:
    """The reference lookup of ``spray_drop``, kept apart so that the drop detection reads
    on its own: at a time, the mean of the newest reference time's values not older than
    ``match_within`` (``None`` when there is none)."""
    by_time: dict[datetime, list[float]] = {}
    for ref_reading in _valid(reference, metric):
        by_time.setdefault(ref_reading.time, []).append(_v(ref_reading))
    times = sorted(by_time)

    def ref_at(t: datetime) -> float | None:
        i = bisect.bisect_right(times, t) - 1
        if i < 0 or t - times[i] > match_within:
            return None
        return math.fsum(by_time[times[i]]) / len(by_time[times[i]])

    return ref_at


def spray_drop(
    site: Iterable[Reading],
    reference: Iterable[Reading],
    metric: str = "pm10",
    *,
    reference_min: float = SPRAY_REFERENCE_MIN,
    max_ratio: float = SPRAY_MAX_RATIO,
    prior_min_ratio: float = SPRAY_PRIOR_MIN_RATIO,
    lookback: timedelta = SPRAY_LOOKBACK,
    match_within: timedelta = SPRAY_MATCH_WITHIN,
) -> list[QualityFlag]:
    """Sensor sprayed: a sudden drop to implausibly low values while the reference stays high.

    A run starts at a site value ≤ ``max_ratio`` × reference while the
    reference is ≥ ``reference_min``, if the previous site value (at most
    ``lookback`` earlier) was ≥ ``prior_min_ratio`` × its reference; it lasts
    while the low-versus-high condition holds.  The reference at a time is the
    mean of the newest reference time's values not older than ``match_within``.
    """
    ref_at = _reference_at(reference, metric, match_within)

    def low(r: Reading) -> bool:
        ref = ref_at(r.time)
        return ref is not None and ref >= reference_min and _v(r) <= max_ratio * ref

    flags = []
    run: list[Reading] = []
    prev: Reading | None = None
    site_items: list[Reading | None] = [*_valid(site, metric), None]
    for r in site_items:
        if r is not None and low(r):
            if run:
                run.append(r)
            elif prev is not None and r.time - prev.time <= lookback:
                prev_ref = ref_at(prev.time)
                if prev_ref is not None and _v(prev) >= prior_min_ratio * prev_ref:
                    run = [r]
        elif run:
            lowest = min(_v(x) for x in run)
            detail = f"{len(run)} values dropped to as low as {lowest:g} while reference high"
            flags.append(QualityFlag("spray_drop", run[0].time, run[-1].time, detail, metric))
            run = []
        prev = r
    return flags


def clock_drift(
    frames: Iterable[Frame], *, max_drift: timedelta = CLOCK_DRIFT_MAX
) -> list[QualityFlag]:
    """Device clock wrong: |data time − receive time| > ``max_drift`` (either sign)."""
    flags = []
    for f in sorted(frames, key=lambda f: f.receive_time):
        drift = f.receive_time - f.data_time
        if abs(drift) > max_drift:
            detail = f"received {drift.total_seconds():+.0f} s from data time"
            flags.append(QualityFlag("clock_drift", f.data_time, f.data_time, detail))
    return flags


def replayed_frames(
    frames: Iterable[Frame], *, min_delay: timedelta = REPLAY_MIN_DELAY
) -> list[QualityFlag]:
    """Replay: the same (data time, values) received again at least ``min_delay`` later."""
    first: dict[tuple[datetime, tuple[tuple[str, float | None], ...]], datetime] = {}
    flags = []
    for f in sorted(frames, key=lambda f: f.receive_time):
        key = (f.data_time, tuple(sorted(f.values.items())))
        seen = first.setdefault(key, f.receive_time)
        if f.receive_time - seen >= min_delay:
            detail = f"first received {seen.isoformat()}, again {f.receive_time.isoformat()}"
            flags.append(QualityFlag("replayed_frame", f.data_time, f.data_time, detail))
    return flags


def replayed_series(
    readings: Iterable[Reading],
    *,
    min_run: int = REPLAY_SERIES_MIN_RUN,
    min_distinct: int = REPLAY_SERIES_MIN_DISTINCT,
    metrics: Sequence[str] = REPLAY_SERIES_METRICS,
) -> list[QualityFlag]:
    """Old data re-sent under new data times: a run copies an earlier run value for value.

    Each data time's signature is its valid values of ``metrics`` (a time without PM10 is
    skipped). A run of ``min_run`` consecutive signatures that equals an earlier run of the
    same device, not overlapping it, with at least ``min_distinct`` different signatures
    (so a stuck sensor, already ``flat_line``/``repeated_value``, is not called a replay),
    is flagged; overlapping copied runs merge. Real particulate readings with decimals do
    not repeat ten minutes in a row by chance; a replay of clean data over a dusty spell
    does. The exact re-send of a frame (same data time) is :func:`replayed_frames`.
    """
    by_time: dict[datetime, dict[str, float]] = {}
    for r in readings:
        if r.metric in metrics and r.valid and r.value is not None:
            by_time.setdefault(r.time, {})[r.metric] = r.value
    times = sorted(t for t, v in by_time.items() if "pm10" in v)
    sigs = [tuple(by_time[t].get(m) for m in metrics) for t in times]
    first: dict[tuple[tuple[float | None, ...], ...], int] = {}
    origin: dict[int, int] = {}  # index of a copied reading -> index it copies
    for i in range(len(sigs) - min_run + 1):
        gram = tuple(sigs[i : i + min_run])
        j = first.setdefault(gram, i)
        if j + min_run <= i and len(set(gram)) >= min_distinct:
            for k in range(min_run):
                origin.setdefault(i + k, j + k)
    flags = []
    for run in _runs(range(len(sigs)), lambda i: i in origin):
        source = times[origin[run[0]]]
        detail = f"{len(run)} readings repeat those from {source.isoformat()} value for value"
        flags.append(QualityFlag("replayed_series", times[run[0]], times[run[-1]], detail))
    return flags


def high_humidity(
    readings: Iterable[Reading], *, rh_above: float = HUMIDITY_RH_ABOVE
) -> list[QualityFlag]:
    """Spans with relative humidity > ``rh_above``: particulate readings less reliable."""
    flags = []
    for run in _runs(_valid(readings, "humidity"), lambda r: _v(r) > rh_above):
        peak = max(_v(r) for r in run)
        detail = f"RH above {rh_above:g}% (max {peak:g}%): particulate readings less reliable"
        flags.append(QualityFlag("high_humidity", run[0].time, run[-1].time, detail, "humidity"))
    return flags
