"""Pure alert-rule engine: window results, day verdicts, alert state.

Choices that matter for audits (all documented for operators):

* Only valid data counts (flags N and S); a window needs ``min_valid_count``
  valid values (default 1, because input may be minute data or already hourly
  averages).  A window without enough data is *missing*: it produces no
  result, neither raises nor clears an alert, and does not count for the day.
* "Over the limit" is strict: ``excess = value - reference_used - limit`` and
  the window exceeds when ``excess > 0``.
* Difference rules (Hebei) subtract ``min(reference average, cap)``; an hour
  without valid reference data is not evaluable, so no excess is reported.
* A day has a verdict only when it has at least one evaluated window; it fails
  when its exceeding windows are more than ``day_max_exceedances``.
* Alerts: ``raise_after`` consecutive exceeding windows raise, ``clear_after``
  consecutive clear windows clear; missing windows are skipped (they neither
  advance nor reset either count).  While the reference AQI is above the
  profile's hold level, exceedances of difference rules are kept but marked
  ``held`` (regional episode, not the site's fault).  That AQI is the IAQI of
  the reference window average on HJ 633-2012's 24-hour breakpoints (the
  standard has no 1-hour PM breakpoints), unless the caller supplies one.  A
  window covered by a declared emergency order (``EvalContext.declared``) is
  never held: the site must keep to its order whatever the region's air.
* Incremental alerts are identified by the first window of their run; late
  data may move that start, which shows as ``retracted`` + ``active``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from dustgrid.alerts.engine.profiles import EvalContext, Profile
from dustgrid.alerts.engine.windows import (
    Reading,
    aggregate,
    bucket_values,
    local_day,
    window_end,
    window_start,
)

#: How far behind the newest data time late readings are still re-evaluated.
DEFAULT_LATE_HORIZON = timedelta(hours=48)


@dataclass(frozen=True)
class WindowResult:
    """One evaluated window; ``reference`` is the raw reference average."""

    start: datetime
    end: datetime
    metric: str
    value: float
    reference: float | None
    reference_used: float | None
    limit: float
    excess: float
    exceeded: bool
    count: int
    held: bool = False


@dataclass(frozen=True)
class DayVerdict:
    date: date
    exceedances: int
    windows: int
    verdict: Literal["pass", "fail"]


@dataclass(frozen=True)
class AlertEpisode:
    """An alert from raise to clear; keyed by the first window of its run."""

    site: str
    rule: str
    first_window: datetime
    raised_at: datetime
    cleared_at: datetime | None
    held: bool
    peak_excess: float


_State = Literal["active", "cleared", "retracted"]


@dataclass(frozen=True)
class AlertTransition:
    """A change of alert state; ``retracted`` means late data removed the alert."""

    site: str
    rule: str
    state: _State
    at: datetime
    first_window: datetime
    held: bool


def evaluate_window(
    profile: Profile,
    start: datetime,
    site_values: Sequence[float],
    reference_values: Sequence[float],
    context: EvalContext,
) -> WindowResult | None:
    """Judge one window from its valid values; None when it is not evaluable."""
    if len(site_values) < profile.min_valid_count:
        return None
    limit = profile.limit_for(context, start)
    if limit is None:
        return None
    value = aggregate(site_values, profile.aggregation)
    reference = used = None
    if profile.kind == "difference":
        if len(reference_values) < profile.min_valid_count:
            return None
        reference = aggregate(reference_values, profile.aggregation)
        cap = profile.reference_cap
        used = reference if cap is None else min(reference, cap)
    excess = value - (used or 0.0) - limit
    exceeded = excess > 0
    return WindowResult(
        start=start,
        end=window_end(start, profile.window_minutes, context.tz),
        metric=profile.metric,
        value=value,
        reference=reference,
        reference_used=used,
        limit=limit,
        excess=excess,
        exceeded=exceeded,
        count=len(site_values),
        held=exceeded and profile.holds(reference, context, start),
    )


def evaluate_windows(
    profile: Profile,
    site_series: Iterable[Reading],
    reference_series: Iterable[Reading] | None = None,
    context: EvalContext | None = None,
) -> list[WindowResult]:
    """All evaluable windows of the site series, in time order."""
    ctx = context or EvalContext()
    profile.check_context(ctx)
    if profile.kind == "difference" and reference_series is None:
        raise ValueError(f"profile {profile.id} subtracts a reference: pass reference_series")
    minutes = profile.window_minutes
    site = bucket_values(site_series, profile.metric, minutes, ctx.tz)
    ref = bucket_values(reference_series or (), profile.metric, minutes, ctx.tz)
    results = []
    for start in sorted(site):
        result = evaluate_window(profile, start, site[start], ref.get(start, []), ctx)
        if result is not None:
            results.append(result)
    return results


def day_verdicts(
    profile: Profile, results: Iterable[WindowResult], tz: ZoneInfo
) -> list[DayVerdict]:
    """Per local day with evaluated windows: count exceedances, apply the day rule."""
    days: dict[date, list[WindowResult]] = {}
    for r in results:
        days.setdefault(local_day(r.start, tz), []).append(r)
    verdicts = []
    for day in sorted(days):
        exceedances = sum(1 for r in days[day] if r.exceeded)
        failed = exceedances > profile.day_max_exceedances
        verdicts.append(DayVerdict(day, exceedances, len(days[day]), "fail" if failed else "pass"))
    return verdicts


@dataclass
class _ScanState:
    exceed_run: int = 0
    clear_run: int = 0
    run_start: datetime | None = None
    open: AlertEpisode | None = None


def _scan(
    state: _ScanState, results: Iterable[WindowResult], profile: Profile, site: str
) -> tuple[_ScanState, list[AlertEpisode]]:
    """Run the raise/clear state machine over time-ordered results (pure)."""
    st = dataclasses.replace(state)
    episodes: list[AlertEpisode] = []
    for r in results:
        if r.exceeded:
            st.clear_run = 0
            st.exceed_run += 1
            st.run_start = st.run_start or r.start
            if st.open is not None:
                peak = max(st.open.peak_excess, r.excess)
                st.open = dataclasses.replace(st.open, peak_excess=peak)
            elif st.exceed_run >= profile.raise_after:
                st.open = AlertEpisode(
                    site, profile.id, st.run_start, r.end, None, r.held, r.excess
                )
        else:
            st.exceed_run, st.run_start = 0, None
            if st.open is not None:
                st.clear_run += 1
                if st.clear_run >= profile.clear_after:
                    episodes.append(dataclasses.replace(st.open, cleared_at=r.end))
                    st.open, st.clear_run = None, 0
    return st, episodes + ([st.open] if st.open is not None else [])


def alert_episodes(
    profile: Profile, results: Iterable[WindowResult], site: str = ""
) -> list[AlertEpisode]:
    """Batch form of the alert state machine over a whole evaluated series."""
    return _scan(_ScanState(), sorted(results, key=lambda r: r.start), profile, site)[1]


def _diff(
    old: dict[datetime, AlertEpisode], new: dict[datetime, AlertEpisode]
) -> list[AlertTransition]:
    def t(ep: AlertEpisode, state: _State, at: datetime) -> AlertTransition:
        return AlertTransition(ep.site, ep.rule, state, at, ep.first_window, ep.held)

    gone = [t(ep, "retracted", ep.raised_at) for key, ep in old.items() if key not in new]
    changes = []
    for key, ep in new.items():
        before = old.get(key)
        if before is None or (before.cleared_at is not None and ep.cleared_at is None):
            changes.append(t(ep, "active", ep.raised_at))
        if ep.cleared_at is not None and (before is None or before.cleared_at != ep.cleared_at):
            changes.append(t(ep, "cleared", ep.cleared_at))
    return gone + sorted(changes, key=lambda x: x.at)


class IncrementalEvaluator:
    """Stateful evaluator for one site × rule, fed readings as they arrive.

    Windows are keyed by start, and readings by (source, data time), so feeding
    the same data again changes nothing.  A window is evaluated once data time
    (newest site reading, or :meth:`close_until`) reaches its end; later
    readings re-evaluate it at its data time.  Windows older than
    ``late_horizon`` behind the newest data are frozen and late data for them
    is counted in ``late_dropped``.
    """

    def __init__(
        self,
        profile: Profile,
        site: str = "",
        context: EvalContext | None = None,
        late_horizon: timedelta = DEFAULT_LATE_HORIZON,
    ) -> None:
        self.profile = profile
        self.site = site
        self.context = context or EvalContext()
        profile.check_context(self.context)
        self.late_horizon = late_horizon
        self.late_dropped = 0
        self._site: dict[datetime, dict[tuple[str, datetime], float]] = {}
        self._ref: dict[datetime, dict[tuple[str, datetime], float]] = {}
        self._results: dict[datetime, WindowResult] = {}
        self._closed: set[datetime] = set()
        self._watermark: datetime | None = None
        self._frozen_until: datetime | None = None
        self._base = _ScanState()
        self._known: dict[datetime, AlertEpisode] = {}

    @property
    def open_alert(self) -> AlertEpisode | None:
        """The one open alert of this site × rule, if any."""
        return next((e for e in self._known.values() if e.cleared_at is None), None)

    @property
    def episodes(self) -> list[AlertEpisode]:
        """Alerts still open or ended inside the late horizon, oldest first."""
        return [self._known[k] for k in sorted(self._known)]

    @property
    def results(self) -> list[WindowResult]:
        """Evaluated windows still inside the late horizon, in time order."""
        return [self._results[s] for s in sorted(self._results)]

    def add_reading(self, reading: Reading) -> list[AlertTransition]:
        """Feed one site reading; returns the alert transitions it caused."""
        start = self._accept(reading, self._site)
        if start is None:
            return []
        if self._watermark is None or reading.time > self._watermark:
            self._watermark = reading.time
        return self._update({start})

    def add_reference(self, reading: Reading) -> list[AlertTransition]:
        """Feed one reference-station reading (difference rules)."""
        start = self._accept(reading, self._ref)
        return [] if start is None else self._update({start})

    def close_until(self, t: datetime) -> list[AlertTransition]:
        """Declare data complete up to ``t`` (e.g. on a clock tick)."""
        if self._watermark is None or t > self._watermark:
            self._watermark = t
        return self._update(set())

    def add_window(self, result: WindowResult) -> list[AlertTransition]:
        """Feed a window evaluated elsewhere (per-window-close integration)."""
        if self._is_frozen(result.start):
            self.late_dropped += 1
            return []
        self._results[result.start] = result
        self._closed.add(result.start)
        if self._watermark is None or result.end > self._watermark:
            self._watermark = result.end
        return self._finish()

    def _start(self, t: datetime) -> datetime:
        return window_start(t, self.profile.window_minutes, self.context.tz)

    def _is_frozen(self, start: datetime) -> bool:
        end = window_end(start, self.profile.window_minutes, self.context.tz)
        return self._frozen_until is not None and end <= self._frozen_until

    def _is_closed(self, start: datetime) -> bool:
        end = window_end(start, self.profile.window_minutes, self.context.tz)
        return self._watermark is not None and end <= self._watermark

    def _accept(
        self, r: Reading, store: dict[datetime, dict[tuple[str, datetime], float]]
    ) -> datetime | None:
        if r.metric != self.profile.metric:
            return None
        start = self._start(r.time)
        if self._is_frozen(start):
            self.late_dropped += 1
            return None
        bucket = store.setdefault(start, {})
        key = (r.source, r.time)
        if r.valid and r.value is not None:
            bucket[key] = r.value
        else:  # a re-sent reading now flagged invalid withdraws the old value
            bucket.pop(key, None)
        return start

    def _update(self, touched: set[datetime]) -> list[AlertTransition]:
        due = {s for s in self._site if s not in self._closed} | touched
        changed = False
        for start in sorted(due):
            if not self._is_closed(start):
                continue
            self._closed.add(start)
            site = list(self._site.get(start, {}).values())
            ref = list(self._ref.get(start, {}).values())
            result = evaluate_window(self.profile, start, site, ref, self.context)
            if result != self._results.get(start):
                changed = True
                if result is None:
                    del self._results[start]
                else:
                    self._results[start] = result
        return self._finish() if changed else self._prune([])

    def _finish(self) -> list[AlertTransition]:
        _, episodes = _scan(self._base, self.results, self.profile, self.site)
        new = {e.first_window: e for e in episodes}
        transitions = _diff(self._known, new)
        self._known = new
        return self._prune(transitions)

    def _prune(self, transitions: list[AlertTransition]) -> list[AlertTransition]:
        """Freeze windows beyond the late horizon into the base scan state."""
        if self._watermark is None:
            return transitions
        cutoff = self._watermark - self.late_horizon
        tz, minutes = self.context.tz, self.profile.window_minutes
        old = [s for s in sorted(self._results) if window_end(s, minutes, tz) <= cutoff]
        self._base, episodes = _scan(
            self._base, [self._results.pop(s) for s in old], self.profile, self.site
        )
        for ep in episodes:
            if ep.cleared_at is not None:
                self._known.pop(ep.first_window, None)
        for store in (self._site, self._ref):
            for s in [s for s in store if window_end(s, minutes, tz) <= cutoff]:
                del store[s]
        self._closed = {s for s in self._closed if window_end(s, minutes, tz) > cutoff}
        self._frozen_until = cutoff
        return transitions


class AlertBook:
    """One incremental evaluator, hence at most one open alert, per site × rule."""

    def __init__(self, late_horizon: timedelta = DEFAULT_LATE_HORIZON) -> None:
        self.late_horizon = late_horizon
        self._evaluators: dict[tuple[str, str], IncrementalEvaluator] = {}

    def evaluator(
        self, site: str, profile: Profile, context: EvalContext | None = None
    ) -> IncrementalEvaluator:
        key = (site, profile.id)
        if key not in self._evaluators:
            self._evaluators[key] = IncrementalEvaluator(profile, site, context, self.late_horizon)
        return self._evaluators[key]

    def open_alerts(self) -> list[AlertEpisode]:
        return [e.open_alert for e in self._evaluators.values() if e.open_alert is not None]
