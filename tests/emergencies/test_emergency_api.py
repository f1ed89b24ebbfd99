"""The emergencies API and pages through the real app: declare (city admin), list, compliance,
end early; scope per role; bad input named field by field."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.fixtures.city import City

WALKED = {
    ("GET", "/api/v1/emergencies"),
    ("POST", "/api/v1/emergencies"),
    ("POST", "/api/v1/emergencies/{emergency_id}/end"),
    ("GET", "/api/v1/emergencies/{emergency_id}/sites"),
}


def _body(**change: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "level": "orange",
        "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(days=2)).isoformat(),
        "area_kind": "city",
        **change,
    }


def _declare(api_as: Callable[[str], TestClient], **change: Any) -> dict[str, Any]:
    r = api_as("admin").post("/api/v1/emergencies", json=_body(**change))
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_declare_list_compliance_and_end(api_as: Callable[[str], TestClient], city: City) -> None:
    em = _declare(
        api_as, level="red", area_kind="districts", district_ids=[city.districts["shenhe"]]
    )
    assert em["status"] == "active" and em["sites"] == 3
    assert "stop_dusty_outdoor_works" in em["measures"]
    admin = api_as("admin")
    listed = admin.get("/api/v1/emergencies").json()
    assert [e["id"] for e in listed] == [em["id"]]
    rows = admin.get(f"/api/v1/emergencies/{em['id']}/sites").json()
    assert {r["project_code"] for r in rows} == {"SH-001", "SH-002", "SH-003"}
    assert all(r["verdict"] == "unchecked" and r["pm10"] is None for r in rows)
    ended = admin.post(f"/api/v1/emergencies/{em['id']}/end")
    assert ended.status_code == 200 and ended.json()["status"] == "ended_early"
    again = admin.post(f"/api/v1/emergencies/{em['id']}/end")
    assert again.status_code == 409


def test_scope_districts_see_their_sites(api_as: Callable[[str], TestClient], city: City) -> None:
    shenhe = _declare(api_as, area_kind="districts", district_ids=[city.districts["shenhe"]])
    everywhere = _declare(api_as, level="yellow")
    heping = api_as("d_heping")
    assert {e["id"] for e in heping.get("/api/v1/emergencies").json()} == {everywhere["id"]}
    assert heping.get(f"/api/v1/emergencies/{shenhe['id']}/sites").status_code == 404
    rows = heping.get(f"/api/v1/emergencies/{everywhere['id']}/sites").json()
    assert {r["project_code"] for r in rows} == {"HP-001", "HP-002", "HP-003"}
    contractor = api_as("con_beta").get(f"/api/v1/emergencies/{shenhe['id']}/sites").json()
    assert {r["project_code"] for r in contractor} == {"SH-001", "SH-002", "SH-003"}
    assert heping.post("/api/v1/emergencies", json=_body()).status_code == 403
    assert heping.post(f"/api/v1/emergencies/{everywhere['id']}/end").status_code == 403
    assert api_as("d_heping").post(f"/api/v1/emergencies/{shenhe['id']}/end").status_code == 404


def test_bad_input_is_a_422_naming_the_field(
    api_as: Callable[[str], TestClient], city: City
) -> None:
    admin = api_as("admin")
    start = datetime.now(UTC)
    cases = [
        (_body(ends_at=(start - timedelta(days=1)).isoformat()), "ends_at"),
        (_body(area_kind="districts"), "district_ids"),
        (_body(area_kind="districts", district_ids=[999999]), "district_ids"),
        (_body(area_kind="polygon"), "polygon"),
        (_body(level="purple"), "level"),
        (_body(starts_at="2026-12-07T08:00:00"), "starts_at"),
    ]
    for body, field in cases:
        r = admin.post("/api/v1/emergencies", json=body)
        assert r.status_code == 422, (field, r.text)
        assert field in r.text, (field, r.text)
    far = {"type": "Polygon", "coordinates": [[[100, 30], [100.1, 30], [100.1, 30.1], [100, 30]]]}
    r = admin.post("/api/v1/emergencies", json=_body(area_kind="polygon", polygon=far))
    assert r.status_code == 422 and "area" in r.text


def test_pages_list_form_detail_site_and_inbox(
    web_as: Callable[[str], TestClient], api_as: Callable[[str], TestClient], city: City
) -> None:
    em = _declare(
        api_as, level="orange", area_kind="districts", district_ids=[city.districts["heping"]]
    )
    admin = web_as("admin")
    page = admin.get("/emergencies")
    assert page.status_code == 200
    assert "重污染应急" in page.text and 'data-testid="declare-form"' in page.text
    detail = admin.get(f"/emergencies/{em['id']}")
    assert "停止土石方作业" in detail.text and "和平区中山路住宅项目" in detail.text
    site = admin.get(f"/sites/{city.sites['HP-001']}/emergencies")
    assert "橙色预警" in site.text and "停止拆除作业" in site.text
    heping = web_as("d_heping").get("/emergencies")
    assert 'data-testid="declare-form"' not in heping.text
    con = web_as("con_alpha")
    con.cookies.set("lang", "en")
    inbox = con.get("/notifications")
    assert "Heavy-pollution orange warning" in inbox.text and "emergencies.notify" not in inbox.text


def test_the_declaration_form_refuses_with_a_message(
    web_as: Callable[[str], TestClient], city: City
) -> None:
    admin = web_as("admin")
    token = admin.get("/emergencies").text.split('name="csrf_token" value="', 1)[1].split('"')[0]
    form = {
        "csrf_token": token,
        "level": "red",
        "starts_at": "2026-12-07T10:00",
        "ends_at": "2026-12-07T09:00",
        "area_kind": "city",
    }
    r = admin.post("/emergencies", data=form)
    assert r.status_code == 303 and r.headers["location"] == "/emergencies"
    assert "结束时间须晚于开始时间" in admin.get("/emergencies").text
