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

Rows may also come pre-encoded for PostgreSQL (:class:`~dustgrid.telemetry.pgcopy.CopyRows`):
the HJ 212 listener encodes each frame's readings into binary ``COPY`` rows as the frame
arrives (one ``struct`` call per frame for the usual frame,
:class:`~dustgrid.telemetry.pgcopy.CopyTemplate`), so a batch of thousands of rows reaches
the database as one buffer, without a Python object or a ``write_row`` call per reading.
Same contract, same two paths.

Modules: ``rows`` (:class:`ReadingRow`, the 15-minute grain), ``pgcopy`` (binary COPY
encoding, pure), ``store_pg`` and ``store_sqlite`` (the two write paths); this module is
the one entry point.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from dustgrid.db import pg_array
from dustgrid.telemetry.pgcopy import CopyRows
from dustgrid.telemetry.rows import WINDOW, ReadingRow, window_start
from dustgrid.telemetry.store_pg import write_postgresql
from dustgrid.telemetry.store_sqlite import SqliteTimes, write_sqlite
from dustgrid.telemetry.units import to_canonical

__all__ = [
    "WINDOW",
    "CopyRows",
    "ReadingRow",
    "SqliteTimes",
    "pg_array",
    "to_canonical",
    "window_start",
    "write_readings",
]


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
        return write_postgresql(conn, rows)
    if name == "postgresql":
        return write_postgresql(conn, rows)
    if name == "sqlite":
        return write_sqlite(conn, rows)
    raise NotImplementedError(f"reading store: unsupported database {name!r}")
