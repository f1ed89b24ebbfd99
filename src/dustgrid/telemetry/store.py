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

Rows may also come pre-encoded for PostgreSQL (:class:`CopyRows`): the HJ 212 listener
encodes each frame's readings into binary ``COPY`` rows as the frame arrives (one
``struct`` call per frame for the usual frame, :class:`CopyTemplate`), so a batch of
thousands of rows reaches the database as one buffer, without a Python object or a
``write_row`` call per reading. Same contract, same two paths.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Any, Final

from sqlalchemy import Connection

from dustgrid.db import pg_array
from dustgrid.telemetry.units import to_canonical

__all__ = [
    "WINDOW",
    "CopyRows",
    "CopyTemplate",
    "ReadingRow",
    "copy_row_head",
    "copy_suffix",
    "copy_value",
    "pg_array",
    "to_canonical",
    "window_start",
    "write_readings",
]

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


# -- rows pre-encoded for PostgreSQL's binary COPY -----------------------------------------
#
# Binary COPY rows: a 16-bit field count, then per field a 32-bit length (-1: NULL) and the
# value in the type's binary form (int4, float8: big-endian; bool: one byte; text: its
# UTF-8 bytes; timestamptz: int8 microseconds since 2000-01-01 UTC). The columns are in
# COPY_COLUMNS order: the per-reading ones first, then the ones a frame's rows share, so a
# frame's rows are "head + value + suffix" with the suffix encoded once per frame.

COPY_COLUMNS: Final = (
    "metric",
    "kind",
    "flag",
    "valid",
    "value",
    "device_id",
    "data_time",
    "source",
    "received_at",
)
_COPY_COLS: Final = ", ".join(COPY_COLUMNS)
_COPY_SIGNATURE: Final = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # + flags, header extension
_COPY_TRAILER: Final = b"\xff\xff"
_COPY_NULL: Final = b"\xff\xff\xff\xff"
_PG_EPOCH: Final = datetime(2000, 1, 1, tzinfo=UTC)
_FIELD_COUNT: Final = struct.pack(">h", len(COPY_COLUMNS))
_LEN_INT4: Final = struct.Struct(">ii").pack  # length 4, value
_LEN_INT8: Final = struct.Struct(">iq").pack  # length 8, value
_LEN_FLOAT8: Final = struct.Struct(">id").pack  # length 8, value
_LEN_FLOAT8_PREFIX: Final = struct.pack(">i", 8)
_BOOL: Final = {True: b"\x00\x00\x00\x01\x01", False: b"\x00\x00\x00\x01\x00"}
_TEXT_CACHE: dict[str, bytes] = {}
_TIME_CACHE: dict[datetime, bytes] = {}
_CACHE_MAX: Final = 4096


def _copy_text(text: str) -> bytes:
    found = _TEXT_CACHE.get(text)
    if found is None:
        data = text.encode("utf-8")
        found = struct.pack(">i", len(data)) + data
        if len(_TEXT_CACHE) >= _CACHE_MAX:
            _TEXT_CACHE.clear()
        _TEXT_CACHE[text] = found
    return found


