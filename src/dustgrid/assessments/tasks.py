"""The scheduled job: once the month is over, close it (score it from the records one
last time and freeze it). A chore, so it runs at most hourly; registered through
``dustgrid.wiring``.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from dustgrid import periodic
from dustgrid.assessments.service import close_previous
from dustgrid.config import Settings
from dustgrid.models import utcnow


@periodic.chore("assessments.close")
def close_last_month(session: Session, settings: Settings) -> int:
    """1 when it closed the previous month now, else 0 (the chore pass commits)."""
    return close_previous(session, settings, utcnow())
