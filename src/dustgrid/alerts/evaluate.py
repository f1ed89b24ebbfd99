"""The live exceedance evaluator: stored readings → window results → alerts. Never commits.

Per rule in force and per site with dust monitors, one call of :func:`evaluate_exceedances`:

1. decides which windows to (re)judge: those closed since the site's watermark (a window
   is closed ``settle`` after its end, by the wall clock, so a silent site moves on too),
   plus, every ``late_check_every``, the hours whose reading counts in the roll-ups differ
   from the counts the stored results were computed from (late and backfilled data, at
   their data time, at most ``late_horizon`` back);
2. judges them with the pure engine (``rules.evaluate_windows``: valid data only, missing
   windows give no result) against the district's reference stations;
3. compares with the stored windows and, from the first window that changed, re-runs the
   pure raise/clear state machine (``rules._scan``) from the counters stored with the
   window before it; missing windows neither raise nor clear;
4. reconciles the resulting episodes with the alert rows: raise, update, clear, reopen or
   retract (``service.py``), one open alert per site × rule.

Reloading always starts at a whole hour, so the reading counts kept per hour (``seen``)
are exact and can be compared with the roll-ups' hourly ``count_total``.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Final

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session

from dustgrid.alerts import service as alerts
from dustgrid.alerts.models import Alert, AlertState, AlertWindow, AlertWindowState
from dustgrid.alerts.policy import DEFAULT_ALERT_POLICY, AlertPolicy
from dustgrid.alerts.profiles import ContextError
from dustgrid.alerts.rules import AlertEpisode, WindowResult, _scan, _ScanState, evaluate_windows
from dustgrid.alerts.rulesets import ActiveRule, active_rules
from dustgrid.alerts.series import (
    load_readings,
    monitors_by_site,
    reference_devices,
    reference_series,
    site_context,
    stations_for,
)
from dustgrid.alerts.windows import Reading as PureReading
from dustgrid.alerts.windows import window_start
from dustgrid.sites.models import Site
from dustgrid.telemetry.models import Rollup
from dustgrid.telemetry.policy import PERIOD_1H

log = logging.getLogger(__name__)
HOUR: Final = timedelta(hours=1)
KIND: Final = "exceedance"


@dataclass
class EvalReport:
    sites: int = 0
    windows: int = 0
    late_sites: int = 0
    raised: int = 0
    updated: int = 0
    cleared: int = 0
    reopened: int = 0
    retracted: int = 0


# --------------------------------------------------------------------- scan snapshots


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(UTC).isoformat()


def _dt(s: str | None) -> datetime | None:
    return None if s is None else datetime.fromisoformat(s)


def dump_scan(st: _ScanState) -> dict[str, Any]:
    ep = st.open
    return {
        "exceed_run": st.exceed_run,
        "clear_run": st.clear_run,
        "run_start": _iso(st.run_start),
        "open": None if ep is None else {
            "first_window": _iso(ep.first_window), "raised_at": _iso(ep.raised_at),
            "held": ep.held, "peak_excess": ep.peak_excess,
        },
    }  # fmt: skip


def load_scan(data: dict[str, Any] | None, site: str, rule: str) -> _ScanState:
    if not data:
        return _ScanState()
    o = data.get("open")
    ep = None
    if o:
        first, raised = _dt(o["first_window"]), _dt(o["raised_at"])
        assert first is not None and raised is not None
        ep = AlertEpisode(site, rule, first, raised, None, bool(o["held"]), float(o["peak_excess"]))
    return _ScanState(int(data["exceed_run"]), int(data["clear_run"]), _dt(data["run_start"]), ep)


# ------------------------------------------------------------------------ planning


def _hour(t: datetime) -> datetime:
    u = t.astimezone(UTC)
    return u.replace(minute=0, second=0, microsecond=0)


def _load_start(t: datetime, minutes: int, tz: tzinfo) -> datetime:
    """A whole hour at or before ``t`` that is also a window start of the rule."""
    start = _hour(t)
    while window_start(start, minutes, tz).astimezone(UTC) != start:  # windows > 1 h
        start = window_start(start, minutes, tz).astimezone(UTC)
        start = _hour(start)
    return start


def hourly_counts(
    session: Session, device_sites: dict[int, int], metric: str, since: datetime
) -> dict[int, dict[str, int]]:
    """Per site, the roll-ups' reading count per hour (UTC ISO) of ``metric``."""
    out: dict[int, dict[str, int]] = defaultdict(dict)
    devs = list(device_sites)
    for i in range(0, len(devs), 500):
        stmt = select(Rollup.device_id, Rollup.period_start, Rollup.count_total).where(
            Rollup.device_id.in_(devs[i : i + 500]), Rollup.metric == metric,
            Rollup.period == PERIOD_1H, Rollup.period_start >= since,
        )  # fmt: skip
        for dev, start, n in session.execute(stmt):
            counts = out[device_sites[dev]]
            key = _iso(start) or ""
            counts[key] = counts.get(key, 0) + int(n or 0)
    return dict(out)