def _copy_time(t: datetime) -> bytes:
    """timestamptz field of an aware datetime (cached: a batch holds few distinct times)."""
    found = _TIME_CACHE.get(t)
    if found is None:
        if t.tzinfo is None or t.utcoffset() is None:
            raise ValueError(f"naive datetime {t!r} given to the reading store (want aware UTC)")
        d = t - _PG_EPOCH
        found = _LEN_INT8(8, (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds)
        if len(_TIME_CACHE) >= _CACHE_MAX:
            _TIME_CACHE.clear()
        _TIME_CACHE[t] = found
    return found


def copy_row_head(metric: str, kind: str, flag: str, valid: bool) -> bytes:
    """The start of a binary COPY row: field count, ``metric``, ``kind``, ``flag``, ``valid``
    (then :func:`copy_value` and a :func:`copy_suffix`)."""
    return _FIELD_COUNT + _copy_text(metric) + _copy_text(kind) + _copy_text(flag) + _BOOL[valid]


def copy_value(value: float | None) -> bytes:
    """The ``value`` field (float8 or NULL)."""
    return _COPY_NULL if value is None else _LEN_FLOAT8(8, value)


def copy_suffix(device_id: int, data_time: datetime, source: str, received_at: datetime) -> bytes:
    """The end of every row of one frame: ``device_id``, ``data_time``, ``source``,
    ``received_at`` (aware datetimes)."""
    return (
        _LEN_INT4(4, device_id)
        + _copy_time(data_time)
        + _copy_text(source)
        + _copy_time(received_at)
    )


class CopyTemplate:
    """Binary COPY rows of a fixed list of heads, each with a non-NULL value: ``pack(values,
    suffix)`` encodes a whole frame's rows in one ``struct`` call."""

    __slots__ = ("_args", "_count", "_pack", "suffix_len")

    def __init__(self, heads: Sequence[bytes], suffix_len: int) -> None:
        self._count = len(heads)
        self.suffix_len = suffix_len  # struct pads or cuts an "s" field: sizes must match
        self._pack = struct.Struct(
            ">" + "".join(f"{len(h) + 4}sd{suffix_len}s" for h in heads)
        ).pack
        args: list[Any] = []
        for head in heads:
            args += [head + _LEN_FLOAT8_PREFIX, 0.0, b""]
        self._args = args

    def pack(self, values: Sequence[float], suffix: bytes) -> bytes:
        """``values`` (one per head, floats) and the frame's suffix -> the rows' bytes.
        Not reentrant (it fills a list it keeps): call it from one thread."""
        if len(suffix) != self.suffix_len:
            raise ValueError(f"suffix of {len(suffix)} bytes, template made for {self.suffix_len}")
        args = self._args
        args[1::3] = values
        args[2::3] = [suffix] * self._count
        return self._pack(*args)


@dataclass(slots=True)
class CopyRows:
    """Readings already encoded as binary COPY rows (columns in ``COPY_COLUMNS`` order,
    without the COPY header and trailer): ``chunks`` joined hold ``count`` rows, and
    ``pairs`` is the set of their (device_id, data_time)."""

    chunks: list[bytes] = field(default_factory=list)
    count: int = 0
    pairs: set[tuple[int, datetime]] = field(default_factory=set)

    def __len__(self) -> int:
        return self.count


def write_readings(conn: Connection, rows: Sequence[ReadingRow] | CopyRows) -> int:
    """Insert ``rows`` in one batch inside the caller's transaction; return how many were new.

    Duplicates (same device, data time, metric and kind) are skipped. See the module doc.
    ``rows`` may be :class:`CopyRows` (PostgreSQL only).
    """
    if not len(rows):
        return 0
    if not conn.in_transaction():
        conn.begin()
    name = conn.dialect.name
    if isinstance(rows, CopyRows):
        if name != "postgresql":
            raise NotImplementedError(f"reading store: CopyRows on {name!r} (PostgreSQL only)")
        return _write_postgresql(conn, rows)
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


def _write_postgresql(conn: Connection, rows: Sequence[ReadingRow] | CopyRows) -> int:
    from psycopg.errors import UniqueViolation

    if isinstance(rows, CopyRows):  # times were checked when encoded
        pairs = rows.pairs
        count = rows.count
    else:
        # (device, data time) pairs: a frame carries ~10 metrics, so ~10x fewer than rows.
        pairs = set(zip(map(_device_id, rows), map(_data_time, rows), strict=True))
        _check_aware({t for _, t in pairs} | {rows[0].received_at})
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
        with cur.copy(f"COPY {table} ({_COPY_COLS}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(b"".join([_COPY_SIGNATURE, *rows.chunks, _COPY_TRAILER]))
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
