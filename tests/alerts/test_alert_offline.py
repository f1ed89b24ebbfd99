"""Offline alerts wait for the HJ 212 backfill; stale keys; both open cases."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.alerts.models import Alert, AlertState, OfflineWatch
from dustgrid.alerts.offline import check_offline, check_stale
from dustgrid.cases.models import Case
from dustgrid.devices.models import MetricState
from dustgrid.devices.online import mark_seen, sweep_offline
from tests.alerts.alert_kit import POLICY, add_device, local, rows, store
from tests.fixtures.city import City

T0 = local(2026, 11, 20, 8, 0)


def _silent_device(db: Session, city: City, mn: str, source: str = "hj212") -> int:
    """A monitor that reported 08:00-08:59 and then went silent (offline at 09:40)."""
    dev = add_device(db, city, mn, site="HP-002")
    store(db, rows(dev.id, "pm10", T0, [50.0] * 60, source=source), T0 + timedelta(hours=1))
    mark_seen(db, device_id=dev.id, at=T0 + timedelta(minutes=59))
    newly = sweep_offline(db, now=T0 + timedelta(minutes=100))
    assert dev.id in [d.id for d in newly]
    return dev.id


def _offline_alerts(db: Session, dev: int) -> list[Alert]:
    return list(db.scalars(select(Alert).where(Alert.device_id == dev, Alert.kind == "offline")))


def test_offline_asks_for_backfill_first_then_alerts(db: Session, city: City) -> None:
    dev = _silent_device(db, city, "OFFL0000000001")
    check_offline(db, now=T0 + timedelta(minutes=101), policy=POLICY)
    (watch,) = db.scalars(select(OfflineWatch).where(OfflineWatch.device_id == dev))
    assert watch.backfill == "pending" and watch.state == "waiting"
    assert _offline_alerts(db, dev) == []  # the grace for the history upload runs
    report = check_offline(
        db, now=T0 + timedelta(minutes=100) + POLICY.offline_grace, policy=POLICY
    )
    assert report.raised == 1
    (alert,) = _offline_alerts(db, dev)
    assert watch.backfill == "failed" and watch.state == "alerted" and watch.alert_id == alert.id
    assert alert.state == AlertState.active and alert.started_at == T0 + timedelta(minutes=59)
    assert alert.evidence["backfill"] == "failed"
    case = db.get(Case, alert.case_id)
    assert case is not None and case.category == "monitor_not_networked"
    # back online: the alert clears
    mark_seen(db, device_id=dev, at=T0 + timedelta(hours=3))
    report = check_offline(db, now=T0 + timedelta(hours=3, minutes=1), policy=POLICY)
    assert report.cleared == 1
    assert alert.state == AlertState.cleared and alert.clear_reason == "online"


def test_a_filled_gap_raises_nothing(db: Session, city: City) -> None:
    dev = _silent_device(db, city, "OFFL0000000002")
    check_offline(db, now=T0 + timedelta(minutes=101), policy=POLICY)
    # the device reconnects; the listener asked for the gap and it uploads it (CN 2051)
    back = T0 + timedelta(minutes=110)
    gap = rows(dev, "pm10", T0 + timedelta(minutes=60), [50.0] * 50, kind="avg", received=back)
    store(db, gap, back)
    mark_seen(db, device_id=dev, at=back)
    report = check_offline(db, now=back + timedelta(minutes=1), policy=POLICY)
    assert report.resolved == 1
    (watch,) = db.scalars(select(OfflineWatch).where(OfflineWatch.device_id == dev))
    assert watch.state == "resolved" and watch.backfill == "filled" and watch.coverage == 1.0
    check_offline(db, now=back + POLICY.offline_grace * 2, policy=POLICY)
    assert _offline_alerts(db, dev) == []


def test_back_without_the_history_is_a_failed_backfill(db: Session, city: City) -> None:
    dev = _silent_device(db, city, "OFFL0000000003")
    check_offline(db, now=T0 + timedelta(minutes=101), policy=POLICY)
    mark_seen(db, device_id=dev, at=T0 + timedelta(minutes=110))  # back, nothing uploaded
    check_offline(db, now=T0 + timedelta(minutes=111), policy=POLICY)
    assert _offline_alerts(db, dev) == []  # the upload may still come during the grace
    check_offline(db, now=T0 + timedelta(minutes=100) + POLICY.offline_grace, policy=POLICY)
    (alert,) = _offline_alerts(db, dev)
    assert alert.case_id is not None and alert.evidence["coverage"] == 0.0
    check_offline(db, now=T0 + timedelta(minutes=100) + POLICY.offline_grace, policy=POLICY)
    assert alert.state == AlertState.cleared  # it is online: the alert is history


def test_a_device_that_cannot_be_asked_is_alerted_at_once(db: Session, city: City) -> None:
    dev = _silent_device(db, city, "OFFL0000000004", source="http")
    check_offline(db, now=T0 + timedelta(minutes=101), policy=POLICY)
    (watch,) = db.scalars(select(OfflineWatch).where(OfflineWatch.device_id == dev))
    assert watch.backfill == "not_applicable" and watch.state == "alerted"
    assert len(_offline_alerts(db, dev)) == 1


def test_stale_key_while_other_metrics_go_on(db: Session, city: City) -> None:
    dev = add_device(db, city, "STALE000000001", site="HP-003").id
    t = local(2026, 11, 20, 12, 0)
    mark_seen(db, device_id=dev, at=t, metrics={"pm10": (t, 80.0), "noise": (t, 60.0)})
    later = t + timedelta(minutes=90)
    mark_seen(db, device_id=dev, at=later, metrics={"noise": (later, 61.0)})  # pm10 stopped
    report = check_stale(db, now=later, policy=POLICY)
    assert report.stale_raised == 1
    (alert,) = db.scalars(select(Alert).where(Alert.kind == "stale_key", Alert.device_id == dev))
    assert alert.metric == "pm10" and alert.started_at == t
    assert alert.rule_key == f"stale:{dev}:pm10" and alert.case_id is not None
    assert check_stale(db, now=later, policy=POLICY).stale_raised == 0  # one open alert
    again = later + timedelta(minutes=1)
    mark_seen(db, device_id=dev, at=again, metrics={"pm10": (again, 70.0)})
    state = db.get(MetricState, (dev, "pm10"))
    assert state is not None
    assert check_stale(db, now=again, policy=POLICY).stale_cleared == 1
    assert alert.state == AlertState.cleared