def _count_hours(readings: list[PureReading], until: datetime) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for r in readings:
        if r.time < until:
            counts[_iso(_hour(r.time)) or ""] += 1
    return dict(counts)


# ------------------------------------------------------------------------ evaluation


def evaluate_exceedances(
    session: Session,
    *,
    now: datetime,
    tz: tzinfo,
    policy: AlertPolicy = DEFAULT_ALERT_POLICY,
    site_ids: list[int] | None = None,
) -> EvalReport:
    """One round of exceedance evaluation for every rule in force (see module doc)."""
    report = EvalReport()
    rules = active_rules(session, policy)
    monitors = monitors_by_site(session, site_ids)
    sites = {s.id: s for s in session.scalars(select(Site).where(Site.id.in_(list(monitors))))}
    refs = reference_devices(session)
    report.sites = len(sites)
    for rule in rules:
        _evaluate_rule(session, rule, sites, monitors, refs, now, tz, policy, report)
    _clear_disabled(session, {r.key for r in rules}, now, report)
    return report


def _evaluate_rule(
    session: Session, rule: ActiveRule, sites: dict[int, Site], monitors: dict[int, list[int]],
    refs: dict[int | None, list[tuple[int, str]]], now: datetime, tz: tzinfo,
    policy: AlertPolicy, report: EvalReport,
) -> None:  # fmt: skip
    prof = rule.profile
    minutes = prof.window_minutes
    close = window_start(now - policy.settle, minutes, tz).astimezone(UTC)
    floor = _load_start(now - policy.late_horizon, minutes, tz)
    stmt = select(AlertWindowState).where(
        AlertWindowState.rule_key == rule.key, AlertWindowState.site_id.in_(list(sites))
    )
    states = {int(s.site_id or 0): s for s in session.scalars(stmt)}
    late = _late_sites(session, rule, states, monitors, floor, now, policy)
    report.late_sites += len(late)
    plan: dict[datetime, list[int]] = defaultdict(list)
    for sid in sites:
        st = states.get(sid)
        mark = st.watermark if st is not None else None
        if mark is not None and mark >= close and sid not in late:
            continue
        frm = mark if mark is not None else close - policy.initial_lookback
        if sid in late:
            frm = min(frm, late[sid])
        plan[_load_start(max(frm, floor), minutes, tz)].append(sid)
    ref_cache: dict[tuple[datetime, tuple[int, ...]], list[PureReading]] = {}
    for start, sids in sorted(plan.items()):
        if start >= close:
            continue
        devs = [d for s in sids for d in monitors[s]]
        by_dev = load_readings(session, devs, [prof.metric], start, close)
        for sid in sids:
            site = sites[sid]
            rows = sorted((r for d in monitors[sid] for r in by_dev.get(d, [])), key=lambda r: r.time)
            stations = stations_for(refs, site.district_id)
            ref: list[PureReading] | None = None
            if prof.kind == "difference":
                key = (start, tuple(d for d, _ in stations))
                if key not in ref_cache:
                    ref_cache[key] = reference_series(session, stations, [prof.metric], start, close)
                ref = ref_cache[key]
            try:
                results = evaluate_windows(prof, rows, ref, site_context(site, tz))
            except ContextError as exc:
                log.warning("site %s, rule %s: %s", sid, rule.key, exc)
                continue
            st = states.get(sid) or _new_state(session, sid, rule)
            _apply(session, rule, site, st, start, results, now, policy, report,
                   [mn for _, mn in stations] if ref is not None else [])  # fmt: skip
            seen = {k: v for k, v in (st.seen or {}).items() if k >= (_iso(floor) or "")}
            fresh = _count_hours(rows, close)
            for h in list(seen):
                if h >= (_iso(start) or ""):
                    seen.pop(h)
            seen.update(fresh)
            st.seen, st.watermark, st.setting_id = seen, close, rule.setting_id


