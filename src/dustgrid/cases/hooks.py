"""Hooks of higher domains on a case's life at a site (the case layer names none of them).

A site's grade (``inspections.grading``) depends on the open cases at the site, but cases
sit below inspections and may not import them. So cases call whatever registered here
whenever a case at a site opens or changes state (closing, reopening, entering rectification
or a penalty), inside the same transaction, after the step's event is written. The
inspections domain registers its regrade through ``wiring.REGISTERING_MODULES``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from dustgrid.identity.principal import Principal

SiteCasesChanged = Callable[[Session, int, datetime, Principal | None], None]

SITE_CASES_CHANGED: list[SiteCasesChanged] = []


def on_site_cases_changed(fn: SiteCasesChanged) -> SiteCasesChanged:
    """Decorator: call ``fn(session, site_id, now, actor)`` when a case at a site opens or
    changes state. Registering the same function twice keeps one registration."""
    if fn not in SITE_CASES_CHANGED:
        SITE_CASES_CHANGED.append(fn)
    return fn


def site_cases_changed(
    session: Session, site_id: int | None, now: datetime, actor: Principal | None
) -> None:
    """Tell the registered hooks (nothing happens for a case without a site)."""
    if site_id is None:
        return
    for fn in SITE_CASES_CHANGED:
        fn(session, site_id, now, actor)
