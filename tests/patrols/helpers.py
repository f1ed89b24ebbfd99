"""Shared bits of the patrol tests: the week they plan and a submitted visit."""

from __future__ import annotations

from datetime import date, datetime, time
from uuid import uuid4

from sqlalchemy.orm import Session

from dustgrid.inspections.models import Inspection, InspectionMode, InspectionResult
from dustgrid.workcal import CHINA_TZ

WEEK = "2026-W51"  # Monday 14 December 2026: no holiday in the fortnight that holds it
MONDAY = date(2026, 12, 14)


def visit(
    session: Session,
    site_id: int,
    user_id: int,
    day: date,
    *,
    mode: InspectionMode = InspectionMode.on_site,
    result: InspectionResult = InspectionResult.nothing_found,
    group_id: int | None = None,
) -> None:
    at = datetime.combine(day, time(10), tzinfo=CHINA_TZ)
    session.add(
        Inspection(
            idempotency_key=uuid4().hex,
            site_id=site_id,
            inspector_id=user_id,
            group_id=group_id,
            mode=mode,
            result=result,
            template_version="t1",
            checked_in_at=at,
            submitted_at=None if result == InspectionResult.draft else at,
            note="",
        )
    )
    session.flush()
