"""The live exceedance evaluator: stored readings → window results → alerts. Never commits.

Per rule in force and per site with dust monitors, one call of :func:`evaluate_exceedances`:

1. decides which windows to (re)judge: those closed since the site's watermark (a window
   is closed ``settle`` after its end, by the wall clock, so a silent site moves on too),
   plus, every ``late_check_every`` (or window), the hours whose roll-up counts differ
   from the counts the stored results were computed from (late and backfilled data, at
   their data time, at most ``late_horizon`` back);
2. judges them with the pure engine's ``evaluate_window`` (valid data only, missing
   windows give no result; ``judge.py``) against the district's reference stations -
   windows of whole quarters from the 15-minute roll-ups, others from raw readings;
3. compares with the stored windows and, from the first window that changed, re-runs the
   pure raise/clear state machine (``rules._scan``) from the counters stored with the
   window before it; missing windows neither raise nor clear;
4. reconciles the resulting episodes with the alert rows: raise, update, clear, reopen or
   retract (``service.py``), one open alert per site × rule.

A re-judgement starts at a whole hour and the usual round adds to the hour it starts in,
so the reading counts kept per hour (``seen``) are exact and can be compared with the
roll-ups' hourly ``count_total``. A round with nothing due reads no site state (the rule's
marker row), and site states and windows move in bulk (``sitestate.py``, ``windowstore.py``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any, Final, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from dustgrid.alerts import sitestate
from dustgrid.alerts import windowstore as store
from dustgrid.alerts.engine.judge import (
    Buckets,
    Judge,
    count_granule_hours,
    count_hours,
    uses_rollups,
)
from dustgrid.alerts.engine.profiles import ContextError, DeclaredPeriod
from dustgrid.alerts.engine.rules import AlertEpisode
from dustgrid.alerts.engine.values import Granule, Value
from dustgrid.alerts.engine.windows import window_start
from dustgrid.alerts.fetch import (
    fetch,
    fetch_rollups,
    hourly_counts,
    rollups_pending,
)
from dustgrid.alerts.models import AlertWindowState
from dustgrid.alerts.policy import DEFAULT_ALERT_POLICY, AlertPolicy
from dustgrid.alerts.reconcile import (
    EvalReport,
    Scope,
    affected_alerts,
    clear_disabled,
    reconcile,
)
from dustgrid.alerts.repository import evaluation as window_repo
from dustgrid.alerts.rulesets import ActiveRule, active_rules
from dustgrid.alerts.series import (
    REFERENCE_KINDS,
    SITE_KINDS,
    SiteInfo,
    monitors_by_site,
    reference_devices,
    site_context,
    site_infos,
    stations_for,
)
from dustgrid.alerts.windowstore import iso
from dustgrid.emergencies import service as emergencies

log = logging.getLogger(__name__)
HOUR: Final = timedelta(hours=1)


# ------------------------------------------------------------------------ planning


def _hour(t: datetime) -> datetime:
    u = t.astimezone(UTC)
    return u.replace(minute=0, second=0, microsecond=0)


def _load_start(t: datetime, minutes: int, tz: ZoneInfo) -> datetime:
    """A whole hour at or before ``t`` that is also a window start of the rule."""
    start = _hour(t)
    while window_start(start, minutes, tz).astimezone(UTC) != start:  # windows > 1 h
        start = window_start(start, minutes, tz).astimezone(UTC)
        start = _hour(start)
    return start


# ------------------------------------------------------------------------ evaluation


def evaluate_exceedances(
    session: Session,
    *,
    now: datetime,
    tz: ZoneInfo,
    policy: AlertPolicy = DEFAULT_ALERT_POLICY,
    site_ids: list[int] | None = None,
) -> EvalReport:
    """One round of exceedance evaluation for every rule in force (see module doc)."""
    report = EvalReport()
    rules = active_rules(session, policy)
    full = site_ids is None
    due = [
        (rule, plan) for rule in rules if (plan := _rule_plan(session, rule, now, tz, policy, full))
    ]
    if due:  # most minutes no window closes and no late check is due: nothing is read
        monitors = monitors_by_site(session, site_ids)
        sites = with_declared_orders(session, site_infos(session, monitors), now, policy)
        refs = reference_devices(session)
        report.sites = len(sites)
        for rule, plan in due:
            _evaluate_rule(session, rule, plan, sites, monitors, refs, now, tz, policy, report)
    clear_disabled(session, {r.key for r in rules}, now, report)
    return report


class _RulePlan(NamedTuple):
    close: datetime
    floor: datetime
    late_due: bool
    marker: AlertWindowState | None


def with_declared_orders(
    session: Session, sites: dict[int, SiteInfo], now: datetime, policy: AlertPolicy
) -> dict[int, SiteInfo]:
    """The sites, each with the declared emergency orders that cover it around the windows
    this round may judge (input data for the pure engine: no hold, breach category)."""
    back = max(policy.late_horizon, policy.initial_lookback) + timedelta(days=1)
    found = emergencies.declared_periods(session, list(sites), now - back, now + HOUR)
    if not found:
        return sites
    out = dict(sites)
    for sid, periods in found.items():
        if sid in out:
            declared = tuple(
                DeclaredPeriod(p.start, p.end, p.level.value, p.emergency_id) for p in periods
            )
            out[sid] = out[sid]._replace(declared=declared)
    return out


def _rule_plan(
    session: Session, rule: ActiveRule, now: datetime, tz: ZoneInfo, policy: AlertPolicy,
    full: bool,
) -> _RulePlan | None:  # fmt: skip
    """Whether the rule has anything to do this round (None: nothing)."""
    minutes = rule.profile.window_minutes
    close = window_start(now - policy.settle, minutes, tz).astimezone(UTC)
    floor = _load_start(now - policy.late_horizon, minutes, tz)
    if not full:
        return _RulePlan(close, floor, True, None)
    marker = _rule_marker(session, rule.key)
    checked = marker.late_checked_at
    every = max(policy.late_check_every, timedelta(minutes=minutes))  # an hourly rule: hourly
    late_due = checked is None or now - checked >= every
    if not late_due and marker.watermark == close and marker.setting_id == rule.setting_id:
        return None  # no window closed and no late-data check due since the last round
    return _RulePlan(close, floor, late_due, marker)


def _rule_marker(session: Session, rule_key: str) -> AlertWindowState:
    """The rule's own state row (``scope_key`` ``rule``): the last close judged for all
    sites and the last late-data check, so a round with nothing due reads no site state."""
    marker = session.get(AlertWindowState, ("rule", rule_key))
    if marker is None:
        marker = AlertWindowState(scope_key="rule", rule_key=rule_key, seen={}, base={}, last={})
        session.add(marker)
    return marker


def _evaluate_rule(
    session: Session,
    rule: ActiveRule,
    plan_: _RulePlan,
    sites: dict[int, SiteInfo],
    monitors: dict[int, list[int]],
    refs: dict[int | None, list[tuple[int, str]]],
    now: datetime,
    tz: ZoneInfo,
    policy: AlertPolicy,
    report: EvalReport,
) -> None:
    minutes = rule.profile.window_minutes
    close, floor, late_due, marker = plan_
    states = sitestate.load_states(session, rule.key, list(sites))
    late = _late_sites(session, rule, states, monitors, floor) if late_due else {}
    report.late_sites += len(late)
    plan: dict[datetime, list[int]] = defaultdict(list)
    for sid in sites:
        st = states.get(sid)
        mark = st.watermark if st is not None else None
        if sid in late or mark is None or mark < floor:  # re-judge from a whole hour
            frm = min(late.get(sid, close), mark or close - policy.initial_lookback)
            plan[_load_start(max(frm, floor), minutes, tz)].append(sid)
        elif mark < close:  # the usual round: the windows closed since
            plan[mark].append(sid)
    waiting = 0
    for start, sids in sorted(plan.items()):
        if start < close:
            waiting += _evaluate_group(session, rule, start, close, floor, sids, sites,
                                       monitors, refs, states, now, tz, policy, report)  # fmt: skip
    sitestate.save_states(session, list(states.values()), now)
    if marker is not None and not waiting:  # a site left waiting keeps the rule due
        marker.watermark, marker.setting_id = close, rule.setting_id
        if late_due:
            marker.late_checked_at = now


def _evaluate_group(
    session: Session, rule: ActiveRule, start: datetime, close: datetime, floor: datetime,
    sids: list[int], sites: dict[int, SiteInfo], monitors: dict[int, list[int]],
    refs: dict[int | None, list[tuple[int, str]]], states: dict[int, sitestate.SiteState],
    now: datetime, tz: ZoneInfo, policy: AlertPolicy, report: EvalReport,
) -> int:  # fmt: skip
    """Sites judged from the same ``start``: one data query, one window query, one INSERT;
    alerts are only looked at for sites whose windows changed. Windows of whole quarters
    are read from the roll-ups, and a site whose roll-ups still wait for a refresh is left
    for the next round (returns how many were)."""
    prof, metric = rule.profile, rule.profile.metric
    devs = [d for s in sids for d in monitors[s]]
    judge = Judge(prof, tz)
    from_rollups = uses_rollups(prof)
    pending: set[int] = set()
    granules: dict[int, list[Granule]] = {}
    values: dict[tuple[int, str], list[Value]] = {}
    if from_rollups:
        pending = rollups_pending(session, devs, start, close)
        granules = fetch_rollups(session, devs, metric, start, close)
    else:
        values = fetch(session, devs, [metric], SITE_KINDS, start, close)
    stored = window_repo.stored_windows(session, rule.key, sids, start)
    keep, head = iso(floor) or "", iso(_hour(start)) or ""
    partial = start != _hour(start)  # the usual round starts mid-hour: add to that hour
    ref_cache: dict[tuple[int, ...], Buckets] = {}
    inserts: list[dict[str, Any]] = []
    changed: dict[int, tuple[datetime, list[AlertEpisode], list[str]]] = {}
    waiting = 0
    for sid in sids:
        site = sites[sid]
        if pending and any(d in pending for d in monitors[sid]):
            waiting += 1
            continue
        if from_rollups:
            mine = [g for d in monitors[sid] for g in granules.get(d, [])]
            site_buckets, counts = judge.bucket_granules(mine), count_granule_hours(mine, close)
        else:
            rows = [v for d in monitors[sid] for v in values.get((d, metric), [])]
            site_buckets, counts = judge.bucket(rows), count_hours(rows, close)
        stations = stations_for(refs, site.district_id)
        ref: Buckets = {}
        if prof.kind == "difference":
            ref = _reference_buckets(session, judge, stations, metric, start, close, ref_cache)
        try:
            results = judge.windows(site_buckets, ref, site_context(site, tz))
        except ContextError as exc:
            log.warning("site %s, rule %s: %s", sid, rule.key, exc)
            continue
        st = _state_of(states, sid, rule)
        new = {r.start.astimezone(UTC): r for r in results}
        old = stored.get(sid, {})
        first = store.first_change(old, new)
        if first is not None:
            rewrite = any(t >= first for t in old)
            episodes = store.rescan(session, rule, st, first, new, rewrite, inserts)
            mns = [mn for _, mn in stations] if prof.kind == "difference" else []
            changed[sid] = (first, episodes, mns)
        _remember_counts(st, counts, keep, head, partial)
        st.watermark, st.setting_id, st.dirty = close, rule.setting_id, True
    if inserts:
        store.insert_windows(session, inserts)
        report.windows += len(inserts)
    _reconcile_changed(session, rule, sites, changed, now, policy, report)
    return waiting


def _reference_buckets(
    session: Session, judge: Judge, stations: list[tuple[int, str]], metric: str,
    start: datetime, close: datetime, ref_cache: dict[tuple[int, ...], Buckets],
) -> Buckets:  # fmt: skip
    """The reference stations' buckets for a "difference" rule, fetched once per station
    set of a group (``ref_cache``): sites of one district share their stations."""
    key = tuple(d for d, _ in stations)
    if key not in ref_cache:
        got = fetch(session, key, [metric], REFERENCE_KINDS, start, close)
        ref_cache[key] = judge.bucket(v for vs in got.values() for v in vs)
    return ref_cache[key]


def _state_of(
    states: dict[int, sitestate.SiteState], sid: int, rule: ActiveRule
) -> sitestate.SiteState:
    """The site's state for the rule, created (and kept in ``states``) on first use."""
    st = states.get(sid)
    if st is None:
        st = states[sid] = sitestate.SiteState(sid, rule.key)
    return st


