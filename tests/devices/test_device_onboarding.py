"""Onboarding, move/removal requests, quarantine and API keys through the services, with
explicit ``now`` so the due dates are fixed (domain.md §7)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.audit.models import AuditEntry
from dustgrid.devices import changes, keys, onboarding, online, quarantine, service
from dustgrid.devices.models import (
    ApplicationStatus,
    Device,
    DeviceApiKey,
    DeviceKind,
    Lifecycle,
    OfflinePeriod,
    QuarantinedMN,
    RequestStatus,
)
from dustgrid.devices.schemas import (
    AdoptIn,
    ApplicationCreate,
    ChangeRequestIn,
    DecisionIn,
    DeviceTestIn,
    ReviewIn,
)
from dustgrid.errors import Conflict, Forbidden, Invalid, NotFound
from dustgrid.identity.principal import Principal
from tests.devices.conftest import Fleet
from tests.fixtures.city import City

P = Callable[[str], Principal]
FRI = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # Friday 10:00 China time
WED = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
THU = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)


def _apply(
    db: Session, city: City, who: Principal, *, pre_approved: bool, mns: tuple[str, ...]
) -> int:
    body = ApplicationCreate(
        site_id=city.sites["HP-001"],
        provider_id=city.enterprises["gamma"],
        pre_approved_model=pre_approved,
        devices=[
            {"mn": mn, "kind": "dust_monitor", "model": "YC-3000", "position": f"{i}号门"}
            for i, mn in enumerate(mns)
        ],
    )
    app = onboarding.create_application(db, who, body, now=FRI)
    db.commit()
    return app.id


@pytest.mark.parametrize(
    ("pre_approved", "test_due"), [(True, date(2026, 11, 25)), (False, date(2026, 12, 4))]
)
def test_full_onboarding_walk(
    db: Session, city: City, principal_of: P, pre_approved: bool, test_due: date
) -> None:
    app_id = _apply(
        db, city, principal_of("con_alpha"), pre_approved=pre_approved, mns=("AP0001", "AP0002")
    )
    admin = principal_of("d_heping")
    devs = db.scalars(select(Device).where(Device.application_id == app_id)).all()
    assert {d.lifecycle for d in devs} == {Lifecycle.applied}
    assert {d.site_id for d in devs} == {city.sites["HP-001"]}

    app = onboarding.review(db, admin, app_id, ReviewIn(approve=True, note="资料齐全"), now=FRI)
    assert app.status == ApplicationStatus.approved and app.test_due_date == test_due
    with pytest.raises(Conflict):  # a step out of order
        onboarding.install(db, admin, app_id, now=FRI)
    app = onboarding.record_test(db, admin, app_id, DeviceTestIn(passed=True), now=WED)
    assert app.status == ApplicationStatus.tested
    assert app.install_due_date == date(2026, 12, 2)  # Wed + 5 working days
    app = onboarding.install(db, admin, app_id, now=THU)
    db.commit()
    assert app.status == ApplicationStatus.completed and app.installed_at == THU
    for d in devs:
        db.refresh(d)
        assert d.lifecycle == Lifecycle.active and d.activated_at == THU

    out = onboarding.to_out(db, app, now=THU)
    st = {s.key: s for s in out.steps}
    assert st["review"].state.value == "done"
    assert st["test"].due_date == test_due and st["test"].state.value == "done"
    assert st["install"].late is True and st["install"].light.value == "red"  # due 2 Dec
    assert st["online"].state.value == "pending"
    online.mark_seen(db, device_id=devs[0].id, at=THU)
    online.mark_seen(db, device_id=devs[1].id, at=THU)
    assert {s.key: s for s in onboarding.to_out(db, app, now=THU).steps}[
        "online"
    ].state.value == "done"
    actions = db.scalars(
        select(AuditEntry.action).where(
            AuditEntry.entity_type == "onboarding_application", AuditEntry.entity_id == app_id
        )
    ).all()
    assert sorted(actions) == ["create", "install", "review", "test"]


def test_reject_and_failed_test(db: Session, city: City, principal_of: P) -> None:
    con, admin = principal_of("con_alpha"), principal_of("admin")
    first = _apply(db, city, con, pre_approved=True, mns=("RJ0001",))
    onboarding.review(db, admin, first, ReviewIn(approve=False, note="缺资料"), now=FRI)
    dev = db.scalar(select(Device).where(Device.mn == "RJ0001"))
    assert dev is not None and dev.lifecycle == Lifecycle.rejected
    second = _apply(db, city, con, pre_approved=True, mns=("TF0001",))
    onboarding.review(db, admin, second, ReviewIn(approve=True), now=FRI)
    app = onboarding.record_test(
        db, admin, second, DeviceTestIn(passed=False, note="PM10 偏差超限"), now=WED
    )
    assert app.status == ApplicationStatus.test_failed and app.install_due_date is None
    assert app.test_note == "PM10 偏差超限"
    dev = db.scalar(select(Device).where(Device.mn == "TF0001"))
    assert dev is not None and dev.lifecycle == Lifecycle.rejected


def test_application_rules(db: Session, city: City, principal_of: P, fleet: Fleet) -> None:
    con = principal_of("con_alpha")

    def body(site: str, mns: tuple[str, ...], provider: int | None = None) -> ApplicationCreate:
        return ApplicationCreate(
            site_id=city.sites[site],
            provider_id=provider or city.enterprises["gamma"],
            devices=[{"mn": m, "kind": "dust_monitor"} for m in mns],
        )

    with pytest.raises(Invalid):  # another contractor's site looks like no site at all
        onboarding.create_application(db, con, body("SH-001", ("X1",)))
    with pytest.raises(Invalid):
        onboarding.create_application(db, con, body("HP-001", ("X1", "X1")))
    with pytest.raises(Conflict):  # MN already registered
        onboarding.create_application(db, con, body("HP-001", (fleet.mns["hp1"],)))
    with pytest.raises(Invalid):  # not a provider
        onboarding.create_application(db, con, body("HP-001", ("X2",), city.enterprises["beta"]))
    with pytest.raises(Forbidden):
        onboarding.create_application(db, principal_of("prov_gamma"), body("HP-001", ("X3",)))
    app_id = _apply(db, city, con, pre_approved=False, mns=("RV0001",))
    with pytest.raises(Forbidden):  # an officer sees the site but may not review
        onboarding.review(db, principal_of("off_hp1"), app_id, ReviewIn(approve=True))
    with pytest.raises(NotFound):  # another district's admin does not see it
        onboarding.review(db, principal_of("d_shenhe"), app_id, ReviewIn(approve=True))
    with pytest.raises(NotFound):
        onboarding.get_application(db, principal_of("con_beta"), app_id)
    assert onboarding.get_application(db, principal_of("prov_gamma"), app_id).id == app_id


def test_quarantined_mn_is_dropped_when_registered(
    db: Session, city: City, principal_of: P
) -> None:
    service.record_quarantine(
        db, mn="QQ0001", reason="unknown_mn", peer="10.0.0.9:5000", frame_text="##0101QN=…"
    )
    _apply(db, city, principal_of("con_alpha"), pre_approved=True, mns=("QQ0001",))
    assert db.scalar(select(QuarantinedMN).where(QuarantinedMN.mn == "QQ0001")) is None


def test_move_and_removal_need_approval(
    db: Session, city: City, principal_of: P, fleet: Fleet
) -> None:
    con, admin = principal_of("con_alpha"), principal_of("d_heping")
    hp1 = fleet.devices["hp1"]
    req = changes.create_request(
        db,
        con,
        hp1,
        ChangeRequestIn(
            kind="move", reason="基坑施工", new_site_id=city.sites["HP-002"], new_position="北门"
        ),
    )
    with pytest.raises(Conflict):  # one pending request at a time
        changes.create_request(db, con, hp1, ChangeRequestIn(kind="remove", reason="完工"))
    with pytest.raises(Forbidden):
        changes.decide(db, con, hp1, req.id, DecisionIn(approve=True))
    changes.decide(db, admin, hp1, req.id, DecisionIn(approve=True, note="同意"), now=WED)
    dev = db.get(Device, hp1)
    assert dev is not None and dev.site_id == city.sites["HP-002"] and dev.position == "北门"
    assert req.status == RequestStatus.approved and req.decided_at == WED
    with pytest.raises(Invalid):  # a contractor cannot move into a site it does not see
        changes.create_request(
            db,
            con,
            hp1,
            ChangeRequestIn(kind="move", reason="x2", new_site_id=city.sites["SH-001"]),
        )

    # Removal: keys revoked, the open offline period ends without a repair time.
    _row, key = keys.issue_key(db, admin, hp1)
    online.sweep_offline(db, now=WED)
    rm = changes.create_request(
        db, principal_of("prov_gamma"), hp1, ChangeRequestIn(kind="remove", reason="设备报废")
    )
    rejected = changes.decide(db, admin, hp1, rm.id, DecisionIn(approve=False))
    assert rejected.status == RequestStatus.rejected and dev.lifecycle == Lifecycle.active
    rm = changes.create_request(db, con, hp1, ChangeRequestIn(kind="remove", reason="工程完工"))
    changes.decide(db, admin, hp1, rm.id, DecisionIn(approve=True), now=THU)
    db.commit()
    assert dev.lifecycle == Lifecycle.removed and dev.removed_at == THU and not dev.online
    assert keys.verify_api_key(db, key) is None
    period = db.scalar(select(OfflinePeriod).where(OfflinePeriod.device_id == hp1))
    assert period is not None and period.ended_at == THU and period.repair_seconds is None
    with pytest.raises(Conflict):
        changes.create_request(db, con, hp1, ChangeRequestIn(kind="remove", reason="again"))


def test_cross_district_move_needs_city_admin(
    db: Session, city: City, principal_of: P, fleet: Fleet
) -> None:
    hp2 = fleet.devices["hp2"]
    req = changes.create_request(
        db,
        principal_of("admin"),
        hp2,
        ChangeRequestIn(kind="move", reason="调拨", new_site_id=city.sites["SH-002"]),
    )
    with pytest.raises(Forbidden):
        changes.decide(db, principal_of("d_heping"), hp2, req.id, DecisionIn(approve=True))
    changes.decide(db, principal_of("admin"), hp2, req.id, DecisionIn(approve=True))
    dev = db.get(Device, hp2)
    assert dev is not None and dev.district_id == city.districts["shenhe"]


def test_quarantine_record_and_adopt(db: Session, city: City, principal_of: P) -> None:
    for i in range(3):
        service.record_quarantine(
            db, mn="NEW0001", reason="unknown_mn", peer=f"10.1.1.{i}:7000", frame_text=f"frame {i}"
        )
    db.commit()
    row = db.scalar(select(QuarantinedMN).where(QuarantinedMN.mn == "NEW0001"))
    assert row is not None and row.frames == 3 and row.last_peer == "10.1.1.2:7000"
    assert row.last_frame == "frame 2"
    with pytest.raises(Forbidden):
        quarantine.list_quarantine(db, principal_of("con_alpha"))
    # an MN of no device belongs to no district: city-wide roles only (docs/security.md)
    assert "NEW0001" not in {q.mn for q in quarantine.list_quarantine(db, principal_of("d_shenhe"))}
    assert "NEW0001" in {q.mn for q in quarantine.list_quarantine(db, principal_of("admin"))}
    for district_admin in ("d_shenhe", "d_heping"):
        with pytest.raises(NotFound):
            quarantine.adopt(
                db, principal_of(district_admin), row.id, AdoptIn(site_id=city.sites["HP-001"])
            )
    dev = quarantine.adopt(
        db,
        principal_of("admin"),
        row.id,
        AdoptIn(site_id=city.sites["HP-001"], provider_id=city.enterprises["gamma"]),
        now=WED,
    )
    db.commit()
    assert dev.lifecycle == Lifecycle.active and dev.activated_at == WED
    assert service.resolve_device(db, "NEW0001") is not None
    assert db.scalar(select(QuarantinedMN).where(QuarantinedMN.mn == "NEW0001")) is None
    service.record_quarantine(db, mn="NEW0001", reason="bad_password", peer="x", frame_text="y")
    again = db.scalar(select(QuarantinedMN).where(QuarantinedMN.mn == "NEW0001"))
    assert again is not None
    with pytest.raises(Conflict):  # already a device: fix its password instead
        quarantine.adopt(db, principal_of("admin"), again.id, AdoptIn(site_id=city.sites["HP-001"]))


def test_reference_station_registration(db: Session, city: City, principal_of: P) -> None:
    from dustgrid.devices.schemas import DeviceCreate

    body = DeviceCreate(
        mn="REFSH01", kind=DeviceKind.reference_station, district_id=city.districts["shenhe"]
    )
    with pytest.raises(Forbidden):
        service.create_device(db, principal_of("d_heping"), body)
    dev = service.create_device(db, principal_of("d_shenhe"), body)
    assert dev.site_id is None and dev.district_id == city.districts["shenhe"]
    with pytest.raises(Invalid):
        service.create_device(
            db,
            principal_of("admin"),
            DeviceCreate(mn="REFX", kind="reference_station", site_id=city.sites["SH-001"]),
        )


def test_api_keys_hash_only_and_revocation(db: Session, principal_of: P, fleet: Fleet) -> None:
    admin = principal_of("admin")
    row, key = keys.issue_key(db, admin, fleet.devices["m01"])
    db.commit()
    stored = db.get(DeviceApiKey, row.id)
    assert stored is not None and key not in (stored.key_hash, stored.prefix)
    assert stored.key_hash == keys.hash_key(key) and key.startswith(stored.prefix)
    found = keys.verify_api_key(db, key)
    assert found is not None and found.id == fleet.devices["m01"]
    assert keys.verify_api_key(db, key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert keys.verify_api_key(db, "not-a-key") is None
    keys.revoke_key(db, admin, fleet.devices["m01"], row.id)
    assert keys.verify_api_key(db, key) is None
    with pytest.raises(Forbidden):  # the inspector sees the metro device, may not manage it
        keys.issue_key(db, principal_of("insp_hp1"), fleet.devices["m01"])
    with pytest.raises(NotFound):  # the district station does not see the city station's site
        keys.issue_key(db, principal_of("st_heping"), fleet.devices["m01"])
    with pytest.raises(NotFound):
        keys.issue_key(db, principal_of("d_shenhe"), fleet.devices["m01"])
