"""Grid pages: list and grid page per role, forms with CSRF, flash messages, English."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from dustgrid.sites.models import Site
from tests.fixtures.city import City, add_officers


def test_list_for_admin_and_district(web_as: Callable[[str], TestClient], city: City) -> None:
    page = web_as("admin").get("/grids")
    assert page.status_code == 200
    for text in (
        "网格管理",
        "E-HP",
        "E-SH",
        "I-SH",
        "执法监督网格",
        "和平区",
        "off_hp1",
        "网格覆盖检查",
        'data-testid="grid-form"',
    ):
        assert text in page.text, text
    mine = web_as("d_heping").get("/grids")
    assert "E-HP" in mine.text and "E-SH" not in mine.text and "沈河区" not in mine.text
    assert 'data-testid="grid-form"' in mine.text
    only = web_as("admin").get(
        "/grids", params={"kind": "inspector", "district_id": city.districts["heping"]}
    )
    assert "I-HP" in only.text and "E-HP" not in only.text and "I-SH" not in only.text
    viewer = web_as("viewer_city").get("/grids")
    assert "E-SH" in viewer.text and 'data-testid="grid-form"' not in viewer.text


def test_grid_page_shows_groups_sites_and_forms(
    web_as: Callable[[str], TestClient], city: City
) -> None:
    page = web_as("d_heping").get(f"/grids/{city.grids['E-HP']}")
    assert page.status_code == 200
    for text in (
        "E-HP 组",
        "off_hp1",
        "off_hp2",
        "和平区中山路住宅项目",
        f'href="/sites/{city.sites["HP-001"]}"',
        "不达标",
        "基本达标",
        'data-testid="group-form"',
    ):
        assert text in page.text, text
    assert "没有可选人员" in page.text  # both 和平 officers already work this grid
    assert "地铁十号线和平站" not in page.text  # outside d_heping's ledger
    assert 'data-testid="assign-form"' not in page.text  # every visible 和平 site is here
    assert web_as("d_heping").get(f"/grids/{city.grids['E-SH']}").status_code == 404
    officer = web_as("off_hp1").get(f"/grids/{city.grids['E-HP']}")
    assert officer.status_code == 200 and 'data-testid="group-form"' not in officer.text


def test_forms_need_csrf(web_as: Callable[[str], TestClient], city: City) -> None:
    c = web_as("admin")
    grid = city.grids["E-HP"]
    no_token = {"name": "x", "member_ids": [str(city.users["off_sh1"])]}
    assert c.post(f"/grids/{grid}/groups", data=no_token).status_code == 403
    assert c.post(f"/grids/{grid}/assign", data={"site_ids": "1"}).status_code == 403
    assert c.post("/grids", data={"code": "X", "name": "x"}).status_code == 403
    bad = dict(no_token, csrf_token="forged")
    assert c.post(f"/grids/{grid}/groups", data=bad).status_code == 403


def test_add_group_and_move_sites_through_the_pages(
    web_as: Callable[[str], TestClient], city: City, db: Session
) -> None:
    c = web_as("admin")
    r = c.post(
        "/grids",
        data={
            "csrf_token": c.csrf,
            "code": "E-HP-7",  # type: ignore[attr-defined]
            "name": "和平七号",
            "kind": "enforcement",
            "district_id": str(city.districts["heping"]),
        },
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/grids/")
    url = r.headers["location"]
    page = c.get(url)
    assert "网格已新增" in page.text and 'data-testid="assign-form"' in page.text
    assert "网格已新增" not in c.get(url).text  # the flash shows once
    r = c.post(
        f"{url}/groups",
        data={
            "csrf_token": c.csrf,
            "name": "七号组",  # type: ignore[attr-defined]
            "member_ids": [
                str(i) for i in add_officers(db, city, "station_heping", "off_hp3", "off_hp4")
            ],
        },
    )
    assert r.status_code == 303
    page = c.get(url)
    assert "成员组已新增" in page.text and "七号组" in page.text
    hp2 = city.sites["HP-002"]
    r = c.post(
        f"{url}/assign",
        data={
            "csrf_token": c.csrf,  # type: ignore[attr-defined]
            "site_ids": [str(hp2)],
        },
    )
    assert r.status_code == 303
    page = c.get(url)
    assert "工地已调入本网格" in page.text and "和平区南京街商业综合体" in page.text
    site = db.get(Site, hp2)
    assert site is not None and site.enforcement_grid_id == int(url.rsplit("/", 1)[1])


def test_refused_change_flashes_the_reason(web_as: Callable[[str], TestClient], city: City) -> None:
    c = web_as("d_heping")
    url = f"/grids/{city.grids['E-HP']}"
    r = c.post(
        f"{url}/groups",
        data={
            "csrf_token": c.csrf,
            "name": "单人组",  # type: ignore[attr-defined]
            "member_ids": [str(city.users["off_sh1"])],
        },
    )
    assert r.status_code == 303 and r.headers["location"] == url
    page = c.get(url)
    assert 'data-testid="flash-error"' in page.text and "每组至少 2 人" in page.text
    assert "单人组" not in page.text.split('data-testid="groups"')[1].split("<h3>")[0]


def test_english_labels(web_as: Callable[[str], TestClient], city: City) -> None:
    c = web_as("admin")
    c.cookies.set("lang", "en")
    page = c.get(f"/grids/{city.grids['I-HP']}")
    assert "Inspector grid" in page.text and "Member groups" in page.text
    assert "Grid coverage" in c.get("/grids").text
