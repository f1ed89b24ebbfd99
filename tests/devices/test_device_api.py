"""Device and onboarding routes walked as every role: reads outside scope answer 404, a
role without the permission 403 (registered with tests/auth/walk_registry)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.devices import keys as device_keys
from dustgrid.devices import onboarding, service
from dustgrid.devices.models import DeviceApiKey, DeviceChangeRequest, RequestKind
from dustgrid.devices.policy import DEFAULT_ONBOARDING_POLICY
from dustgrid.devices.schemas import ApplicationCreate
from tests.devices.conftest import Fleet
from tests.fixtures.city import City

WALKED = {
    ("GET", "/api/v1/devices"),
    ("POST", "/api/v1/devices"),
    ("GET", "/api/v1/devices/quarantine"),
    ("POST", "/api/v1/devices/quarantine/{quarantine_id}/adopt"),
    ("GET", "/api/v1/devices/{device_id}"),
    ("PATCH", "/api/v1/devices/{device_id}"),
    ("GET", "/api/v1/devices/{device_id}/offline-periods"),
    ("POST", "/api/v1/devices/{device_id}/offline-notice"),
    ("GET", "/api/v1/devices/{device_id}/keys"),
    ("POST", "/api/v1/devices/{device_id}/keys"),
    ("POST", "/api/v1/devices/{device_id}/keys/{key_id}/revoke"),
    ("GET", "/api/v1/devices/{device_id}/requests"),
    ("POST", "/api/v1/devices/{device_id}/requests"),
    ("POST", "/api/v1/devices/{device_id}/requests/{request_id}/decide"),
    ("GET", "/api/v1/devices/{device_id}/audit"),
    ("GET", "/api/v1/onboarding"),
    ("POST", "/api/v1/onboarding"),
    ("GET", "/api/v1/onboarding/{application_id}"),
    ("POST", "/api/v1/onboarding/{application_id}/review"),
    ("POST", "/api/v1/onboarding/{application_id}/test"),
    ("POST", "/api/v1/onboarding/{application_id}/install"),
}

Api = Callable[[str], TestClient]
ALL = {"hp1", "hp2", "sh1", "m01", "ref"}
VISIBLE: dict[str, set[str]] = {
    "admin": ALL,
    "viewer_city": ALL,
    "d_heping": {"hp1", "hp2", "ref"},
    "viewer_heping": {"hp1", "hp2", "ref"},
    "d_shenhe": {"sh1"},
    "safety_admin": {"m01"},
    "st_heping": {"hp1", "hp2", "ref"},  # not the city station's metro site
    "st_shenhe": {"sh1"},
    "off_hp1": {"hp1", "hp2", "ref"},
    "off_sh1": {"sh1"},
    "insp_hp1": {"hp1", "hp2", "m01"},
    "insp_sh2": {"sh1"},
    "con_alpha": {"hp1", "hp2"},
    "con_beta": {"sh1", "m01"},
    "prov_gamma": {"hp1", "sh1"},
}
# Devices each admin may change (everyone else: none).
WRITABLE = {
    "admin": ALL,
    "d_heping": {"hp1", "hp2", "ref"},
    "d_shenhe": {"sh1"},
    "safety_admin": {"m01"},
}
REQUESTERS = {
    "admin",
    "d_heping",
    "d_shenhe",
    "safety_admin",
    "con_alpha",
    "con_beta",
    "prov_gamma",
}
ROLES = sorted(VISIBLE)
# Who sees an application for HP-001 (contractor alpha, provider gamma).
APP_VISIBLE = {
    "admin", "viewer_city", "d_heping", "viewer_heping", "st_heping", "off_hp1",
    "insp_hp1", "con_alpha", "prov_gamma",
}  # fmt: skip


def _expect(user: str, key: str, *, writer_code: int = 200) -> int:
    if key not in VISIBLE[user]:
        return 404
    return writer_code if key in WRITABLE.get(user, set()) else 403


@pytest.mark.parametrize("user", ROLES)
def test_reads_follow_scope(user: str, api_as: Api, fleet: Fleet) -> None:
    c = api_as(user)
    listed = c.get("/api/v1/devices", params={"size": 200}).json()
    by_id = {v: k for k, v in fleet.devices.items()}
    assert {by_id[i["id"]] for i in listed["items"] if i["id"] in by_id} == VISIBLE[user]
    for key, dev in fleet.devices.items():
        code = 200 if key in VISIBLE[user] else 404
        for suffix in ("", "/offline-periods", "/requests", "/audit"):
            r = c.get(f"/api/v1/devices/{dev}{suffix}")
            assert r.status_code == code, (user, key, suffix, r.text)
    if "hp1" in VISIBLE[user]:
        detail = c.get(f"/api/v1/devices/{fleet.devices['hp1']}").json()
        assert "password" not in detail and detail["has_password"] is True


@pytest.mark.parametrize("user", ROLES)
def test_device_writes_and_keys(
    user: str, api_as: Api, fleet: Fleet, db: Session, principal_of: Callable
) -> None:
    c = api_as(user)
    admin = principal_of("admin")
    for key, dev in fleet.devices.items():
        r = c.patch(f"/api/v1/devices/{dev}", json={"model": "YC-9", "offline_after_minutes": 45})
        assert r.status_code == _expect(user, key), (user, key, r.text)
        assert c.get(f"/api/v1/devices/{dev}/keys").status_code == _expect(user, key)
        issued = c.post(f"/api/v1/devices/{dev}/keys")
        assert issued.status_code == _expect(user, key, writer_code=201), (user, key)
        row, _ = device_keys.issue_key(db, admin, dev)
        db.commit()
        r = c.post(f"/api/v1/devices/{dev}/keys/{row.id}/revoke")
        assert r.status_code == _expect(user, key), (user, key, r.text)
        # Not offline: a writer gets 409, the rest are refused before that.
        r = c.post(f"/api/v1/devices/{dev}/offline-notice")
        assert r.status_code == _expect(user, key, writer_code=409), (user, key, r.text)


@pytest.mark.parametrize("user", ROLES)
def test_change_requests(
    user: str, api_as: Api, fleet: Fleet, db: Session, principal_of: Callable
) -> None:
    from dustgrid.devices import changes
    from dustgrid.devices.schemas import ChangeRequestIn

    c = api_as(user)
    for key, dev in fleet.devices.items():
        r = c.post(
            f"/api/v1/devices/{dev}/requests",
            json={"kind": "move", "reason": "调整", "new_position": "西门"},
        )
        want = 404 if key not in VISIBLE[user] else (201 if user in REQUESTERS else 403)
        assert r.status_code == want, (user, key, r.text)
        pending = db.scalar(
            select(DeviceChangeRequest).where(DeviceChangeRequest.device_id == dev)
        ) or changes.create_request(
            db,
            principal_of("admin"),
            dev,
            ChangeRequestIn(kind=RequestKind.move, reason="调整", new_position="西门"),
        )
        db.commit()
        r = c.post(f"/api/v1/devices/{dev}/requests/{pending.id}/decide", json={"approve": False})
        assert r.status_code == _expect(user, key), (user, key, r.text)


@pytest.mark.parametrize("user", ROLES)
def test_register_quarantine_and_adopt(user: str, api_as: Api, city: City, db: Session) -> None:
    c = api_as(user)
    body = {"mn": f"N{user[:8]}", "kind": "dust_monitor", "site_id": city.sites["HP-001"]}
    r = c.post("/api/v1/devices", json=body)
    want = {"admin": 201, "d_heping": 201, "d_shenhe": 422, "safety_admin": 422}.get(user, 403)
    assert r.status_code == want, (user, r.text)
    q = service.record_quarantine(
        db, mn=f"Q{user[:8]}", reason="unknown_mn", peer="p", frame_text="f"
    )
    db.commit()
    listed = c.get("/api/v1/devices/quarantine")
    assert listed.status_code == (200 if user in WRITABLE else 403)
    r = c.post(f"/api/v1/devices/quarantine/{q.id}/adopt", json={"site_id": city.sites["HP-001"]})
    # an MN of no device is city business: district admins neither see nor adopt it
    want = {"admin": 201}.get(user, 404 if user in WRITABLE else 403)
    assert r.status_code == want, (user, r.text)
    if listed.status_code == 200:
        assert (f"Q{user[:8]}" in {row["mn"] for row in listed.json()}) == (user == "admin")
    if want == 201:
        assert r.json()["mn"] == f"Q{user[:8]}" and r.json()["lifecycle"] == "active"
        gone = c.get("/api/v1/devices/quarantine").json()
        assert f"Q{user[:8]}" not in {row["mn"] for row in gone}


def _application(db: Session, city: City, principal_of: Callable, mn: str) -> int:
    app = onboarding.create_application(
        db,
        principal_of("con_alpha"),
        ApplicationCreate(
            site_id=city.sites["HP-001"],
            provider_id=city.enterprises["gamma"],
            devices=[
                {
                    "mn": mn,
                    "kind": "video_camera",
                    "main_stream_width": 1920,
                    "main_stream_height": 1080,
                }
            ],
        ),
    )
    db.commit()
    return app.id


@pytest.mark.parametrize("user", ROLES)
def test_onboarding_routes(
    user: str, api_as: Api, city: City, db: Session, principal_of: Callable
) -> None:
    c = api_as(user)
    app_id = _application(db, city, principal_of, f"A{user[:10]}")
    listed = c.get("/api/v1/onboarding").json()
    assert (app_id in {a["id"] for a in listed["items"]}) == (user in APP_VISIBLE)
    assert c.get(f"/api/v1/onboarding/{app_id}").status_code == (
        200 if user in APP_VISIBLE else 404
    )
    reviewers = {"admin", "d_heping"}
    want = 200 if user in reviewers else (403 if user in APP_VISIBLE else 404)
    for step, body in (
        ("review", {"approve": True}),
        ("test", {"passed": True}),
        ("install", None),
    ):
        r = c.post(f"/api/v1/onboarding/{app_id}/{step}", json=body)
        assert r.status_code == want, (user, step, r.text)
    new = {
        "site_id": city.sites["HP-001"],
        "provider_id": city.enterprises["gamma"],
        "devices": [{"mn": f"B{user[:10]}", "kind": "dust_monitor"}],
    }
    r = c.post("/api/v1/onboarding", json=new)
    appliers = {
        "admin": 201,
        "d_heping": 201,
        "con_alpha": 201,
        "d_shenhe": 422,
        "safety_admin": 422,
        "con_beta": 422,
    }
    assert r.status_code == appliers.get(user, 403), (user, r.text)


def test_onboarding_walk_over_http(api_as: Api, city: City) -> None:
    con, admin = api_as("con_alpha"), api_as("d_heping")
    body = {
        "site_id": city.sites["HP-002"],
        "provider_id": city.enterprises["gamma"],
        "pre_approved_model": True,
        "devices": [
            {"mn": "WALK0001", "kind": "dust_monitor", "model": "YC-3000", "position": "东门"},
            {
                "mn": "WALK0002",
                "kind": "video_camera",
                "main_stream_width": 1920,
                "main_stream_height": 1080,
            },
        ],
    }
    r = con.post("/api/v1/onboarding", json=body)
    assert r.status_code == 201, r.text
    app = r.json()
    assert app["status"] == "submitted" and {d["lifecycle"] for d in app["devices"]} == {"applied"}
    assert (
        api_as("off_hp1")
        .post(f"/api/v1/onboarding/{app['id']}/review", json={"approve": True})
        .status_code
        == 403
    )
    assert (
        con.post(f"/api/v1/onboarding/{app['id']}/review", json={"approve": True}).status_code
        == 403
    )
    r = admin.post(f"/api/v1/onboarding/{app['id']}/review", json={"approve": True, "note": "同意"})
    reviewed = r.json()
    at = datetime.fromisoformat(reviewed["reviewed_at"])
    assert date.fromisoformat(reviewed["test_due_date"]) == DEFAULT_ONBOARDING_POLICY.test_due(
        at, pre_approved=True
    )
    assert admin.post(f"/api/v1/onboarding/{app['id']}/install").status_code == 409
    tested = admin.post(f"/api/v1/onboarding/{app['id']}/test", json={"passed": True}).json()
    t_at = datetime.fromisoformat(tested["tested_at"])
    assert date.fromisoformat(tested["install_due_date"]) == DEFAULT_ONBOARDING_POLICY.install_due(
        t_at
    )
    done = admin.post(f"/api/v1/onboarding/{app['id']}/install").json()
    assert done["status"] == "completed" and {d["lifecycle"] for d in done["devices"]} == {"active"}
    dev = con.get(f"/api/v1/devices/{done['devices'][1]['id']}").json()
    assert dev["main_stream_width"] == 1920 and [s["key"] for s in dev["steps"]][-1] == "online"


def test_key_is_returned_once_and_only_hashed(api_as: Api, fleet: Fleet, db: Session) -> None:
    c = api_as("d_heping")
    r = c.post(f"/api/v1/devices/{fleet.devices['hp1']}/keys")
    assert r.status_code == 201
    issued = r.json()
    plaintext = issued["key"]
    listed = c.get(f"/api/v1/devices/{fleet.devices['hp1']}/keys").json()
    assert listed and all("key" not in k and "key_hash" not in k for k in listed)
    row = db.get(DeviceApiKey, issued["id"])
    assert row is not None and row.key_hash != plaintext and row.prefix == issued["prefix"]
    assert device_keys.verify_api_key(db, plaintext).id == fleet.devices["hp1"]  # type: ignore[union-attr]
    c.post(f"/api/v1/devices/{fleet.devices['hp1']}/keys/{issued['id']}/revoke")
    assert device_keys.verify_api_key(db, plaintext) is None


def test_filters_and_provider_sites(api_as: Api, fleet: Fleet, city: City) -> None:
    admin = api_as("admin")
    got = admin.get("/api/v1/devices", params={"kind": "video_camera"}).json()["items"]
    assert {i["id"] for i in got} == {fleet.devices["hp2"]}
    got = admin.get("/api/v1/devices", params={"provider_id": fleet.delta}).json()["items"]
    assert {i["id"] for i in got} == {fleet.devices["hp2"], fleet.devices["m01"]}
    got = admin.get(
        "/api/v1/devices", params={"site_id": city.sites["SH-001"], "online": "false"}
    ).json()
    assert [i["id"] for i in got["items"]] == [fleet.devices["sh1"]]
    assert admin.get("/api/v1/devices", params={"online": "maybe"}).status_code == 422
    # A provider sees the sites where its devices are, and nothing else.
    sites = api_as("prov_gamma").get("/api/v1/sites").json()["items"]
    assert {s["project_code"] for s in sites} == {"HP-001", "SH-001"}


def test_unauthenticated_is_401(anon: TestClient, fleet: Fleet) -> None:
    assert anon.get("/api/v1/devices").status_code == 401
    assert anon.get(f"/api/v1/devices/{fleet.devices['hp1']}").status_code == 401
    assert anon.get("/api/v1/onboarding").status_code == 401


@pytest.mark.parametrize("user", sorted(WRITABLE))
def test_quarantine_is_scoped_by_device(user: str, api_as: Api, fleet: Fleet, db: Session) -> None:
    """Issue 10 §13: a district admin sees the quarantined frames of its own devices (wrong
    password, CRC variant), not the city's unknown MNs nor other districts' devices."""
    for key in ("hp1", "sh1"):
        service.record_quarantine(
            db, mn=fleet.mns[key], reason="bad_password", peer="10.0.0.9:5000", frame_text="PW=x"
        )
    service.record_quarantine(db, mn="UNCLAIMED-1", reason="unknown_mn", peer="p", frame_text="f")
    db.commit()
    client = api_as(user)
    adoptable = {row["mn"] for row in client.get("/api/v1/devices/quarantine").json()}
    registered = client.get("/api/v1/devices/quarantine", params={"registered": "true"}).json()
    want = {k for k in ("hp1", "sh1") if k in WRITABLE[user]}
    assert {row["mn"] for row in registered} == {fleet.mns[k] for k in want}
    assert adoptable == ({"UNCLAIMED-1"} if user == "admin" else set())
