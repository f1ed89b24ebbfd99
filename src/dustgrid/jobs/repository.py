"""Outbox-job queries of the job runner: which jobs are due, and taking a job's lease."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from dustgrid.outbox.models import JobStatus, OutboxJob


def _unleased(now: datetime) -> ColumnElement[bool]:
    """A job no worker holds: never leased, or its lease ended before ``now``."""
    return or_(OutboxJob.locked_until.is_(None), OutboxJob.locked_until < now)


def due_job_ids(session: Session, now: datetime, limit: int) -> list[int]:
    """Ids of up to ``limit`` pending, unleased jobs due at ``now``, oldest due first."""
    stmt = (
        select(OutboxJob.id)
        .where(
            OutboxJob.status == JobStatus.pending,
            OutboxJob.run_after <= now,
            _unleased(now),
        )
        .order_by(OutboxJob.run_after, OutboxJob.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def take_lease(session: Session, job_id: int, now: datetime, until: datetime) -> bool:
    """Lease a pending, unleased job until ``until``; False when another worker got it
    first (the guarded UPDATE changed no row)."""
    got = session.execute(
        update(OutboxJob)
        .where(OutboxJob.id == job_id, OutboxJob.status == JobStatus.pending, _unleased(now))
        .values(locked_until=until)
    )
    return bool(got.rowcount)  # type: ignore[attr-defined]
