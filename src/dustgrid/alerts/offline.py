"""Offline and stale-key alerts. Never commits.

Offline: the devices' sweep (``devices.online.sweep_offline``) opens an offline period when
a device is silent beyond its setting. Before that becomes an alert and a case, an HJ 212
device gets ``offline_grace`` to come back: the listener asks every device that reconnects
after a silence for the minute data it kept (``ingest.hj212.backfill``), so the web
process does not talk to devices - it records an :class:`OfflineWatch` ("backfill
pending") and looks again. The watch is resolved without an alert when the device came
back and its upload filled ``backfill_min_coverage`` of the gap; it becomes an alert when
the grace ran out with the device still silent, or back without the history. A device
that cannot be asked (HTTP/MQTT integrations) is alerted at once. The alert clears when the
device is online again.

Stale key: one metric of a device stopped updating while its other metrics go on
(``MetricState.last_seen_at`` lags the device's ``last_seen_at`` by ``stale_after``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy.orm import Session

from dustgrid.alerts import repository as repo
from dustgrid.alerts import service as alerts
from dustgrid.alerts.models import AlertKind, OfflineWatch
from dustgrid.alerts.policy import DEFAULT_ALERT_POLICY, MEDIUM, AlertPolicy
from dustgrid.alerts.repository import offline as offline_repo
from dustgrid.alerts.repository import runtime as runtime_repo
from dustgrid.alerts.repository import sources
from dustgrid.devices.models import Device, Lifecycle, OfflinePeriod
from dustgrid.i18n import Msg

MINUTE_KINDS: Final = ("rtd", "avg")
HJ212_SOURCES: Final = ("hj212", "hj212mb")
PENDING, NOT_APPLICABLE, FILLED, FAILED = "pending", "not_applicable", "filled", "failed"
WAITING, RESOLVED, ALERTED = "waiting", "resolved", "alerted"


@dataclass
class OfflineReport:
    watched: int = 0
    resolved: int = 0
    raised: int = 0
    cleared: int = 0
    stale_raised: int = 0
    stale_cleared: int = 0


def can_backfill(session: Session, device: Device) -> bool:
    """True for a device that speaks HJ 212 (its last reading came through the listener;
    without readings yet, one that has an HJ 212 password)."""
    source = offline_repo.latest_reading_source(session, device.id)
    if source is not None:
        return source in HJ212_SOURCES
    return bool(device.password)


def gap_coverage(session: Session, device_id: int, start: datetime, end: datetime) -> float:
    """Share of the gap's minutes that now hold a reading (1.0 for a gap under two minutes)."""
    owed = int((end - start).total_seconds() // 60) - 1
    if owed <= 0:
        return 1.0
    got = offline_repo.minutes_with_readings(session, device_id, MINUTE_KINDS, start, end)
    return min(1.0, got / owed)


def _district(session: Session, device: Device) -> int | None:
    if device.district_id is not None or device.site_id is None:
        return device.district_id
    return sources.site_district(session, device.site_id)


def check_offline(
    session: Session, *, now: datetime, policy: AlertPolicy = DEFAULT_ALERT_POLICY
) -> OfflineReport:
    """Watch new offline periods, turn failed backfills into alerts, clear the recovered."""
    report = OfflineReport()
    kinds = sorted(policy.offline_kinds)
    for period, device in offline_repo.unwatched_periods(session, kinds):
        capable = can_backfill(session, device)
        grace = policy.offline_grace if capable else timedelta(0)
        session.add(
            OfflineWatch(
                device_id=device.id,
                period_id=period.id,
                detected_at=now,
                deadline=period.detected_at + grace,
                backfill=PENDING if capable else NOT_APPLICABLE,
                state=WAITING,
            )
        )
        report.watched += 1
    session.flush()
    for watch, period, device in offline_repo.watches_in(session, WAITING):
        _judge(session, watch, period, device, now, policy, report)
    _clear_recovered(session, now, report)
    return report


def _judge(
    session: Session,
    watch: OfflineWatch,
    period: OfflinePeriod,
    device: Device,
    now: datetime,
    policy: AlertPolicy,
    report: OfflineReport,
) -> None:
    if period.ended_at is not None:  # back: did the history upload fill the gap?
        watch.coverage = gap_coverage(session, device.id, period.started_at, period.ended_at)
        if watch.coverage >= policy.backfill_min_coverage:
            watch.backfill = FILLED if watch.backfill == PENDING else watch.backfill
            watch.state, watch.resolved_at = RESOLVED, now
            report.resolved += 1
            return
    if now < watch.deadline:
        return
    if watch.backfill == PENDING:
        watch.backfill = FAILED
    rule = f"offline:{device.id}"
    failed = watch.backfill == FAILED
    open_alert = repo.by_open_key(session, alerts.open_key(device.site_id, device.id, rule))
    alert = open_alert or alerts.raise_alert(
        session,
        kind=AlertKind.offline.value,
        rule_key=rule,
        rule_version=f"offline/{policy.version}",
        started_at=period.started_at,
        now=now,
        severity=MEDIUM,
        site_id=device.site_id,
        district_id=_district(session, device),
        device_id=device.id,
        policy=policy,
        evidence={
            "device": device.mn,
            "offline_since": period.started_at.isoformat(),
            "detected_at": period.detected_at.isoformat(),
            "backfill": watch.backfill,
            "coverage": watch.coverage,
            "grace_minutes": int(policy.offline_grace.total_seconds() // 60),
            "policy_version": policy.version,
        },
        description=Msg(
            "alerts.case.offline_failed" if failed else "alerts.case.offline_unavailable",
            {"mn": device.mn},
        ),
    )
    watch.state, watch.alert_id, watch.resolved_at = ALERTED, alert.id, now
    report.raised += 0 if open_alert else 1


def _clear_recovered(session: Session, now: datetime, report: OfflineReport) -> None:
    """Offline alerts of devices whose offline period has ended."""
    for alert, device in runtime_repo.open_alerts_with_devices(session, AlertKind.offline.value):
        last = offline_repo.latest_period(session, device.id)
        if last is not None and last.ended_at is not None:
            alerts.clear_alert(session, alert, now=now, ended_at=last.ended_at, reason="online")
            report.cleared += 1
        elif device.lifecycle != Lifecycle.active:
            alerts.clear_alert(session, alert, now=now, ended_at=None, reason="rule_disabled")
            report.cleared += 1


def check_stale(
    session: Session, *, now: datetime, policy: AlertPolicy = DEFAULT_ALERT_POLICY
) -> OfflineReport:
    """Raise a ``stale_key`` alert per (device, metric) lagging its device; clear it when
    the metric is current again."""
    report = OfflineReport()
    kinds, metrics = sorted(policy.offline_kinds), sorted(policy.stale_metrics)
    current: dict[tuple[int, str], bool] = {}
    devices: dict[int, Device] = {}
    since: dict[tuple[int, str], datetime] = {}
    for dev_id, metric, seen, device in offline_repo.watched_metrics(session, kinds, metrics):
        devices[dev_id] = device
        last = device.last_seen_at or seen
        current[(dev_id, metric)] = last - seen <= policy.stale_after
        since[(dev_id, metric)] = seen
    open_alerts = {
        a.rule_key: a for a in runtime_repo.open_alerts(session, AlertKind.stale_key.value)
    }
    for (dev_id, metric), ok in current.items():
        rule = f"stale:{dev_id}:{metric}"
        alert = open_alerts.get(rule)
        if ok and alert is not None:
            alerts.clear_alert(session, alert, now=now, ended_at=now, reason="condition_gone")
            report.stale_cleared += 1
        elif not ok and alert is None:
            device = devices[dev_id]
            lag = device.last_seen_at - since[(dev_id, metric)]  # type: ignore[operator]
            alerts.raise_alert(
                session,
                kind=AlertKind.stale_key.value,
                rule_key=rule,
                rule_version=f"stale/{policy.version}",
                started_at=since[(dev_id, metric)],
                now=now,
                severity=MEDIUM,
                site_id=device.site_id,
                district_id=_district(session, device),
                device_id=dev_id,
                metric=metric,
                policy=policy,
                evidence={
                    "device": device.mn,
                    "metric": metric,
                    "metric_last_seen": since[(dev_id, metric)].isoformat(),
                    "device_last_seen": device.last_seen_at.isoformat()
                    if device.last_seen_at
                    else None,
                    "lag_minutes": int(lag.total_seconds() // 60),
                    "stale_after_minutes": int(policy.stale_after.total_seconds() // 60),
                },
                description=Msg(
                    "alerts.case.stale",
                    {"mn": device.mn, "metric": Msg(f"telemetry.metric.{metric}")},
                ),
            )
            report.stale_raised += 1
    return report
