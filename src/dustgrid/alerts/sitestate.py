"""Per site × rule evaluation state (``alert_window_state``), read and written in bulk.

A live round touches the state of every site with a dust monitor (watermark, the reading
counts behind the judged hours, the counters of the newest window), so the rows are read
with one driver query per chunk and written with one ``executemany`` - not through the
ORM, whose per-object flush and JSON/datetime processing cost more than the judging itself
on 10,000 sites. ``base`` (the counters before the oldest stored window) is written only
when the row is created and by the hourly prune (``evaluate.prune_windows``, ORM). An ORM
copy of a site's row loaded earlier in the same session is not refreshed by these writes
(the worker gives every round a session of its own).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from sqlalchemy.orm import Session

from dustgrid.alerts.fetch import _utc
from dustgrid.telemetry.store import SqliteTimes

CHUNK: Final = 500
#: One encoder for every row: ``json.dumps`` with options builds a new one per call.
ENCODE: Final = json.JSONEncoder(separators=(",", ":")).encode


@dataclass(slots=True)
class SiteState:
    """One ``alert_window_state`` row of a site (``scope_key`` ``site:<id>``)."""

    site_id: int
    rule_key: str
    watermark: datetime | None = None
    seen: dict[str, int] = field(default_factory=dict)
    base: dict[str, Any] = field(default_factory=dict)
    last: dict[str, Any] = field(default_factory=dict)
    late_checked_at: datetime | None = None
    setting_id: int | None = None
    stored: bool = False  # the row exists
    dirty: bool = False


def _json(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    return value if isinstance(value, dict) else dict(json.loads(value))


def _time(value: Any) -> datetime | None:
    return None if value is None else _utc(value)


def load_states(session: Session, rule_key: str, site_ids: Sequence[int]) -> dict[int, SiteState]:
    conn = session.connection()
    pg = conn.dialect.name == "postgresql"
    raw: Any = conn.connection.driver_connection
    cols = "site_id, watermark, seen, base, last, late_checked_at, setting_id"
    out: dict[int, SiteState] = {}
    ids = list(site_ids)
    cur = raw.cursor()
    try:
        for i in range(0, len(ids), CHUNK):
            keys = [f"site:{sid}" for sid in ids[i : i + CHUNK]]  # primary-key look-ups
            if pg:
                sql = (f"SELECT {cols} FROM alert_window_state WHERE rule_key = %s "
                       "AND scope_key = ANY(%s::text[])")  # fmt: skip
                cur.execute(sql, (rule_key, keys))
            else:
                marks = ",".join("?" * len(keys))
                sql = (f"SELECT {cols} FROM alert_window_state WHERE rule_key = ? "
                       f"AND scope_key IN ({marks})")  # fmt: skip
                cur.execute(sql, (rule_key, *keys))
            for sid, mark, seen, base, last, checked, setting in cur.fetchall():
                out[int(sid)] = SiteState(
                    int(sid), rule_key, _time(mark), _json(seen), _json(base), _json(last),
                    _time(checked), setting, stored=True,
                )  # fmt: skip
    finally:
        cur.close()
    return out


def save_states(session: Session, states: Sequence[SiteState], now: datetime) -> None:
    """Write the changed states (one UPDATE executemany, one INSERT executemany)."""
    dirty = [st for st in states if st.dirty]
    if not dirty:
        return
    conn = session.connection()
    pg = conn.dialect.name == "postgresql"
    raw: Any = conn.connection.driver_connection
    fmt = SqliteTimes()

    def t(value: datetime | None) -> Any:
        return value if pg or value is None else fmt[value]

    dumps = ENCODE
    p, j = ("%s", "%s::json") if pg else ("?", "?")
    update = (f"UPDATE alert_window_state SET watermark = {p}, seen = {j}, last = {j}, "
              f"late_checked_at = {p}, setting_id = {p}, updated_at = {p} "
              f"WHERE scope_key = {p} AND rule_key = {p}")  # fmt: skip
    insert = (f"INSERT INTO alert_window_state (scope_key, rule_key, site_id, setting_id, "
              f"watermark, seen, base, last, late_checked_at, updated_at) VALUES "
              f"({p}, {p}, {p}, {p}, {p}, {j}, {j}, {j}, {p}, {p})")  # fmt: skip
    old = [
        (t(st.watermark), dumps(st.seen), dumps(st.last), t(st.late_checked_at), st.setting_id,
         t(now), f"site:{st.site_id}", st.rule_key)
        for st in dirty if st.stored
    ]  # fmt: skip
    new = [
        (f"site:{st.site_id}", st.rule_key, st.site_id, st.setting_id, t(st.watermark),
         dumps(st.seen), dumps(st.base), dumps(st.last), t(st.late_checked_at), t(now))
        for st in dirty if not st.stored
    ]  # fmt: skip
    cur = raw.cursor()
    try:
        if old:
            cur.executemany(update, old)
        if new:
            cur.executemany(insert, new)
    finally:
        cur.close()
    for st in dirty:
        st.stored, st.dirty = True, False
