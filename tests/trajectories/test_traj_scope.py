"""Scope of the City Brain routes: who may read, who may write, and nothing of another
district (the suspects' own scope is in test_traj_loop.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.city import City

T = "/api/v1/trajectories"
CB = "/api/v1/citybrain"

# The routes this module and the loop tests walk (tests/auth/walk_registry.py).
WALKED = {
    ("GET", f"{T}/trucks"),
    ("POST", f"{T}/trucks"),
    ("PUT", f"{T}/trucks/{{truck_id}}"),
    ("POST", f"{T}/trucks/import"),
    ("GET", f"{T}/places"),
    ("POST", f"{T}/places"),
    ("PUT", f"{T}/places/{{place_id}}"),
    ("DELETE", f"{T}/places/{{place_id}}"),
    ("POST", f"{T}/places/import"),
    ("GET", f"{T}/heat"),
    ("GET", f"{T}/queue"),
    ("GET", f"{T}/ledger-gaps"),
    ("POST", f"{T}/runs"),
    ("GET", f"{T}/suspects"),
    ("GET", f"{T}/suspects/{{suspect_id}}"),
    ("POST", f"{T}/suspects/{{suspect_id}}/confirm"),
    ("POST", f"{T}/suspects/{{suspect_id}}/dismiss"),
    ("POST", f"{CB}/keys"),
    ("GET", f"{CB}/feedback"),
    ("POST", f"{CB}/fixes/batches/{{batch_id}}"),
}

PLACE = {"name": "测试车场", "kind": "depot", "lat": 41.80, "lon": 123.40, "radius_m": 150}
TRUCK = {"plate": "辽A12345", "company": "测试运输", "terminal_id": "T-0001"}


@pytest.mark.parametrize("username", ["d_heping", "st_heping", "off_hp1", "con_alpha"])
def test_only_the_city_writes_the_registry_places_keys_and_runs(
    api_as: Callable[[str], TestClient], username: str
) -> None:
    c = api_as(username)
    assert c.post(f"{T}/trucks", json=TRUCK).status_code == 403
    assert c.put(f"{T}/trucks/1", json=TRUCK).status_code == 403
    assert c.post(f"{T}/places", json=PLACE).status_code == 403
    assert c.put(f"{T}/places/1", json=PLACE).status_code == 403
    assert c.delete(f"{T}/places/1").status_code == 403
    book = ("x.xlsx", b"PK", "application/octet-stream")
    assert c.post(f"{T}/trucks/import", files={"file": book}).status_code == 403
    assert c.post(f"{T}/places/import", files={"file": book}).status_code == 403
    assert c.post(f"{CB}/keys", json={"name": "k", "scopes": ["feedback:read"]}).status_code in (
        403,
        422,
    )
    assert c.post(f"{T}/runs", params={"day": "2026-05-05"}).status_code == 403


@pytest.mark.parametrize("username", ["d_heping", "off_hp1", "con_alpha", "prov_gamma"])
def test_the_city_brain_endpoints_refuse_people_who_are_not_the_city(
    api_as: Callable[[str], TestClient], username: str
) -> None:
    c = api_as(username)
    assert c.get(f"{CB}/feedback").status_code in (401, 403)
    r = c.post(f"{CB}/fixes/batches/b-1", content=b"terminal_id,time,lat,lon\n")
    assert r.status_code in (401, 403)


@pytest.mark.parametrize("username", ["con_alpha", "prov_gamma"])
def test_companies_see_no_registry_places_heat_or_queue(
    api_as: Callable[[str], TestClient], username: str
) -> None:
    c = api_as(username)
    for r in (
        c.get(f"{T}/trucks"),
        c.get(f"{T}/places"),
        c.get(f"{T}/heat", params={"day": "2026-05-05"}),
    ):
        assert r.status_code == 403
        assert r.json()["errors"] == {"permission": "grid_work"}  # the permission they lack
    queue = c.get(f"{T}/queue")
    assert queue.status_code == 403 or queue.json() == []


def test_a_district_reads_only_its_own_ledger_gaps(
    api_as: Callable[[str], TestClient], city: City
) -> None:
    period = {"from": "2026-05-01", "to": "2026-05-31"}
    own = api_as("d_heping").get(
        f"{T}/ledger-gaps", params={"district_id": city.districts["heping"], **period}
    )
    assert own.status_code == 200 and own.json()["missing_from_ledger"] == 0
    other = api_as("d_heping").get(
        f"{T}/ledger-gaps", params={"district_id": city.districts["shenhe"], **period}
    )
    assert other.status_code == 403
    for user in ("d_heping", "off_hp1", "insp_hp1", "viewer_city"):
        assert api_as(user).get(f"{T}/trucks").status_code == 200
        assert api_as(user).get(f"{T}/places").status_code == 200
        assert api_as(user).get(f"{T}/queue").status_code == 200
