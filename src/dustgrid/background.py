"""Background work that `dustgrid serve` runs beside the web server, in threads.

- roll-up refresh (always): dirty 15-minute windows → 15m/1h/1d aggregates;
- the worker (``workers_in_process``, default on): device offline sweep, case sweeps
  (reminders, escalation), outbox delivery, the hourly chores — the embedded default needs
  no other process;
- the alert evaluator (with the worker): exceedances, offline and stale keys, quality flags
  every minute (``alerts.tasks``);
- the domains register these loops and sweeps in ``dustgrid.periodic``; this module names
  none of them;
- the MQTT subscriber (``mqtt_enabled``).

With several web instances, turn ``workers_in_process`` off on all but one (or run
``dustgrid jobs run`` separately); the subscriber must run on one instance only because it
keeps a persistent broker session under a fixed client id.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from dustgrid import periodic
from dustgrid.config import Settings
from dustgrid.db import get_sessionmaker
from dustgrid.models import utcnow

log = logging.getLogger(__name__)


def worker_loop(
    settings: Settings, stop: threading.Event, session_factory: Callable[[], Session]
) -> None:
    """In-process sweeps (device offline), then the registered sweeps and due jobs, every
    ``jobs_poll_s`` seconds; the chores on the first round, then hourly (as ``dustgrid jobs
    run`` does: the embedded worker needs no other process)."""
    from dustgrid.jobs.scheduler import ChoreClock, tick

    chores = ChoreClock()
    while not stop.is_set():
        try:
            for sweep in periodic.IN_PROCESS_SWEEPS.values():
                with session_factory() as session:
                    sweep(session, utcnow())
                    session.commit()
            tick(session_factory, settings=settings)
            chores.run_if_due(session_factory, settings)
        except Exception:  # keep the worker alive; the next round retries
            log.exception("background worker round failed")
        stop.wait(settings.jobs_poll_s)


@dataclass
class Background:
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self, name: str, target: Callable[[], object]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def close(self, timeout: float = 10.0) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout)


def _loop(run: periodic.ThreadLoop, settings: Settings, bg: Background, factory: Any) -> Any:
    return lambda: run(settings, bg.stop, session_factory=factory)


def start_background(settings: Settings) -> Background:
    """The registered threads (``dustgrid.periodic``; the callers load them with
    ``dustgrid.wiring``): those that always run (roll-ups), then the worker and those that
    run with it (alerts), then the MQTT subscriber."""
    bg = Background()
    factory = get_sessionmaker()
    for name, loop in periodic.THREADS.items():
        if not loop.with_workers_only:
            bg.start(name, _loop(loop.run, settings, bg, factory))
    if settings.workers_in_process:
        bg.start("worker", lambda: worker_loop(settings, bg.stop, factory))
        for name, loop in periodic.THREADS.items():
            if loop.with_workers_only:
                bg.start(name, _loop(loop.run, settings, bg, factory))
    if settings.mqtt_enabled:
        from dustgrid.ingest.mqtt.subscriber import run_subscriber

        bg.start("mqtt", lambda: run_subscriber(settings, bg.stop))
    return bg
