"""Key figures of a month (pure): shares and the device online rate."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime


def share(part: int, whole: int) -> float | None:
    """``part / whole`` in percent, or None when there is nothing to count."""
    return None if whole == 0 else 100.0 * part / whole


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def _overlap(a0: datetime, a1: datetime, b0: datetime, b1: datetime) -> float:
    return max(0.0, (min(a1, b1) - max(a0, b0)).total_seconds())


def online_rate(
    devices: Sequence[tuple[int, datetime, datetime | None]],
    offline: Iterable[tuple[int, datetime, datetime | None]],
    start: datetime,
    end: datetime,
) -> float | None:
    """Online device-time / in-service device-time over [start, end), in percent.

    ``devices``: (id, in service from, removed at); ``offline``: (device id, from, to).
    An open period runs to ``end``; offline time outside a device's service is ignored.
    """
    service: dict[int, tuple[datetime, datetime]] = {}
    total = 0.0
    for device_id, since, removed in devices:
        s0, s1 = max(since, start), min(removed or end, end)
        if s1 > s0:
            service[device_id] = (s0, s1)
            total += (s1 - s0).total_seconds()
    if total == 0:
        return None
    down = 0.0
    for device_id, began, ended in offline:
        if device_id in service:
            s0, s1 = service[device_id]
            down += _overlap(began, ended or end, s0, s1)
    return 100.0 * max(0.0, total - down) / total


def monthly_stats(
    days: Iterable[tuple[str, str, float | None, float | None]],
) -> list[list[object]]:
    """Per (month, metric), newest month first: the mean of the daily means, the highest
    daily maximum and the days with data, from (local day ``YYYY-MM-DD``, metric, daily
    mean, daily max) rows (one per monitor and day; monitors of a day are averaged alike)."""
    acc: dict[tuple[str, str], tuple[list[float], list[float], set[str]]] = {}
    for day, metric, mean, peak in days:
        means, peaks, seen = acc.setdefault((day[:7], metric), ([], [], set()))
        if mean is not None:
            means.append(mean)
            seen.add(day)
        if peak is not None:
            peaks.append(peak)
    out: list[list[object]] = []
    for (month, metric), (means, peaks, seen) in sorted(
        acc.items(), key=lambda kv: (kv[0][0], kv[0][1]), reverse=True
    ):
        avg = round(sum(means) / len(means), 1) if means else ""
        out.append([month, metric, avg, round(max(peaks), 1) if peaks else "", len(seen)])
    return out
