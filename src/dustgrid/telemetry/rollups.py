"""15-minute, hourly and daily roll-ups per device, recomputed for dirty windows only.

The write path (``store.write_readings``) marks each device's 15-minute window that got new
readings in ``rollup_dirty``. :func:`refresh_rollups` then, chunk by chunk:

1. recomputes those 15-minute windows from the raw readings (one grouped query);
2. recomputes the local hours and days holding them from the 15-minute rows (exact: the
   mean is weighted by the valid counts, min/max and counts combine);
3. deletes each mark only if its ``version`` is still the one it read, so readings that
   landed meanwhile leave their mark for the next run.

Because a window is always recomputed whole, late and backfilled data simply make old
windows dirty again. Mean, min and max use VALID values only (flag N/S and a value);
``count_total`` counts every stored reading, ``valid_rate = count_valid / expected`` (see
``policy.py``). Hours and days are aligned in the city's local time (Asia/Shanghai).
Never commits: the caller (the worker in ``tasks.py``, a test) does.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from dustgrid.config import get_settings
from dustgrid.telemetry import repository
from dustgrid.telemetry.policy import (
    DEFAULT_ROLLUP_POLICY,
    PERIOD_1D,
    PERIOD_1H,
    PERIOD_15M,
    RollupPolicy,
)
from dustgrid.telemetry.store import SqliteTimes

CHUNK: Final = 2000  # dirty windows per round
_VALUE_COLUMNS: Final = (
    "site_id",
    "mean",
    "min",
    "max",
    "count_valid",
    "count_total",
    "expected",
    "valid_rate",
)
Mark = repository.Mark  # window_start, device_id, version


def resolve_tz(tz: tzinfo | str | None) -> tzinfo:
    """A tzinfo from a zone name, a tzinfo, or the settings' city time zone."""
    if tz is None:
        return ZoneInfo(get_settings().timezone)
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def period_bounds(period: str, t: datetime, tz: tzinfo) -> tuple[datetime, datetime]:
    """UTC [start, end) of the local ``period`` window holding the aware instant ``t``."""
    local = t.astimezone(tz)
    if period == PERIOD_15M:
        start = local.replace(minute=local.minute - local.minute % 15, second=0, microsecond=0)
        utc = start.astimezone(UTC)
        return utc, utc + timedelta(minutes=15)
    if period == PERIOD_1H:
        utc = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
        return utc, utc + timedelta(hours=1)
    if period == PERIOD_1D:
        day = local.date()
        start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
        return start, end
    raise ValueError(f"unknown period {period!r}")


def _ensure_power(conn: Connection) -> None:
    """SQLite builds without math functions lack ``power()``: lend Python's."""
    if conn.dialect.name != "sqlite":
        return
    info = conn.connection.info  # lives as long as the DBAPI connection
    if not info.get("dustgrid_power"):
        options = {r[0] for r in conn.exec_driver_sql("PRAGMA compile_options")}
        if "ENABLE_MATH_FUNCTIONS" not in options:
            raw: Any = conn.connection.driver_connection
            raw.create_function("power", 2, math.pow, deterministic=True)
        info["dustgrid_power"] = True


def _mean(metric: str, n_valid: int, total: float | None, energy: float | None,
          policy: RollupPolicy) -> float | None:  # fmt: skip
    if n_valid == 0:
        return None
    if metric in policy.energy_mean_metrics:
        return 10.0 * math.log10(energy / n_valid) if energy else None
    return (total or 0.0) / n_valid


def _raw_windows(
    conn: Connection, now: datetime, lo: Mark | None, hi: Mark, policy: RollupPolicy
) -> list[dict[str, Any]]:
    """15-minute roll-up rows (without site) of the dirty windows in (lo, hi]."""
    rows = repository.quarter_aggregates(
        conn,
        now=now,
        lo=lo,
        hi=hi,
        source_kinds=policy.source_kinds,
        energy_metrics=policy.energy_mean_metrics,
    )
    rank = {k: i for i, k in enumerate(policy.source_kinds)}
    best: dict[tuple[datetime, int, str], tuple[tuple[int, int], dict[str, Any]]] = {}
    for ws, we, dev, metric, kind, n, n_valid, total, lo_v, hi_v, en in rows:
        score = (n_valid, -rank[kind])
        key = (ws, dev, metric)
        if key in best and best[key][0] >= score:
            continue
        expected = policy.expected(PERIOD_15M, we - ws)
        best[key] = (
            score,
            {
                "device_id": dev,
                "metric": metric,
                "period": PERIOD_15M,
                "period_start": ws,
                "mean": _mean(metric, n_valid, total, en, policy),
                "min": lo_v,
                "max": hi_v,
                "count_valid": n_valid,
                "count_total": n,
                "expected": expected,
                "valid_rate": policy.valid_rate(n_valid, expected),
            },
        )
    return [row for _, row in best.values()]


