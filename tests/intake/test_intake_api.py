"""Module-to-module intake (API and ``raise_case``), Open311 keys, and the walk of every
intake API route by every role (forbidden → 403, outside scope → 404)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dustgrid.audit.models import AuditEntry
from dustgrid.cases.models import Case, CaseEvent
from dustgrid.config import Settings
from dustgrid.errors import Invalid
from dustgrid.intake.service import raise_case
from tests.fixtures.city import City
from tests.intake.intake_kit import who

# Intake routes this module walks (registered in tests/auth/walk_registry.py).
WALKED = {
    ("POST", "/api/v1/hotline/complaints"),
    ("GET", "/api/v1/hotline/complaints"),
    ("GET", "/api/v1/hotline/complaints/{complaint_id}"),
    ("GET", "/api/v1/hotline/complaints/{complaint_id}/suggestions"),
    ("POST", "/api/v1/hotline/complaints/{complaint_id}/link"),
    ("POST", "/api/v1/hotline/complaints/{complaint_id}/dismiss"),
    ("POST", "/api/v1/hotline/complaints/{complaint_id}/feedback"),
    ("GET", "/api/v1/hotline/stats"),
    ("GET", "/api/v1/hotline/settings"),
    ("PUT", "/api/v1/hotline/settings"),
    ("POST", "/api/v1/cases/intake"),
    ("POST", "/api/v1/cases/intake/updates"),
    ("GET", "/api/v1/open311/keys"),
    ("POST", "/api/v1/open311/keys"),
    ("POST", "/api/v1/open311/keys/{key_id}/revoke"),
    ("POST", "/api/v1/webhooks/video-ai"),  # device key, walked in test_video_webhook
}
DESK = {"admin", "d_heping", "d_shenhe", "safety_admin"}
ROLES = sorted(
    DESK | {"st_heping", "off_hp1", "insp_hp1", "con_alpha", "prov_gamma", "viewer_city"}
)
# a complaint recorded by L1 at a point in 和平区 (seen by L1 and 和平's bureau only)
SEES_HEPING_COMPLAINT = {"admin", "d_heping"}


def _intake(c: TestClient, city: City, **kw: object) -> object:
    body = {"source": "sensor", "site_id": city.sites["HP-001"], "category": "dust_exceedance",
            "description": "PM10 小时均值超标", "severity": "medium", **kw}  # fmt: skip
    return c.post("/api/v1/cases/intake", json=body)


def test_intake_opens_then_merges_and_keeps_evidence(
    api_as: Callable[[str], TestClient], db: Session, city: City
) -> None:
    admin = api_as("admin")
    r = _intake(admin, city, evidence={"pm10": 412.5, "rule": "pm10_hourly"})
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    first = r.json()  # type: ignore[attr-defined]
    assert first["created"]
    assert first["dedup_key"] == f"sensor:{city.sites['HP-001']}:dust_exceedance"
    second = _intake(admin, city).json()  # type: ignore[attr-defined]
    assert not second["created"] and second["case_id"] == first["case_id"]
    assert second["merged_count"] == 1
    kinds = list(db.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == first["case_id"])))
    assert kinds.count("case.evidence") == 1 and "case.merged" in kinds
    nodedup = _intake(admin, city, dedup=False).json()  # type: ignore[attr-defined]
    assert nodedup["created"] and nodedup["case_id"] != first["case_id"]
    mine = AuditEntry.actor_id == city.users["admin"]
    audits = db.scalar(select(func.count()).where(AuditEntry.action == "intake.raise", mine))
    assert audits == 3


def test_intake_update_by_reference(
    api_as: Callable[[str], TestClient], db: Session, city: City
) -> None:
    admin = api_as("admin")
    case_id = _intake(admin, city, source="city_brain", category="unpermitted_construction",  # type: ignore[attr-defined]
                      external_ref="CB-2026-001").json()["case_id"]  # fmt: skip
    r = admin.post("/api/v1/cases/intake/updates",
                   json={"source": "city_brain", "external_ref": "CB-2026-001",
                         "text": "复核：已停工"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["case_id"] == case_id
    body = {"source": "city_brain", "external_ref": "nope", "text": "x"}
    missing = admin.post("/api/v1/cases/intake/updates", json=body)
    assert missing.status_code == 404


def test_intake_bad_input(api_as: Callable[[str], TestClient], db: Session, city: City) -> None:
    admin = api_as("admin")
    before = db.scalar(select(func.count()).select_from(Case))
    assert _intake(admin, city, site_id=999999).status_code == 422  # type: ignore[attr-defined]
    assert _intake(admin, city, category="nope").status_code == 422  # type: ignore[attr-defined]
    r = _intake(admin, city, source="third_party_inspector")
    assert r.status_code == 422  # type: ignore[attr-defined]
    r = admin.post("/api/v1/cases/intake", json={"source": "sensor", "category": "other",
                                                 "description": "无位置"})  # fmt: skip
    assert r.status_code == 422
    assert db.scalar(select(func.count()).select_from(Case)) == before


@pytest.mark.parametrize("user", ["off_hp1", "d_heping", "insp_hp1", "con_alpha", "viewer_city"])
def test_intake_forbidden_to_non_system_callers(
    user: str, api_as: Callable[[str], TestClient], city: City
) -> None:
    c = api_as(user)
    assert _intake(c, city).status_code == 403  # type: ignore[attr-defined]
    r = c.post("/api/v1/cases/intake/updates",
               json={"source": "sensor", "external_ref": "x", "text": "x"})  # fmt: skip
    assert r.status_code == 403
    assert c.get("/api/v1/open311/keys").status_code == 403
    assert c.post("/api/v1/open311/keys", json={"name": "市民通"}).status_code == 403


def test_raise_case_python_api(db: Session, city: City, settings: Settings) -> None:
    case, created = raise_case(db, source="sensor", category="dust_exceedance",
                               description="PM2.5 超标", site_id=city.sites["SH-001"],
                               settings=settings)  # fmt: skip
    assert created and case.reporter_id is None
    again, created = raise_case(db, source="sensor", category="dust_exceedance",
                                description="再次超标", site_id=city.sites["SH-001"],
                                settings=settings)  # fmt: skip
    assert not created and again.id == case.id
    higher, created = raise_case(db, source="higher_assignment", category="other",
                                 description="省厅交办", site_id=city.sites["SH-002"],
                                 caller=who(db, city, "admin"), settings=settings)  # fmt: skip
    assert created and higher.reporter_id == city.users["admin"]
    with pytest.raises(Invalid):
        raise_case(db, source="sensor", category="other", description="x" * 5,
                   evidence={"blob": "x" * 20000}, site_id=city.sites["SH-001"],
                   settings=settings)  # fmt: skip


def test_open311_keys_issue_list_revoke(api_as: Callable[[str], TestClient]) -> None:
    admin = api_as("admin")
    r = admin.post("/api/v1/open311/keys", json={"name": "市民随手拍"})
    assert r.status_code == 201, r.text
    issued = r.json()
    assert issued["api_key"].startswith("o311_") and issued["api_key"][:12] == issued["prefix"]
    listed = admin.get("/api/v1/open311/keys").json()
    assert issued["id"] in {k["id"] for k in listed}
    assert all("api_key" not in k for k in listed)
    r = admin.post(f"/api/v1/open311/keys/{issued['id']}/revoke")
    assert r.status_code == 200 and r.json()["revoked_at"]
    assert admin.post("/api/v1/open311/keys/999999/revoke").status_code == 404


@pytest.mark.parametrize("user", ROLES)
def test_walk_hotline_routes(user: str, api_as: Callable[[str], TestClient], city: City) -> None:
    """Every desk route as every role: 403 without the permission, 404 outside scope."""
    complaint = api_as("admin").post("/api/v1/hotline/complaints", json={
        "content": "夜间施工扬尘", "place_text": "中山路", "lat": 41.7915, "lon": 123.4016,
    }).json()  # fmt: skip
    base = f"/api/v1/hotline/complaints/{complaint['id']}"
    c = api_as(user)
    calls = [
        ("GET", base, None),
        ("GET", f"{base}/suggestions", None),
        ("POST", f"{base}/feedback", {"responded": True}),
        ("POST", f"{base}/dismiss", {"reason": "walk test"}),
        ("POST", f"{base}/link", {"site_id": city.sites["HP-001"]}),
    ]
    for method, url, body in calls:
        r = c.request(method, url, json=body)
        if user not in DESK:
            assert r.status_code == 403, (user, method, url, r.text)
        elif user not in SEES_HEPING_COMPLAINT:
            assert r.status_code == 404, (user, method, url, r.text)
        else:
            assert r.status_code in (200, 403, 409), (user, method, url, r.text)
    listed = c.get("/api/v1/hotline/complaints", params={"size": 200})
    if user not in DESK:
        assert listed.status_code == 403
    else:
        ids = {i["id"] for i in listed.json()["items"]}
        assert (complaint["id"] in ids) == (user in SEES_HEPING_COMPLAINT), user
        assert c.get("/api/v1/hotline/stats").status_code == 200
    # the city's desk settings: read by the desk, changed by the city admin only
    read = c.get("/api/v1/hotline/settings")
    change = c.put("/api/v1/hotline/settings", json={"district_opens_cases": False})
    assert read.status_code == (200 if user in DESK else 403), user
    assert change.status_code == (200 if user == "admin" else 403), user
