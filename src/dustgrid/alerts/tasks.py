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
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from dustgrid import periodic
from dustgrid.alerts.engine.windows import window_start
from dustgrid.alerts.evaluate import evaluate_exceedances, prune_windows
from dustgrid.alerts.flags import detect_quality
from dustgrid.alerts.models import AlertWindowState
from dustgrid.alerts.offline import check_offline, check_stale
from dustgrid.alerts.policy import DEFAULT_ALERT_POLICY, AlertPolicy
from dustgrid.alerts.reconcile import EvalReport
from dustgrid.alerts.repository import settings as settings_repo
from dustgrid.alerts.rulesets import active_rules
from dustgrid.config import Settings
from dustgrid.models import utcnow

log = logging.getLogger("dustgrid.alerts")

TICK_S: Final = 60.0
PRUNE_EVERY: Final = timedelta(hours=1)
QUALITY_KEY: Final = ("task:quality", "detectors")
PRUNE_KEY: Final = ("task:prune", "windows")


@dataclass
class LiveEvaluator:
    """The exceedance part of the worker, with the one thing kept in memory: when the next
    round can have work (the next window close of a rule in force, or its next late-data
    check). Rounds before that read nothing but the settings' newest id - a saved setting
    is picked up at once. Everything else lives in the database; a new process simply
    starts with a full round."""

    policy: AlertPolicy = DEFAULT_ALERT_POLICY
    next_due: datetime | None = None
    settings_mark: int | None = None

    def round(self, session: Session, *, now: datetime, tz: ZoneInfo) -> EvalReport | None:
        mark = settings_repo.newest_setting_id(session)
        if self.next_due is not None and now < self.next_due and mark == self.settings_mark:
            return None
        report = evaluate_exceedances(session, now=now, tz=tz, policy=self.policy)
        self.settings_mark, self.next_due = mark, self._next(session, now, tz)
        return report

    def _next(self, session: Session, now: datetime, tz: ZoneInfo) -> datetime:
        due = now + PRUNE_EVERY
        for rule in active_rules(session, self.policy):
            minutes = rule.profile.window_minutes
            close = window_start(now - self.policy.settle, minutes, tz).astimezone(UTC)
            due = min(due, close + timedelta(minutes=minutes) + self.policy.settle)
            marker = session.get(AlertWindowState, ("rule", rule.key))
            if marker is not None and marker.late_checked_at is not None:
                every = max(self.policy.late_check_every, timedelta(minutes=minutes))
                due = min(due, marker.late_checked_at + every)
        return max(due, now)


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
    live: LiveEvaluator | None = None,
) -> RoundReport:
    """One round; each part in its own transaction. ``live`` (the worker's) skips the
    exceedance part while no rule has anything due."""
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

    if live is None:
        part("exceedance", lambda s: evaluate_exceedances(s, now=now, tz=tz, policy=policy))
    else:
        part("exceedance", lambda s: live.round(s, now=now, tz=tz))
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


@periodic.thread("alerts", with_workers_only=True)
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
    live = LiveEvaluator(policy)
    while not stop.is_set():
        report = run_round(session_factory, tz=tz, policy=policy, live=live)
        ex = report.parts.get("exceedance")
        if ex is not None and (ex.raised or ex.cleared):
            log.info("alerts: %s", ex)
        stop.wait(tick_s)
