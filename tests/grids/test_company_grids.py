"""A contractor sees only the grids of its own sites, counts only its own sites there, and
names no one but those grids' members (the officers and inspectors who supervise it)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.fixtures.city import City

Client = Callable[[str], TestClient]

#: Members of grids that hold none of alpha's sites (沈河 and the city safety station's grid).
STRANGERS = ("off_sh1", "off_sh2", "insp_sh1", "insp_sh2", "off_sf1", "off_sf2")


def test_api_lists_only_the_grids_of_own_sites(api_as: Client) -> None:
    items = api_as("con_alpha").get("/api/v1/grids").json()["items"]
    assert {g["code"] for g in items} == {"E-HP", "I-HP"}
    # I-HP also holds beta's metro site HP-M01: alpha counts only its own three
    assert {g["code"]: g["site_count"] for g in items} == {"E-HP": 3, "I-HP": 3}
    names = {m["username"] for g in items for m in g["members"]}
    assert names == {"off_hp1", "off_hp2", "insp_hp1", "insp_hp2"}


def test_api_refuses_other_grids(api_as: Client, city: City) -> None:
    client = api_as("con_alpha")
    assert client.get(f"/api/v1/grids/{city.grids['E-SH']}").status_code == 404
    detail = client.get(f"/api/v1/grids/{city.grids['I-HP']}").json()
    assert detail["site_count"] == len(detail["sites"]) == 3


def test_page_names_no_strangers(web_as: Client) -> None:
    page = web_as("con_alpha").get("/grids")
    assert page.status_code == 200
    assert "E-HP" in page.text and "I-HP" in page.text
    assert "E-SH" not in page.text and "E-HP-C" not in page.text
    for name in STRANGERS:
        assert name not in page.text


def test_an_admin_still_counts_every_site(api_as: Client) -> None:
    items = api_as("admin").get("/api/v1/grids").json()["items"]
    assert {g["code"]: g["site_count"] for g in items}["I-HP"] == 4
