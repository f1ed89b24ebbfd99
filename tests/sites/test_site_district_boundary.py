"""A site's position must lie inside its district's drawn boundary: API (create and
update), the site form (in the reader's language) and the Excel import.

The tiny city's districts are squares of ±0.025° around 和平区 (41.79, 123.40) and
沈河区 (41.80, 123.46); 39.9, 116.4 is Beijing, some 700 km away.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.geo.coords import haversine_m
from dustgrid.org.models import District
from dustgrid.sites.models import Site
from dustgrid.sites.policy import DEFAULT_DISTRICT_BOUNDARY_POLICY
from dustgrid.sites.service import check_in_district
from tests.fixtures.city import City
from tests.sites.test_site_excel_api import find, site, upload, xlsx
from tests.sites.test_site_service import new_site

Api = Callable[[str], TestClient]
BEIJING = (39.9, 116.4)
HEPING_SW = (41.765, 123.375)  # the corner of 和平区 nearest to Beijing
KM = re.compile(r"距边界 ([0-9.]+) 公里")


def _km(text: str) -> float:
    m = KM.search(text)
    assert m, text
    return float(m.group(1))


def test_fixture_sites_lie_inside_their_districts(db: Session) -> None:
    sites = list(db.scalars(select(Site)))
    assert sites
    for s in sites:
        check_in_district(db.get(District, s.district_id), s.lat, s.lon)  # raises if outside


def test_api_refuses_a_beijing_site_in_heping_naming_district_and_distance(
    api_as: Api, city: City
) -> None:
    c = api_as("admin")
    r = c.post("/api/v1/sites", json=new_site(city, lat=BEIJING[0], lon=BEIJING[1]))
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail.startswith("位置不在和平区范围内（距边界 ")
    expected_km = haversine_m(*BEIJING, *HEPING_SW) / 1000
    assert abs(_km(detail) - expected_km) < 1.0  # ~700 km, to the nearest corner
    en = c.post(
        "/api/v1/sites",
        json=new_site(city, lat=BEIJING[0], lon=BEIJING[1]),
        headers={"Accept-Language": "en"},
    )
    assert "outside Heping" in en.json()["detail"]
    assert r.json()["errors"]["district"] == "和平区"
    listed = c.get("/api/v1/sites", params={"q": "T-100"}).json()["items"]
    assert listed == []  # nothing saved, no grid assigned "by proximity"


def test_api_update_moving_the_point_or_the_district_is_checked(
    api_as: Api, city: City, db: Session
) -> None:
    c = api_as("admin")
    hp1 = city.sites["HP-001"]
    moved = c.patch(f"/api/v1/sites/{hp1}", json={"lat": BEIJING[0], "lon": BEIJING[1]})
    assert moved.status_code == 422 and "位置不在和平区范围内" in moved.json()["detail"]
    other = c.patch(f"/api/v1/sites/{hp1}", json={"district_id": city.districts["shenhe"]})
    assert other.status_code == 422 and "位置不在沈河区范围内" in other.json()["detail"]
    assert _km(other.json()["detail"]) > 1
    unchanged = db.get(Site, hp1)
    assert unchanged is not None and unchanged.district_id == city.districts["heping"]
    ok = c.patch(f"/api/v1/sites/{hp1}", json={"lat": 41.80, "lon": 123.41})
    assert ok.status_code == 200, ok.text


def test_tolerance_at_the_edge_and_metres_when_close(api_as: Api, city: City) -> None:
    c = api_as("admin")
    edge_lon = 123.425  # the east edge of 和平区
    metres_per_deg = haversine_m(41.79, 123.0, 41.79, 124.0)
    just_out = edge_lon + (DEFAULT_DISTRICT_BOUNDARY_POLICY.tolerance_m / 2) / metres_per_deg
    inside_tolerance = c.post("/api/v1/sites", json=new_site(city, lat=41.79, lon=just_out))
    assert inside_tolerance.status_code == 201, inside_tolerance.text
    out = edge_lon + (DEFAULT_DISTRICT_BOUNDARY_POLICY.tolerance_m * 3) / metres_per_deg
    r = c.post("/api/v1/sites", json=new_site(city, project_code="T-101", lat=41.79, lon=out))
    assert r.status_code == 422
    m = re.search(r"距边界 (\d+) 米", r.json()["detail"])
    assert m and abs(int(m.group(1)) - DEFAULT_DISTRICT_BOUNDARY_POLICY.tolerance_m * 3) <= 2


def test_a_district_without_a_drawn_boundary_is_not_checked(
    api_as: Api, city: City, db: Session
) -> None:
    d = db.get(District, city.districts["heping"])
    assert d is not None
    d.boundary = None
    db.flush()
    r = api_as("admin").post("/api/v1/sites", json=new_site(city, lat=BEIJING[0], lon=BEIJING[1]))
    assert r.status_code == 201, r.text


def _form(web: TestClient, city: City) -> dict[str, str]:
    return {
        "csrf_token": web.csrf,  # type: ignore[attr-defined]
        "project_code": "WEB-BJ",
        "name": "北京坐标工地",
        "kind": "housing",
        "district_id": str(city.districts["heping"]),
        "lat": str(BEIJING[0]),
        "lon": str(BEIJING[1]),
        "stage": "earthwork",
        "permit_status": "permitted",
        "area_m2": "0",
        "investment_yuan": "0",
    }


def test_form_says_it_in_chinese_and_keeps_the_input(web_as: Callable[[str], TestClient],
                                                     city: City) -> None:  # fmt: skip
    web = web_as("admin")
    r = web.post("/sites/new", data=_form(web, city))
    assert r.status_code == 422
    assert "位置不在和平区范围内（距边界 " in r.text and " 公里）" in r.text
    assert "outside" not in r.text  # one language, not "中文 / English"
    assert "北京坐标工地" in r.text
    assert web.get("/sites", params={"q": "WEB-BJ"}).text.count("北京坐标工地") == 0


def test_form_says_it_in_english_in_the_english_ui(web_as: Callable[[str], TestClient],
                                                   city: City) -> None:  # fmt: skip
    web = web_as("admin")
    web.cookies.set("lang", "en")
    r = web.post("/sites/new", data=_form(web, city))
    assert r.status_code == 422
    m = re.search(r"The position is outside Heping \(([0-9.]+) km from its boundary\)", r.text)
    assert m, r.text
    assert abs(float(m.group(1)) - haversine_m(*BEIJING, *HEPING_SW) / 1000) < 1.0
    assert "位置不在" not in r.text


def test_form_edit_is_checked(web_as: Callable[[str], TestClient], city: City) -> None:
    web = web_as("admin")
    hp1 = city.sites["HP-001"]
    page = web.get(f"/sites/{hp1}/edit")
    assert page.status_code == 200
    form = _form(web, city)
    form.pop("project_code")
    form["name"] = "和平区某工地"
    r = web.post(f"/sites/{hp1}/edit", data=form)
    assert r.status_code == 422 and "位置不在和平区范围内" in r.text


def test_excel_import_blames_the_coordinates_and_keeps_good_rows(api_as: Api) -> None:
    api = api_as("admin")
    rows: list[list[Any]] = [
        site("XL-OK", lat=41.79, lon=123.40),
        site("XL-BJ", lat=BEIJING[0], lon=BEIJING[1]),
        site("HP-001", lat=BEIJING[0], lon=BEIJING[1]),  # an update moving a site away
    ]
    report = upload(api, xlsx(rows)).json()
    errors = [(e["row"], e["column"], e["reason"]) for e in report["errors"]]
    assert [(r, col) for r, col, _ in errors] == [(3, "纬度(WGS-84)"), (4, "纬度(WGS-84)")]
    assert all(reason.startswith("位置不在和平区范围内（距边界 ") for _, _, reason in errors)
    assert report["created"] == 1
    assert find(api, "XL-OK") is not None and find(api, "XL-BJ") is None
    hp1 = find(api, "HP-001")
    assert hp1 is not None and hp1["lat"] != BEIJING[0]
