"""The roll-up worker: refresh dirty windows every ``telemetry_rollup_interval_s`` seconds.

``dustgrid serve`` runs :func:`run_rollup_worker` in a thread (like the MQTT subscriber).
Each round commits every :data:`ROUND` windows, so a large backlog (a day of backfill from
thousands of devices) never holds one long transaction; a round that finds a full chunk
starts the next one at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Final

from sqlalchemy.orm import Session, sessionmaker

from dustgrid import periodic
from dustgrid.config import Settings
from dustgrid.db import make_engine
from dustgrid.models import utcnow
from dustgrid.telemetry.policy import policy_from_settings
from dustgrid.telemetry.rollups import refresh_rollups, resolve_tz

log = logging.getLogger("dustgrid.telemetry.rollups")

ROUND: Final = 5000  # dirty windows per transaction


def refresh_once(settings: Settings, factory: Callable[[], Session]) -> int:
    """One round: refresh up to :data:`ROUND` windows and commit; the number done."""
    with factory() as session:
        done = refresh_rollups(
            session,
            now=utcnow(),
            policy=policy_from_settings(settings),
            tz=resolve_tz(settings.timezone),
            max_windows=ROUND,
        )
        session.commit()
    return done


@periodic.thread("rollups", with_workers_only=False)
def run_rollup_worker(
    settings: Settings,
    stop_event: threading.Event,
    *,
    session_factory: Callable[[], Session] | None = None,
) -> None:
    """Refresh roll-ups until ``stop_event`` is set; a failing round is logged and retried."""
    factory = session_factory or sessionmaker(
        bind=make_engine(settings.database_url), expire_on_commit=False
    )
    while not stop_event.is_set():
        try:
            done = refresh_once(settings, factory)
        except Exception:
            log.exception("roll-up refresh failed; retrying in %ss",
                          settings.telemetry_rollup_interval_s)  # fmt: skip
            done = 0
        if done >= ROUND:
            continue  # a backlog: go on without waiting
        if done:
            log.debug("roll-ups: %d windows refreshed", done)
        stop_event.wait(settings.telemetry_rollup_interval_s)
