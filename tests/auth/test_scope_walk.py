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
from sqlalchemy.orm import Session

from dustgrid.config import Settings
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
    "st_heping": HP,  # not the city station's metro site: never more than d_heping
    "st_shenhe": SH,
    "off_hp1": HP,
    "off_hp2": HP,
    "off_sf1": {"HP-M01"},  # the city safety station's officers work its metro grid
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
    ("GET", "/api/v1/sites/enterprises"),
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
def test_enterprise_picker_shows_only_enterprises_of_sites_in_scope(
    user: str, api_as: Callable[[str], TestClient], city: City, db: Session
) -> None:
    from dustgrid.sites.models import Site

    expected: set[int] = set()
    for code in VISIBLE[user]:
        site = db.get(Site, city.sites[code])
        assert site is not None
        expected |= {e for e in (site.builder_id, site.contractor_id, site.supervisor_id) if e}
    listed = api_as(user).get("/api/v1/sites/enterprises").json()
    assert {e["id"] for e in listed} <= expected
    assert len(listed) == min(len(expected), 20)  # the picker proposes at most 20


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


# --------------------------------------------------------------------------- reference ids
#
# Issue 10 §4: a write that names another record by id (a member, a responsible person, a
# unit, a site, a grid, a case) must refuse ids outside the caller's scope like ids that do
# not exist, and must not name what it refused. Every such field of every API write is
# either probed below with ids from the other district, or listed in REFERENCE_EXEMPT with
# the reason it needs no probe; a new field makes ``test_every_reference_field_is_walked``
# fail until it is placed.

REFERENCE_EXEMPT: dict[tuple[str, str, str], str] = {
    ("POST", "/api/v1/auth/token", "client_id"): "OAuth2 form field, not a record id",
    ("POST", "/api/v1/trajectories/trucks", "terminal_id"): (
        "a truck's GPS terminal id (the vendor's string), not a record id; city-wide only"
    ),
    ("PUT", "/api/v1/trajectories/trucks/{truck_id}", "terminal_id"): (
        "a truck's GPS terminal id (the vendor's string), not a record id; city-wide only"
    ),
    ("POST", "/api/v1/trajectories/suspects/{suspect_id}/confirm", "responsible_id"): (
        "handed to the case workflow's accept move, whose responsible check is probed at "
        "POST /api/v1/cases/{case_id}/moves/{move}"
    ),
    ("POST", "/api/v1/users", "enterprise_id"): (
        "enterprise accounts: city admins only (a district admin may not give those roles)"
    ),
    ("POST", "/api/v1/org/units", "parent_id"): "org_write: city-wide roles only",
    ("POST", "/api/v1/org/units", "district_id"): "org_write: city-wide roles only",
    ("PATCH", "/api/v1/org/units/{unit_id}", "parent_id"): "org_write: city-wide roles only",
    ("PATCH", "/api/v1/org/units/{unit_id}", "district_id"): "org_write: city-wide roles only",
    ("POST", "/api/v1/cases/intake", "site_id"): "case_intake: city-wide system callers only",
    ("POST", "/api/v1/webhooks/video-ai", "event_id"): "the video platform's own event id",
    ("POST", "/api/v1/alerts/profiles", "profile_id"): "a rule profile key, not a record",
    ("POST", "/api/v1/alerts/profiles/dry-run", "profile_id"): "a rule profile key",
    ("POST", "/api/v1/alerts/profiles/dry-run", "site_id"): "alert_profile: city-wide only",
    ("POST", "/api/v1/cases/{case_id}/moves/{move}", "unit_id"): (
        "dispatch/transfer (转办) to another district's L2 unit is the move's purpose; "
        "the unit must be an L2 unit (workflow._unit)"
    ),
    ("POST", "/api/v1/devices", "provider_id"): "providers are city-wide enterprises",
    ("PATCH", "/api/v1/devices/{device_id}", "provider_id"): "providers are city-wide",
    ("POST", "/api/v1/devices/quarantine/{quarantine_id}/adopt", "provider_id"): "city-wide",
    ("POST", "/api/v1/onboarding", "provider_id"): "providers are city-wide enterprises",
    ("POST", "/api/v1/emergencies", "district_ids"): "emergency_declare: city admins only",
    ("POST", "/api/v1/hotline/complaints/{complaint_id}/link", "site_id"): (
        "only L1 opens a case from a complaint (hotline.may_open_case); others get 403"
    ),
}