def _reconcile_changed(
    session: Session, rule: ActiveRule, sites: dict[int, SiteInfo],
    changed: dict[int, tuple[datetime, list[AlertEpisode], list[str]]],
    now: datetime, policy: AlertPolicy, report: EvalReport,
) -> None:  # fmt: skip
    """After the group's windows are written: bring the alerts of the sites whose windows
    changed in line (one query for the alerts they may touch)."""
    firsts = {sid: c[0] for sid, c in changed.items()}
    affected = affected_alerts(session, rule.key, firsts)
    for sid, (first, episodes, mns) in changed.items():
        if episodes or affected.get(sid):
            scope = Scope(session, rule, sites[sid], first, now, policy, report, mns)
            reconcile(scope, episodes, affected.get(sid, []))


def _remember_counts(
    st: sitestate.SiteState, fresh: dict[str, int], keep: str, head: str, partial: bool
) -> None:
    """Hourly reading counts behind the judged windows (compared with the roll-ups):
    hours before ``keep`` are dropped; from ``head`` (the hour of the load start) on they
    are replaced, except that a load starting mid-hour (``partial``) adds to that hour."""
    seen = {k: v for k, v in (st.seen or {}).items() if k >= keep}
    for h in list(seen):
        if h > head or (h == head and not partial):
            seen.pop(h)
    for h, n in fresh.items():
        seen[h] = seen.get(h, 0) + n if (partial and h == head) else n
    st.seen = seen


