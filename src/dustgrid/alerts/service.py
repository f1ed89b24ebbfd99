"""Alert lifecycle: raise, update, clear, acknowledge - and the case each alert opens.

Every state change is one function here that writes an audit row; none commits. A raised
alert that is not held opens (or merges into) a case through the intake API with source
``sensor`` and dedup key ``alert:<site>:<rule>``, carrying the evidence (window values,
reference values, rule version). A held alert (regional pollution episode) opens no case
until it stops being held; a site under a declared emergency order is never held, and its
case is filed as a breach of the order (``emergencies.policy``). Clearing adds a note to
the case; the case itself is closed by people, through the case loop.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from sqlalchemy.orm import Session

from dustgrid.alerts import repository as repo
from dustgrid.alerts.models import Alert, AlertState
from dustgrid.alerts.policy import DEFAULT_ALERT_POLICY, SEVERITIES, AlertPolicy
from dustgrid.audit import service as audit
from dustgrid.cases import service as cases
from dustgrid.devices.models import Device
from dustgrid.errors import Conflict, DomainError, Forbidden, NotFound
from dustgrid.i18n import Msg
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm
from dustgrid.intake import service as intake

log = logging.getLogger(__name__)

#: Case category per alert kind (``cases.categories``); noise is not dust.
CASE_CATEGORY: Final = {"exceedance": "dust_exceedance", "offline": "monitor_not_networked"}
DEFAULT_CATEGORY: Final = "other"
CASE_SOURCE: Final = "sensor"
EVIDENCE_MAX_CHARS: Final = 12_000  # below the intake limit (16,000) with room for keys

KIND_TEXT: Final = {
    "exceedance": ("监测超标", "reading over the limit"),
    "offline": ("设备离线", "device offline"),
    "stale_key": ("监测项停止更新", "metric stopped updating"),
    "quality": ("数据质量异常", "data-quality problem"),
}
#: Why an alert cleared, said on its case (``alerts.cleared.<reason>`` in the catalogues).
CLEAR_REASONS: Final = frozenset({"condition_gone", "retracted", "rule_disabled", "online"})


def open_key(site_id: int | None, device_id: int | None, rule_key: str) -> str:
    """The one-open-alert key: per site × rule, or per device × rule without a site."""
    return f"s{site_id}:{rule_key}" if site_id is not None else f"d{device_id}:{rule_key}"


def dedup_key(alert: Alert) -> str:
    """The case dedup key: ``alert:<site>:<rule>`` (``alert:device<id>:<rule>`` off-site)."""
    where = alert.site_id if alert.site_id is not None else f"device{alert.device_id}"
    return f"alert:{where}:{alert.rule_key}"


def base_kind(kind: str) -> str:
    return kind.split(":", 1)[0]


def describe(alert: Alert, site_name: str = "", device_mn: str = "") -> Msg:
    """The case description of an alert raised without one: where, and what kind."""
    kind = base_kind(alert.kind) if base_kind(alert.kind) in KIND_TEXT else "quality"
    where = site_name or device_mn or ""
    what = Msg(f"alerts.kind.{kind}")
    return Msg("alerts.case.describe", {"where": where, "kind": what}) if where else what


def _known_kind(kind: str) -> str:
    return base_kind(kind) if base_kind(kind) in KIND_TEXT else "quality"


def _fit(evidence: Mapping[str, Any]) -> dict[str, Any]:
    """Evidence small enough for the case timeline: drop the oldest windows if needed."""
    out = dict(evidence)
    while len(json.dumps(out, ensure_ascii=False, default=str)) > EVIDENCE_MAX_CHARS:
        windows = list(out.get("windows") or [])
        if len(windows) <= 1:
            out.pop("windows", None)
            break
        out["windows"] = windows[len(windows) // 2 :]
    return out


def _location(session: Session, alert: Alert) -> tuple[float, float] | None:
    if alert.site_id is not None or alert.device_id is None:
        return None
    dev = session.get(Device, alert.device_id)
    if dev is None or dev.lat is None or dev.lon is None:
        return None
    return (dev.lat, dev.lon)


def sync_case(
    session: Session,
    alert: Alert,
    *,
    now: datetime,
    description: str | Msg,
    category: str | None = None,
) -> None:
    """Open the alert's case, or add the new evidence to it (dedup on the alert's key)."""
    if alert.held:
        return
    location = _location(session, alert)
    if alert.site_id is None and location is None:
        return  # nowhere to send it: a station without coordinates
    case, _created = intake.raise_case(
        session,
        source=CASE_SOURCE,
        category=category or CASE_CATEGORY.get(base_kind(alert.kind), DEFAULT_CATEGORY),
        description=description,
        severity=alert.severity,
        site_id=alert.site_id,
        location=location,
        dedup_key=dedup_key(alert),
        evidence=_fit({"alert_id": alert.id, **alert.evidence}),
        now=now,
    )
    if alert.case_id != case.id:
        audit.record(
            session,
            actor=None,
            action="alert.case",
            entity_type="alert",
            entity_id=alert.id,
            changes={"case_id": [alert.case_id, case.id]},
            summary=Msg("alerts.audit.case_linked", {"id": alert.id, "case_id": case.id}),
        )
    alert.case_id = case.id
    alert.case_updated_at = now


def raise_alert(
    session: Session,
    *,
    kind: str,
    rule_key: str,
    rule_version: str,
    started_at: datetime,
    now: datetime,
    severity: str,
    site_id: int | None = None,
    district_id: int | None = None,
    device_id: int | None = None,
    metric: str | None = None,
    held: bool = False,
    evidence: Mapping[str, Any] | None = None,
    setting_id: int | None = None,
    peak: tuple[float | None, float | None, float | None] = (None, None, None),
    description: str | Msg = "",
    open_case: bool = True,
    open_slot: bool = True,
    policy: AlertPolicy = DEFAULT_ALERT_POLICY,
    case_category: str | None = None,
) -> Alert:
    """A new active alert (the caller made sure none is open for the same key).

    ``open_slot`` False: an episode found already over (backfilled history) - it does not
    take the site × rule's one open slot, and the caller clears it at once.
    """
    if severity not in SEVERITIES:
        raise ValueError(f"unknown severity {severity!r}")
    peak_value, peak_excess, limit = peak
    alert = Alert(
        kind=kind,
        rule_key=rule_key,
        rule_version=rule_version,
        policy_version=policy.version,
        setting_id=setting_id,
        site_id=site_id,
        district_id=district_id,
        device_id=device_id,
        metric=metric,
        severity=severity,
        state=AlertState.active,
        held=held,
        started_at=started_at,
        raised_at=now,
        evidence=dict(evidence or {}),
        peak_value=peak_value,
        peak_excess=peak_excess,
        limit_value=limit,
        open_key=open_key(site_id, device_id, rule_key) if open_slot else None,
    )
    session.add(alert)
    session.flush()
    audit.record(
        session,
        actor=None,
        action="alert.raised",
        entity_type="alert",
        entity_id=alert.id,
        changes={
            "state": [None, "active"],
            "rule": [None, rule_key],
            "held": [None, held],
            "severity": [None, severity],
            "started_at": [None, started_at.isoformat()],
        },
        summary=Msg(
            "alerts.audit.raised_held" if held else "alerts.audit.raised",
            {"id": alert.id, "kind": Msg(f"alerts.kind.{_known_kind(kind)}")},
        ),
    )
    if open_case:
        text = description or describe(alert)
        sync_case(session, alert, now=now, description=text, category=case_category)
    return alert


def update_alert(
    session: Session,
    alert: Alert,
    *,
    now: datetime,
    severity: str,
    held: bool,
    evidence: Mapping[str, Any],
    peak: tuple[float | None, float | None, float | None],
    windows_exceeded: int,
    new_exceedances: bool,
    description: str | Msg = "",
    policy: AlertPolicy = DEFAULT_ALERT_POLICY,
    case_category: str | None = None,
) -> None:
    """New windows of an open alert: peak, severity and hold move; the case hears of it
    when the severity rises, when the hold ends, or every ``case_update_every``."""
    changes: dict[str, list[Any]] = {}
    rose = SEVERITIES.index(severity) > SEVERITIES.index(alert.severity)
    if severity != alert.severity:
        changes["severity"] = [alert.severity, severity]
    if held != alert.held:
        changes["held"] = [alert.held, held]
    alert.severity, alert.held = severity, held
    alert.peak_value, alert.peak_excess, alert.limit_value = peak
    alert.windows_exceeded = windows_exceeded
    alert.evidence = dict(evidence)
    if changes:
        audit.record(
            session,
            actor=None,
            action="alert.updated",
            entity_type="alert",
            entity_id=alert.id,
            changes=changes,
            summary=Msg("alerts.audit.updated", {"id": alert.id}),
        )
    if alert.state == AlertState.cleared or held:
        return
    due = alert.case_updated_at is None or now - alert.case_updated_at >= policy.case_update_every
    if alert.case_id is None or rose or (new_exceedances and due):
        text = description or describe(alert)
        sync_case(session, alert, now=now, description=text, category=case_category)


def clear_alert(
    session: Session, alert: Alert, *, now: datetime, ended_at: datetime | None, reason: str
) -> None:
    """The condition is gone (or late data withdrew it, or the rule was switched off)."""
    if alert.state == AlertState.cleared:
        if reason == "retracted" and alert.clear_reason != "retracted":
            old, alert.clear_reason = alert.clear_reason, reason
            audit.record(
                session,
                actor=None,
                action="alert.retracted",
                entity_type="alert",
                entity_id=alert.id,
                changes={"clear_reason": [old, reason]},
                summary=Msg("alerts.audit.retracted", {"id": alert.id}),
            )
            _note(session, alert, reason, now)
        return
    before = alert.state.value
    alert.state, alert.open_key = AlertState.cleared, None
    alert.cleared_at, alert.ended_at, alert.clear_reason = now, ended_at, reason
    audit.record(
        session,
        actor=None,
        action="alert.cleared",
        entity_type="alert",
        entity_id=alert.id,
        changes={
            "state": [before, "cleared"],
            "clear_reason": [None, reason],
            "ended_at": [None, ended_at.isoformat() if ended_at else None],
        },
        summary=Msg("alerts.audit.cleared", {"id": alert.id, "reason": reason}),
    )
    _note(session, alert, reason, now)


def reopen_alert(session: Session, alert: Alert, *, now: datetime) -> None:
    """Late data showed a cleared alert's condition went on: it is open again."""
    alert.state, alert.open_key = (
        AlertState.active,
        open_key(alert.site_id, alert.device_id, alert.rule_key),
    )
    old_reason = alert.clear_reason
    alert.cleared_at, alert.ended_at, alert.clear_reason = None, None, ""
    audit.record(
        session,
        actor=None,
        action="alert.reopened",
        entity_type="alert",
        entity_id=alert.id,
        changes={"state": ["cleared", "active"], "clear_reason": [old_reason, None]},
        summary=Msg("alerts.audit.reopened", {"id": alert.id}),
    )


