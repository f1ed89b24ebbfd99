"""Deliver due outbox jobs: claim, run outside any transaction, record the outcome.

A job is claimed by setting a lease (``locked_until``) in its own short transaction, so
two workers never run the same job and a worker that dies mid-job only delays it until
the lease ends. A failure is retried after ``jobs_backoff_s × 2^(attempts-1)``; after
``max_attempts`` the job is ``dead`` and kept for inspection.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from dustgrid.config import Settings, get_settings
from dustgrid.jobs import repository
from dustgrid.models import utcnow
from dustgrid.outbox.handlers import HANDLERS, Handler, JobContext, register
from dustgrid.outbox.models import JobStatus, OutboxJob

# Handlers are registered by the domains that enqueue each kind (dustgrid.outbox.handlers);
# the entry points load them (dustgrid.wiring).
__all__ = ["HANDLERS", "Handler", "JobContext", "RunReport", "register", "run_due_jobs"]

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=5)


@dataclass
class RunReport:
    done: int = 0
    retried: int = 0
    dead: int = 0

    def __str__(self) -> str:
        return f"done={self.done} retried={self.retried} dead={self.dead}"


def _claim(factory: Callable[[], Session], now: datetime, limit: int) -> list[OutboxJob]:
    claimed = []
    with factory() as session:
        for job_id in repository.due_job_ids(session, now, limit):
            if repository.take_lease(session, job_id, now, now + LEASE):
                job = session.get(OutboxJob, job_id)
                if job is not None:
                    claimed.append(job)
        session.commit()
        for job in claimed:
            session.expunge(job)
    return claimed


def _finish(
    factory: Callable[[], Session],
    job: OutboxJob,
    *,
    error: str | None,
    now: datetime,
    settings: Settings,
) -> str:
    with factory() as session:
        row = session.get(OutboxJob, job.id)
        assert row is not None
        row.locked_until = None
        if error is None:
            row.status, row.finished_at, row.last_error = JobStatus.done, now, ""
            outcome = "done"
        else:
            row.attempts += 1
            row.last_error = error[:2000]
            if row.attempts >= row.max_attempts:
                row.status, row.finished_at = JobStatus.dead, now
                outcome = "dead"
            else:
                delay = settings.jobs_backoff_s * 2 ** (row.attempts - 1)
                row.run_after = now + timedelta(seconds=delay)
                outcome = "retried"
        session.commit()
    return outcome


def run_due_jobs(
    session_factory: Callable[[], Session] | sessionmaker[Session],
    now: datetime | None = None,
    *,
    settings: Settings | None = None,
    limit: int = 200,
) -> RunReport:
    """Run the jobs due at ``now`` once each; returns how many succeeded, will retry, died."""
    settings = settings or get_settings()
    now = now or utcnow()
    report = RunReport()
    for job in _claim(session_factory, now, limit):
        handler = HANDLERS.get(job.kind)
        error: str | None
        if handler is None:
            error = f"no handler for job kind {job.kind!r}"
        else:
            try:
                handler(dict(job.payload or {}), JobContext(session_factory, settings, now))
                error = None
            except Exception as exc:  # a failed delivery must not stop the others
                log.warning("job %s (%s) failed: %s", job.id, job.kind, exc)
                error = f"{type(exc).__name__}: {exc}"
        outcome = _finish(session_factory, job, error=error, now=now, settings=settings)
        setattr(report, outcome, getattr(report, outcome) + 1)
    return report