def _new_state(session: Session, site_id: int, rule: ActiveRule) -> AlertWindowState:
    st = AlertWindowState(scope_key=f"site:{site_id}", rule_key=rule.key, site_id=site_id,
                          seen={}, base={})  # fmt: skip
    session.add(st)
    return st


def _late_sites(
    session: Session, rule: ActiveRule, states: dict[int, AlertWindowState],
    monitors: dict[int, list[int]], floor: datetime, now: datetime, policy: AlertPolicy,
) -> dict[int, datetime]:  # fmt: skip
    """Sites whose judged hours got readings since: the earliest such hour per site."""
    due = {
        sid: st for sid, st in states.items()
        if st.watermark is not None and sid in monitors
        and (st.late_checked_at is None or now - st.late_checked_at >= policy.late_check_every)
    }  # fmt: skip
    if not due:
        return {}
    device_sites = {d: sid for sid in due for d in monitors[sid]}
    counts = hourly_counts(session, device_sites, rule.profile.metric, floor)
    late: dict[int, datetime] = {}
    for sid, st in due.items():
        st.late_checked_at = now
        assert st.watermark is not None
        seen = st.seen or {}
        changed = [
            h for h, n in counts.get(sid, {}).items()
            if (t := datetime.fromisoformat(h)) + HOUR <= st.watermark and t >= floor
            and seen.get(h, 0) != n
        ]  # fmt: skip
        if changed:
            late[sid] = datetime.fromisoformat(min(changed))
    return late


def _same(row: AlertWindow | None, r: WindowResult | None) -> bool:
    if row is None or r is None:
        return row is None and r is None
    close = math.isclose
    ref_same = (row.reference is None) == (r.reference is None) and (
        row.reference is None or close(row.reference, r.reference or 0.0, rel_tol=1e-9)
    )
    return (
        row.exceeded == r.exceeded and row.held == r.held and row.count == r.count
        and close(row.value, r.value, rel_tol=1e-9) and close(row.limit_value, r.limit)
        and ref_same
    )  # fmt: skip


