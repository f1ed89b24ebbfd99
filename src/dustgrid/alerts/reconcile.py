"""Episodes of the pure state machine → alert rows: raise, update, clear, reopen, retract.

The evaluator (``evaluate.py``) re-runs the raise/clear counters from the first window that
changed and hands over the episodes it found; this module matches them with the stored
alerts of the site × rule by their start (the data time of the first exceeding window).
An episode without an alert raises one (an episode found already over - backfilled
history - raises it and clears it at once); an alert without an episode was withdrawn by
late data; an open episode over a cleared alert reopens it. Evidence and severity are
recomputed from the stored windows every time. Never commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy.orm import Session

from dustgrid.alerts import repository as repo
from dustgrid.alerts import service as alerts
from dustgrid.alerts.engine.profiles import DeclaredPeriod
from dustgrid.alerts.engine.rules import AlertEpisode
from dustgrid.alerts.models import Alert, AlertState, AlertWindow
from dustgrid.alerts.policy import AlertPolicy
from dustgrid.alerts.repository import evaluation as window_repo
from dustgrid.alerts.repository import runtime as runtime_repo
from dustgrid.alerts.rulesets import ActiveRule
from dustgrid.alerts.series import SiteInfo
from dustgrid.emergencies.policy import DEFAULT_EMERGENCY_POLICY
from dustgrid.i18n import Msg

KIND: Final = "exceedance"


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(UTC).isoformat()


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


def affected_alerts(
    session: Session, rule_key: str, firsts: dict[int, datetime]
) -> dict[int, list[Alert]]:
    """Per site, the alerts a re-evaluation from ``firsts[site]`` may change: the open one,
    and those that started or ended from there on (one query for all sites)."""
    out: dict[int, list[Alert]] = {sid: [] for sid in firsts}
    if not firsts:
        return out
    since = min(firsts.values())
    for a in runtime_repo.alerts_since(session, KIND, rule_key, sorted(firsts), since):
        first = firsts[int(a.site_id or 0)]
        if a.open_key or a.started_at >= first or (a.ended_at and a.ended_at > first):
            out[int(a.site_id or 0)].append(a)
    return out


@dataclass(frozen=True, slots=True)
class Scope:
    """What every episode of one site × rule re-evaluation shares."""

    session: Session
    rule: ActiveRule
    site: SiteInfo
    first: datetime  # the first window re-evaluated
    now: datetime
    policy: AlertPolicy
    report: EvalReport
    stations: list[str]  # MNs of the reference stations (a "difference" rule)


def reconcile(scope: Scope, episodes: list[AlertEpisode], affected: list[Alert]) -> None:
    """Match the episodes found from ``scope.first`` on with the site's ``affected`` alerts."""
    session, now, report = scope.session, scope.now, scope.report
    by_start = {a.started_at: a for a in affected}
    matched = [(ep, by_start.pop(ep.first_window.astimezone(UTC), None)) for ep in episodes]
    for gone in by_start.values():  # late data removed these: withdraw them first
        alerts.clear_alert(session, gone, now=now, ended_at=gone.ended_at, reason="retracted")
        report.retracted += 1
    session.flush()
    for ep, alert in matched:
        _episode(scope, ep, alert)


@dataclass(frozen=True, slots=True)
class _Findings:
    """An episode's exceeding windows and what the alert shows of them."""

    rows: list[AlertWindow]
    held: bool
    severity: str
    evidence: dict[str, Any]
    peak: tuple[float | None, float | None, float | None]  # value, excess, limit
    text: Msg
    category: str | None = None  # None: the alert kind's usual case category


def _episode(scope: Scope, ep: AlertEpisode, alert: Alert | None) -> None:
    """Raise or update the episode's alert (``alert`` None: none matched), then clear it
    when the episode is over. An episode without stored exceeding windows changes nothing."""
    rows = _exceeding_windows(scope, ep)
    if not rows:
        return
    found = _findings(scope, rows)
    if alert is None:
        alert = _raise(scope, ep, found)
    else:
        _update(scope, ep, alert, found)
    if ep.cleared_at is not None:
        _clear(scope, ep, alert)


def _exceeding_windows(scope: Scope, ep: AlertEpisode) -> list[AlertWindow]:
    """The stored exceeding windows of the episode, oldest first (fresh from the database)."""
    end = ep.cleared_at.astimezone(UTC) if ep.cleared_at else scope.now
    return window_repo.exceeding_windows(
        scope.session, scope.site.id, scope.rule.key, ep.first_window, end
    )