def _note(session: Session, alert: Alert, reason: str, now: datetime) -> None:
    if alert.case_id is None:
        return
    why = Msg(f"alerts.cleared.{reason}") if reason in CLEAR_REASONS else reason
    try:
        cases.add_note(
            session,
            None,
            alert.case_id,
            text=Msg("alerts.note.cleared", {"id": alert.id, "why": why}),
            now=now,
            kind="case.evidence",
        )
    except DomainError as exc:  # the case may be gone or closed for notes: the alert still clears
        log.info("alert %s: case %s note skipped: %s", alert.id, alert.case_id, exc.message)


# --------------------------------------------------------------------------- people


def get_alert(session: Session, principal: Principal, alert_id: int) -> Alert:
    alert = repo.visible(session, principal, alert_id)
    if alert is None:
        raise NotFound("alerts.error.alert_not_found", alert_id=alert_id)
    return alert


def acknowledge(
    session: Session, principal: Principal, alert_id: int, *, note: str = "", now: datetime
) -> Alert:
    """Someone is on it: active → acknowledged (it still clears by itself)."""
    alert = get_alert(session, principal, alert_id)  # 404 first: existence is not revealed
    if not principal.can(Perm.alert_ack):
        raise Forbidden("alerts.error.role_may_not_acknowledge_alerts")
    if alert.state != AlertState.active:
        raise Conflict(
            "alerts.error.only_active_alert_can_acknowledged",
            state=Msg(f"alerts.state.{alert.state.value}"),
        )
    alert.state = AlertState.acknowledged
    alert.acknowledged_by_id, alert.acknowledged_at = principal.user_id, now
    alert.ack_note = note.strip()[:2000]
    audit.record(
        session,
        actor=principal,
        action="alert.acknowledged",
        entity_type="alert",
        entity_id=alert.id,
        changes={"state": ["active", "acknowledged"]},
        summary=Msg("alerts.audit.acknowledged", {"id": alert.id}),
    )
    return alert