def _apply(
    session: Session, rule: ActiveRule, site: Site, st: AlertWindowState, start: datetime,
    results: list[WindowResult], now: datetime, policy: AlertPolicy, report: EvalReport,
    stations: list[str],
) -> None:  # fmt: skip
    """Store the changed windows and move the alerts (steps 3 and 4 of the module doc)."""
    key, sid = rule.key, site.id
    stored = {
        w.window_start: w
        for w in session.scalars(
            select(AlertWindow).where(AlertWindow.site_id == sid, AlertWindow.rule_key == key,
                                      AlertWindow.window_start >= start)  # fmt: skip
        )
    }
    new = {r.start.astimezone(UTC): r for r in results}
    first = next((t for t in sorted(set(stored) | set(new)) if not _same(stored.get(t), new.get(t))), None)
    if first is None:
        return
    prev = session.scalar(
        select(AlertWindow)
        .where(AlertWindow.site_id == sid, AlertWindow.rule_key == key,
               AlertWindow.window_start < first)  # fmt: skip
        .order_by(AlertWindow.window_start.desc())
        .limit(1)
    )
    state = load_scan(prev.scan if prev is not None else st.base, str(sid), key)
    session.execute(
        delete(AlertWindow).where(AlertWindow.site_id == sid, AlertWindow.rule_key == key,
                                  AlertWindow.window_start >= first)  # fmt: skip
    )
    closed: list[AlertEpisode] = []
    for t in sorted(t for t in new if t >= first):
        r = new[t]
        state, eps = _scan(state, [r], rule.profile, str(sid))
        closed += [e for e in eps if e.cleared_at is not None]
        session.add(AlertWindow(
            site_id=sid, rule_key=key, window_start=t, window_end=r.end.astimezone(UTC),
            metric=r.metric, value=r.value, reference=r.reference, reference_used=r.reference_used,
            limit_value=r.limit, excess=r.excess, exceeded=r.exceeded, held=r.held, count=r.count,
            rule_version=rule.profile.version, scan=dump_scan(state),
        ))  # fmt: skip
        report.windows += 1
    session.flush()
    episodes = closed + ([state.open] if state.open is not None else [])
    _reconcile(session, rule, site, first, episodes, now, policy, report, stations)


def _reconcile(
    session: Session, rule: ActiveRule, site: Site, first: datetime,
    episodes: list[AlertEpisode], now: datetime, policy: AlertPolicy, report: EvalReport,
    stations: list[str],
) -> None:  # fmt: skip
    affected = list(session.scalars(
        select(Alert).where(
            Alert.kind == KIND, Alert.site_id == site.id, Alert.rule_key == rule.key,
            or_(Alert.open_key.is_not(None), Alert.started_at >= first,
                and_(Alert.ended_at.is_not(None), Alert.ended_at > first)),
        )
    ))  # fmt: skip
    by_start = {a.started_at: a for a in affected}
    matched = [(ep, by_start.pop(ep.first_window.astimezone(UTC), None)) for ep in episodes]
    for gone in by_start.values():  # late data removed these: withdraw them first
        alerts.clear_alert(session, gone, now=now, ended_at=gone.ended_at, reason="retracted")
        report.retracted += 1
    session.flush()
    for ep, alert in matched:
        _episode(session, rule, site, ep, alert, first, now, policy, report, stations)


def _episode(
    session: Session, rule: ActiveRule, site: Site, ep: AlertEpisode, alert: Alert | None,
    first: datetime, now: datetime, policy: AlertPolicy, report: EvalReport, stations: list[str],
) -> None:  # fmt: skip
    prof = rule.profile
    end = ep.cleared_at.astimezone(UTC) if ep.cleared_at else now
    rows = list(session.scalars(
        select(AlertWindow).where(
            AlertWindow.site_id == site.id, AlertWindow.rule_key == rule.key,
            AlertWindow.window_start >= ep.first_window, AlertWindow.window_start < end,
            AlertWindow.exceeded.is_(True),
        ).order_by(AlertWindow.window_start)
    ))  # fmt: skip
    if not rows:
        return
    peak = max(rows, key=lambda w: w.excess)
    held = rows[-1].held
    severity = policy.severity(peak.excess, peak.limit_value)
    evidence = {
        "rule": prof.describe(), "rule_version": prof.version, "policy_version": policy.version,
        "setting_version": rule.setting_version, "reference_stations": stations,
        "held_windows": sum(1 for w in rows if w.held),
        "windows": [_window_json(w) for w in rows[-policy.evidence_windows :]],
    }  # fmt: skip
    values = (peak.value, peak.excess, peak.limit_value)
    text = _description(site, prof.title_zh, prof.title_en, peak)
    if alert is None:
        open_alert = session.scalar(select(Alert).where(
            Alert.open_key == alerts.open_key(site.id, None, rule.key)))  # fmt: skip
        if open_alert is not None and ep.cleared_at is None:  # one open alert per site × rule
            alerts.clear_alert(session, open_alert, now=now, ended_at=ep.first_window,
                               reason="retracted")  # fmt: skip
            session.flush()
        alert = alerts.raise_alert(
            session, kind=KIND, rule_key=rule.key, rule_version=prof.version,
            started_at=ep.first_window.astimezone(UTC), now=now, severity=severity,
            site_id=site.id, district_id=site.district_id, metric=prof.metric, held=held,
            evidence=evidence, setting_id=rule.setting_id, peak=values, description=text,
            open_slot=ep.cleared_at is None, policy=policy,
        )  # fmt: skip
        alert.windows_exceeded = len(rows)
        report.raised += 1
    else:
        if ep.cleared_at is None and alert.state == AlertState.cleared:
            alerts.reopen_alert(session, alert, now=now)
            report.reopened += 1
        newer = any(w.window_start >= first for w in rows)
        alerts.update_alert(
            session, alert, now=now, severity=severity, held=held, evidence=evidence,
            peak=values, windows_exceeded=len(rows), new_exceedances=newer, description=text,
            policy=policy,
        )  # fmt: skip
        report.updated += 1
    if ep.cleared_at is not None:
        if alert.state != AlertState.cleared:
            report.cleared += 1
        alerts.clear_alert(session, alert, now=now, ended_at=ep.cleared_at.astimezone(UTC),
                           reason="condition_gone")  # fmt: skip
        if alert.ended_at != ep.cleared_at:
            alert.ended_at = ep.cleared_at.astimezone(UTC)


