"""Raw reading fetch for the alert engine: one driver query per chunk of devices.

Why not the ORM or SQLAlchemy Core results: a live round reads every site's newest
minutes, and SQLAlchemy's per-row result processing (row objects, datetime parsing) cost
more than the query itself. Here the driver's tuples are used as they come and each
distinct time stamp is parsed once (minute data of many devices shares its stamps), the
way ``telemetry.store`` writes. Per device, metric and 15-minute granule the kind with the
most valid values is kept (ties: the order of ``kinds``), as the roll-ups do, so a device
sending real-time and minute values is not counted twice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final, cast

from sqlalchemy.orm import Session

from dustgrid.alerts.engine.values import Granule, Value
from dustgrid.telemetry.store import SqliteTimes
from dustgrid.telemetry.store import window_start as granule_start

CHUNK: Final = 500
_COLS: Final = "device_id, metric, kind, data_time, value, flag, valid"


def _sql(dialect: str, n_devs: int, n_metrics: int, n_kinds: int) -> str:
    if dialect == "postgresql":
        return (
            f"SELECT {_COLS} FROM reading WHERE device_id = ANY(%s::int4[]) "
            "AND metric = ANY(%s::text[]) AND kind = ANY(%s::text[]) "
            "AND data_time >= %s AND data_time < %s"
        )

    def marks(n: int) -> str:
        return ",".join("?" * n)

    return (
        f"SELECT {_COLS} FROM reading WHERE device_id IN ({marks(n_devs)}) "
        f"AND metric IN ({marks(n_metrics)}) AND kind IN ({marks(n_kinds)}) "
        "AND data_time >= ? AND data_time < ?"
    )


def _rows(
    session: Session, devs: list[int], metrics: list[str], kinds: list[str], start: datetime,
    end: datetime,
) -> list[tuple[Any, ...]]:  # fmt: skip
    conn = session.connection()
    dialect = conn.dialect.name
    raw: Any = conn.connection.driver_connection
    sql = _sql(dialect, len(devs), len(metrics), len(kinds))
    if dialect == "postgresql":
        params: tuple[Any, ...] = (devs, metrics, kinds, start, end)
    else:
        fmt = SqliteTimes()
        params = (*devs, *metrics, *kinds, fmt[start], fmt[end])
    cur = raw.cursor()
    try:
        cur.execute(sql, params)
        return list(cur.fetchall())
    finally:
        cur.close()


def fetch(
    session: Session, device_ids: Sequence[int], metrics: Sequence[str], kinds: Sequence[str],
    start: datetime, end: datetime,
) -> dict[tuple[int, str], list[Value]]:  # fmt: skip
    """Per (device, metric), its readings in ``[start, end)`` in time order."""
    out: dict[tuple[int, str], list[Value]] = {}
    if not device_ids or not metrics:
        return out
    times: dict[Any, datetime] = {}
    granules: dict[datetime, datetime] = {}
    rank = {k: i for i, k in enumerate(kinds)}
    groups: dict[tuple[int, str, datetime], dict[str, list[Value]]] = {}
    ids = list(device_ids)
    for i in range(0, len(ids), CHUNK):
        rows = _rows(session, ids[i : i + CHUNK], list(metrics), list(kinds), start, end)
        for dev, metric, kind, raw_t, value, flag, valid in rows:
            t = times.get(raw_t)
            if t is None:
                t = times[raw_t] = _utc(raw_t)
            g = granules.get(t)
            if g is None:
                g = granules[t] = granule_start(t)
            ok = bool(valid) and value is not None and math.isfinite(value)
            groups.setdefault((dev, metric, g), {}).setdefault(kind, []).append(
                Value(t, value, ok, flag)
            )
    for (dev, metric, _g), by_kind in groups.items():
        best = max(by_kind, key=lambda k: (sum(1 for v in by_kind[k] if v.ok), -rank[k]))
        out.setdefault((dev, metric), []).extend(by_kind[best])
    for values in out.values():
        values.sort(key=lambda v: v.time)
    return out


def _utc(value: Any) -> datetime:
    if isinstance(value, str):  # SQLite: naive UTC text, as UTCDateTime stores it
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    stored = cast(datetime, value)
    if stored.tzinfo is None:
        return stored.replace(tzinfo=UTC)
    return stored.astimezone(UTC)


def fetch_rollups(
    session: Session, device_ids: Sequence[int], metric: str, start: datetime, end: datetime
) -> dict[int, list[Granule]]:
    """Per device, its 15-minute roll-ups of ``metric`` starting in ``[start, end)``.

    Why: a window of 15 minutes or a multiple of it is judged exactly from these - the
    roll-up keeps the valid values' mean and count per device, the same kind choice and
    validity rule as ``fetch`` (``telemetry.rollups``), and ``count`` copies of the mean
    aggregate (arithmetic or energetic) to the same window value as the values themselves
    - at one row per quarter hour instead of a scan over every metric's readings.
    """
    out: dict[int, list[Granule]] = {}
    if not device_ids:
        return out
    conn = session.connection()
    pg = conn.dialect.name == "postgresql"
    raw: Any = conn.connection.driver_connection
    fmt = SqliteTimes()
    cols = "device_id, period_start, mean, count_valid, count_total"
    times: dict[Any, datetime] = {}
    ids = list(device_ids)
    cur = raw.cursor()
    try:
        for i in range(0, len(ids), CHUNK):
            part = ids[i : i + CHUNK]
            if pg:
                cur.execute(
                    f"SELECT {cols} FROM rollup WHERE device_id = ANY(%s::int4[]) AND "
                    "period = '15m' AND metric = %s AND period_start >= %s AND period_start < %s",
                    (part, metric, start, end),
                )
            else:
                marks = ",".join("?" * len(part))
                cur.execute(
                    f"SELECT {cols} FROM rollup WHERE device_id IN ({marks}) AND period = '15m' "
                    "AND metric = ? AND period_start >= ? AND period_start < ?",
                    (*part, metric, fmt[start], fmt[end]),
                )
            for dev, raw_t, mean, n_valid, n_total in cur.fetchall():
                t = times.get(raw_t)
                if t is None:
                    t = times[raw_t] = _utc(raw_t)
                out.setdefault(dev, []).append(Granule(t, mean, int(n_valid), int(n_total)))
    finally:
        cur.close()
    return out


def rollups_pending(
    session: Session, device_ids: Sequence[int], start: datetime, end: datetime
) -> set[int]:
    """Devices whose roll-ups in ``[start, end)`` wait for a refresh (new readings)."""
    conn = session.connection()
    pg = conn.dialect.name == "postgresql"
    raw: Any = conn.connection.driver_connection
    fmt = SqliteTimes()
    out: set[int] = set()
    ids = list(device_ids)
    cur = raw.cursor()
    try:
        for i in range(0, len(ids), CHUNK):
            part = ids[i : i + CHUNK]
            if pg:
                cur.execute(
                    "SELECT DISTINCT device_id FROM rollup_dirty WHERE window_start >= %s "
                    "AND window_start < %s AND device_id = ANY(%s::int4[])",
                    (start, end, part),
                )
            else:
                marks = ",".join("?" * len(part))
                cur.execute(
                    "SELECT DISTINCT device_id FROM rollup_dirty WHERE window_start >= ? "
                    f"AND window_start < ? AND device_id IN ({marks})",
                    (fmt[start], fmt[end], *part),
                )
            out.update(int(r[0]) for r in cur.fetchall())
    finally:
        cur.close()
    return out


def hourly_counts(
    session: Session, device_ids: Sequence[int], metric: str, since: datetime
) -> list[tuple[int, str, int]]:
    """(device, UTC hour as ISO text, ``count_total``) of the hourly roll-ups since ``since``."""
    conn = session.connection()
    pg = conn.dialect.name == "postgresql"
    raw: Any = conn.connection.driver_connection
    fmt = SqliteTimes()
    keys: dict[Any, str] = {}
    out: list[tuple[int, str, int]] = []
    ids = list(device_ids)
    cur = raw.cursor()
    try:
        for i in range(0, len(ids), CHUNK):
            part = ids[i : i + CHUNK]
            if pg:
                cur.execute(
                    "SELECT device_id, period_start, count_total FROM rollup WHERE "
                    "device_id = ANY(%s::int4[]) AND period = '1h' AND metric = %s "
                    "AND period_start >= %s",
                    (part, metric, since),
                )
            else:
                marks = ",".join("?" * len(part))
                cur.execute(
                    f"SELECT device_id, period_start, count_total FROM rollup WHERE device_id IN "
                    f"({marks}) AND period = '1h' AND metric = ? AND period_start >= ?",
                    (*part, metric, fmt[since]),
                )
            for dev, raw_t, n in cur.fetchall():
                key = keys.get(raw_t)
                if key is None:
                    key = keys[raw_t] = _utc(raw_t).isoformat()
                out.append((int(dev), key, int(n or 0)))
    finally:
        cur.close()
    return out
