"""The scheduled job: every worker tick on a working day, plan the groups still without a
plan for the current period (so Monday's first tick, or the first working day's after a
holiday, plans the week). Registered through ``dustgrid.wiring``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from dustgrid import periodic
from dustgrid.config import Settings, get_settings
from dustgrid.patrols.service import ensure_current_plans


@periodic.every_tick("patrols")
def sweep(session: Session, now: datetime, settings: Settings | None = None) -> int:
    """Plans created this tick."""
    return ensure_current_plans(session, now, settings or get_settings())
