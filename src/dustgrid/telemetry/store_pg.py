"""The reading store on PostgreSQL: probe, binary ``COPY`` (fast path) or staged
``INSERT … ON CONFLICT DO NOTHING`` (resends, backfills), dirty windows marked.
See :mod:`dustgrid.telemetry.store` for the contract."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any, Final

from sqlalchemy import Connection

from dustgrid.db import pg_array
from dustgrid.telemetry.pgcopy import COPY_COLS, COPY_SIGNATURE, COPY_TRAILER, CopyRows
from dustgrid.telemetry.rows import COLUMNS, WINDOW, ReadingRow, check_aware, window_start

_WINDOW_S: Final = int(WINDOW.total_seconds())
_COLS: Final = ", ".join(COLUMNS)
_as_tuple = attrgetter(*COLUMNS)
_data_time = attrgetter("data_time")
_device_id = attrgetter("device_id")

_PG_TYPES: Final = (
    "int4",
    "text",
    "text",
    "timestamptz",
    "float8",
    "text",
    "bool",
    "text",
    "timestamptz",
)
# ON COMMIT DELETE ROWS: the table lives as long as the connection (no catalog churn per
# batch, unlike ON COMMIT DROP) and never carries rows across transactions.
_PG_STAGE: Final = (
    "CREATE TEMP TABLE IF NOT EXISTS reading_stage "
    "(LIKE reading INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
)
# One statement: new rows in, their windows marked. Marks are written in (device, window)
# order so concurrent writers and the refresher take row locks in the same order.
_PG_INSERT: Final = f"""
WITH ins AS (
    INSERT INTO reading ({_COLS})
    SELECT {_COLS} FROM reading_stage
    ON CONFLICT DO NOTHING
    RETURNING device_id, data_time
), win AS (
    SELECT DISTINCT device_id,
           date_bin(INTERVAL '{_WINDOW_S} seconds', data_time,
                    TIMESTAMPTZ '2000-01-01 00:00:00+00') AS ws
    FROM ins
), marks AS (
    INSERT INTO rollup_dirty (window_start, device_id, window_end, version, marked_at)
    SELECT ws, device_id, ws + INTERVAL '{_WINDOW_S} seconds', 1, now()
    FROM win ORDER BY device_id, ws
    ON CONFLICT (window_start, device_id)
    DO UPDATE SET version = rollup_dirty.version + 1, marked_at = EXCLUDED.marked_at
)
SELECT count(*) FROM ins
"""


def write_postgresql(conn: Connection, rows: Sequence[ReadingRow] | CopyRows) -> int:
    from psycopg.errors import UniqueViolation

    if isinstance(rows, CopyRows):  # times were checked when encoded
        pairs = rows.pairs
        count = rows.count
    else:
        # (device, data time) pairs: a frame carries ~10 metrics, so ~10x fewer than rows.
        pairs = set(zip(map(_device_id, rows), map(_data_time, rows), strict=True))
        check_aware({t for _, t in pairs} | {rows[0].received_at})
        count = len(rows)
    raw: Any = conn.connection.driver_connection
    # Fast path: live data is almost never a duplicate, and COPY straight into the table
    # runs at the speed of the baseline. A batch overlapping what a device has stored
    # (resends, backfills) takes the staged ON CONFLICT path up front; a duplicate the
    # probe cannot see (repeated inside the batch, or written concurrently) aborts the
    # COPY, the savepoint undoes it, and the staged path runs after all.
    if not _overlaps_stored(raw, pairs):
        savepoint = conn.begin_nested()
        try:
            with raw.cursor() as cur:
                _copy(cur, "reading", rows)
        except UniqueViolation:
            savepoint.rollback()
        else:
            savepoint.commit()
            _mark_postgresql(raw, pairs)
            return count
    with raw.cursor() as cur:
        cur.execute(_PG_STAGE)
        _copy(cur, "reading_stage", rows)
        cur.execute(_PG_INSERT)
        found = cur.fetchone()
        cur.execute("TRUNCATE reading_stage")
    return int(found[0]) if found else 0


_PG_PROBE: Final = """
SELECT EXISTS (
    SELECT 1 FROM unnest(%s::int4[], %s::timestamptz[], %s::timestamptz[]) AS s(d, lo, hi)
    WHERE EXISTS (
        SELECT 1 FROM reading r WHERE r.device_id = s.d AND r.data_time BETWEEN s.lo AND s.hi
    )
)
"""


def _overlaps_stored(raw: Any, pairs: set[tuple[int, datetime]]) -> bool:
    """True when a device already has readings within its time span in the batch (one
    primary-key range probe per device)."""
    spans: dict[int, list[datetime]] = {}
    for dev, t in pairs:
        span = spans.get(dev)
        if span is None:
            spans[dev] = [t, t]
        elif t < span[0]:
            span[0] = t
        elif t > span[1]:
            span[1] = t
    devices = list(spans)
    quoted: dict[Any, str] = {}
    with raw.cursor() as cur:
        cur.execute(
            _PG_PROBE,
            (
                pg_array(devices),
                pg_array([spans[d][0] for d in devices], quoted),
                pg_array([spans[d][1] for d in devices], quoted),
            ),
        )
        found = cur.fetchone()
    return bool(found and found[0])


def _copy(cur: Any, table: str, rows: Sequence[ReadingRow] | CopyRows) -> None:
    if isinstance(rows, CopyRows):  # one buffer, header and trailer around the rows
        with cur.copy(f"COPY {table} ({COPY_COLS}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(b"".join([COPY_SIGNATURE, *rows.chunks, COPY_TRAILER]))
        return
    with cur.copy(f"COPY {table} ({_COLS}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(_PG_TYPES)
        write = copy.write_row
        for row in map(_as_tuple, rows):
            write(row)


_PG_MARK: Final = f"""
INSERT INTO rollup_dirty (window_start, device_id, window_end, version, marked_at)
SELECT ws, device_id, ws + INTERVAL '{_WINDOW_S} seconds', 1, now()
FROM unnest(%s::timestamptz[], %s::int4[]) AS m(ws, device_id)
ORDER BY device_id, ws
ON CONFLICT (window_start, device_id)
DO UPDATE SET version = rollup_dirty.version + 1, marked_at = EXCLUDED.marked_at
"""


def _mark_postgresql(raw: Any, pairs: set[tuple[int, datetime]]) -> None:
    """Mark the windows of rows known to be new (the fast path inserted them all)."""
    starts: dict[datetime, datetime] = {}
    marks: set[tuple[datetime, int]] = set()
    for dev, t in pairs:
        ws = starts.get(t)
        if ws is None:
            ws = starts[t] = window_start(t)
        marks.add((ws, dev))
    quoted: dict[Any, str] = {}
    with raw.cursor() as cur:
        cur.execute(
            _PG_MARK, (pg_array([m[0] for m in marks], quoted), pg_array([m[1] for m in marks]))
        )
