"""Queries of the live evaluator's stored windows and state rows (``alert_window``,
``alert_window_state``). Windows of a round are read as plain rows, not ORM objects (see
``alerts/windowstore.py``). Never commits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Row, delete, func, or_, select
from sqlalchemy.orm import Session

from dustgrid.alerts.models import AlertWindow, AlertWindowState

CHUNK: Final = 500  # sites per query
COLUMNS: Final = (
    AlertWindow.site_id, AlertWindow.window_start, AlertWindow.value, AlertWindow.reference,
    AlertWindow.limit_value, AlertWindow.exceeded, AlertWindow.held, AlertWindow.count,
)  # fmt: skip


def stored_windows(
    session: Session, rule_key: str, site_ids: Sequence[int], start: datetime
) -> dict[int, dict[datetime, Any]]:
    """Per site, its stored windows of the rule from ``start`` on (plain rows of
    ``COLUMNS``, keyed by window start)."""
    out: dict[int, dict[datetime, Any]] = defaultdict(dict)
    for i in range(0, len(site_ids), CHUNK):
        stmt = select(*COLUMNS).where(
            AlertWindow.rule_key == rule_key, AlertWindow.site_id.in_(site_ids[i : i + CHUNK]),
            AlertWindow.window_start >= start,
        )  # fmt: skip
        for row in session.execute(stmt):
            out[row.site_id][row.window_start] = row
    return out


def scan_before(
    session: Session, site_id: int, rule_key: str, first: datetime
) -> Row[datetime, Any] | None:
    """The newest stored window before ``first``: its start and the counters saved with it."""
    return session.execute(
        select(AlertWindow.window_start, AlertWindow.scan)
        .where(AlertWindow.site_id == site_id, AlertWindow.rule_key == rule_key,
               AlertWindow.window_start < first)
        .order_by(AlertWindow.window_start.desc()).limit(1)
    ).first()  # fmt: skip


def delete_windows_from(session: Session, site_id: int, rule_key: str, first: datetime) -> None:
    """Drop the site × rule's stored windows from ``first`` on (they are judged again)."""
    gone = delete(AlertWindow).where(
        AlertWindow.site_id == site_id,
        AlertWindow.rule_key == rule_key,
        AlertWindow.window_start >= first,
    )
    session.execute(gone)


def exceeding_windows(
    session: Session, site_id: int, rule_key: str, start: datetime, end: datetime
) -> list[AlertWindow]:
    """The site × rule's stored exceeding windows in ``[start, end)``, oldest first, fresh
    from the database (``populate_existing``)."""
    return list(
        session.scalars(
            select(AlertWindow)
            .where(
                AlertWindow.site_id == site_id,
                AlertWindow.rule_key == rule_key,
                AlertWindow.window_start >= start,
                AlertWindow.window_start < end,
                AlertWindow.exceeded.is_(True),
            )
            .order_by(AlertWindow.window_start)
            .execution_options(populate_existing=True)
        )
    )


def states_after(
    session: Session, since: datetime, rule_keys: list[str] | None = None
) -> list[AlertWindowState]:
    """Site and rule state rows (of ``rule_keys`` when given) whose watermark is after
    ``since``."""
    stmt = select(AlertWindowState).where(
        or_(AlertWindowState.scope_key.like("site:%"), AlertWindowState.scope_key == "rule"),
        AlertWindowState.watermark > since,
    )
    if rule_keys is not None:
        stmt = stmt.where(AlertWindowState.rule_key.in_(rule_keys))
    return list(session.scalars(stmt))


def newest_windows_before(session: Session, cutoff: datetime) -> list[Row[int, str, Any]]:
    """Per site × rule with windows older than ``cutoff``: (site id, rule key, the newest
    such window's start)."""
    newest = (
        select(AlertWindow.site_id, AlertWindow.rule_key, func.max(AlertWindow.window_start))
        .where(AlertWindow.window_start < cutoff)
        .group_by(AlertWindow.site_id, AlertWindow.rule_key)
    )
    return list(session.execute(newest).all())


def scan_at(session: Session, site_id: int, rule_key: str, start: datetime) -> Any:
    """The counters stored with the site × rule's window starting at ``start`` (or None)."""
    return session.scalar(
        select(AlertWindow.scan).where(
            AlertWindow.site_id == site_id,
            AlertWindow.rule_key == rule_key,
            AlertWindow.window_start == start,
        )
    )


def delete_windows_before(session: Session, cutoff: datetime) -> int:
    """Drop every stored window older than ``cutoff``; how many were dropped."""
    result: Any = session.execute(delete(AlertWindow).where(AlertWindow.window_start < cutoff))
    return int(result.rowcount or 0)
