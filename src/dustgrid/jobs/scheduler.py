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
    settings = settings or get_settings()
    with session_factory() as session:
        return sum(fn(session, settings) for fn in periodic.CHORES.values())


def run_forever(
    session_factory: Callable[[], Session],
    *,
    settings: Settings | None = None,
    once: bool = False,
) -> None:
    settings = settings or get_settings()
    last_gc = 0.0
    while True:
        try:
            report = tick(session_factory, settings=settings)
            swept = "; ".join(str(r) for r in report.sweep.values())
            log.info("tick: %s; %s", swept, report.jobs)
            if time.monotonic() - last_gc > periodic.CHORE_INTERVAL_S:
                gc(session_factory, settings)
                last_gc = time.monotonic()
        except Exception:  # keep the worker alive; the next tick retries
            log.exception("jobs tick failed")
        if once:
            return
        time.sleep(settings.jobs_poll_s)
