"""Data-quality flags stored, merged on re-runs, counted per site and provider; spraying
opens an alert and a case of its own kind."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dustgrid.alerts import presenters
from dustgrid.alerts.flags import detect_quality
from dustgrid.alerts.flagstore import note_repeated_frames
from dustgrid.alerts.models import Alert, QualityFlagRow
from dustgrid.cases.models import Case
from dustgrid.devices.models import DeviceKind
from tests.alerts.alert_kit import POLICY, add_device, local, rows, store, who
from tests.fixtures.city import City

T0 = local(2026, 11, 20, 6, 0)


def test_flags_are_stored_merged_and_counted(db: Session, city: City) -> None:
    stuck = add_device(db, city, "QUAL0000000001", site="HP-001")  # provider gamma
    store(db, rows(stuck.id, "pm10", T0, [42.0] * 240), T0 + timedelta(hours=4))
    now = T0 + timedelta(hours=4, minutes=5)
    report = detect_quality(db, now=now, policy=POLICY)
    assert report.new >= 2  # flat line and repeated value
    kinds = set(db.scalars(select(QualityFlagRow.kind).where(QualityFlagRow.device_id == stuck.id)))
    assert {"flat_line", "repeated_value"} <= kinds
    row = db.scalar(select(QualityFlagRow).where(QualityFlagRow.kind == "flat_line"))
    assert row is not None and row.site_id == city.sites["HP-001"]
    assert row.provider_id == city.enterprises["gamma"] and row.start_at == T0
    # a later run over overlapping history extends the flags instead of adding new ones
    store(db, rows(stuck.id, "pm10", T0 + timedelta(hours=4), [42.0] * 30), now)
    before = db.scalar(select(func.count()).select_from(QualityFlagRow))
    again = detect_quality(db, now=now + timedelta(minutes=30), policy=POLICY)
    assert again.new == 0 and again.extended >= 2
    assert db.scalar(select(func.count()).select_from(QualityFlagRow)) == before
    db.refresh(row)
    assert row.end_at == T0 + timedelta(hours=4, minutes=29)

    admin = who(db, city, "admin")
    counts = presenters.quality_counts(
        db, admin, start=T0 - timedelta(days=1), end=now + timedelta(1)
    )
    (site_row,) = [r for r in counts.per_site if r.key_id == city.sites["HP-001"]]
    assert site_row.counts["flat_line"] == 1 and site_row.counts["repeated_value"] == 1
    (prov,) = [r for r in counts.per_provider if r.key_id == city.enterprises["gamma"]]
    assert prov.total == site_row.total
    outsider = presenters.quality_counts(db, who(db, city, "con_beta"), start=T0, end=now)
    assert outsider.per_site == [] and outsider.per_provider == []
    own = presenters.quality_counts(db, who(db, city, "prov_gamma"), start=T0, end=now)
    assert [r.key_id for r in own.per_provider] == [city.enterprises["gamma"]]


def test_spraying_opens_its_own_alert_and_case(db: Session, city: City) -> None:
    sprayed = add_device(db, city, "QUAL0000000002", site="HP-002")
    ref = add_device(db, city, "QUALREF0000001", kind=DeviceKind.reference_station, provider=None)
    site_values = [200.0 + (i % 7) for i in range(60)] + [20.0 + (i % 3) for i in range(30)]
    data = rows(sprayed.id, "pm10", T0, site_values) + rows(ref.id, "pm10", T0, [220.0] * 90)
    store(db, data, T0 + timedelta(minutes=91))
    now = T0 + timedelta(minutes=95)
    report = detect_quality(db, now=now, policy=POLICY)
    assert report.raised == 1
    flag = db.scalar(select(QualityFlagRow).where(QualityFlagRow.kind == "spray_drop"))
    assert flag is not None and flag.start_at == T0 + timedelta(minutes=60)
    (alert,) = db.scalars(select(Alert).where(Alert.kind == "quality:spray_drop"))
    assert alert.site_id == city.sites["HP-002"] and alert.evidence["flags"]
    case = db.get(Case, alert.case_id)
    assert case is not None and case.dedup_key == f"alert:{city.sites['HP-002']}:quality:spray_drop"
    assert detect_quality(db, now=now + timedelta(minutes=1), policy=POLICY).raised == 0
    later = detect_quality(
        db, now=now + POLICY.quality_clear_after + timedelta(hours=1), policy=POLICY
    )
    assert later.cleared == 1


def test_a_frame_sent_again_later_is_flagged_a_quick_retry_is_not(db: Session, city: City) -> None:
    dev = add_device(db, city, "QUAL0000000009", site="HP-003")
    first = T0 + timedelta(minutes=10, seconds=2)
    store(db, rows(dev.id, "pm10", T0, [50.0] * 10, received=first), first)
    retry_at = first + timedelta(seconds=40)  # the device missed our 9014 and resent
    assert note_repeated_frames(db, [(dev.id, T0 + timedelta(minutes=9), retry_at)]) == 0
    replay_at = first + timedelta(hours=3)  # the same data again three hours later
    replayed = [(dev.id, T0 + timedelta(minutes=m), replay_at) for m in (3, 4)]
    unknown = [(dev.id, T0 + timedelta(days=1), replay_at)]  # not stored: no repeat at all
    assert note_repeated_frames(db, replayed + unknown) == 2
    db.flush()
    (flag,) = db.scalars(select(QualityFlagRow).where(QualityFlagRow.device_id == dev.id))
    assert flag.kind == "replayed_frame" and flag.site_id == city.sites["HP-003"]
    assert (flag.start_at, flag.end_at) == (T0 + timedelta(minutes=3), T0 + timedelta(minutes=4))
    assert first.isoformat() in flag.detail
