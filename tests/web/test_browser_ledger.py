"""A real browser: log in, open the ledger, see the map's markers, upload a bad Excel row."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.fixtures.city import PASSWORD

pytestmark = pytest.mark.browser


def login(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def test_login_and_ledger(page: Any, live_server: Any) -> None:
    login(page, live_server.url, "d_heping")
    assert page.url == f"{live_server.url}/overview"  # leaders land on the overview
    page.goto(f"{live_server.url}/sites")
    rows = page.locator("[data-testid=ledger] tbody tr")
    assert rows.count() == 3
    text = page.locator("[data-testid=ledger]").inner_text()
    assert "和平区中山路住宅项目" in text
    assert "沈河区" not in text
    page.fill("input[name=q]", "南京街")
    page.click(".filters button[type=submit]")
    page.wait_for_url("**q=*")
    assert page.locator("[data-testid=ledger] tbody tr").count() == 1
    page.click("text=和平区南京街商业综合体")
    assert page.locator("[data-testid=site-name]").inner_text().startswith("和平区南京街商业综合体")


def test_wrong_password_shows_error(page: Any, live_server: Any) -> None:
    page.goto(f"{live_server.url}/login")
    page.fill("#username", "admin")
    page.fill("#password", "wrong-password-1")
    page.click("button[type=submit]")
    assert "用户名或密码错误" in page.locator("[role=alert]").inner_text()


def test_map_shows_markers(page: Any, live_server: Any) -> None:
    login(page, live_server.url, "admin")
    page.goto(f"{live_server.url}/map")
    page.wait_for_selector("#map[data-markers]")
    assert page.get_attribute("#map", "data-markers") == "7"
    # two district boundaries; every site is either a marker or counted in a cluster
    page.wait_for_selector(".marker-cluster, path.site-marker")
    page.wait_for_timeout(500)
    assert page.locator(".leaflet-overlay-pane path:not(.site-marker)").count() == 2
    clustered = sum(int(t) for t in page.locator(".marker-cluster span").all_inner_texts())
    assert clustered + page.locator("path.site-marker").count() == 7
    # zoomed in far enough, the non-compliant sites are red markers of their own
    page.goto(f"{live_server.url}/map#site={live_server.city.sites['HP-001']}")
    page.wait_for_selector(".leaflet-popup-content")
    assert "和平区中山路住宅项目" in page.locator(".leaflet-popup-content").inner_text()
    assert page.locator("path.site-marker.grade-non_compliant").count() >= 1
    assert "工地 7 个" in page.locator("[data-testid=site-count]").inner_text()


def test_excel_upload_reports_bad_row(page: Any, live_server: Any, tmp_path: Path) -> None:
    login(page, live_server.url, "admin")
    template = page.request.get(f"{live_server.url}/api/v1/sites/template.xlsx")
    assert template.ok
    wb = load_workbook(io.BytesIO(template.body()))
    ws = wb.worksheets[0]
    header_row = next(
        r for r in range(1, 6) if any("项目编号" in str(c.value or "") for c in ws[r])
    )
    headers = {str(c.value).rstrip("*").strip(): c.column for c in ws[header_row] if c.value}

    def put(row: int, **values: Any) -> None:
        for key, value in values.items():
            col = next(c for h, c in headers.items() if h.startswith(key))
            ws.cell(row=row, column=col, value=value)

    good = dict(
        项目编号="BR-001",
        项目名称="浏览器测试工地",
        工程类别="房屋建筑",
        所属区="和平区",
        施工阶段="土方阶段",
    )
    put(header_row + 1, **good, 纬度=41.79, 经度=123.40)
    put(header_row + 2, **{**good, "项目编号": "BR-002"}, 纬度=141.79, 经度=123.40)
    path = tmp_path / "upload.xlsx"
    wb.save(path)
    page.goto(f"{live_server.url}/sites/import")
    page.set_input_files("#file", str(path))
    page.click("form[enctype] button[type=submit]")
    page.wait_for_selector("[data-testid=import-result]")
    errors = page.locator("[data-testid=import-errors] tbody tr")
    assert errors.count() >= 1
    first = errors.first.inner_text()
    assert str(header_row + 2) in first and "纬度" in first
    assert "新增 1 条" in page.locator("[data-testid=import-result]").inner_text()
    page.goto(f"{live_server.url}/sites?q=BR-00")
    assert page.locator("[data-testid=ledger] tbody tr").count() == 1
