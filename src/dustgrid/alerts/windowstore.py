"""Stored windows of a site × rule and the raise/clear counters saved with them.

The pure state machine (``rules._scan``) is run one window at a time, and the counters
after each window are stored with it (``AlertWindow.scan``); the state row keeps those of
the newest window (``AlertWindowState.last``) so the usual round - new windows after the
newest stored one - needs no extra query, and a re-evaluation from an older window starts
from the counters of the window before it. Windows are read as plain rows (not ORM
objects; the queries are in ``alerts/repository/evaluation.py``) and written with one
multi-row INSERT per round: a round over 10,000 sites must not pay the ORM's per-object
cost. Never commits.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy.orm import Session

from dustgrid.alerts.engine.rules import AlertEpisode, WindowResult, _scan, _ScanState
from dustgrid.alerts.repository import evaluation as window_repo
from dustgrid.alerts.rulesets import ActiveRule
from dustgrid.alerts.sitestate import ENCODE, SiteState
from dustgrid.telemetry.store import SqliteTimes


def iso(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(UTC).isoformat()


def _dt(s: str | None) -> datetime | None:
    return None if s is None else datetime.fromisoformat(s)


def dump_scan(st: _ScanState) -> dict[str, Any]:
    ep = st.open
    opened = None
    if ep is not None:
        opened = {"first_window": iso(ep.first_window), "raised_at": iso(ep.raised_at),
                  "held": ep.held, "peak_excess": ep.peak_excess}  # fmt: skip
    return {"exceed_run": st.exceed_run, "clear_run": st.clear_run,
            "run_start": iso(st.run_start), "open": opened}  # fmt: skip


def load_scan(data: dict[str, Any] | None, site: str, rule: str) -> _ScanState:
    if not data:
        return _ScanState()
    o = data.get("open")
    ep = None
    if o:
        first, raised = _dt(o["first_window"]), _dt(o["raised_at"])
        assert first is not None and raised is not None
        ep = AlertEpisode(site, rule, first, raised, None, bool(o["held"]), float(o["peak_excess"]))
    return _ScanState(int(data["exceed_run"]), int(data["clear_run"]), _dt(data["run_start"]), ep)


def same(row: Any, r: WindowResult | None) -> bool:
    """A stored window and a new result agree (what the rule saw has not changed)."""
    if row is None or r is None:
        return row is None and r is None
    close = math.isclose
    ref_same = (row.reference is None) == (r.reference is None) and (
        row.reference is None or close(row.reference, r.reference or 0.0, rel_tol=1e-9)
    )
    return (
        row.exceeded == r.exceeded and row.held == r.held and row.count == r.count
        and close(row.value, r.value, rel_tol=1e-9) and close(row.limit_value, r.limit)
        and ref_same
    )  # fmt: skip


def first_change(stored: dict[datetime, Any], new: dict[datetime, WindowResult]) -> datetime | None:
    """The earliest window whose result differs from (or is missing in) the stored ones."""
    for t in sorted(set(stored) | set(new)):
        if not same(stored.get(t), new.get(t)):
            return t
    return None


def rescan(
    session: Session, rule: ActiveRule, st: SiteState, first: datetime,
    new: dict[datetime, WindowResult], rewrite: bool, inserts: list[dict[str, Any]],
) -> list[AlertEpisode]:  # fmt: skip
    """Re-run the counters from ``first``: queue the window rows, return the episodes
    (closed in the range, then the open one). ``rewrite``: stored windows from ``first`` on
    are replaced (late data), else the new windows simply follow the newest stored one."""
    sid, key = st.site_id, rule.key
    last = st.last or {}
    if rewrite:
        prev = window_repo.scan_before(session, sid, key, first)
        window_repo.delete_windows_from(session, sid, key, first)
        last = {"at": iso(prev.window_start), "scan": prev.scan} if prev else {}
    saved = last.get("scan") if last else None
    state = load_scan(saved if saved is not None else st.base, str(sid), key)
    closed: list[AlertEpisode] = []
    for t in sorted(t for t in new if t >= first):
        r = new[t]
        state, eps = _scan(state, [r], rule.profile, str(sid))
        closed += [e for e in eps if e.cleared_at is not None]
        snapshot = dump_scan(state)
        inserts.append({
            "site_id": sid, "rule_key": key, "window_start": t, "window_end": r.end.astimezone(UTC),
            "metric": r.metric, "value": r.value, "reference": r.reference,
            "reference_used": r.reference_used, "limit_value": r.limit, "excess": r.excess,
            "exceeded": r.exceeded, "held": r.held, "count": r.count,
            "rule_version": rule.profile.version, "scan": snapshot,
        })  # fmt: skip
        last = {"at": iso(t), "scan": snapshot}
    st.last = last
    return closed + ([state.open] if state.open is not None else [])


_WINDOW_COLS: Final = (
    "site_id", "rule_key", "window_start", "window_end", "metric", "value", "reference",
    "reference_used", "limit_value", "excess", "exceeded", "held", "count", "rule_version",
    "scan",
)  # fmt: skip


def insert_windows(session: Session, rows: list[dict[str, Any]]) -> None:
    """All of a round's new windows in one driver ``executemany`` (see the module doc)."""
    conn = session.connection()
    pg = conn.dialect.name == "postgresql"
    raw: Any = conn.connection.driver_connection
    fmt = SqliteTimes()
    mark = "%s" if pg else "?"
    marks = ", ".join(f"{mark}::json" if pg and c == "scan" else mark for c in _WINDOW_COLS)
    sql = f"INSERT INTO alert_window ({', '.join(_WINDOW_COLS)}) VALUES ({marks})"

    def value(c: str, v: Any) -> Any:
        if c == "scan":
            return ENCODE(v)
        if isinstance(v, datetime) and not pg:
            return fmt[v]
        if isinstance(v, bool) and not pg:
            return int(v)
        return v

    params = [tuple(value(c, r[c]) for c in _WINDOW_COLS) for r in rows]
    cur = raw.cursor()
    try:
        cur.executemany(sql, params)
    finally:
        cur.close()
