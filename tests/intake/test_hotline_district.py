"""A district admin opens a case from a complaint only when the city's setting allows it."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.audit.models import AuditEntry
from dustgrid.cases.models import Case, CaseEvent
from dustgrid.cases.states import CaseSource, CaseState
from tests.fixtures.city import City

NEAR_HP001 = {"lat": 41.7915, "lon": 123.4016}


def _complaint(c: TestClient, **kw: object) -> dict:
    body = {"caller_name": "张三", "caller_phone": "13812345678",
            "place_text": "中山路住宅项目东门", "content": "工地土方作业扬尘很大", **NEAR_HP001,
            **kw}  # fmt: skip
    r = c.post("/api/v1/hotline/complaints", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def _allow(admin: TestClient, on: bool) -> None:
    r = admin.put("/api/v1/hotline/settings", json={"district_opens_cases": on})
    assert r.status_code == 200, r.text
    assert r.json()["district_opens_cases"] is on


def test_off_by_default_the_district_admin_is_refused_with_a_clear_message(
    api_as: Callable[[str], TestClient], city: City
) -> None:
    d = api_as("d_heping")
    assert d.get("/api/v1/hotline/settings").json()["district_opens_cases"] is False
    c = _complaint(api_as("admin"))
    r = d.post(f"/api/v1/hotline/complaints/{c['id']}/link",
               json={"site_id": city.sites["HP-001"]})  # fmt: skip
    assert r.status_code == 403
    assert "市级尚未允许区级由投诉立案" in r.text
    en = d.post(f"/api/v1/hotline/complaints/{c['id']}/link",
                json={"site_id": city.sites["HP-001"]},
                headers={"Accept-Language": "en"})  # fmt: skip
    assert en.status_code == 403 and "does not let district admins open cases" in en.text


def test_only_the_city_admin_changes_the_setting_and_the_change_is_audited(
    api_as: Callable[[str], TestClient], db: Session
) -> None:
    r = api_as("d_heping").put("/api/v1/hotline/settings", json={"district_opens_cases": True})
    assert r.status_code == 403 and "只有市级管理员" in r.text
    assert api_as("off_hp1").get("/api/v1/hotline/settings").status_code == 403
    _allow(api_as("admin"), True)
    row = db.scalar(select(AuditEntry).where(AuditEntry.action == "hotline.settings"))
    assert row is not None and row.changes == {"district_opens_cases": [False, True]}


def test_on_the_district_admin_opens_a_case_through_the_workflow(
    api_as: Callable[[str], TestClient], db: Session, city: City
) -> None:
    _allow(api_as("admin"), True)
    d = api_as("d_heping")
    c = _complaint(api_as("admin"))
    r = d.post(f"/api/v1/hotline/complaints/{c['id']}/link",
               json={"site_id": city.sites["HP-001"]})  # fmt: skip
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["status"] == "linked" and out["case_state"] == "reported"
    case = db.get(Case, out["case_id"])
    assert case is not None and case.source == CaseSource.hotline_12319
    assert case.state == CaseState.reported and case.reporter_id == city.users["d_heping"]
    kinds = list(db.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case.id)))
    assert kinds[0] == "case.reported"
    audit = db.scalar(select(AuditEntry).where(
        AuditEntry.action == "hotline.link", AuditEntry.entity_id == c["id"]))  # fmt: skip
    assert audit is not None and audit.actor_id == city.users["d_heping"]
    # the city still dispatches it as any reported case
    moves = api_as("admin").get(f"/api/v1/cases/{case.id}").json()
    assert moves["state"] == "reported"


def test_on_another_district_admin_can_neither_see_nor_open_it(
    api_as: Callable[[str], TestClient], db: Session, city: City
) -> None:
    _allow(api_as("admin"), True)
    c = _complaint(api_as("admin"))
    other = api_as("d_shenhe")
    assert other.get(f"/api/v1/hotline/complaints/{c['id']}").status_code == 404
    r = other.post(f"/api/v1/hotline/complaints/{c['id']}/link",
                   json={"site_id": city.sites["HP-001"]})  # fmt: skip
    assert r.status_code == 404
    # nor can the district admin open one at another district's site
    mine = api_as("d_heping")
    r = mine.post(f"/api/v1/hotline/complaints/{c['id']}/link",
                  json={"site_id": city.sites["SH-001"]})  # fmt: skip
    assert r.status_code in (403, 404, 422), r.text
    assert db.scalar(select(Case.id).where(Case.external_ref == f"complaint:{c['id']}")) is None


def test_switched_off_again_the_district_admin_is_refused(
    api_as: Callable[[str], TestClient], city: City
) -> None:
    admin = api_as("admin")
    _allow(admin, True)
    _allow(admin, False)
    c = _complaint(admin)
    r = api_as("d_heping").post(f"/api/v1/hotline/complaints/{c['id']}/link",
                                json={"site_id": city.sites["HP-001"]})  # fmt: skip
    assert r.status_code == 403
