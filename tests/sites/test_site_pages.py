"""The ledger pages: list, site page with its history, the create/edit/retire forms."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.fixtures.city import City


def test_ledger_page_is_scoped_and_filterable(web_as: Callable[[str], TestClient]) -> None:
    c = web_as("d_shenhe")
    page = c.get("/sites")
    assert page.status_code == 200
    assert "沈河区北市场住宅项目" in page.text and "和平区中山路住宅项目" not in page.text
    assert "共 3 条" in page.text
    filtered = c.get("/sites", params={"grade": "non_compliant", "district_id": "", "q": ""})
    assert filtered.status_code == 200
    assert "沈河区青年大街拆除工程" in filtered.text and "共 1 条" in filtered.text


def test_site_page_shows_details_and_404_outside_scope(
    web_as: Callable[[str], TestClient], city: City
) -> None:
    c = web_as("con_alpha")
    ok = c.get(f"/sites/{city.sites['HP-001']}")
    assert ok.status_code == 200
    assert "沈阳阿尔法建设集团有限公司" in ok.text and "E-HP" in ok.text
    assert "编辑" not in ok.text  # contractors read, they do not edit
    assert c.get(f"/sites/{city.sites['SH-001']}").status_code == 404


def test_create_edit_retire_through_forms(web_as: Callable[[str], TestClient], city: City) -> None:
    c = web_as("d_heping")
    token = c.csrf  # type: ignore[attr-defined]
    form = {
        "csrf_token": token,
        "project_code": "WEB-1",
        "name": "网页新增工地",
        "kind": "housing",
        "district_id": str(city.districts["heping"]),
        "lat": "41.79",
        "lon": "123.40",
        "stage": "earthwork",
        "area_m2": "800",
        "investment_yuan": "0",
        "permit_status": "permitted",
        "built_up_area": "on",
    }
    r = c.post("/sites/new", data=form)
    assert r.status_code == 303, r.text
    site_url = r.headers["location"]
    page = c.get(site_url)
    assert "网页新增工地" in page.text and "新增工地" in page.text  # audit summary shown
    edit = c.post(f"{site_url}/edit", data={**form, "name": "网页修改工地", "stage": "foundation"})
    assert edit.status_code == 303
    page = c.get(site_url)
    assert "网页修改工地" in page.text
    assert "网页新增工地 → 网页修改工地" in page.text.replace("&nbsp;", " ")
    ask = c.post(f"{site_url}/retire", data={"csrf_token": token, "reason": "重复录入"})
    assert ask.status_code == 200 and 'data-testid="retire-confirm"' in ask.text  # asks first
    assert "重复录入" in ask.text and "已退出台账" not in c.get(site_url).text
    retire = c.post(
        f"{site_url}/retire", data={"csrf_token": token, "reason": "重复录入", "confirm": "yes"}
    )
    assert retire.status_code == 303
    assert "已退出台账" in c.get(site_url).text


def test_form_errors_are_shown_and_nothing_saved(
    web_as: Callable[[str], TestClient], city: City
) -> None:
    c = web_as("admin")
    form = {
        "csrf_token": c.csrf,
        "project_code": "WEB-2",
        "name": "坐标错误工地",
        "kind": "housing",  # type: ignore[attr-defined]
        "district_id": str(city.districts["heping"]),
        "lat": "141.79",
        "lon": "123.40",
        "stage": "earthwork",
    }
    r = c.post("/sites/new", data=form)
    assert r.status_code == 422
    assert "lat" in r.text and 'role="alert"' in r.text
    assert "坐标错误工地" in r.text  # the user's input is kept in the form
    assert c.get("/sites", params={"q": "WEB-2"}).text.count("坐标错误工地") == 0


def test_forms_need_csrf_and_permission(web_as: Callable[[str], TestClient], city: City) -> None:
    c = web_as("admin")
    r = c.post(f"/sites/{city.sites['HP-001']}/retire", data={"reason": "无令牌"})
    assert r.status_code == 403
    officer = web_as("off_hp1")
    assert officer.get("/sites/new").status_code == 403
    r = officer.post(
        f"/sites/{city.sites['HP-001']}/retire", data={"csrf_token": officer.csrf, "reason": "越权"}
    )  # type: ignore[attr-defined]
    assert r.status_code == 403


def test_map_page_lists_scoped_districts(web_as: Callable[[str], TestClient]) -> None:
    c = web_as("d_heping")
    page = c.get("/map")
    assert page.status_code == 200
    import json

    raw = page.text.split('id="map-config">', 1)[1].split("</script>", 1)[0]
    names = {d["name"] for d in json.loads(raw)["districts"]}
    assert names == {"和平区"}
    assert "/static/vendor/leaflet/leaflet.js" in page.text