def _reference_fields(app: object) -> set[tuple[str, str, str]]:
    spec = app.openapi()  # type: ignore[attr-defined]
    schemas = spec["components"]["schemas"]

    def resolve(schema: dict) -> dict:  # type: ignore[type-arg]
        while "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
        return schema

    out = set()
    for path, ops in spec["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, op in ops.items():
            if method == "get":
                continue
            names = [p["name"] for p in op.get("parameters", []) if p["in"] == "query"]
            for content in op.get("requestBody", {}).get("content", {}).values():
                names += list(resolve(content["schema"]).get("properties", {}))
            for name in names:
                if name.endswith(("_id", "_ids")):
                    out.add((method.upper(), path, name))
    return out


def _dispatched_case(db: Session, city: City, settings: Settings) -> int:
    from dustgrid.cases.states import CaseState
    from tests.cases.case_kit import case_in

    return case_in(db, city, settings, CaseState.dispatched, site="HP-001").id


def _shenhe_case(db: Session, city: City, settings: Settings) -> int:
    from tests.cases.case_kit import report

    return report(db, city, settings, site="SH-001", by="insp_sh1").id


def _complaint(c: TestClient) -> int:
    body = {"content": "工地扬尘很大", "place_text": "和平区中山路", "lat": 41.79, "lon": 123.40}
    r = c.post("/api/v1/hotline/complaints", json=body)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _device(db: Session, city: City) -> int:
    from dustgrid.devices.models import Device, DeviceKind, Lifecycle

    d = Device(
        mn="WALK-HP-01",
        kind=DeviceKind.dust_monitor,
        site_id=city.sites["HP-001"],
        lifecycle=Lifecycle.active,
    )
    db.add(d)
    db.flush()
    return d.id


def _quarantined(db: Session, city: City) -> int:
    """A quarantined frame of the caller's own device (wrong password): visible to it."""
    from dustgrid.devices import service as devices

    _device(db, city)
    return devices.record_quarantine(
        db, mn="WALK-HP-01", reason="bad_password", peer="p", frame_text="f"
    ).id


def _empty_grid(db: Session, city: City) -> int:
    from dustgrid.grids.models import Grid, GridKind

    g = Grid(
        code="E-HP-EMPTY",
        name="空网格",
        kind=GridKind.enforcement,
        district_id=city.districts["heping"],
        unit_id=city.units["station_heping"],
    )
    db.add(g)
    db.flush()
    return g.id


SITE = {"name": "跨区工地", "kind": "housing", "lat": 41.79, "lon": 123.40, "stage": "earthwork"}

# (fields probed, caller, request builder). The builder gets (city, db, settings, client)
# and returns (method, url, keyword arguments of the request).
Probe = tuple[tuple[str, ...], str, Callable[..., tuple[str, str, dict]]]  # type: ignore[type-arg]


def _assessed_heping(db: Session, city: City, settings: Settings) -> int:
    """November scored and closed; 和平's bureau (the unit d_shenhe must not appeal for)."""
    from dustgrid.assessments import service as assessments
    from dustgrid.assessments.months import Month
    from tests.assessments.helpers import AFTER, build_november

    build_november(db, city)
    assessments.close(db, Month(2026, 11), settings, now=AFTER)
    return city.units["bureau_heping"]


PROBES: dict[str, Probe] = {
    "appeal against another district's score": (
        ("POST /api/v1/assessments/appeals party_id",),
        "d_shenhe",
        lambda c, db, s, cl: (
            "POST",
            "/api/v1/assessments/appeals",
            {
                "json": {
                    "month": "2026-11",
                    "kind": "l2_unit",
                    "party_id": _assessed_heping(db, c, s),
                    "rule": "city_rectified",
                    "reason": "walk",
                }
            },
        ),
    ),
    "account created in another district's unit": (
        ("POST /api/v1/users org_unit_id",),
        "d_heping",
        lambda c, db, s, cl: (
            "POST",
            "/api/v1/users",
            {
                "json": {
                    "username": "walk_new",
                    "password": "Kiln-harbour-4821",
                    "display_name": "跨区账号",
                    "role": "officer",
                    "org_unit_id": c.units["station_shenhe"],
                }
            },
        ),
    ),
    "account moved to another district's unit": (
        ("PATCH /api/v1/users/{user_id} org_unit_id",),
        "d_heping",
        lambda c, db, s, cl: (
            "PATCH",
            f"/api/v1/users/{c.users['off_hp1']}",
            {"json": {"org_unit_id": c.units["bureau_shenhe"]}},
        ),
    ),
    "site create in another district": (
        ("POST /api/v1/sites district_id",),
        "d_heping",
        lambda c, db, s, cl: (
            "POST",
            "/api/v1/sites",
            {"json": {**SITE, "project_code": "X-1", "district_id": c.districts["shenhe"]}},
        ),
    ),
    "site create under another district's unit": (
        ("POST /api/v1/sites l2_unit_id",),
        "d_heping",
        lambda c, db, s, cl: (
            "POST",
            "/api/v1/sites",
            {
                "json": {
                    **SITE,
                    "project_code": "X-2",
                    "district_id": c.districts["heping"],
                    "l2_unit_id": c.units["bureau_shenhe"],
                }
            },
        ),
    ),
    "site create in another district's grids": (
        ("POST /api/v1/sites enforcement_grid_id", "POST /api/v1/sites inspector_grid_id"),
        "d_heping",
        lambda c, db, s, cl: (
            "POST",
            "/api/v1/sites",
            {
                "json": {
                    **SITE,
                    "project_code": "X-3",
                    "district_id": c.districts["heping"],
                    "enforcement_grid_id": c.grids["E-SH"],
                    "inspector_grid_id": c.grids["I-SH"],
                }
            },
        ),
    ),
    "site moved to another district": (
        ("PATCH /api/v1/sites/{site_id} district_id",),
        "d_heping",
        lambda c, db, s, cl: (
            "PATCH",
            f"/api/v1/sites/{c.sites['HP-001']}",
            {"json": {"district_id": c.districts["shenhe"]}},
        ),
    ),
    "site handed to another district's unit": (
        ("PATCH /api/v1/sites/{site_id} l2_unit_id",),
        "d_heping",
        lambda c, db, s, cl: (
            "PATCH",
            f"/api/v1/sites/{c.sites['HP-001']}",
            {"json": {"l2_unit_id": c.units["bureau_shenhe"]}},
        ),
    ),
    "site put in another district's grids": (
        (
            "PATCH /api/v1/sites/{site_id} enforcement_grid_id",
            "PATCH /api/v1/sites/{site_id} inspector_grid_id",
        ),
        "d_heping",
        lambda c, db, s, cl: (
            "PATCH",
            f"/api/v1/sites/{c.sites['HP-001']}",
            {
                "json": {
                    "enforcement_grid_id": c.grids["E-SH"],
                    "inspector_grid_id": c.grids["I-SH"],
                }
            },
        ),
    ),
    "grid created in another district": (
        ("POST /api/v1/grids district_id",),
        "d_heping",
        lambda c, db, s, cl: (
            "POST",
            "/api/v1/grids",
            {
                "json": {
                    "code": "X-G1",
                    "name": "x",
                    "kind": "enforcement",
                    "district_id": c.districts["shenhe"],
                }
            },
        ),
    ),
    "grid owned by another district's unit": (
        ("POST /api/v1/grids unit_id",),
        "d_heping",
        lambda c, db, s, cl: (
            "POST",
            "/api/v1/grids",
            {
                "json": {
                    "code": "X-G2",
                    "name": "x",
                    "kind": "enforcement",
                    "district_id": c.districts["heping"],
                    "unit_id": c.units["station_shenhe"],
                }
            },
        ),
    ),
    "grid moved to another district": (
        ("PATCH /api/v1/grids/{grid_id} district_id",),
        "d_heping",
        lambda c, db, s, cl: (
            "PATCH",
            f"/api/v1/grids/{_empty_grid(db, c)}",
            {"json": {"district_id": c.districts["shenhe"]}},
        ),
    ),
    "grid handed to another district's unit": (
        ("PATCH /api/v1/grids/{grid_id} unit_id",),
        "d_heping",
        lambda c, db, s, cl: (
            "PATCH",
            f"/api/v1/grids/{c.grids['E-HP']}",
            {"json": {"unit_id": c.units["station_shenhe"]}},
        ),
    ),
    "sites of another district assigned": (
        ("POST /api/v1/grids/assign site_ids",),
        "d_heping",
        lambda c, db, s, cl: (
            "POST",
            "/api/v1/grids/assign",
            {"json": {"grid_id": c.grids["E-HP"], "site_ids": [c.sites["SH-001"]]}},
        ),
    ),
    "assigned into another district's grid": (
        ("POST /api/v1/grids/assign grid_id",),
        "d_heping",
        lambda c, db, s, cl: (
            "POST",
            "/api/v1/grids/assign",
            {"json": {"grid_id": c.grids["E-SH"], "site_ids": [c.sites["HP-001"]]}},
        ),
    ),
    "partition of another district": (
        ("POST /api/v1/grids/partition district_id",),
        "d_heping",
        lambda c, db, s, cl: (
            "POST",
            "/api/v1/grids/partition",
            {"json": {"district_id": c.districts["shenhe"], "kind": "enforcement"}},
        ),
    ),
    "group of another district's officers": (
        ("POST /api/v1/grids/{grid_id}/groups member_ids",),
        "d_heping",
        lambda c, db, s, cl: (
            "POST",
            f"/api/v1/grids/{c.grids['E-HP']}/groups",
            {"json": {"name": "x", "member_ids": [c.users["off_sh1"], c.users["off_sh2"]]}},
        ),
    ),
    "group changed to another district's inspectors": (
        ("PATCH /api/v1/grids/{grid_id}/groups/{group_id} member_ids",),
        "d_heping",
        lambda c, db, s, cl: (
            "PATCH",
            "/api/v1/grids/{grid}/groups/{group}".format(
                grid=c.grids["I-HP"],
                group=cl.get(f"/api/v1/grids/{c.grids['I-HP']}").json()["groups"][0]["id"],
            ),
            {"json": {"member_ids": [c.users["insp_sh1"], c.users["insp_sh2"]]}},
        ),
    ),
    "case reported at another district's site": (
        ("POST /api/v1/cases site_id",),
        "off_hp1",
        lambda c, db, s, cl: (
            "POST",
            "/api/v1/cases",
            {
                "data": {
                    "source": "enforcement_officer",
                    "site_id": c.sites["SH-001"],
                    "category": "hoarding",
                    "description": "围挡缺口",
                },
                "files": [("photos", ("a.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 64, "image/jpeg"))],
            },
        ),
    ),
    "case accepted by another district's officer": (
        ("POST /api/v1/cases/{case_id}/moves/{move} responsible_id",),
        "d_heping",
        lambda c, db, s, cl: (
            "POST",
            f"/api/v1/cases/{_dispatched_case(db, c, s)}/moves/accept",
            {"data": {"responsible_id": c.users["off_sh1"]}},
        ),
    ),
    "complaint merged into another district's case": (
        ("POST /api/v1/hotline/complaints/{complaint_id}/link case_id",),
        "d_heping",
        lambda c, db, s, cl: (
            "POST",
            f"/api/v1/hotline/complaints/{_complaint(cl)}/link",
            {"json": {"case_id": _shenhe_case(db, c, s)}},
        ),
    ),
    "device registered at another district's site": (
        ("POST /api/v1/devices site_id",),
        "d_heping",
        lambda c, db, s, cl: (
            "POST",
            "/api/v1/devices",
            {"json": {"mn": "WALK-D-01", "kind": "dust_monitor", "site_id": c.sites["SH-001"]}},
        ),
    ),
    "reference station of another district": (
        ("POST /api/v1/devices district_id",),
        "d_heping",
        lambda c, db, s, cl: (
            "POST",
            "/api/v1/devices",
            {
                "json": {
                    "mn": "WALK-D-02",
                    "kind": "reference_station",
                    "district_id": c.districts["shenhe"],
                }
            },
        ),
    ),
    "quarantined MN adopted into another district": (
        (
            "POST /api/v1/devices/quarantine/{quarantine_id}/adopt site_id",
            "POST /api/v1/devices/quarantine/{quarantine_id}/adopt district_id",
        ),
        "d_heping",
        lambda c, db, s, cl: (
            "POST",
            f"/api/v1/devices/quarantine/{_quarantined(db, c)}/adopt",
            {"json": {"site_id": c.sites["SH-001"]}},
        ),
    ),
    "device moved to another district's site": (
        ("POST /api/v1/devices/{device_id}/requests new_site_id",),
        "d_heping",
        lambda c, db, s, cl: (
            "POST",
            f"/api/v1/devices/{_device(db, c)}/requests",
            {"json": {"kind": "move", "reason": "调整", "new_site_id": c.sites["SH-001"]}},
        ),
    ),
    "onboarding for another contractor's site": (
        ("POST /api/v1/onboarding site_id",),
        "con_alpha",
        lambda c, db, s, cl: (
            "POST",
            "/api/v1/onboarding",
            {
                "json": {
                    "site_id": c.sites["SH-001"],
                    "provider_id": c.enterprises["gamma"],
                    "devices": [{"mn": "WALK-O-01", "kind": "dust_monitor"}],
                }
            },
        ),
    ),
    "inspection check-in at another district's site": (
        ("POST /api/v1/inspections site_id",),
        "off_hp1",
        lambda c, db, s, cl: (
            "POST",
            "/api/v1/inspections",
            {
                "json": {
                    "site_id": c.sites["SH-001"],
                    "lat": 41.801,
                    "lon": 123.461,
                    "idempotency_key": "walk-inspection-0001",
                }
            },
        ),
    ),
}
# Names that must never appear in a refusal: the other district's people and sites.
FOREIGN_NAMES = ("off_sh1", "off_sh2", "insp_sh1", "insp_sh2", "沈河区建设局", "SH-001")


def test_every_reference_field_is_walked(app: object) -> None:
    probed = {tuple(f.split(" ")) for fields, _u, _b in PROBES.values() for f in fields}
    fields = _reference_fields(app)
    assert ("POST", "/api/v1/grids/{grid_id}/groups", "member_ids") in fields  # enumeration works
    missing = fields - probed - set(REFERENCE_EXEMPT)
    assert not missing, f"reference-id fields without a cross-district probe: {sorted(missing)}"
    stale = (probed | set(REFERENCE_EXEMPT)) - fields
    assert not stale, f"probes or exemptions of fields that no longer exist: {sorted(stale)}"


@pytest.mark.parametrize("name", sorted(PROBES))
def test_writes_refuse_reference_ids_from_another_district(
    name: str,
    api_as: Callable[[str], TestClient],
    city: City,
    db: Session,
    settings: Settings,
) -> None:
    _fields, user, build = PROBES[name]
    c = api_as(user)
    method, url, kwargs = build(city, db, settings, c)
    db.commit()
    r = c.request(method, url, **kwargs)
    assert r.status_code in (403, 404, 409, 422), (name, r.status_code, r.text)
    leaked = [n for n in FOREIGN_NAMES if n in r.text]
    assert not leaked, (name, leaked, r.text)
