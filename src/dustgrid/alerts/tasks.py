"""The alert worker: every minute, exceedances, offline and stale keys, then quality flags.

``dustgrid serve`` runs :func:`run_alert_worker` in a thread beside the roll-up worker
(``background.py``); ``dustgrid alerts evaluate`` runs one round by hand. Each part commits
on its own, so a failure in one (logged) does not hold the others back, and everything it
needs to resume lives in the database (watermarks, window counters, offline watches): a
restart continues where the last committed round stopped. With several web instances only
one should run it (``workers_in_process``), like the other sweeps.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from dustgrid.alerts.evaluate import evaluate_exceedances, prune_windows
from dustgrid.alerts.flags import detect_quality
from dustgrid.alerts.models import AlertWindowState
from dustgrid.alerts.offline import check_offline, check_stale
from dustgrid.alerts.policy import DEFAULT_ALERT_POLICY, AlertPolicy
from dustgrid.config import Settings
from dustgrid.models import utcnow

log = logging.getLogger("dustgrid.alerts")

TICK_S: Final = 60.0
PRUNE_EVERY: Final = timedelta(hours=1)
QUALITY_KEY: Final = ("task:quality", "detectors")
PRUNE_KEY: Final = ("task:prune", "windows")


@dataclass
class RoundReport:
    parts: dict[str, Any] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)


def _due(session: Session, key: tuple[str, str], now: datetime, every: timedelta) -> bool:
    """True (and the mark moved to ``now``) when the task last ran ``every`` ago or more."""
    st = session.get(AlertWindowState, key)
    if st is None:
        st = AlertWindowState(scope_key=key[0], rule_key=key[1], seen={}, base={})
        session.add(st)
    if st.watermark is not None and now - st.watermark < every:
        return False
    st.watermark = now
    return True


def run_round(
    factory: Callable[[], Session],
    *,
    now: datetime | None = None,
    tz: ZoneInfo,
    policy: AlertPolicy = DEFAULT_ALERT_POLICY,
) -> RoundReport:
    """One round; each part in its own transaction."""
    now = now or utcnow()
    report = RoundReport()

    def part(name: str, fn: Callable[[Session], Any]) -> None:
        try:
            with factory() as session:
                report.parts[name] = fn(session)
                session.commit()
        except Exception:
            log.exception("alerts: %s failed", name)
            report.failed.append(name)

    part("exceedance", lambda s: evaluate_exceedances(s, now=now, tz=tz, policy=policy))
    part("offline", lambda s: check_offline(s, now=now, policy=policy))
    part("stale_key", lambda s: check_stale(s, now=now, policy=policy))
    part(
        "quality",
        lambda s: (
            detect_quality(s, now=now, policy=policy)
            if _due(s, QUALITY_KEY, now, policy.quality_every)
            else None
        ),
    )
    part(
        "prune",
        lambda s: (
            prune_windows(s, now=now, policy=policy)
            if _due(s, PRUNE_KEY, now, PRUNE_EVERY)
            else None
        ),
    )
    return report


def run_alert_worker(
    settings: Settings,
    stop: threading.Event,
    *,
    session_factory: Callable[[], Session],
    policy: AlertPolicy = DEFAULT_ALERT_POLICY,
    tick_s: float = TICK_S,
) -> None:
    """Rounds every ``tick_s`` seconds until ``stop`` is set."""
    tz = ZoneInfo(settings.timezone)
    while not stop.is_set():
        report = run_round(session_factory, tz=tz, policy=policy)
        ex = report.parts.get("exceedance")
        if ex is not None and (ex.raised or ex.cleared):
            log.info("alerts: %s", ex)
        stop.wait(tick_s)
