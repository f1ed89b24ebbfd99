"""Seed 000 §3(一)–(二) in the grids: metro and municipal works in the city safety station's
own enforcement grids worked by its officers; group sizes (inspector pairs exactly 2,
enforcement groups at least 2) with incomplete groups flagged; an L3 station never sees
more sites than its L2 unit.

The fixture city: 和平's metro site HP-M01 (supervised by the city station) is in E-HP-C,
owned by the station and worked by off_sf1/off_sf2; HP-001..003 are in the district
station's E-HP.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from dustgrid.auth.models import User
from tests.fixtures.city import City, add_officers
from tests.sites.test_site_service import new_site


def _groups(city: City, grid: str) -> str:
    return f"/api/v1/grids/{city.grids[grid]}/groups"


# --------------------------------------------------------------- the city station's grids


def test_city_station_officers_join_its_grids_and_no_other(
    api_as: Callable[[str], TestClient], city: City, db: Session
) -> None:
    pair = add_officers(db, city, "safety", "off_sf3", "off_sf4")
    safety = api_as("safety_admin")
    r = safety.post(_groups(city, "E-HP-C"), json={"name": "地铁二组", "member_ids": pair})
    assert r.status_code == 201, r.text
    assert r.json()["unit_name"] == "沈阳市建设工程安全监督站" and r.json()["staffed"]
    # the station's officers cannot work a district grid, nor district officers its grids
    hp = add_officers(db, city, "station_heping", "off_hp5", "off_hp6")
    admin = api_as("admin")
    r = admin.post(_groups(city, "E-HP"), json={"name": "借调组", "member_ids": pair})
    assert r.status_code == 422 and ", ".join(map(str, sorted(pair))) in r.json()["detail"]
    r = admin.post(_groups(city, "E-HP-C"), json={"name": "区里人", "member_ids": hp})
    assert r.status_code == 422 and ", ".join(map(str, sorted(hp))) in r.json()["detail"]
    # the district bureau sees the station's grid in its district but may not change it
    d = api_as("d_heping")
    assert d.get(f"/api/v1/grids/{city.grids['E-HP-C']}").status_code == 200
    r = d.post(_groups(city, "E-HP-C"), json={"name": "区管", "member_ids": hp})
    assert r.status_code == 403
    # ... and the station may not change the district's grids
    r = safety.patch(f"/api/v1/grids/{city.grids['I-HP']}", json={"name": "x"})
    assert r.status_code == 403


def test_city_station_creates_its_enforcement_grids_in_any_district(
    api_as: Callable[[str], TestClient], city: City
) -> None:
    safety = api_as("safety_admin")
    body = {"code": "E-SH-C", "name": "沈河地铁市政", "kind": "enforcement"}
    r = safety.post("/api/v1/grids", json={**body, "district_id": city.districts["shenhe"]})
    assert r.status_code == 201, r.text
    assert r.json()["unit_id"] == city.units["safety"]
    moved = safety.patch(
        f"/api/v1/grids/{r.json()['id']}", json={"district_id": city.districts["heping"]}
    )  # an empty grid of its own may move to another district
    assert moved.status_code == 200 and moved.json()["district_name"] == "和平区"
    shenhe = city.districts["shenhe"]
    r = safety.post(
        "/api/v1/grids", json={**body, "code": "I-SH-C", "kind": "inspector", "district_id": shenhe}
    )
    assert r.status_code == 403 and "只管理执法监督网格" in r.json()["detail"]
    r = api_as("d_heping").post(
        "/api/v1/grids",
        json={**body, "code": "E-HP-X", "district_id": city.districts["heping"],
              "unit_id": city.units["safety"]},
    )  # fmt: skip
    assert r.status_code == 403


def test_sites_join_the_grids_of_their_supervisor(
    api_as: Callable[[str], TestClient], city: City
) -> None:
    admin = api_as("admin")
    metro = admin.post("/api/v1/sites", json=new_site(city, kind="metro", project_code="M9"))
    assert metro.status_code == 201, metro.text
    assert metro.json()["l2_unit_id"] == city.units["safety"]
    assert metro.json()["enforcement_grid_id"] == city.grids["E-HP-C"]
    assert metro.json()["inspector_grid_id"] == city.grids["I-HP"]  # inspectors: whole district
    house = admin.post("/api/v1/sites", json=new_site(city, project_code="H9")).json()
    assert house["enforcement_grid_id"] == city.grids["E-HP"]
    # a housing site becoming municipal works changes hands: the city station's grid
    r = admin.patch(f"/api/v1/sites/{house['id']}", json={"kind": "municipal"})
    assert r.status_code == 200, r.text
    assert r.json()["l2_unit_id"] == city.units["safety"]
    assert r.json()["enforcement_grid_id"] == city.grids["E-HP-C"]
    # a grid of the other lane, chosen by hand, is refused with the reason
    r = admin.patch(
        f"/api/v1/sites/{house['id']}",
        json={"enforcement_grid_id": city.grids["E-HP"]},
        headers={"Accept-Language": "en"},
    )
    assert r.status_code == 422
    assert "E-HP belongs to another supervising unit" in r.json()["detail"]
    # the reader's language by default: the same reason in Chinese
    r = admin.patch(
        f"/api/v1/sites/{house['id']}", json={"enforcement_grid_id": city.grids["E-HP"]}
    )
    assert r.status_code == 422 and "网格 E-HP 不归本工地的监督单位" in r.json()["detail"]


def test_assign_keeps_metro_works_out_of_district_grids(
    api_as: Callable[[str], TestClient], city: City
) -> None:
    admin = api_as("admin")
    r = admin.post(
        "/api/v1/grids/assign",
        json={"grid_id": city.grids["E-HP"], "site_ids": [city.sites["HP-M01"]]},
    )
    assert r.status_code == 422
    assert "HP-M01" in r.json()["detail"] and "市安全监督站" in r.json()["detail"]
    r = admin.post(
        "/api/v1/grids/assign",
        json={"grid_id": city.grids["E-HP-C"], "site_ids": [city.sites["HP-001"]]},
    )
    assert r.status_code == 422 and "HP-001" in r.json()["detail"]
    # inspector grids take every site of the district
    r = admin.post(
        "/api/v1/grids/assign",
        json={"grid_id": city.grids["I-HP"], "site_ids": [city.sites["HP-M01"]]},
    )
    assert r.status_code == 200


def test_partition_keeps_lanes_apart_and_each_unit_to_its_own(
    api_as: Callable[[str], TestClient], city: City
) -> None:
    body = {"district_id": city.districts["heping"], "kind": "enforcement"}
    r = api_as("admin").post("/api/v1/grids/partition", json=body)
    assert r.status_code == 200, r.text
    groups = r.json()["groups"]
    by_unit = {g["unit_id"]: set(g["site_ids"]) for g in groups}
    assert by_unit == {
        city.units["station_heping"]: {city.sites[c] for c in ("HP-001", "HP-002", "HP-003")},
        city.units["safety"]: {city.sites["HP-M01"]},
    }
    assert {g["grid_id"] for g in groups} == {city.grids["E-HP"], city.grids["E-HP-C"]}
    assert r.json()["moved_sites"] == 0
    mine = api_as("d_heping").post("/api/v1/grids/partition", json=body).json()
    assert mine["site_count"] == 3 and {g["grid_id"] for g in mine["groups"]} == {
        city.grids["E-HP"]
    }
    theirs = api_as("safety_admin").post("/api/v1/grids/partition", json={**body, "apply": True})
    assert theirs.status_code == 200, theirs.text
    assert [g["grid_id"] for g in theirs.json()["groups"]] == [city.grids["E-HP-C"]]
    r = api_as("safety_admin").post("/api/v1/grids/partition", json={**body, "kind": "inspector"})
    assert r.status_code == 403


# --------------------------------------------------------------- group sizes


def test_inspector_groups_are_exactly_two(api_as: Callable[[str], TestClient], city: City) -> None:
    c = api_as("admin")
    pair = [city.users["insp_sh1"], city.users["insp_sh2"]]
    r = c.post(_groups(city, "I-SH"), json={"name": "三人组", "member_ids": [*pair, 99999]})
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert "每组须为 2 人" in detail and "§1" in detail
    en = c.post(
        _groups(city, "I-SH"),
        json={"name": "三人组", "member_ids": [*pair, 99999]},
        headers={"Accept-Language": "en"},
    )
    assert "exactly 2 members" in en.json()["detail"] and "§1" in en.json()["detail"]
    grid = c.get(f"/api/v1/grids/{city.grids['I-SH']}").json()
    gid = grid["groups"][0]["id"]
    r = c.patch(f"{_groups(city, 'I-SH')}/{gid}", json={"member_ids": [city.users["insp_sh1"]]})
    assert r.status_code == 422 and "每组须为 2 人" in r.json()["detail"]
    # nothing changed: the pair is still there and complete
    grid = c.get(f"/api/v1/grids/{city.grids['I-SH']}").json()
    assert len(grid["groups"][0]["members"]) == 2 and grid["groups"][0]["complete"]


def test_enforcement_groups_are_at_least_two_and_may_grow(
    api_as: Callable[[str], TestClient], city: City, db: Session
) -> None:
    c = api_as("d_heping")
    extra = add_officers(db, city, "station_heping", "off_hp7")
    grid = c.get(f"/api/v1/grids/{city.grids['E-HP']}").json()
    gid = grid["groups"][0]["id"]
    pair = [m["user_id"] for m in grid["groups"][0]["members"]]
    r = c.patch(f"{_groups(city, 'E-HP')}/{gid}", json={"member_ids": [*pair, *extra]})
    assert r.status_code == 200 and len(r.json()["groups"][0]["members"]) == 3
    r = c.patch(f"{_groups(city, 'E-HP')}/{gid}", json={"member_ids": extra})
    assert r.status_code == 422 and "每组至少 2 人" in r.json()["detail"]


def test_a_group_left_short_is_flagged_and_does_not_staff_the_grid(
    api_as: Callable[[str], TestClient],
    web_as: Callable[[str], TestClient],
    city: City,
    db: Session,
) -> None:
    user = db.get(User, city.users["off_sh2"])
    assert user is not None
    user.is_active = False  # an account disabled after the group was formed
    db.flush()
    grid = api_as("admin").get(f"/api/v1/grids/{city.grids['E-SH']}").json()
    assert grid["groups"][0]["complete"] is False and grid["groups"][0]["working_members"] == 1
    assert grid["staffed"] is False
    listed = api_as("admin").get("/api/v1/grids", params={"kind": "enforcement"}).json()
    staffed = {g["code"]: g["staffed"] for g in listed["items"]}
    assert staffed == {"E-HP": True, "E-SH": False, "E-HP-C": True}
    page = web_as("admin").get(f"/grids/{city.grids['E-SH']}")
    assert 'data-testid="group-incomplete"' in page.text and "小组不完整" in page.text
    assert 'data-testid="grid-unstaffed"' in web_as("admin").get("/grids").text
    ok = web_as("admin").get(f"/grids/{city.grids['E-HP']}")
    assert 'data-testid="group-incomplete"' not in ok.text
