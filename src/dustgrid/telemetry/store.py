"""The write path of raw readings: one batched statement, duplicates skipped, roll-ups marked.

Every ingest (HJ 212 TCP server, HTTP API, MQTT subscriber, simulators) calls
:func:`write_readings` with rows it has already resolved (device id known, values in
canonical units, data time aware UTC). Contract:

* runs inside the caller's transaction on the given connection and never commits (it
  begins one if the connection has none); the caller's commit makes the rows durable;
* a row whose primary key ``(device_id, data_time, metric, kind)`` is already stored (or
  repeated in the batch) is skipped, not updated: the first value received wins, so resent
  or backfilled batches are idempotent;
* returns the number of NEW rows;
* marks the 15-minute windows of the new rows dirty (``rollup_dirty``) for
  :func:`dustgrid.telemetry.rollups.refresh_rollups`; late and backfilled data land at
  their data time and their windows are recomputed like fresh ones;
* column limits: ``metric`` ≤ 24, ``kind`` ≤ 4, ``flag`` ≤ 2, ``source`` ≤ 8 characters;
  ``device_id`` must exist (there is no foreign key, see ``telemetry/models.py``).

How (measured on a 2-core machine with 100,000-row batches; ADR 0003):

* PostgreSQL, live data: one primary-key range probe per device shows the batch does not
  overlap stored data, and binary ``COPY`` goes straight into ``reading`` inside a
  savepoint (0.85-1.0 of a raw COPY); a duplicate the probe cannot see aborts the COPY and
  the savepoint sends the batch down the staged path.
* PostgreSQL, resends and backfills: binary ``COPY`` into a temporary staging table, then
  one ``INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING`` whose output feeds the
  dirty-window upsert in the same statement (about 0.4 of a raw COPY). Multi-row
  ``INSERT … ON CONFLICT`` through ``executemany`` and ``INSERT … SELECT unnest(arrays)``
  were both about 4x slower than COPY.
* SQLite: ``INSERT OR IGNORE`` through the driver's ``executemany`` with the datetimes
  pre-formatted the way SQLAlchemy stores them (naive UTC text), so the rows are identical
  to ORM-written ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Any, Final

from sqlalchemy import Connection

from dustgrid.telemetry.units import to_canonical

__all__ = ["WINDOW", "ReadingRow", "pg_array", "to_canonical", "window_start", "write_readings"]

WINDOW: Final = timedelta(minutes=15)  # the finest roll-up window, and the dirty-mark grain
_WINDOW_S: Final = int(WINDOW.total_seconds())
COLUMNS: Final = (
    "device_id",
    "metric",
    "kind",
    "data_time",
    "value",
    "flag",
    "valid",
    "source",
    "received_at",
)
_COLS: Final = ", ".join(COLUMNS)
_as_tuple = attrgetter(*COLUMNS)
_data_time = attrgetter("data_time")
_device_id = attrgetter("device_id")


# Not frozen (treat it as immutable; hashable all the same): a frozen dataclass's __init__
# costs ~4x more, and the HJ 212 listener builds ~10 rows per frame on its event loop.
@dataclass(slots=True, unsafe_hash=True)
class ReadingRow:
    """One raw reading ready to store (canonical unit, aware UTC ``data_time``)."""

    device_id: int
    metric: str
    kind: str
    data_time: datetime
    value: float | None
    flag: str
    valid: bool
    source: str
    received_at: datetime


def window_start(t: datetime) -> datetime:
    """Start (aware UTC) of the 15-minute window holding ``t``.

    A local 15-minute window is also a UTC one: every zone offset in use is a multiple of
    15 minutes, so the write path needs no time zone.
    """
    ts = int(t.timestamp())
    return datetime.fromtimestamp(ts - ts % _WINDOW_S, UTC)


def _check_aware(times: Iterable[datetime]) -> None:
    for t in times:
        if t.tzinfo is None or t.utcoffset() is None:
            raise ValueError(f"naive datetime {t!r} given to the reading store (want aware UTC)")


def write_readings(conn: Connection, rows: Sequence[ReadingRow]) -> int:
    """Insert ``rows`` in one batch inside the caller's transaction; return how many were new.

    Duplicates (same device, data time, metric and kind) are skipped. See the module doc.
    """
    if not rows:
        return 0
    if not conn.in_transaction():
        conn.begin()
    name = conn.dialect.name
    if name == "postgresql":
        return _write_postgresql(conn, rows)
    if name == "sqlite":
        return _write_sqlite(conn, rows)
    raise NotImplementedError(f"reading store: unsupported database {name!r}")


# -- PostgreSQL --------------------------------------------------------------------------

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


def _write_postgresql(conn: Connection, rows: Sequence[ReadingRow]) -> int:
    from psycopg.errors import UniqueViolation

    # (device, data time) pairs: a frame carries ~10 metrics, so ~10x fewer than rows.
    pairs = set(zip(map(_device_id, rows), map(_data_time, rows), strict=True))
    _check_aware({t for _, t in pairs} | {rows[0].received_at})
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
            return len(rows)
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


def pg_array(values: Iterable[object], quoted: dict[Any, str] | None = None) -> str:
    """A PostgreSQL array literal of ``values`` (``None`` is NULL), to pass as ONE text
    parameter cast in SQL (``%s::int4[]``).

    psycopg dumps a list parameter element by element in Python (a regular expression per
    element in text form), ~8 µs an element: milliseconds of the writer's time per batch,
    taken under the interpreter lock from the event loop. Here numbers are joined in C;
    texts and datetimes (give ``quoted``: few distinct per batch) are quoted once each.
    """
    if quoted is None:
        return "{" + ",".join(["NULL" if v is None else repr(v) for v in values]) + "}"
    out = []
    for v in values:
        text = quoted.get(v)
        if text is None:
            escaped = str(v).replace("\\", "\\\\").replace('"', '\\"')
            text = quoted[v] = "NULL" if v is None else f'"{escaped}"'
        out.append(text)
    return "{" + ",".join(out) + "}"


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


def _copy(cur: Any, table: str, rows: Sequence[ReadingRow]) -> None:
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


# -- SQLite ------------------------------------------------------------------------------

_SQLITE_INSERT: Final = f"INSERT OR IGNORE INTO reading ({_COLS}) VALUES (?,?,?,?,?,?,?,?,?)"
_SQLITE_MARK: Final = (
    "INSERT INTO rollup_dirty (window_start, device_id, window_end, version, marked_at) "
    "VALUES (?, ?, ?, 1, ?) ON CONFLICT (window_start, device_id) "
    "DO UPDATE SET version = version + 1, marked_at = excluded.marked_at"
)


class SqliteTimes(dict[datetime, str]):
    """Aware datetime -> the naive-UTC text SQLAlchemy's SQLite DATETIME stores (cached:
    a batch holds few distinct times)."""

    def __missing__(self, t: datetime) -> str:
        if t.tzinfo is None or t.utcoffset() is None:
            raise ValueError(f"naive datetime {t!r} given to the reading store (want aware UTC)")
        text = t.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        self[t] = text
        return text


def _write_sqlite(conn: Connection, rows: Sequence[ReadingRow]) -> int:
    fmt = SqliteTimes()
    params = [
        (
            r.device_id,
            r.metric,
            r.kind,
            fmt[r.data_time],
            r.value,
            r.flag,
            1 if r.valid else 0,
            r.source,
            fmt[r.received_at],
        )
        for r in rows
    ]
    raw: Any = conn.connection.driver_connection
    cur = raw.cursor()
    try:
        cur.executemany(_SQLITE_INSERT, params)
        new = max(cur.rowcount, 0)
        if new:
            # SQLite cannot say which rows were new: mark every window of the batch (a
            # recomputation more than needed, never one less).
            starts: dict[datetime, tuple[str, str]] = {}
            marks: set[tuple[tuple[str, str], int]] = set()
            for r in rows:
                w = starts.get(r.data_time)
                if w is None:
                    ws = window_start(r.data_time)
                    w = starts[r.data_time] = (fmt[ws], fmt[ws + WINDOW])
                marks.add((w, r.device_id))
            now = fmt[datetime.now(UTC)]
            cur.executemany(
                _SQLITE_MARK,
                [(ws, dev, we, now) for (ws, we), dev in sorted(marks, key=lambda m: (m[1], m[0]))],
            )
    finally:
        cur.close()
    return new
