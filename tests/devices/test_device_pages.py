"""Device pages: list, device page, quarantine, onboarding forms, the site fragment;
forms with CSRF, role-dependent buttons, scope (404), English."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.audit.service import entries_for
from dustgrid.config import Settings
from dustgrid.devices import keys, online, service
from dustgrid.devices.models import (
    ApplicationStatus,
    Device,
    DeviceApiKey,
    DeviceChangeRequest,
    Lifecycle,
    OnboardingApplication,
)
from dustgrid.identity.deps import app_settings
from dustgrid.identity.principal import Principal
from dustgrid.models import utcnow
from dustgrid.workcal.calendar import people_time
from tests.devices.conftest import Fleet
from tests.fixtures.city import City

Web = Callable[[str], TestClient]


def test_device_list_shows_scope_and_filters(web_as: Web, fleet: Fleet) -> None:
    page = web_as("admin").get("/devices")
    assert page.status_code == 200
    for text in (
        "智能感知设备",
        fleet.mns["hp1"],
        fleet.mns["ref"],
        "扬尘监测仪",
        "伽马环境监测",
        "从未上报",
    ):
        assert text in page.text, text
    assert 'data-testid="quarantine-link"' in page.text
    alpha = web_as("con_alpha").get("/devices")
    assert fleet.mns["hp1"] in alpha.text and fleet.mns["sh1"] not in alpha.text
    assert 'data-testid="quarantine-link"' not in alpha.text
    assert 'data-testid="apply-link"' in alpha.text
    only = web_as("admin").get("/devices", params={"kind": "video_camera", "online": ""})
    assert fleet.mns["hp2"] in only.text and fleet.mns["hp1"] not in only.text
    english = web_as("admin")
    english.cookies.set("lang", "en")
    assert "Smart sensing devices" in english.get("/devices").text


def test_device_page_timeline_periods_and_online_dot(
    web_as: Web, fleet: Fleet, db: Session, city: City
) -> None:
    hp1 = fleet.devices["hp1"]
    now = utcnow()
    online.mark_seen(db, device_id=hp1, at=now, metrics={"pm10": (now, 88.0)})
    db.commit()
    page = web_as("d_heping").get(f"/devices/{hp1}")
    assert page.status_code == 200
    for text in (
        "在线",
        "PM10",
        "88.0",
        "接入密钥",
        'data-testid="issue-key-form"',
        'data-testid="request-form"',
    ):
        assert text in page.text, text
    # An onboarded device shows its steps with due dates.
    app = OnboardingApplication(
        site_id=city.sites["HP-001"],
        status=ApplicationStatus.approved,
        submitted_at=now,
        reviewed_at=now,
        test_due_date=now.date().replace(year=2020),
    )
    db.add(app)
    db.flush()
    dev = db.get(Device, hp1)
    assert dev is not None
    dev.application_id = app.id
    db.commit()
    page = web_as("con_alpha").get(f"/devices/{hp1}")
    assert 'data-step="test" data-state="pending" data-light="red"' in page.text
    assert "已逾期" in page.text and "2020-" in page.text
    assert "接入密钥" not in page.text and 'data-testid="request-form"' in page.text
    assert web_as("con_beta").get(f"/devices/{hp1}").status_code == 404


def test_offline_notice_and_period_table(web_as: Web, fleet: Fleet, db: Session) -> None:
    hp1 = fleet.devices["hp1"]
    online.sweep_offline(db, now=utcnow())
    db.commit()
    c = web_as("d_heping")
    page = c.get(f"/devices/{hp1}")
    assert "仍离线" in page.text and 'data-testid="notice-form"' in page.text
    r = c.post(f"/devices/{hp1}/offline-notice", data={"csrf_token": c.csrf})  # type: ignore[attr-defined]
    assert r.status_code == 303
    page = c.get(f"/devices/{hp1}")
    assert "已记录通知时间" in page.text and 'data-testid="notice-form"' not in page.text
    assert 'data-testid="notice-form"' not in web_as("con_alpha").get(f"/devices/{hp1}").text


def test_key_issued_once_on_the_page(web_as: Web, fleet: Fleet, db: Session) -> None:
    c = web_as("admin")
    dev = fleet.devices["m01"]
    r = c.post(f"/devices/{dev}/keys", data={"csrf_token": "wrong"})
    assert r.status_code == 403
    r = c.post(f"/devices/{dev}/keys", data={"csrf_token": c.csrf})  # type: ignore[attr-defined]
    assert r.status_code == 200
    key = re.search(r'data-testid="plaintext-key">([^<]+)<', r.text)
    assert key is not None
    row = db.scalar(select(DeviceApiKey).where(DeviceApiKey.device_id == dev))
    assert row is not None and row.key_hash != key.group(1)
    again = c.get(f"/devices/{dev}")
    assert key.group(1) not in again.text and row.prefix in again.text
    r = c.post(f"/devices/{dev}/keys/{row.id}/revoke", data={"csrf_token": c.csrf})  # type: ignore[attr-defined]
    assert r.status_code == 303
    db.refresh(row)
    assert row.revoked_at is not None


def test_request_and_decide_through_forms(
    web_as: Web, fleet: Fleet, db: Session, city: City
) -> None:
    hp1 = fleet.devices["hp1"]
    con = web_as("con_alpha")
    form = {
        "csrf_token": con.csrf,
        "kind": "move",
        "new_site_id": str(city.sites["HP-002"]),
        "reason": "基坑开挖",
    }  # type: ignore[attr-defined]
    assert con.post(f"/devices/{hp1}/requests", data=form).status_code == 303
    assert "申请已提交" in con.get(f"/devices/{hp1}").text
    # A second one is refused with a message, not an error page.
    con.post(f"/devices/{hp1}/requests", data={**form, "kind": "remove"})
    assert "待审批的申请" in con.get(f"/devices/{hp1}").text
    req = db.scalar(select(DeviceChangeRequest).where(DeviceChangeRequest.device_id == hp1))
    assert req is not None
    admin = web_as("d_heping")
    assert 'data-testid="decide-form"' in admin.get(f"/devices/{hp1}").text
    r = admin.post(
        f"/devices/{hp1}/requests/{req.id}/decide",
        data={"csrf_token": admin.csrf, "decision": "yes", "note": "同意"},  # type: ignore[attr-defined]
    )
    assert r.status_code == 303
    dev = db.get(Device, hp1)
    assert dev is not None
    db.refresh(dev)
    assert dev.site_id == city.sites["HP-002"]
    r = con.post(
        f"/devices/{hp1}/requests/{req.id}/decide", data={"csrf_token": con.csrf, "decision": "yes"}
    )  # type: ignore[attr-defined]
    assert r.status_code == 403


def test_onboarding_pages_walk(web_as: Web, city: City, db: Session) -> None:
    con = web_as("con_alpha")
    page = con.get(f"/onboarding/new?site_id={city.sites['HP-001']}")
    assert page.status_code == 200 and 'data-testid="application-form"' in page.text
    assert "沈河区" not in page.text  # only the contractor's own sites are offered
    form = {
        "csrf_token": con.csrf,  # type: ignore[attr-defined]
        "site_id": str(city.sites["HP-001"]),
        "provider_id": str(city.enterprises["gamma"]),
        "pre_approved_model": "1",
        "mn_0": "PG000001",
        "kind_0": "dust_monitor",
        "model_0": "YC-3000",
        "position_0": "东门",
        "mn_1": "PG000002",
        "kind_1": "video_camera",
        "main_1": "1920x1080",
        "sub_1": "704×576",
    }
    r = con.post("/onboarding/new", data=form)
    assert r.status_code == 303, r.text
    app_path = r.headers["location"]
    page = con.get(app_path)
    assert "接入申请已提交" in page.text and "PG000002" in page.text
    assert 'data-testid="step-form"' not in page.text  # the contractor cannot review
    cam = db.scalar(select(Device).where(Device.mn == "PG000002"))
    assert cam is not None and (cam.sub_stream_width, cam.sub_stream_height) == (704, 576)
    dup = con.post("/onboarding/new", data=form)
    assert dup.status_code == 422 and "MN 已登记" in dup.text
    admin = web_as("d_heping")
    assert 'data-step="review"' in admin.get(app_path).text
    for step in ("review", "test", "install"):
        r = admin.post(f"{app_path}/{step}", data={"csrf_token": admin.csrf, "decision": "yes"})  # type: ignore[attr-defined]
        assert r.status_code == 303
    page = admin.get(app_path)
    assert "已接入" in page.text and 'data-testid="step-form"' not in page.text
    db.refresh(cam)
    assert cam.lifecycle == Lifecycle.active
    listing = admin.get("/onboarding")
    assert app_path.split("/")[-1] in listing.text
    assert web_as("d_shenhe").get(app_path).status_code == 404
    assert web_as("off_hp1").get("/onboarding/new").status_code == 403


def test_quarantine_page_and_adopt(web_as: Web, db: Session, city: City, fleet: Fleet) -> None:
    service.record_quarantine(
        db, mn="UNK00001", reason="unknown_mn", peer="1.2.3.4:5", frame_text="##0101QN"
    )
    service.record_quarantine(
        db, mn=fleet.mns["hp1"], reason="bad_password", peer="1.2.3.4:6", frame_text="x"
    )
    db.commit()
    district = web_as("d_heping").get("/devices/quarantine")  # its own device only
    assert district.status_code == 200 and "UNK00001" not in district.text
    assert fleet.mns["hp1"] in district.text
    c = web_as("admin")
    page = c.get("/devices/quarantine")
    assert page.status_code == 200 and "UNK00001" in page.text and "未登记 MN" in page.text
    assert f'href="/devices/{fleet.devices["hp1"]}" data-testid="registered-link"' in page.text
    qid = re.search(r'action="/devices/quarantine/(\d+)/adopt"', page.text)
    assert qid is not None
    r = c.post(
        f"/devices/quarantine/{qid.group(1)}/adopt",
        data={"csrf_token": c.csrf, "kind": "dust_monitor", "site_id": str(city.sites["HP-003"])},  # type: ignore[attr-defined]
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/devices/")
    assert "UNK00001" in c.get(r.headers["location"]).text
    assert web_as("con_alpha").get("/devices/quarantine").status_code == 403


def test_site_fragment(web_as: Web, fleet: Fleet, city: City) -> None:
    c = web_as("con_alpha")
    site_page = c.get(f"/sites/{city.sites['HP-001']}")
    assert f'hx-get="/sites/{city.sites["HP-001"]}/devices"' in site_page.text
    frag = c.get(f"/sites/{city.sites['HP-001']}/devices")
    assert frag.status_code == 200
    assert fleet.mns["hp1"] in frag.text and fleet.mns["hp2"] not in frag.text
    assert "<html" not in frag.text and 'data-testid="apply-link"' in frag.text
    assert c.get(f"/sites/{city.sites['SH-001']}/devices").status_code == 404
    prov = web_as("prov_gamma").get(f"/sites/{city.sites['SH-001']}/devices")
    assert prov.status_code == 200 and fleet.mns["sh1"] in prov.text


def test_device_page_times_follow_the_zone_setting(
    web_as: Web,
    fleet: Fleet,
    db: Session,
    app: object,
    settings: Settings,
    principal_of: Callable[[str], Principal],
) -> None:
    """The last report and the change history are written on the city's clock (the
    ``timezone`` setting), not China time whatever the setting says."""
    hp1 = fleet.devices["hp1"]
    dev = db.get(Device, hp1)
    assert dev is not None
    dev.last_seen_at = datetime(2026, 12, 6, 17, 30, tzinfo=UTC)  # 12-07 01:30 in China
    keys.issue_key(db, principal_of("admin"), hp1)  # a change in the device's history
    db.commit()
    zone = ZoneInfo("America/New_York")
    moved = settings.model_copy(update={"timezone": zone.key})
    app.dependency_overrides[app_settings] = lambda: moved  # type: ignore[attr-defined]
    page = web_as("d_heping").get(f"/devices/{hp1}").text
    seen = re.search(r'data-testid="last-seen">([^<]+)<', page)
    assert seen is not None and seen.group(1) == "2026-12-06 12:30"
    changed = entries_for(db, entity_type="device", entity_id=hp1)
    assert changed
    for entry in changed:
        assert people_time(entry.at, zone) in page and people_time(entry.at) not in page
