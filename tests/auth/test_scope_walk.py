"""Walks every ledger route as every role: nothing outside scope can be read or changed.

Reads outside scope answer 404; writes by a role without the permission answer 403.
A route added to the API without a place in this walk makes ``test_every_api_route_is_walked``
fail, so the walk keeps up with the code.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from tests.fixtures.city import City

ALL = {"HP-001", "HP-002", "HP-003", "SH-001", "SH-002", "SH-003", "HP-M01"}
HP = {"HP-001", "HP-002", "HP-003"}
SH = {"SH-001", "SH-002", "SH-003"}

VISIBLE: dict[str, set[str]] = {
    "admin": ALL,
    "viewer_city": ALL,
    "d_heping": HP,
    "viewer_heping": HP,
    "d_shenhe": SH,
    "safety_admin": {"HP-M01"},
    "st_heping": HP | {"HP-M01"},
    "st_shenhe": SH,
    "off_hp1": HP | {"HP-M01"},
    "off_hp2": HP | {"HP-M01"},
    "off_sh1": SH,
    "insp_hp1": HP | {"HP-M01"},
    "insp_sh2": SH,
    "con_alpha": HP,
    "con_beta": SH | {"HP-M01"},
    "prov_gamma": set(),
}
WRITERS = {"admin", "d_heping", "d_shenhe", "safety_admin"}
ROLES = sorted(VISIBLE)

# Ledger routes this walk exercises; other domains' routes are walked in their own tests.
WALKED = {
    ("GET", "/api/v1/sites"),
    ("GET", "/api/v1/sites/map"),
    ("GET", "/api/v1/sites/export.xlsx"),
    ("GET", "/api/v1/sites/template.xlsx"),
    ("POST", "/api/v1/sites/import"),
    ("POST", "/api/v1/sites"),
    ("GET", "/api/v1/sites/{site_id}"),
    ("PATCH", "/api/v1/sites/{site_id}"),
    ("POST", "/api/v1/sites/{site_id}/retire"),
    ("GET", "/api/v1/sites/{site_id}/audit"),
}


def test_every_api_route_is_walked(app: object) -> None:
    from tests.auth.walk_registry import walked_elsewhere

    paths = app.openapi()["paths"]  # type: ignore[attr-defined]
    routes = {
        (method.upper(), path)
        for path, ops in paths.items()
        if path.startswith("/api/")
        for method in ops
    }
    assert ("GET", "/api/v1/sites") in routes  # the enumeration itself works
    missing = routes - WALKED - walked_elsewhere()
    assert not missing, f"routes without a scope walk: {sorted(missing)}"


@pytest.mark.parametrize("user", ROLES)
def test_list_map_export_show_only_scope(
    user: str, api_as: Callable[[str], TestClient], city: City
) -> None:
    c = api_as(user)
    listed = c.get("/api/v1/sites", params={"size": 200}).json()
    assert {i["project_code"] for i in listed["items"]} == VISIBLE[user]
    assert listed["total"] == len(VISIBLE[user])
    rows = c.get("/api/v1/sites/map").json()["rows"]
    ids = {r[0] for r in rows}
    assert ids == {city.sites[code] for code in VISIBLE[user]}
    export = c.get("/api/v1/sites/export.xlsx")
    assert export.status_code == 200
    import io

    ws = load_workbook(io.BytesIO(export.content)).worksheets[0]
    codes = {str(row[0]) for row in ws.iter_rows(min_row=2, values_only=True) if row[0]}
    assert codes == VISIBLE[user]


@pytest.mark.parametrize("user", ROLES)
def test_site_reads_outside_scope_are_404(
    user: str, api_as: Callable[[str], TestClient], city: City
) -> None:
    c = api_as(user)
    for code, site_id in city.sites.items():
        expected = 200 if code in VISIBLE[user] else 404
        assert c.get(f"/api/v1/sites/{site_id}").status_code == expected, (user, code)
        assert c.get(f"/api/v1/sites/{site_id}/audit").status_code == expected, (user, code)


@pytest.mark.parametrize("user", ROLES)
def test_site_writes_forbidden_or_out_of_scope(
    user: str, api_as: Callable[[str], TestClient], city: City
) -> None:
    c = api_as(user)
    for code, site_id in city.sites.items():
        r = c.patch(f"/api/v1/sites/{site_id}", json={"contact_name": "张三"})
        retire = c.post(f"/api/v1/sites/{site_id}/retire", json={"reason": "测试退出"})
        if user not in WRITERS:
            expected = 403 if code in VISIBLE[user] else 404
            assert r.status_code == expected, (user, code, r.text)
            assert retire.status_code == expected, (user, code, retire.text)
        elif code in VISIBLE[user]:
            assert r.status_code == 200, (user, code, r.text)
            assert r.json()["contact_name"] == "张三"
        else:
            assert r.status_code == 404, (user, code, r.text)
            assert retire.status_code == 404, (user, code)


@pytest.mark.parametrize("user", ROLES)
def test_create_and_import_need_permission(
    user: str, api_as: Callable[[str], TestClient], city: City
) -> None:
    c = api_as(user)
    body = {
        "project_code": f"NEW-{user}",
        "name": "新工地",
        "kind": "housing",
        "district_id": city.districts["heping"],
        "lat": 41.79,
        "lon": 123.40,
        "stage": "earthwork",
    }
    r = c.post("/api/v1/sites", json=body)
    if user in ("admin", "d_heping"):
        assert r.status_code == 201, r.text
    elif user in WRITERS:
        # another district's admin: the district is outside their scope
        assert r.status_code in (403, 422), r.text
    else:
        assert r.status_code == 403, r.text
    t = c.get("/api/v1/sites/template.xlsx")
    imp = c.post("/api/v1/sites/import", files={"file": ("x.xlsx", t.content)})
    if user in WRITERS:
        assert t.status_code == 200 and imp.status_code == 200, imp.text
    else:
        assert imp.status_code == 403


def test_unauthenticated_api_is_401(anon: TestClient, city: City) -> None:
    assert anon.get("/api/v1/sites").status_code == 401
    assert anon.get(f"/api/v1/sites/{city.sites['HP-001']}").status_code == 401
    assert anon.get("/api/v1/sites", headers={"Authorization": "Bearer junk"}).status_code == 401
