"""The reading store on SQLite: ``INSERT OR IGNORE`` through ``executemany``, datetimes
pre-formatted as SQLAlchemy stores them, every window of the batch marked dirty.
See :mod:`dustgrid.telemetry.store` for the contract."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Connection

from dustgrid.telemetry.rows import COLUMNS, WINDOW, ReadingRow, window_start

_COLS: Final = ", ".join(COLUMNS)

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


def write_sqlite(conn: Connection, rows: Sequence[ReadingRow]) -> int:
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
    return int(new)
