"""Districts and the unit tree: scope per role, city-admin-only writes, level rules, audit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from dustgrid.audit.service import entries_for
from tests.fixtures.city import City

# Routes of the organisation domain walked here (registered with tests/auth/walk_registry).
WALKED = {
    ("GET", "/api/v1/districts"),
    ("POST", "/api/v1/districts"),
    ("GET", "/api/v1/districts/{district_id}"),
    ("PATCH", "/api/v1/districts/{district_id}"),
    ("GET", "/api/v1/org/units"),
    ("POST", "/api/v1/org/units"),
    ("GET", "/api/v1/org/units/{unit_id}"),
    ("PATCH", "/api/v1/org/units/{unit_id}"),
    ("GET", "/api/v1/org/units/{unit_id}/audit"),
}

ALL_UNITS = {"city", "bureau_heping", "bureau_shenhe", "safety", "station_heping", "station_shenhe"}
HP_CHAIN = {"city", "bureau_heping", "station_heping"}
SH_CHAIN = {"city", "bureau_shenhe", "station_shenhe"}
UNITS: dict[str, set[str]] = {
    "admin": ALL_UNITS,
    "viewer_city": ALL_UNITS,
    "d_heping": HP_CHAIN,
    "viewer_heping": HP_CHAIN,
    "st_heping": HP_CHAIN,
    "off_hp1": HP_CHAIN,
    "d_shenhe": SH_CHAIN,
    "st_shenhe": SH_CHAIN,
    "off_sh1": SH_CHAIN,
    "safety_admin": {"city", "safety"},
    "insp_hp1": set(),
    "con_alpha": set(),
    "con_beta": set(),
    "prov_gamma": set(),
}
DISTRICTS: dict[str, set[str]] = {
    "admin": {"heping", "shenhe"},
    "viewer_city": {"heping", "shenhe"},
    "d_heping": {"heping"},
    "viewer_heping": {"heping"},
    "st_heping": {"heping"},
    "off_hp1": {"heping"},
    "d_shenhe": {"shenhe"},
    "st_shenhe": {"shenhe"},
    "off_sh1": {"shenhe"},
    "safety_admin": {"heping"},
    "insp_hp1": {"heping"},
    "con_alpha": {"heping"},
    "con_beta": {"heping", "shenhe"},
    "prov_gamma": set(),
}
ROLES = sorted(UNITS)


def _ids(nodes: list[dict[str, Any]]) -> set[int]:
    out: set[int] = set()
    for n in nodes:
        out.add(n["id"])
        out |= _ids(n["children"])
    return out


def _square(lat: float, lon: float, d: float) -> dict[str, Any]:
    ring = [
        [lon - d, lat - d],
        [lon + d, lat - d],
        [lon + d, lat + d],
        [lon - d, lat + d],
        [lon - d, lat - d],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.mark.parametrize("user", ROLES)
def test_reads_follow_scope(user: str, api_as: Callable[[str], TestClient], city: City) -> None:
    c = api_as(user)
    tree = c.get("/api/v1/org/units")
    assert tree.status_code == 200
    assert _ids(tree.json()) == {city.units[k] for k in UNITS[user]}
    for key, uid in city.units.items():
        r = c.get(f"/api/v1/org/units/{uid}")
        assert r.status_code == (200 if key in UNITS[user] else 404), (key, r.text)
    listed = c.get("/api/v1/districts").json()
    assert {d["id"] for d in listed} == {city.districts[k] for k in DISTRICTS[user]}
    assert all(d["boundary"]["type"] == "Polygon" for d in listed)
    for key, did in city.districts.items():
        r = c.get(f"/api/v1/districts/{did}")
        assert r.status_code == (200 if key in DISTRICTS[user] else 404), (key, r.text)


@pytest.mark.parametrize("user", [u for u in ROLES if u != "admin"])
def test_only_city_admin_writes(user: str, api_as: Callable[[str], TestClient], city: City) -> None:
    c = api_as(user)
    unit = {"name": "新站", "kind": "supervision_station", "parent_id": city.units["bureau_heping"]}
    assert c.post("/api/v1/org/units", json=unit).status_code == 403
    r = c.patch(f"/api/v1/org/units/{city.units['station_heping']}", json={"name": "x"})
    assert r.status_code == 403
    body = {"code": "210104", "name": "大东区", "boundary": _square(41.82, 123.48, 0.02)}
    assert c.post("/api/v1/districts", json=body).status_code == 403
    r = c.patch(f"/api/v1/districts/{city.districts['heping']}", json={"name": "x"})
    assert r.status_code == 403


def test_tree_nests_levels(api_as: Callable[[str], TestClient], city: City) -> None:
    roots = api_as("d_heping").get("/api/v1/org/units").json()
    assert [r["id"] for r in roots] == [city.units["city"]]
    bureau = roots[0]["children"][0]
    assert (bureau["level"], bureau["district_name"]) == (2, "和平区")
    assert bureau["children"][0]["id"] == city.units["station_heping"]
    assert bureau["children"][0]["level"] == 3


def test_create_station_inherits_district_and_is_audited(
    api_as: Callable[[str], TestClient], city: City
) -> None:
    c = api_as("admin")
    r = c.post(
        "/api/v1/org/units",
        json={
            "name": "和平区第二监督站",
            "kind": "supervision_station",
            "parent_id": city.units["bureau_heping"],
        },
    )
    assert r.status_code == 201, r.text
    unit = r.json()
    assert (unit["level"], unit["district_id"]) == (3, city.districts["heping"])
    r = c.patch(f"/api/v1/org/units/{unit['id']}", json={"name": "和平区北部监督站"})
    assert r.status_code == 200 and r.json()["name"] == "和平区北部监督站"
    history = c.get(f"/api/v1/org/units/{unit['id']}/audit").json()
    assert [h["action"] for h in history] == ["update", "create"]
    assert history[0]["changes"]["name"] == ["和平区第二监督站", "和平区北部监督站"]


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"kind": "supervision_station", "parent_key": "city"}, 422, "L3"),
        ({"kind": "district_bureau", "parent_key": "city"}, 422, "district"),
        (
            {"kind": "district_bureau", "parent_key": "city", "district_key": "heping"},
            409,
            "bureau",
        ),
        ({"kind": "district_bureau", "level": 3, "parent_key": "city"}, 422, "level 2"),
        ({"kind": "city_bureau"}, 409, "L1"),
        (
            {"kind": "city_safety_station", "parent_key": "city", "district_key": "heping"},
            422,
            "no district",
        ),
        (
            {
                "kind": "supervision_station",
                "parent_key": "bureau_heping",
                "district_key": "shenhe",
            },
            422,
            "district",
        ),
        ({"kind": "district_bureau", "parent_key": "bureau_heping"}, 422, "L1"),
    ],
)
def test_level_and_parent_rules(
    body: dict[str, Any],
    status: int,
    needle: str,
    api_as: Callable[[str], TestClient],
    city: City,
) -> None:
    payload: dict[str, Any] = {"name": "测试单位", "kind": body["kind"]}
    if "parent_key" in body:
        payload["parent_id"] = city.units[body["parent_key"]]
    if "district_key" in body:
        payload["district_id"] = city.districts[body["district_key"]]
    if "level" in body:
        payload["level"] = body["level"]
    r = api_as("admin").post("/api/v1/org/units", json=payload, headers={"Accept-Language": "en"})
    assert r.status_code == status, r.text
    assert needle in r.json()["detail"]


def test_unit_cannot_move_under_its_own_child(
    api_as: Callable[[str], TestClient], city: City
) -> None:
    c = api_as("admin")
    r = c.patch(
        f"/api/v1/org/units/{city.units['bureau_heping']}",
        json={"parent_id": city.units["station_heping"]},
    )
    assert r.status_code == 422
    # A kind change that would strand the children is refused too.
    r = c.patch(
        f"/api/v1/org/units/{city.units['bureau_heping']}",
        json={"kind": "supervision_station", "parent_id": city.units["bureau_shenhe"]},
    )
    assert r.status_code == 422


def test_district_create_validates_boundary_and_code(
    api_as: Callable[[str], TestClient], city: City
) -> None:
    # A refused request rolls back the whole test session, so refusals come first.
    c = api_as("admin")
    good = {
        "code": "210104",
        "name": "大东区",
        "name_en": "Dadong",
        "boundary": _square(41.82, 123.48, 0.02),
    }
    bad = dict(good, code="210105")
    bad["boundary"] = {
        "type": "Polygon",
        "coordinates": [[[123.4, 95.0], [123.5, 41.8], [123.5, 41.9], [123.4, 95.0]]],
    }
    r = c.post("/api/v1/districts", json=bad)
    assert r.status_code == 422 and "boundary" in r.text
    assert c.post("/api/v1/districts", json=dict(good, code="12")).status_code == 422
    assert c.post("/api/v1/districts", json=dict(good, code="210102")).status_code == 409
    r = c.post("/api/v1/districts", json=good)
    assert r.status_code == 201, r.text
    did = r.json()["id"]
    r = c.patch(f"/api/v1/districts/{did}", json={"name": "大东新区"})
    assert r.status_code == 200 and r.json()["name"] == "大东新区"
    assert c.get(f"/api/v1/districts/{did}").json()["boundary"]["type"] == "Polygon"
    assert c.patch(f"/api/v1/districts/{did}", json={"code": "210102"}).status_code == 409


def test_district_changes_are_audited(
    api_as: Callable[[str], TestClient], city: City, db: Session
) -> None:
    did = city.districts["heping"]
    r = api_as("admin").patch(
        f"/api/v1/districts/{did}", json={"boundary": _square(41.79, 123.40, 0.03)}
    )
    assert r.status_code == 200
    entries = entries_for(db, entity_type="district", entity_id=did)
    assert entries[0].action == "update"
    assert set(entries[0].changes) == {"boundary_sha256"}
