"""The ledger through the API: derived fields, audit trail, retire, validation errors."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from dustgrid.geo.coords import wgs84_to_gcj02
from tests.fixtures.city import City


def new_site(city: City, **extra: object) -> dict[str, object]:
    body: dict[str, object] = {
        "project_code": "T-100",
        "name": "和平区测试住宅",
        "kind": "housing",
        "district_id": city.districts["heping"],
        "lat": 41.792,
        "lon": 123.402,
        "stage": "earthwork",
        "area_m2": 300,
        "investment_yuan": "500000",
    }
    body.update(extra)
    return body


def test_create_derives_unit_grids_monitors_and_gcj(
    api_as: Callable[[str], TestClient], city: City
) -> None:
    c = api_as("d_heping")
    r = c.post("/api/v1/sites", json=new_site(city))
    assert r.status_code == 201, r.text
    s = r.json()
    assert s["l2_unit_id"] == city.units["bureau_heping"]
    assert s["enforcement_grid_id"] == city.grids["E-HP"]
    assert s["inspector_grid_id"] == city.grids["I-HP"]
    assert s["monitors_required"] is False  # 300 m² and 500,000 yuan: under both thresholds
    glat, glon = wgs84_to_gcj02(41.792, 123.402)
    assert abs(s["gcj_lat"] - glat) < 1e-9 and abs(s["gcj_lon"] - glon) < 1e-9
    assert 0.001 < abs(s["gcj_lon"] - s["lon"]) < 0.01  # a few hundred metres in China
    big = c.patch(f"/api/v1/sites/{s['id']}", json={"area_m2": 500})
    assert big.json()["monitors_required"] is True  # area ≥ 500 m²


def test_metro_site_goes_to_city_safety_station(
    api_as: Callable[[str], TestClient], city: City
) -> None:
    r = api_as("admin").post("/api/v1/sites", json=new_site(city, kind="metro", project_code="M9"))
    assert r.status_code == 201
    assert r.json()["l2_unit_id"] == city.units["safety"]
    # a district admin may not create works that the city station supervises
    r2 = api_as("d_heping").post(
        "/api/v1/sites", json=new_site(city, kind="metro", project_code="M8")
    )
    assert r2.status_code == 403


def test_every_change_is_audited_old_to_new(
    api_as: Callable[[str], TestClient], city: City
) -> None:
    c = api_as("d_heping")
    site = city.sites["HP-002"]
    c.patch(f"/api/v1/sites/{site}", json={"stage": "decoration", "contact_phone": "13800000000"})
    c.post(f"/api/v1/sites/{site}/retire", json={"reason": "项目已竣工验收"})
    entries = c.get(f"/api/v1/sites/{site}/audit").json()
    assert [e["action"] for e in entries[:2]] == ["retire", "update"]
    update = entries[1]
    assert update["actor"] == "d_heping"
    assert update["changes"]["stage"] == ["structure", "decoration"]
    assert update["changes"]["contact_phone"] == ["", "13800000000"]
    assert entries[0]["changes"]["retire_reason"] == ["", "项目已竣工验收"]


def test_retired_sites_leave_the_list_but_stay_readable(
    api_as: Callable[[str], TestClient], city: City
) -> None:
    c = api_as("admin")
    site = city.sites["SH-002"]
    assert c.post(f"/api/v1/sites/{site}/retire", json={"reason": "停建"}).status_code == 200
    codes = {
        i["project_code"] for i in c.get("/api/v1/sites", params={"size": 200}).json()["items"]
    }
    assert "SH-002" not in codes
    with_retired = c.get("/api/v1/sites", params={"size": 200, "include_retired": "true"}).json()
    assert "SH-002" in {i["project_code"] for i in with_retired["items"]}
    assert c.get(f"/api/v1/sites/{site}").json()["retired_at"] is not None
    again = c.post(f"/api/v1/sites/{site}/retire", json={"reason": "再次"})
    assert again.status_code == 422


def test_filters_and_search(api_as: Callable[[str], TestClient], city: City) -> None:
    c = api_as("admin")

    def codes(**params: object) -> set[str]:
        page = c.get("/api/v1/sites", params={"size": 200, **params}).json()
        return {i["project_code"] for i in page["items"]}

    assert codes(grade="non_compliant") == {"HP-001", "SH-003"}
    assert codes(q="五爱街") == {"SH-002"}
    assert codes(q="hp-00") == {"HP-001", "HP-002", "HP-003"}
    assert codes(district_id=city.districts["shenhe"], kind="demolition") == {"SH-003"}
    assert codes(grid_id=city.grids["E-HP"]) == {"HP-001", "HP-002", "HP-003"}
    assert codes(grid_id=city.grids["I-HP"]) == {"HP-001", "HP-002", "HP-003", "HP-M01"}
    page = c.get("/api/v1/sites", params={"size": 2, "page": 2}).json()
    assert page["total"] == 7 and len(page["items"]) == 2
    bad = c.get("/api/v1/sites", params={"grade": "excellent"})
    assert bad.status_code == 422 and "grade" in bad.json()["detail"]


def test_bad_input_names_the_field(api_as: Callable[[str], TestClient], city: City) -> None:
    c = api_as("admin")
    r = c.post("/api/v1/sites", json=new_site(city, lat=95))
    assert r.status_code == 422
    assert r.json()["errors"][0]["loc"][-1] == "lat"
    r = c.post("/api/v1/sites", json=new_site(city, district_id=99999))
    assert r.status_code == 422 and "所属区" in r.json()["detail"]
    r = c.post("/api/v1/sites", json=new_site(city, enforcement_grid_id=city.grids["I-HP"]))
    assert r.status_code == 422 and "不是执法监督网格" in r.json()["detail"]
    r = c.post("/api/v1/sites", json=new_site(city, enforcement_grid_id=city.grids["E-SH"]))
    assert r.status_code == 422 and "不在工地所属区" in r.json()["detail"]
    r = c.post("/api/v1/sites", json=new_site(city, project_code="HP-001"))
    assert r.status_code == 422 and "已存在" in r.json()["detail"]
    r = c.post(
        "/api/v1/sites",
        json=new_site(city, contractor={"name": "某公司", "uscc": "91110000100006485X"}),
    )
    assert r.status_code == 422 and "uscc" in str(r.json()["detail"])
    # nothing half-written: the failed codes do not exist
    assert c.get("/api/v1/sites", params={"q": "T-100"}).json()["total"] == 0


def test_enterprise_upserted_by_credit_code(
    api_as: Callable[[str], TestClient], city: City
) -> None:
    from dustgrid.sites.uscc import make_uscc

    code = make_uscc("91210102MA0000009")
    c = api_as("admin")
    a = c.post(
        "/api/v1/sites",
        json=new_site(city, project_code="E1", contractor={"name": "甲公司", "uscc": code}),
    )
    b = c.post(
        "/api/v1/sites",
        json=new_site(city, project_code="E2", contractor={"name": "甲公司", "uscc": code}),
    )
    assert a.status_code == b.status_code == 201
    assert a.json()["contractor_id"] == b.json()["contractor_id"] is not None
