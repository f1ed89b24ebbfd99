"""The worker loop behind ``dustgrid jobs run``: sweeps, then outbox delivery, repeat.

One process is enough for the embedded default; with several, the PostgreSQL advisory
lock keeps the sweeps single and the job leases keep deliveries single.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from dustgrid import periodic
from dustgrid.config import Settings, get_settings
from dustgrid.jobs.runner import RunReport, run_due_jobs
from dustgrid.models import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TickReport:
    sweep: dict[str, object]  # each registered sweep's report, by name
    jobs: RunReport


def tick(
    session_factory: Callable[[], Session],
    now: datetime | None = None,
    *,
    settings: Settings | None = None,
) -> TickReport:
    """One round: the registered sweeps (the case sweeps) in their own transaction, then
    due jobs."""
    settings = settings or get_settings()
    now = now or utcnow()
    with session_factory() as session:
        swept = {name: fn(session, now, settings) for name, fn in periodic.SWEEPS.items()}
        session.commit()
    return TickReport(swept, run_due_jobs(session_factory, now, settings=settings))


def gc(session_factory: Callable[[], Session], settings: Settings | None = None) -> int:
    """Run every registered chore once, each in its own transaction, committed: what a
    chore writes (a stale site's regrade, the cases the mandatory-device check opens, a
    closed month) persists. A chore that fails is rolled back and logged; the others keep
    their work. Returns the sum of the chores' counts."""
    settings = settings or get_settings()
    done = 0
    for name, fn in periodic.CHORES.items():
        try:
            with session_factory() as session:
                done += fn(session, settings)
                session.commit()
        except Exception:  # one broken chore must not stop the others
            log.exception("chore %s failed", name)
    return done


class ChoreClock:
    """When a loop last ran the chores: on its first round, then at most every
    ``CHORE_INTERVAL_S`` (the worker of ``dustgrid jobs run`` and of ``serve`` alike)."""

    def __init__(self) -> None:
        self.last: float | None = None

    def run_if_due(self, session_factory: Callable[[], Session], settings: Settings) -> bool:
        """Run the chores if they are due; whether they ran."""
        now = time.monotonic()
        if self.last is not None and now - self.last < periodic.CHORE_INTERVAL_S:
            return False
        self.last = now  # a failing chore waits for the next interval, not the next tick
        gc(session_factory, settings)
        return True


def run_forever(
    session_factory: Callable[[], Session],
    *,
    settings: Settings | None = None,
    once: bool = False,
) -> None:
    settings = settings or get_settings()
    chores = ChoreClock()
    while True:
        try:
            report = tick(session_factory, settings=settings)
            swept = "; ".join(str(r) for r in report.sweep.values())
            log.info("tick: %s; %s", swept, report.jobs)
            chores.run_if_due(session_factory, settings)
        except Exception:  # keep the worker alive; the next tick retries
            log.exception("jobs tick failed")
        if once:
            return
        time.sleep(settings.jobs_poll_s)
