"""Queue a job inside the caller's transaction; it runs only once that transaction commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from dustgrid.models import utcnow
from dustgrid.outbox.models import OutboxJob


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    *,
    run_after: datetime | None = None,
    max_attempts: int = 8,
) -> OutboxJob:
    """Add a job row (not flushed: it is written with the rest of the transaction)."""
    job = OutboxJob(
        kind=kind, payload=payload, run_after=run_after or utcnow(), max_attempts=max_attempts
    )
    session.add(job)
    return job