def _combine(
    conn: Connection,
    period: str,
    start: datetime,
    end: datetime,
    device_ids: Sequence[int],
    policy: RollupPolicy,
) -> list[dict[str, Any]]:
    """Hour or day rows of ``device_ids`` over [start, end) from their 15-minute rows."""
    rows = repository.quarter_totals(
        conn,
        start=start,
        end=end,
        device_ids=device_ids,
        energy_metrics=policy.energy_mean_metrics,
    )
    expected = policy.expected(period, end - start)
    out = []
    for dev, metric, n_valid, n, lo_v, hi_v, total, en in rows:
        n_valid = int(n_valid or 0)
        out.append(
            {
                "device_id": dev,
                "metric": metric,
                "period": period,
                "period_start": start,
                "mean": _mean(metric, n_valid, total, en, policy),
                "min": lo_v,
                "max": hi_v,
                "count_valid": n_valid,
                "count_total": int(n or 0),
                "expected": expected,
                "valid_rate": policy.valid_rate(n_valid, expected),
            }
        )
    return out


_KEY_COLUMNS: Final = ("device_id", "metric", "period", "period_start")
_ALL_COLUMNS: Final = _KEY_COLUMNS + _VALUE_COLUMNS
_PG_TYPES: Final = ("int4", "text", "text", "timestamptz", "int4", "float8", "float8",
                    "float8", "int4", "int4", "int4", "float8")  # fmt: skip
_SET: Final = ", ".join(f"{c} = EXCLUDED.{c}" for c in _VALUE_COLUMNS)
_PG_UPSERT: Final = (
    f"INSERT INTO rollup ({', '.join(_ALL_COLUMNS)}) "
    f"SELECT * FROM unnest({', '.join(f'%b::{t}[]' for t in _PG_TYPES)}) "
    f"ON CONFLICT ({', '.join(_KEY_COLUMNS)}) DO UPDATE SET {_SET}"
)
_SQLITE_UPSERT: Final = (
    f"INSERT INTO rollup ({', '.join(_ALL_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _ALL_COLUMNS)}) "
    f"ON CONFLICT ({', '.join(_KEY_COLUMNS)}) DO UPDATE SET {_SET}"
)


def _upsert(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Write roll-up rows in one driver call (ORM executemany was ~20x slower), in key
    order so concurrent refreshers lock rows in the same order."""
    if not rows:
        return
    rows.sort(key=lambda r: (r["device_id"], r["metric"], r["period"], r["period_start"]))
    raw: Any = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        # binary arrays (``%b``) halve the transfer; each list must hold one Python type
        columns = [
            [None if r[c] is None else float(r[c]) for r in rows] if t == "float8"
            else [r[c] for r in rows]
            for c, t in zip(_ALL_COLUMNS, _PG_TYPES, strict=True)
        ]  # fmt: skip
        with raw.cursor() as cur:
            cur.execute(_PG_UPSERT, columns)
        return
    fmt = SqliteTimes()
    params = [tuple(fmt[r[c]] if c == "period_start" else r[c] for c in _ALL_COLUMNS) for r in rows]
    cur = raw.cursor()
    try:
        cur.executemany(_SQLITE_UPSERT, params)
    finally:
        cur.close()


def _with_sites(rows: list[dict[str, Any]], sites: Mapping[int, int | None]) -> None:
    for row in rows:
        row["site_id"] = sites.get(row["device_id"])


def refresh_rollups(
    session: Session,
    *,
    now: datetime,
    policy: RollupPolicy = DEFAULT_ROLLUP_POLICY,
    tz: tzinfo | str | None = None,
    max_windows: int | None = None,
    chunk: int = CHUNK,
) -> int:
    """Recompute the roll-ups of every dirty window starting at or before ``now``.

    Windows that start later (a device clock running ahead) wait until their time comes.
    Returns the number of dirty 15-minute windows processed; stops after ``max_windows``
    (rounded up to a chunk) so a worker can commit a large backlog in pieces.
    """
    zone = resolve_tz(tz)
    conn = session.connection()
    _ensure_power(conn)
    done = 0
    after: Mark | None = None
    while max_windows is None or done < max_windows:
        marks = repository.dirty_marks(conn, now, after, chunk)
        if not marks:
            break
        sites = repository.device_sites(conn, (m[1] for m in marks))
        quarter = _raw_windows(conn, now, after, marks[-1], policy)
        _with_sites(quarter, sites)
        _upsert(conn, quarter)
        wider: dict[tuple[str, datetime, datetime], set[int]] = defaultdict(set)
        for ws, dev, _ in marks:
            for period in (PERIOD_1H, PERIOD_1D):
                start, end = period_bounds(period, ws, zone)
                wider[(period, start, end)].add(dev)
        combined: list[dict[str, Any]] = []
        for (period, start, end), devices in sorted(wider.items()):
            combined += _combine(conn, period, start, end, sorted(devices), policy)
        _with_sites(combined, sites)
        _upsert(conn, combined)
        repository.unmark(conn, marks)
        done += len(marks)
        after = marks[-1]
        if len(marks) < chunk:
            break
    return done