def _window_json(w: AlertWindow) -> dict[str, Any]:
    def num(x: float | None) -> float | None:
        return None if x is None else round(x, 3)

    return {
        "start": _iso(w.window_start), "end": _iso(w.window_end), "value": num(w.value),
        "reference": num(w.reference), "reference_used": num(w.reference_used),
        "limit": num(w.limit_value), "excess": num(w.excess), "held": w.held, "count": w.count,
    }  # fmt: skip


def _description(site: Site, title_zh: str, title_en: str, peak: AlertWindow) -> str:
    return (
        f"{site.name}：{title_zh}超标，峰值 {peak.value:.1f}（限值 {peak.limit_value:g}） / "
        f"{title_en}: over the limit, peak {peak.value:.1f} (limit {peak.limit_value:g})"
    )


def _clear_disabled(session: Session, keys: set[str], now: datetime, report: EvalReport) -> None:
    stmt = select(Alert).where(Alert.kind == KIND, Alert.open_key.is_not(None))
    if keys:
        stmt = stmt.where(Alert.rule_key.not_in(sorted(keys)))
    for alert in session.scalars(stmt):
        alerts.clear_alert(session, alert, now=now, ended_at=None, reason="rule_disabled")
        report.cleared += 1


def rewind(session: Session, *, since: datetime, rule_keys: list[str] | None = None) -> int:
    """Make the evaluator judge again from ``since`` (reference data imported late)."""
    stmt = select(AlertWindowState).where(AlertWindowState.watermark > since)
    if rule_keys is not None:
        stmt = stmt.where(AlertWindowState.rule_key.in_(rule_keys))
    n = 0
    for st in session.scalars(stmt):
        st.watermark = since
        n += 1
    return n


def prune_windows(session: Session, *, now: datetime, policy: AlertPolicy = DEFAULT_ALERT_POLICY) -> int:
    """Drop windows older than the retention; their counters move into the state's base."""
    cutoff = now - policy.window_retention
    newest = (
        select(AlertWindow.site_id, AlertWindow.rule_key, func.max(AlertWindow.window_start))
        .where(AlertWindow.window_start < cutoff)
        .group_by(AlertWindow.site_id, AlertWindow.rule_key)
    )
    for sid, key, start in session.execute(newest).all():
        row = session.get(AlertWindow, (sid, key, start))
        st = session.get(AlertWindowState, (f"site:{sid}", key))
        if row is not None and st is not None:
            st.base = row.scan
    result: Any = session.execute(delete(AlertWindow).where(AlertWindow.window_start < cutoff))
    return int(result.rowcount or 0)
