"""The daily mandatory-device check in the database: cases, stream checks, provider routing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.audit.models import AuditEntry
from dustgrid.cases import followups
from dustgrid.cases.credit.models import SiteProblem
from dustgrid.cases.deadlines import case_policy
from dustgrid.cases.mandatory import run
from dustgrid.cases.models import Case, CaseEvent
from dustgrid.cases.states import CaseState, Followup
from dustgrid.config import Settings
from dustgrid.devices import compliance
from dustgrid.devices.mandatory import GateReason, dedup_key
from dustgrid.devices.models import (
    CameraStreamCheck,
    Device,
    DeviceKind,
    Lifecycle,
    OfflinePeriod,
)
from dustgrid.errors import Forbidden, Invalid, NotFound
from dustgrid.identity.principal import Principal
from dustgrid.sites.models import Site, Stage
from tests.devices.conftest import ACTIVATED, Fleet
from tests.fixtures.city import City

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)

# Walked for scope below: another provider is refused (tests/auth/walk_registry.py).
WALKED = {("POST", "/api/v1/cameras/{device_id}/stream-checks")}


def _cases(db: Session, site_id: int) -> dict[str, Case]:
    rows = db.scalars(
        select(Case).where(Case.site_id == site_id, Case.dedup_key.like("mandatory:%"))
    )
    return {c.category: c for c in rows}


def _camera(db: Session, city: City, site: str, provider: int, mn: str, online: bool) -> int:
    d = Device(
        mn=mn, kind=DeviceKind.video_camera, site_id=city.sites[site],
        district_id=city.districts["heping"], provider_id=provider, lifecycle=Lifecycle.active,
        activated_at=ACTIVATED, online=online, password="123456",
    )  # fmt: skip
    db.add(d)
    db.flush()
    return d.id


def test_the_check_opens_one_case_per_violation_and_not_twice(
    db: Session, city: City, fleet: Fleet
) -> None:
    first = run(db, NOW)
    assert first.opened == first.violations > 0
    hp1 = _cases(db, city.sites["HP-001"])
    # HP-001: a dust monitor (offline), no camera at all
    assert set(hp1) == {"no_video", "monitor_not_networked"}
    assert hp1["no_video"].severity == "high"
    assert hp1["no_video"].state == CaseState.reported
    hp2 = _cases(db, city.sites["HP-002"])
    assert set(hp2) == {"too_few_cameras", "video_not_connected", "no_dust_monitor"}
    assert "视频未接入平台" in hp2["video_not_connected"].description
    again = run(db, NOW + timedelta(days=1))
    assert again.opened == 0
    assert again.violations == first.violations
    # closing a case lets the next run open a new one
    hp1["no_video"].state = CaseState.closed
    db.flush()
    assert run(db, NOW + timedelta(days=2)).opened == 1


def test_completed_or_suspended_sites_are_not_checked(
    db: Session, city: City, fleet: Fleet
) -> None:
    site = db.get(Site, city.sites["HP-001"])
    assert site is not None
    site.stage = Stage.completed
    db.flush()
    run(db, NOW)
    assert _cases(db, city.sites["HP-001"]) == {}


def test_offline_cases_go_to_the_provider_not_the_ladder(
    db: Session, city: City, fleet: Fleet, settings: Settings
) -> None:
    run(db, NOW)
    hp2 = _cases(db, city.sites["HP-002"])
    offline = hp2["video_not_connected"]
    (order,) = db.scalars(
        select(CaseEvent).where(
            CaseEvent.case_id == offline.id, CaseEvent.kind == "case.provider_order"
        )
    )
    assert order.data["provider_ids"] == [fleet.delta]
    assert order.data["measures"] == ["rectification_order", "interview"]
    assert order.data["device_ids"] == [fleet.devices["hp2"]]
    # the contractor's violation (no dust monitor) has no provider order
    contractor = hp2["no_dust_monitor"]
    assert not list(
        db.scalars(select(CaseEvent).where(
            CaseEvent.case_id == contractor.id, CaseEvent.kind == "case.provider_order"))
    )  # fmt: skip
    policy = case_policy()
    for case in (offline, contractor):
        ev = db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)).first()
        assert ev is not None
        followups.run(
            db, case=case, event=ev,
            followups=[Followup.record_site_problem, Followup.record_bad_behaviour],
            actor=None, policy=policy, settings=settings, now=NOW,
        )  # fmt: skip
    ladder = {p.case_id for p in db.scalars(select(SiteProblem))}
    assert contractor.id in ladder
    assert offline.id not in ladder


def test_a_failed_stream_check_opens_video_unviewable(
    db: Session,
    city: City,
    fleet: Fleet,
    principal_of: Callable[[str], Principal],
) -> None:
    gamma = city.enterprises["gamma"]
    a = _camera(db, city, "HP-003", gamma, "HP003CAM01", True)
    b = _camera(db, city, "HP-003", fleet.delta, "HP003CAM02", True)
    provider = principal_of("prov_gamma")
    # another provider's camera is not even visible
    with pytest.raises(NotFound):
        compliance.record_stream_check(db, provider, b, ok=False, now=NOW)
    with pytest.raises(Invalid):  # a dust monitor has no stream
        compliance.record_stream_check(db, provider, fleet.devices["hp1"], ok=False, now=NOW)
    with pytest.raises(Invalid):
        compliance.record_stream_check(
            db, provider, a, ok=False, checked_at=NOW + timedelta(minutes=5), now=NOW
        )
    with pytest.raises(Forbidden):  # a district admin sees the camera but is not its provider
        compliance.record_stream_check(db, principal_of("d_heping"), a, ok=False, now=NOW)
    compliance.record_stream_check(db, provider, a, ok=False, note="黑屏", now=NOW)
    assert db.scalar(select(CameraStreamCheck).where(CameraStreamCheck.device_id == a))
    assert db.scalar(select(AuditEntry).where(AuditEntry.action == "device.stream_check"))
    run(db, NOW + timedelta(hours=1))
    got = _cases(db, city.sites["HP-003"])
    assert "video_unviewable" in got
    assert got["video_unviewable"].dedup_key == dedup_key(city.sites["HP-003"], "video_unviewable")


def test_the_gate(db: Session, city: City, fleet: Fleet) -> None:
    site = db.get(Site, city.sites["HP-001"])
    assert site is not None
    gate = compliance.site_gate(db, site)
    assert (gate.required, gate.open, gate.reason) == (True, False, GateReason.nothing_connected)
    _camera(db, city, "HP-001", fleet.delta, "HP001CAM01", True)
    dev = db.get(Device, fleet.devices["hp1"])
    assert dev is not None
    dev.online = True
    db.flush()
    gate = compliance.site_gate(db, site)
    assert (gate.open, gate.reason) == (True, GateReason.connected)


def test_stream_check_endpoint_is_scoped_to_the_provider(
    db: Session, city: City, fleet: Fleet, api_as: Callable[[str], TestClient]
) -> None:
    cam = fleet.devices["hp2"]  # provider delta; gamma has no access
    r = api_as("prov_gamma").post(f"/api/v1/cameras/{cam}/stream-checks", json={"ok": False})
    assert r.status_code in (403, 404)
    r = api_as("admin").post(
        f"/api/v1/cameras/{cam}/stream-checks", json={"ok": True, "note": "画面清晰"}
    )
    assert r.status_code == 201, r.text
    assert r.json()["ok"] is True
    r = api_as("admin").post(f"/api/v1/cameras/{cam}/stream-checks", json={"okay": True})
    assert r.status_code == 422
    far = {"ok": True, "checked_at": "9999-12-31T23:59:00-23:59"}
    r = api_as("admin").post(f"/api/v1/cameras/{cam}/stream-checks", json=far)
    assert r.status_code == 422
    naive = {"ok": True, "checked_at": "2026-12-07T09:00:00"}
    r = api_as("admin").post(f"/api/v1/cameras/{cam}/stream-checks", json=naive)
    assert r.status_code == 422
    assert "时区" in r.text or "time zone" in r.text


def test_the_site_page_shows_the_gate_in_both_languages(
    db: Session, city: City, fleet: Fleet, web_as: Callable[[str], TestClient]
) -> None:
    web = web_as("admin")
    page = web.get(f"/sites/{city.sites['HP-001']}")
    assert page.status_code == 200
    assert 'data-testid="waste-gate"' in page.text
    assert "不得产生建筑垃圾" in page.text
    assert "视频和扬尘监测设备均未接入" in page.text
    web.cookies.set("lang", "en")
    page = web.get(f"/sites/{city.sites['HP-001']}")
    assert "May not produce construction waste" in page.text
    assert "Neither video nor a dust monitor is connected" in page.text
    assert "devices.mandatory" not in page.text


def test_closed_gates_by_unit_for_the_l2_score(db: Session, city: City, fleet: Fleet) -> None:
    closed = compliance.closed_gates_by_unit(db)
    hp1 = db.get(Site, city.sites["HP-001"])
    assert hp1 is not None
    # today: HP-001's monitor is offline (online false), no camera
    assert (hp1.id, GateReason.nothing_connected) in closed[hp1.l2_unit_id]
    hp1.stage = Stage.suspended  # not producing waste: not counted
    db.flush()
    assert hp1.id not in [s for s, _ in compliance.closed_gates_by_unit(db).get(
        hp1.l2_unit_id, [])]  # fmt: skip


def test_closed_gates_at_an_instant_come_from_the_records(
    db: Session, city: City, fleet: Fleet
) -> None:
    """At an instant (a month's end): a device in service then (activated, not removed)
    is connected unless an offline period covers the instant; today's flag does not
    matter."""
    hp1 = city.sites["HP-001"]
    unit = city.units["bureau_heping"]
    cam = _camera(db, city, "HP-001", fleet.delta, "HP001CAM01", online=False)
    end = datetime(2026, 12, 1, tzinfo=UTC)

    def gate_at(at: datetime) -> dict[int, GateReason]:
        return dict(compliance.closed_gates_by_unit(db, at=at).get(unit, []))

    # both in service since 2 Nov, no offline period: open at the month's end
    assert hp1 not in gate_at(end)
    # before their activation: nothing in service
    assert gate_at(ACTIVATED - timedelta(seconds=1))[hp1] == GateReason.nothing_connected
    # the monitor offline over the month's end (from 30 Nov, still open)
    db.add(OfflinePeriod(device_id=fleet.devices["hp1"], started_at=end - timedelta(days=1),
                         detected_at=end - timedelta(days=1)))  # fmt: skip
    db.flush()
    assert gate_at(end)[hp1] == GateReason.no_monitor_connected
    assert hp1 not in gate_at(end - timedelta(days=1, seconds=1))  # a second before it began
    # the camera removed before the month's end: no video either
    camera = db.get(Device, cam)
    assert camera is not None
    camera.removed_at = end - timedelta(hours=1)
    db.flush()
    assert gate_at(end)[hp1] == GateReason.nothing_connected
    # a site retired before the instant is not counted
    site = db.get(Site, hp1)
    assert site is not None
    site.retired_at = end - timedelta(days=2)
    db.flush()
    assert hp1 not in gate_at(end)


def test_a_stream_check_records_the_measured_resolution(
    db: Session, city: City, fleet: Fleet, api_as: Callable[[str], TestClient]
) -> None:
    """A check may measure the streams (003 附件7: the provider's score uses the latest
    measured resolution); a width without its height is refused naming the stream."""
    cam = _camera(db, city, "HP-001", city.enterprises["gamma"], "HP001CAM09", True)
    provider = api_as("prov_gamma")
    url = f"/api/v1/cameras/{cam}/stream-checks"
    body = {"ok": True, "checked_at": "2026-11-20T10:00:00+08:00",
            "main_stream_width": 1919, "main_stream_height": 1080,
            "sub_stream_width": 704, "sub_stream_height": 576}  # fmt: skip
    r = provider.post(url, json=body)
    assert r.status_code == 201, r.text
    out = r.json()
    assert (out["main_stream_width"], out["main_stream_height"]) == (1919, 1080)
    assert (out["sub_stream_width"], out["sub_stream_height"]) == (704, 576)
    row = db.get(CameraStreamCheck, out["id"])
    assert row is not None and (row.main_stream_width, row.sub_stream_height) == (1919, 576)
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "device.stream_check",
                                                AuditEntry.entity_id == cam)).one()  # fmt: skip
    assert entry.changes["main_stream"] == [None, "1919x1080"]
    # only the viewability: no resolution recorded
    r = provider.post(url, json={"ok": False})
    assert r.status_code == 201 and r.json()["main_stream_width"] is None
    # half a resolution: refused, naming the stream
    r = provider.post(url, json={"ok": True, "sub_stream_width": 704})
    assert r.status_code == 422 and "子码流分辨率" in r.text
    r = provider.post(url, json={"ok": True, "main_stream_height": 1080})
    assert r.status_code == 422 and "主码流分辨率" in r.text
    r = provider.post(url, json={"ok": True, "main_stream_width": 0, "main_stream_height": 1080})
    assert r.status_code == 422


def test_the_camera_page_lists_its_stream_checks(
    db: Session, city: City, fleet: Fleet, web_as: Callable[[str], TestClient]
) -> None:
    cam = _camera(db, city, "HP-001", city.enterprises["gamma"], "HP001CAM08", True)
    db.add_all([
        CameraStreamCheck(device_id=cam, checked_at=NOW - timedelta(days=2), ok=True,
                          main_stream_width=1920, main_stream_height=1079,
                          sub_stream_width=704, sub_stream_height=576, recorded_at=NOW),
        CameraStreamCheck(device_id=cam, checked_at=NOW - timedelta(days=1), ok=False,
                          note="画面黑屏", recorded_at=NOW),
    ])  # fmt: skip
    db.flush()
    html = web_as("prov_gamma").get(f"/devices/{cam}").text
    assert 'data-testid="stream-checks"' in html
    assert "1920×1079" in html and "704×576" in html and "画面黑屏" in html
    assert html.index("画面黑屏") < html.index("1920×1079")  # newest first
    assert "无法查看" in html and "devices.checks" not in html
    # a dust monitor has no stream checks card
    monitor = web_as("admin").get(f"/devices/{fleet.devices['hp1']}").text
    assert 'data-testid="stream-checks"' not in monitor
