"""Online state with fixed datetimes: last seen per device and metric, the offline sweep,
offline periods with the repair time from notice, and the offline rate for scoring."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.audit.models import AuditEntry
from dustgrid.devices import online
from dustgrid.devices.models import Device, Lifecycle, MetricState, OfflinePeriod
from dustgrid.devices.policy import OnlinePolicy
from tests.devices.conftest import ACTIVATED, Fleet

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 China time
MIN = timedelta(minutes=1)


def _periods(db: Session, device_id: int) -> list[OfflinePeriod]:
    stmt = select(OfflinePeriod).where(OfflinePeriod.device_id == device_id)
    return list(db.scalars(stmt.order_by(OfflinePeriod.id)))


def test_mark_seen_updates_device_and_metrics(db: Session, fleet: Fleet) -> None:
    dev = fleet.devices["hp1"]
    online.mark_seen(
        db, device_id=dev, at=T0, metrics={"pm10": (T0 - MIN, 80.0), "pm25": (T0 - MIN, 40.0)}
    )
    # A late, re-sent older frame moves nothing backwards.
    online.mark_seen(db, device_id=dev, at=T0 + 2 * MIN, metrics={"pm10": (T0 - 5 * MIN, 999.0)})
    online.mark_seen(db, device_id=dev, at=T0 + MIN, metrics={"noise": (T0, 55.5)})
    db.flush()
    device = db.get(Device, dev)
    assert device is not None
    assert device.online is True and device.last_seen_at == T0 + 2 * MIN
    states = {
        m.metric: m
        for m in db.scalars(
            select(MetricState)
            .where(MetricState.device_id == dev)
            .execution_options(populate_existing=True)
        )
    }
    assert set(states) == {"pm10", "pm25", "noise"}
    assert states["pm10"].last_value == 80.0 and states["pm10"].last_data_time == T0 - MIN
    assert states["pm10"].last_seen_at == T0 + 2 * MIN
    assert states["pm25"].last_seen_at == T0
    assert states["noise"].last_value == 55.5


def test_naive_times_are_refused(db: Session, fleet: Fleet) -> None:
    naive = datetime(2026, 11, 23, 10, 0)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError):
        online.mark_seen(db, device_id=fleet.devices["hp1"], at=naive)
    with pytest.raises(ValueError):
        online.sweep_offline(db, now=naive)


def test_sweep_opens_period_at_last_frame_and_is_idempotent(db: Session, fleet: Fleet) -> None:
    hp1, sh1 = fleet.devices["hp1"], fleet.devices["sh1"]
    online.mark_seen(db, device_id=hp1, at=T0, metrics={"pm10": (T0, 50.0)})
    online.mark_seen(db, device_id=sh1, at=T0 + 20 * MIN, metrics={})
    db.commit()
    # 30 minutes of silence is not yet offline; 31 is.
    assert all(d.id not in (hp1, sh1) for d in online.sweep_offline(db, now=T0 + 30 * MIN))
    newly = online.sweep_offline(db, now=T0 + 31 * MIN)
    ids = {d.id for d in newly}
    assert hp1 in ids and sh1 not in ids
    device = db.get(Device, hp1)
    assert device is not None and device.online is False
    (period,) = _periods(db, hp1)
    assert period.started_at == T0 and period.detected_at == T0 + 31 * MIN
    assert period.ended_at is None
    # Running again changes nothing.
    again = online.sweep_offline(db, now=T0 + 40 * MIN)
    assert hp1 not in {d.id for d in again}
    assert len(_periods(db, hp1)) == 1
    offline_audit = db.scalars(
        select(AuditEntry).where(
            AuditEntry.entity_type == "device",
            AuditEntry.entity_id == hp1,
            AuditEntry.action == "offline",
        )
    ).all()
    assert len(offline_audit) == 1 and offline_audit[0].actor_name == "system"


def test_never_reported_device_is_offline_since_activation(db: Session, fleet: Fleet) -> None:
    newly = online.sweep_offline(db, now=T0)
    assert {fleet.devices[k] for k in ("hp1", "hp2", "sh1", "m01", "ref")} <= {d.id for d in newly}
    (period,) = _periods(db, fleet.devices["hp2"])
    assert period.started_at == ACTIVATED


def test_device_setting_overrides_policy(db: Session, fleet: Fleet) -> None:
    cam = db.get(Device, fleet.devices["hp2"])
    assert cam is not None
    cam.offline_after_minutes = 120
    db.commit()
    online.mark_seen(db, device_id=cam.id, at=T0)
    online.mark_seen(db, device_id=fleet.devices["hp1"], at=T0)
    db.commit()
    ids = {d.id for d in online.sweep_offline(db, now=T0 + 60 * MIN)}
    assert fleet.devices["hp1"] in ids and cam.id not in ids
    ids = {d.id for d in online.sweep_offline(db, now=T0 + 121 * MIN)}
    assert cam.id in ids
    strict = OnlinePolicy(version="t", offline_after_minutes=5)
    online.mark_seen(db, device_id=fleet.devices["sh1"], at=T0)
    db.commit()
    ids = {d.id for d in online.sweep_offline(db, now=T0 + 6 * MIN, policy=strict)}
    assert fleet.devices["sh1"] in ids


def test_repair_time_runs_from_notice(db: Session, fleet: Fleet) -> None:
    hp1, sh1 = fleet.devices["hp1"], fleet.devices["sh1"]
    for dev in (hp1, sh1):
        online.mark_seen(db, device_id=dev, at=T0)
    db.commit()
    online.sweep_offline(db, now=T0 + 40 * MIN)
    notice = T0 + timedelta(hours=2)
    assert online.record_notice(db, device_id=hp1, at=notice) is not None
    assert online.record_notice(db, device_id=hp1, at=notice + MIN).notified_at == notice  # type: ignore[union-attr]
    back = T0 + timedelta(days=1, hours=2)
    online.mark_seen(db, device_id=hp1, at=back, metrics={"pm10": (back, 60.0)})
    online.mark_seen(db, device_id=sh1, at=back)
    db.flush()
    (p1,) = _periods(db, hp1)
    assert p1.ended_at == back and p1.repair_seconds == 24 * 3600
    (p2,) = _periods(db, sh1)
    assert p2.repair_seconds == int((back - T0).total_seconds())  # no notice: from start
    device = db.get(Device, hp1)
    assert device is not None and device.online is True
    assert online.record_notice(db, device_id=hp1, at=back) is None


def test_devices_under_test_go_offline_without_a_period(db: Session, fleet: Fleet) -> None:
    dev = db.get(Device, fleet.devices["hp1"])
    assert dev is not None
    dev.lifecycle = Lifecycle.tested
    db.commit()
    online.mark_seen(db, device_id=dev.id, at=T0)
    db.commit()
    assert dev.id not in {d.id for d in online.sweep_offline(db, now=T0 + 31 * MIN)}
    db.refresh(dev)
    assert dev.online is False and _periods(db, dev.id) == []


def test_removed_devices_are_ignored(db: Session, fleet: Fleet) -> None:
    dev = db.get(Device, fleet.devices["hp1"])
    assert dev is not None
    dev.lifecycle = Lifecycle.removed
    db.commit()
    online.mark_seen(db, device_id=dev.id, at=T0, metrics={"pm10": (T0, 1.0)})
    db.refresh(dev)
    assert dev.online is False and dev.last_seen_at is None
    assert dev.id not in {d.id for d in online.sweep_offline(db, now=T0 + timedelta(days=9))}


def test_offline_rate_for_device_and_provider(db: Session, fleet: Fleet) -> None:
    start, end = T0, T0 + timedelta(days=10)
    hp1, sh1 = fleet.devices["hp1"], fleet.devices["sh1"]
    # hp1: offline one day inside the window, and an open period for its last day.
    db.add_all(
        [
            OfflinePeriod(
                device_id=hp1,
                started_at=T0 + timedelta(days=2),
                detected_at=T0 + timedelta(days=2),
                ended_at=T0 + timedelta(days=3),
                repair_seconds=86400,
            ),
            OfflinePeriod(
                device_id=hp1,
                started_at=T0 + timedelta(days=9),
                detected_at=T0 + timedelta(days=9),
            ),
            # Before the window: only its overlap counts.
            OfflinePeriod(
                device_id=sh1,
                started_at=T0 - timedelta(days=1),
                detected_at=T0 - timedelta(days=1),
                ended_at=T0 + timedelta(days=1),
                repair_seconds=0,
            ),
        ]
    )
    db.commit()
    assert online.offline_rate(db, device_id=hp1, start=start, end=end) == pytest.approx(0.2)
    assert online.offline_rate(db, device_id=sh1, start=start, end=end) == pytest.approx(0.1)
    gamma = db.get(Device, hp1).provider_id  # type: ignore[union-attr]
    # gamma = hp1 + sh1: 3 offline days in 20 device-days.
    assert online.offline_rate(db, provider_id=gamma, start=start, end=end) == pytest.approx(0.15)
    # A device activated mid-window is measured from activation.
    late = db.get(Device, sh1)
    assert late is not None
    late.activated_at = T0 + timedelta(days=5)
    db.commit()
    assert online.offline_rate(db, device_id=sh1, start=start, end=end) == pytest.approx(0.0)
    assert online.offline_rate(db, device_id=sh1, start=T0, end=T0 + timedelta(days=5)) is None
    # No activation time (older data, other tools): an active device counts from creation.
    late.activated_at, late.created_at = None, T0 + timedelta(days=8)
    db.commit()
    assert online.offline_rate(db, device_id=sh1, start=start, end=end) == pytest.approx(0.0)
    assert online.offline_rate(db, device_id=sh1, start=start, end=T0 + timedelta(days=8)) is None
    with pytest.raises(ValueError):
        online.offline_rate(db, start=start, end=end)
