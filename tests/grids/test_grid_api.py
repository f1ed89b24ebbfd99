"""Grid routes walked as every role, plus groups, moves, partition and coverage over HTTP.

Decision: a grid outside the caller's scope answers 404 for writes too (d_heping editing a
沈河 grid gets 404, exactly as when reading it); a grid the caller can see but may not
change answers 403 (safety_admin sees 和平's inspector grid through the metro site).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.geo.coords import wgs84_to_gcj02
from dustgrid.grids.models import GridGroup
from dustgrid.org.models import District, OrgUnit, UnitKind
from dustgrid.sites.models import Site, SiteKind, Stage
from tests.fixtures.city import City, add_officers

# Routes of the grid domain walked here (registered with tests/auth/walk_registry).
WALKED = {
    ("GET", "/api/v1/grids"),
    ("POST", "/api/v1/grids"),
    ("GET", "/api/v1/grids/coverage"),
    ("POST", "/api/v1/grids/assign"),
    ("POST", "/api/v1/grids/partition"),
    ("GET", "/api/v1/grids/{grid_id}"),
    ("PATCH", "/api/v1/grids/{grid_id}"),
    ("DELETE", "/api/v1/grids/{grid_id}"),
    ("POST", "/api/v1/grids/{grid_id}/groups"),
    ("PATCH", "/api/v1/grids/{grid_id}/groups/{group_id}"),
    ("DELETE", "/api/v1/grids/{grid_id}/groups/{group_id}"),
    ("GET", "/api/v1/grids/{grid_id}/audit"),
}

EVERY = {"E-HP", "I-HP", "E-SH", "I-SH", "E-HP-C"}
HP = {"E-HP", "I-HP"}
SH = {"E-SH", "I-SH"}
METRO = {"E-HP-C", "I-HP"}  # the city station's grid of HP-M01, and its inspector grid
VISIBLE: dict[str, set[str]] = {
    "admin": EVERY,
    "viewer_city": EVERY,
    "d_heping": HP | {"E-HP-C"},  # every grid of the district (not the metro site itself)
    "viewer_heping": HP | {"E-HP-C"},
    "d_shenhe": SH,
    "safety_admin": METRO,
    "st_heping": HP,
    "st_shenhe": SH,
    "off_hp1": HP,
    "off_sh1": SH,
    "off_sf1": METRO,
    "insp_hp1": HP | {"E-HP-C"},
    "insp_sh2": SH,
    "con_alpha": HP,
    "con_beta": SH | METRO,
    "prov_gamma": set(),
}
GRID_WRITERS = {"admin", "d_heping", "d_shenhe", "safety_admin"}
ROLES = sorted(VISIBLE)


def _group_id(db: Session, city: City, grid: str) -> int:
    gid = db.scalar(select(GridGroup.id).where(GridGroup.grid_id == city.grids[grid]))
    assert gid is not None
    return int(gid)


@pytest.mark.parametrize("user", ROLES)
def test_reads_follow_scope(user: str, api_as: Callable[[str], TestClient], city: City) -> None:
    c = api_as(user)
    listed = c.get("/api/v1/grids").json()
    assert {g["code"] for g in listed["items"]} == VISIBLE[user]
    assert listed["total"] == len(VISIBLE[user])
    for code, gid in city.grids.items():
        r = c.get(f"/api/v1/grids/{gid}")
        assert r.status_code == (200 if code in VISIBLE[user] else 404), (code, r.text)
    cov = c.get("/api/v1/grids/coverage")
    assert cov.status_code == 200
    names = {row["district_name"] for row in cov.json()}
    assert names <= {"和平区", "沈河区"}


@pytest.mark.parametrize("user", [u for u in ROLES if u not in GRID_WRITERS])
def test_writes_need_grid_write(
    user: str, api_as: Callable[[str], TestClient], city: City, db: Session
) -> None:
    c = api_as(user)
    e_hp, group = city.grids["E-HP"], _group_id(db, city, "E-HP")
    pair = [city.users["off_sh1"], city.users["off_sh2"]]
    calls: list[tuple[str, str, Any]] = [
        (
            "POST",
            "/api/v1/grids",
            {
                "code": "X-1",
                "name": "x",
                "kind": "enforcement",
                "district_id": city.districts["heping"],
            },
        ),
        ("PATCH", f"/api/v1/grids/{e_hp}", {"name": "x"}),
        ("DELETE", f"/api/v1/grids/{e_hp}", None),
        ("POST", f"/api/v1/grids/{e_hp}/groups", {"name": "x", "member_ids": pair}),
        ("PATCH", f"/api/v1/grids/{e_hp}/groups/{group}", {"name": "x"}),
        ("DELETE", f"/api/v1/grids/{e_hp}/groups/{group}", None),
        ("POST", "/api/v1/grids/assign", {"grid_id": e_hp, "site_ids": [city.sites["HP-001"]]}),
        (
            "POST",
            "/api/v1/grids/partition",
            {"district_id": city.districts["heping"], "kind": "enforcement"},
        ),
    ]
    for method, url, body in calls:
        r = c.request(method, url, json=body)
        assert r.status_code == 403, (method, url, r.text)


def test_district_admin_stays_in_own_district(
    api_as: Callable[[str], TestClient], city: City
) -> None:
    c = api_as("d_heping")
    assert c.patch(f"/api/v1/grids/{city.grids['E-SH']}", json={"name": "x"}).status_code == 404
    r = c.post(
        "/api/v1/grids/partition",
        json={"district_id": city.districts["shenhe"], "kind": "inspector"},
    )
    assert r.status_code == 403
    s = api_as("safety_admin")
    assert s.patch(f"/api/v1/grids/{city.grids['I-HP']}", json={"name": "x"}).status_code == 403
    r = c.patch(f"/api/v1/grids/{city.grids['E-HP']}", json={"name": "和平一号网格"})
    assert r.status_code == 200 and r.json()["name"] == "和平一号网格"
    history = api_as("admin").get(f"/api/v1/grids/{city.grids['E-HP']}/audit").json()
    assert history[0]["changes"]["name"] == ["网格 E-HP", "和平一号网格"]


def test_group_rules_answer_422_with_a_message(
    api_as: Callable[[str], TestClient], city: City
) -> None:
    c = api_as("d_heping")
    url = f"/api/v1/grids/{city.grids['E-HP']}/groups"
    r = c.post(url, json={"name": "单人组", "member_ids": [city.users["off_sh1"]]})
    assert r.status_code == 422
    assert "至少 2 人" in r.json()["detail"]
    r = c.post(
        url, json={"name": "混编组", "member_ids": [city.users["off_sh1"], city.users["insp_hp1"]]}
    )
    assert r.status_code == 422
    refused = sorted([city.users["off_sh1"], city.users["insp_hp1"]])
    assert ", ".join(map(str, refused)) in r.json()["detail"]
    assert "insp_hp1" not in r.text and "off_sh1" not in r.text  # ids only, no usernames
    r = c.post(
        f"/api/v1/grids/{city.grids['I-HP']}/groups",
        json={"name": "执法进巡查", "member_ids": [city.users["off_sh1"], city.users["off_sh2"]]},
    )
    assert r.status_code == 422 and "专职巡查员" in r.json()["detail"]


def test_group_create_update_delete(
    api_as: Callable[[str], TestClient], city: City, db: Session
) -> None:
    c = api_as("admin")
    url = f"/api/v1/grids/{city.grids['E-HP']}/groups"
    pair = add_officers(db, city, "station_heping", "off_hp3", "off_hp4")
    r = c.post(url, json={"name": "支援组", "member_ids": pair})
    assert r.status_code == 201, r.text
    groups = {g["name"]: g for g in r.json()["groups"]}
    assert {m["username"] for m in groups["支援组"]["members"]} == {"off_hp3", "off_hp4"}
    assert len(r.json()["members"]) == 4
    gid = groups["支援组"]["id"]
    r = c.patch(f"{url}/{gid}", json={"name": "支援一组"})
    assert r.status_code == 200 and "支援一组" in {g["name"] for g in r.json()["groups"]}
    assert c.delete(f"{url}/{gid}").status_code == 204
    assert c.delete(f"{url}/{gid}").status_code == 404


def test_assign_shows_in_site_history(api_as: Callable[[str], TestClient], city: City) -> None:
    c = api_as("d_heping")
    r = c.post(
        "/api/v1/grids",
        json={
            "code": "E-HP-2",
            "name": "和平二号",
            "kind": "enforcement",
            "district_id": city.districts["heping"],
        },
    )
    assert r.status_code == 201, r.text
    new = r.json()["id"]
    hp1 = city.sites["HP-001"]
    r = c.post("/api/v1/grids/assign", json={"grid_id": new, "site_ids": [hp1]})
    assert r.status_code == 200 and r.json()["changed"] == [hp1]
    history = c.get(f"/api/v1/sites/{hp1}/audit").json()
    assert history[0]["changes"] == {"enforcement_grid_id": [city.grids["E-HP"], new]}
    assert c.get(f"/api/v1/sites/{hp1}").json()["enforcement_grid_id"] == new
    detail = c.get(f"/api/v1/grids/{new}").json()
    assert [s["project_code"] for s in detail["sites"]] == ["HP-001"]
    assert detail["site_count"] == 1
    # The old grid cannot be deleted while it holds sites; the new one can once emptied.
    r = c.post("/api/v1/grids/assign", json={"grid_id": city.grids["E-HP"], "site_ids": [hp1]})
    assert r.status_code == 200
    assert c.delete(f"/api/v1/grids/{new}").status_code == 204


def test_assign_refuses_other_districts_and_kinds(
    api_as: Callable[[str], TestClient], city: City
) -> None:
    c = api_as("admin")
    r = c.post(
        "/api/v1/grids/assign",
        json={"grid_id": city.grids["E-HP"], "site_ids": [city.sites["SH-001"]]},
    )
    assert r.status_code == 422 and "SH-001" in r.json()["detail"]
    r = api_as("d_heping").post(
        "/api/v1/grids/assign",
        json={"grid_id": city.grids["E-SH"], "site_ids": [city.sites["SH-001"]]},
    )
    assert r.status_code == 404


def _district_with_sites(db: Session, city: City, n: int) -> int:
    d = District(code="219902", name="测试新区", name_en="Test")
    db.add(d)
    db.flush()
    bureau = OrgUnit(
        name="测试新区建设局",
        kind=UnitKind.district_bureau,
        level=2,
        parent_id=city.units["city"],
        district_id=d.id,
    )
    db.add(bureau)
    db.flush()
    for i in range(n):
        lat, lon = 41.55 + (i % 8) * 0.01, 123.10 + (i // 8) * 0.013
        glat, glon = wgs84_to_gcj02(lat, lon)
        db.add(
            Site(
                project_code=f"TX-{i:03d}",
                name=f"新区工地{i}",
                kind=SiteKind.housing,
                district_id=d.id,
                l2_unit_id=bureau.id,
                lat=lat,
                lon=lon,
                gcj_lat=glat,
                gcj_lon=glon,
                stage=Stage.foundation,
            )
        )
    db.flush()
    return d.id


def test_partition_dry_run_then_apply_covers_the_district(
    api_as: Callable[[str], TestClient], city: City, db: Session
) -> None:
    did = _district_with_sites(db, city, 60)
    c = api_as("admin")

    def missing() -> dict[str, int]:
        row = next(r for r in c.get("/api/v1/grids/coverage").json() if r["district_id"] == did)
        return {k: row[k] for k in ("active_sites", "missing_enforcement", "missing_inspector")}

    assert missing() == {"active_sites": 60, "missing_enforcement": 60, "missing_inspector": 60}
    body = {"district_id": did, "kind": "enforcement"}
    dry = c.post("/api/v1/grids/partition", json=body).json()
    assert dry["applied"] is False and dry["status"] == "ok"
    assert all(dry["min_size"] <= s <= dry["max_size"] for s in dry["sizes"])
    assert (dry["min_size"], dry["max_size"]) == (20, 30) and sum(dry["sizes"]) == 60
    assert sorted(i for g in dry["groups"] for i in g["site_ids"]) == sorted(
        db.scalars(select(Site.id).where(Site.district_id == did))
    )
    assert missing()["missing_enforcement"] == 60  # a dry run changes nothing
    for kind in ("enforcement", "inspector"):
        r = c.post(
            "/api/v1/grids/partition", json={"district_id": did, "kind": kind, "apply": True}
        )
        assert r.status_code == 200 and r.json()["applied"] is True
    assert missing() == {"active_sites": 60, "missing_enforcement": 0, "missing_inspector": 0}
    listed = c.get("/api/v1/grids", params={"district_id": did}).json()["items"]
    assert sorted(g["site_count"] for g in listed if g["kind"] == "enforcement") == sorted(
        dry["sizes"]
    )
    assert [g["site_count"] for g in listed if g["kind"] == "inspector"] == [60]
    site = db.scalar(select(Site.id).where(Site.district_id == did).limit(1))
    history = c.get(f"/api/v1/sites/{site}/audit").json()
    assert {next(iter(h["changes"])) for h in history} == {
        "enforcement_grid_id",
        "inspector_grid_id",
    }


@pytest.mark.parametrize("user", ["admin", "d_heping"])
def test_members_from_another_district_are_refused_without_naming_them(
    user: str, api_as: Callable[[str], TestClient], web_as: Callable[[str], TestClient], city: City
) -> None:
    """Issue 10 §4: a 和平 grid cannot take 沈河 officers (or inspectors working in 沈河),
    through POST, PATCH or the form; the answer names ids, never usernames."""
    c = api_as(user)
    e_hp, i_hp = city.grids["E-HP"], city.grids["I-HP"]
    shenhe = [city.users["off_sh1"], city.users["off_sh2"]]
    r = c.post(f"/api/v1/grids/{e_hp}/groups", json={"name": "x", "member_ids": shenhe})
    assert r.status_code == 422, r.text
    assert ", ".join(map(str, shenhe)) in r.json()["detail"] and "off_sh" not in r.text
    r = c.post(
        f"/api/v1/grids/{i_hp}/groups",
        json={"name": "x", "member_ids": [city.users["insp_sh1"], city.users["insp_sh2"]]},
    )
    assert r.status_code == 422 and "insp_sh" not in r.text
    group = c.get(f"/api/v1/grids/{e_hp}").json()["groups"][0]["id"]
    r = c.patch(f"/api/v1/grids/{e_hp}/groups/{group}", json={"member_ids": shenhe})
    assert r.status_code == 422 and "off_sh" not in r.text
    # ids of any role and any place answer alike, with the ids only
    every = sorted(city.users.values())
    r = c.post(f"/api/v1/grids/{e_hp}/groups", json={"name": "x", "member_ids": every})
    assert r.status_code == 422
    assert not any(name in r.text for name in city.users), r.text
    web = web_as(user)
    r = web.post(
        f"/grids/{e_hp}/groups",
        data={"csrf_token": web.csrf, "name": "跨区组", "member_ids": [str(i) for i in shenhe]},  # type: ignore[attr-defined]
    )
    assert r.status_code == 303
    assert "跨区组" not in web.get(f"/grids/{e_hp}").text.split('data-testid="groups"')[1]
    # the 沈河 officer still sees only 沈河
    assert {s["project_code"] for s in api_as("off_sh1").get("/api/v1/sites").json()["items"]} == {
        "SH-001",
        "SH-002",
        "SH-003",
    }
