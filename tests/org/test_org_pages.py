"""The organisation page: tree per role, city-admin form with CSRF and flash messages."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.fixtures.city import City


def test_tree_for_admin_and_district(web_as: Callable[[str], TestClient], city: City) -> None:
    page = web_as("admin").get("/org")
    assert page.status_code == 200
    for text in (
        "组织机构",
        "沈阳市城乡建设局",
        "和平区建设局",
        "沈河区安全监督站",
        "沈阳市建设工程安全监督站",
        "一级网格",
        "三级网格",
        "区安全监督机构",
        'data-testid="unit-form"',
        "210102",
    ):
        assert text in page.text, text
    mine = web_as("d_heping").get("/org")
    assert mine.status_code == 200
    assert "和平区安全监督站" in mine.text and "沈河区建设局" not in mine.text
    assert 'data-testid="unit-form"' not in mine.text


def test_unauthenticated_redirects_to_login(anon: TestClient) -> None:
    r = anon.get("/org", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_add_unit_form(web_as: Callable[[str], TestClient], city: City) -> None:
    c = web_as("admin")
    form = {
        "name": "和平区南部监督站",
        "kind": "supervision_station",
        "parent_id": str(city.units["bureau_heping"]),
        "district_id": "",
    }
    assert c.post("/org/units", data=form).status_code == 403  # no CSRF token
    r = c.post("/org/units", data=dict(form, csrf_token=c.csrf))  # type: ignore[attr-defined]
    assert r.status_code == 303 and r.headers["location"] == "/org"
    page = c.get("/org")
    assert "单位已新增" in page.text and "和平区南部监督站" in page.text


def test_refused_unit_flashes_reason(web_as: Callable[[str], TestClient], city: City) -> None:
    c = web_as("admin")
    form = {
        "csrf_token": c.csrf,
        "name": "错误单位",
        "kind": "supervision_station",  # type: ignore[attr-defined]
        "parent_id": str(city.units["city"]),
    }
    assert c.post("/org/units", data=form).status_code == 303
    page = c.get("/org")
    assert 'data-testid="flash-error"' in page.text and "第3级" in page.text
    assert "错误单位" not in page.text


def test_district_admin_cannot_post_units(web_as: Callable[[str], TestClient], city: City) -> None:
    c = web_as("d_heping")
    form = {
        "csrf_token": c.csrf,
        "name": "x",
        "kind": "supervision_station",  # type: ignore[attr-defined]
        "parent_id": str(city.units["bureau_heping"]),
    }
    assert c.post("/org/units", data=form).status_code == 403


def test_english(web_as: Callable[[str], TestClient]) -> None:
    c = web_as("admin")
    c.cookies.set("lang", "en")
    page = c.get("/org")
    assert "Unit tree" in page.text and "District construction bureau" in page.text