def _late_sites(
    session: Session,
    rule: ActiveRule,
    states: dict[int, sitestate.SiteState],
    monitors: dict[int, list[int]],
    floor: datetime,
) -> dict[int, datetime]:
    """Sites whose judged hours got readings since: the earliest such hour per site."""
    due = {sid: st for sid, st in states.items() if st.watermark is not None and sid in monitors}
    if not due:
        return {}
    device_sites = {d: sid for sid in due for d in monitors[sid]}
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for dev, hour, n in hourly_counts(session, list(device_sites), rule.profile.metric, floor):
        counts[device_sites[dev]][hour] += n
    low = iso(floor) or ""
    late: dict[int, datetime] = {}
    for sid, st in due.items():
        assert st.watermark is not None
        high = iso(st.watermark - HOUR) or ""  # whole hours judged before the watermark
        seen = st.seen or {}
        changed = [
            h for h, n in counts.get(sid, {}).items() if low <= h <= high and seen.get(h, 0) != n
        ]
        if changed:
            late[sid] = datetime.fromisoformat(min(changed))
    return late


def rewind(session: Session, *, since: datetime, rule_keys: list[str] | None = None) -> int:
    """Make the evaluator judge again from ``since`` (reference data imported late)."""
    n = 0
    for st in window_repo.states_after(session, since, rule_keys):
        st.watermark = since
        n += st.scope_key != "rule"
    return n


def prune_windows(
    session: Session, *, now: datetime, policy: AlertPolicy = DEFAULT_ALERT_POLICY
) -> int:
    """Drop windows older than the retention; their counters move into the state's base."""
    cutoff = now - policy.window_retention
    for sid, key, start in window_repo.newest_windows_before(session, cutoff):
        scan = window_repo.scan_at(session, sid, key, start)
        st = session.get(AlertWindowState, (f"site:{sid}", key))
        if scan is not None and st is not None:
            st.base = scan
    return window_repo.delete_windows_before(session, cutoff)