def _findings(scope: Scope, rows: list[AlertWindow]) -> _Findings:
    """Severity, evidence, peak and description, recomputed from the windows every time."""
    prof = scope.rule.profile
    policy = scope.policy
    peak = max(rows, key=lambda w: w.excess)
    evidence = {
        "rule": prof.describe(),
        "rule_version": prof.version,
        "policy_version": policy.version,
        "setting_version": scope.rule.setting_version,
        "reference_stations": scope.stations,
        "held_windows": sum(1 for w in rows if w.held),
        "windows": [_window_json(w) for w in rows[-policy.evidence_windows :]],
    }
    order = _order_breached(scope.site, rows)
    text = _description(scope.site, prof.title_zh, prof.title_en, peak)
    if order is not None:
        evidence["emergency"] = {"id": order.emergency_id, "level": order.level}
        text = Msg("alerts.case.during_emergency", {"text": text})
    return _Findings(
        rows=rows,
        held=rows[-1].held,
        severity=policy.severity(peak.excess, peak.limit_value),
        evidence=evidence,
        peak=(peak.value, peak.excess, peak.limit_value),
        text=text,
        category=None if order is None else DEFAULT_EMERGENCY_POLICY.breach_category,
    )


def _order_breached(site: SiteInfo, rows: list[AlertWindow]) -> DeclaredPeriod | None:
    """The declared emergency order an exceeding window fell in (the newest), if any."""
    for w in reversed(rows):
        start = w.window_start.astimezone(UTC)
        order = next((p for p in site.declared if p.covers(start)), None)
        if order is not None:
            return order
    return None


def _raise(scope: Scope, ep: AlertEpisode, found: _Findings) -> Alert:
    """A new alert for an episode no stored alert matched; an open alert of the site × rule
    is retracted first when this episode is still open (one open alert per site × rule)."""
    session, rule, site, now = scope.session, scope.rule, scope.site, scope.now
    prof = rule.profile
    open_alert = repo.by_open_key(session, alerts.open_key(site.id, None, rule.key))
    if open_alert is not None and ep.cleared_at is None:
        alerts.clear_alert(
            session, open_alert, now=now, ended_at=ep.first_window, reason="retracted"
        )
        session.flush()
    alert = alerts.raise_alert(
        session,
        kind=KIND,
        rule_key=rule.key,
        rule_version=prof.version,
        started_at=ep.first_window.astimezone(UTC),
        now=now,
        severity=found.severity,
        site_id=site.id,
        district_id=site.district_id,
        metric=prof.metric,
        held=found.held,
        evidence=found.evidence,
        setting_id=rule.setting_id,
        peak=found.peak,
        description=found.text,
        open_slot=ep.cleared_at is None,
        policy=scope.policy,
        case_category=found.category,
    )
    alert.windows_exceeded = len(found.rows)
    scope.report.raised += 1
    return alert


def _update(scope: Scope, ep: AlertEpisode, alert: Alert, found: _Findings) -> None:
    """The matched alert: reopened when the episode goes on after it was cleared, then its
    evidence, severity and peak replaced."""
    if ep.cleared_at is None and alert.state == AlertState.cleared:
        alerts.reopen_alert(scope.session, alert, now=scope.now)
        scope.report.reopened += 1
    newer = any(w.window_start >= scope.first for w in found.rows)
    alerts.update_alert(
        scope.session,
        alert,
        now=scope.now,
        severity=found.severity,
        held=found.held,
        evidence=found.evidence,
        peak=found.peak,
        windows_exceeded=len(found.rows),
        new_exceedances=newer,
        description=found.text,
        policy=scope.policy,
        case_category=found.category,
    )
    scope.report.updated += 1


def _clear(scope: Scope, ep: AlertEpisode, alert: Alert) -> None:
    """The episode is over: the alert ends at the episode's clearing time."""
    assert ep.cleared_at is not None
    if alert.state != AlertState.cleared:
        scope.report.cleared += 1
    cleared_at = ep.cleared_at.astimezone(UTC)
    alerts.clear_alert(
        scope.session, alert, now=scope.now, ended_at=cleared_at, reason="condition_gone"
    )
    if alert.ended_at != ep.cleared_at:
        alert.ended_at = cleared_at


def _window_json(w: AlertWindow) -> dict[str, Any]:
    def num(x: float | None) -> float | None:
        return None if x is None else round(x, 3)

    return {
        "start": _iso(w.window_start),
        "end": _iso(w.window_end),
        "value": num(w.value),
        "reference": num(w.reference),
        "reference_used": num(w.reference_used),
        "limit": num(w.limit_value),
        "excess": num(w.excess),
        "held": w.held,
        "count": w.count,
    }


def _description(site: SiteInfo, title_zh: str, title_en: str, peak: AlertWindow) -> Msg:
    """The case description: the site, the rule by its name, the peak and the limit."""
    return Msg(
        "alerts.case.exceedance",
        {
            "site": site.name,
            "rule": {"zh-CN": title_zh, "en": title_en},
            "peak": f"{peak.value:.1f}",
            "limit": f"{peak.limit_value:g}",
        },
    )


def clear_disabled(session: Session, keys: set[str], now: datetime, report: EvalReport) -> None:
    for alert in runtime_repo.open_alerts(session, KIND, except_rules=keys):
        alerts.clear_alert(session, alert, now=now, ended_at=None, reason="rule_disabled")
        report.cleared += 1
