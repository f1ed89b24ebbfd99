"""Alert-platform rule numbers as one named, versioned setting (like ``devices.policy``).

The exceedance limits themselves live in the standards profiles (``profiles.py``) and the
city's tuned versions of them (``alert_profile_setting``); this object holds the numbers of
the *platform* around them: when a window counts as closed, how far back late data is
re-evaluated, how long an offline device gets to deliver its history, when a metric is
stale, how severe an excess is. Pure data: a city that changes a number passes its own
policy and bumps ``version``, and every alert stores the version it was raised under, so
old alerts stay explainable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from dustgrid.alerts.engine.rules import DEFAULT_LATE_HORIZON

#: Severities, as the case core spells them (``cases.categories.Severity``).
LOW: Final = "low"
MEDIUM: Final = "medium"
HIGH: Final = "high"
SEVERITIES: Final = (LOW, MEDIUM, HIGH)


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """How the platform turns windows, silences and flags into alerts.

    * ``settle``: a window is evaluated once the wall clock is this far past its end, so the
      last minute's frames (batched by the listener) are in;
    * ``late_horizon``: late and backfilled data re-evaluates windows at most this old
      (HJ 212 backfill asks for at most ``hj212_backfill_max_hours``; 48 h covers it);
    * ``late_check_every``: how often the roll-up counts are compared to find late data;
    * ``initial_lookback``: how much history a site × rule evaluates the first time (a new
      rule does not raise cases about last week);
    * ``window_retention``: evaluated windows kept for charts and re-evaluation (≥ horizon);
    * ``offline_grace``: an HJ 212 device that went offline gets this long to reconnect and
      upload the gap (the listener asks for it on reconnect) before an offline alert;
    * ``backfill_min_coverage``: share of the gap's minutes the upload must fill;
    * ``offline_kinds``: device kinds that report telemetry (cameras have their own checks);
    * ``stale_after``: a metric lagging its device's other metrics this long is stale;
    * ``severity_medium`` / ``severity_high``: excess over the limit, as a share of the
      limit, from which an exceedance is medium / high (below: low);
    * ``case_update_every``: an open alert's case gets new evidence at most this often
      (sooner when the severity rises);
    * ``quality_lookback`` / ``quality_every``: detectors run over this much history this
      often; ``quality_case_kinds``: flag kinds that raise an alert and a case;
      ``quality_clear_after``: such an alert clears when no new flag came for this long;
    * ``default_profiles``: profiles in force while the city has saved none.
    """

    version: str = "2026.1"
    settle: timedelta = timedelta(minutes=2)
    late_horizon: timedelta = DEFAULT_LATE_HORIZON
    late_check_every: timedelta = timedelta(minutes=15)
    initial_lookback: timedelta = timedelta(hours=2)
    window_retention: timedelta = timedelta(days=7)
    offline_grace: timedelta = timedelta(minutes=30)
    backfill_min_coverage: float = 0.8
    offline_kinds: frozenset[str] = frozenset({"dust_monitor", "reference_station"})
    stale_after: timedelta = timedelta(minutes=60)
    stale_metrics: frozenset[str] = frozenset({"tsp", "pm10", "pm25", "noise"})
    severity_medium: float = 0.5
    severity_high: float = 1.0
    case_update_every: timedelta = timedelta(hours=1)
    quality_lookback: timedelta = timedelta(hours=6)
    quality_every: timedelta = timedelta(minutes=15)
    quality_case_kinds: frozenset[str] = frozenset({"spray_drop"})
    quality_clear_after: timedelta = timedelta(hours=24)
    default_profiles: tuple[str, ...] = field(default=("liaoning-db21-2642-2016",))
    evidence_windows: int = 24

    def __post_init__(self) -> None:
        if self.late_horizon > self.window_retention:
            raise ValueError("window_retention must cover late_horizon")
        if not 0 < self.backfill_min_coverage <= 1:
            raise ValueError("backfill_min_coverage must be in (0, 1]")
        if not 0 <= self.severity_medium <= self.severity_high:
            raise ValueError("severity thresholds must be 0 <= medium <= high")

    def severity(self, excess: float, limit: float) -> str:
        """Severity of an exceedance from its peak excess over the limit."""
        share = excess / limit if limit > 0 else float("inf")
        if share >= self.severity_high:
            return HIGH
        if share >= self.severity_medium:
            return MEDIUM
        return LOW


DEFAULT_ALERT_POLICY: Final = AlertPolicy()
