"""The case inbox narrows by district, category, opened day (local days, both ends included)
and light, in the API and on the page, always within the reader's scope."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from dustgrid.cases.models import Case
from dustgrid.config import Settings
from tests.cases.case_kit import report
from tests.fixtures.city import City

Client = Callable[[str], TestClient]

# 2026-03-02 23:30 in Shanghai (UTC+8) is still Monday the 2nd there; 16:30 UTC is the 3rd.
MON_LATE = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)
TUE_EARLY = datetime(2026, 3, 2, 16, 30, tzinfo=UTC)


@pytest.fixture
def three(db: Session, city: City, settings: Settings) -> dict[str, Case]:
    return {
        "hp_mon": report(db, city, settings, site="HP-001", now=MON_LATE),
        "hp_tue": report(db, city, settings, site="HP-002", now=TUE_EARLY, category="hoarding_gap"),
        "sh_tue": report(db, city, settings, site="SH-001", by="insp_sh1", now=TUE_EARLY),
    }


def ids(client: TestClient, **params: str) -> set[int]:
    r = client.get("/api/v1/cases", params={"size": "100", **params})
    assert r.status_code == 200, r.text
    return {c["id"] for c in r.json()["items"]}


def test_api_filters_by_district_category_and_local_day(
    api_as: Client, city: City, three: dict[str, Case]
) -> None:
    admin = api_as("admin")
    hp, sh = str(city.districts["heping"]), str(city.districts["shenhe"])
    assert ids(admin, district_id=hp) == {three["hp_mon"].id, three["hp_tue"].id}
    assert ids(admin, district_id=sh) == {three["sh_tue"].id}
    assert ids(admin, category="hoarding_gap") == {three["hp_tue"].id}
    assert ids(admin, opened_from="2026-03-02", opened_to="2026-03-02") == {three["hp_mon"].id}
    assert ids(admin, opened_from="2026-03-03") == {three["hp_tue"].id, three["sh_tue"].id}
    assert ids(admin, opened_to="2026-03-02", district_id=sh) == set()


def test_api_filters_stay_in_scope(api_as: Client, city: City, three: dict[str, Case]) -> None:
    heping = api_as("d_heping")
    assert ids(heping, district_id=str(city.districts["shenhe"])) == set()
    assert ids(heping, opened_from="2026-03-03") == {three["hp_tue"].id}


def test_api_light_filter(api_as: Client, three: dict[str, Case]) -> None:
    admin = api_as("admin")
    everything = admin.get("/api/v1/cases", params={"size": "100"}).json()["items"]
    assert {c["light"] for c in everything} - {None}, "the cases have running clocks"
    for light in ("red", "yellow", "green"):
        want = {c["id"] for c in everything if c["light"] == light}
        assert ids(admin, light=light) == want, light


def test_api_names_bad_filters(api_as: Client) -> None:
    admin = api_as("admin")
    r = admin.get("/api/v1/cases", params={"opened_from": "2026-13-01", "light": "blue"})
    assert r.status_code == 422
    assert "opened_from" in r.text and "light" in r.text
    r = admin.get("/api/v1/cases", params={"opened_from": "2026-03-04", "opened_to": "2026-03-02"})
    assert r.status_code == 422
    assert "opened_from" in r.text


def test_page_filters_and_keeps_them_in_the_tabs(
    web_as: Client, city: City, three: dict[str, Case]
) -> None:
    page = web_as("admin").get(
        "/cases",
        params={"tab": "all", "district_id": city.districts["shenhe"], "opened_from": "2026-03-03"},
    )
    assert page.status_code == 200
    assert f"/cases/{three['sh_tue'].id}" in page.text
    assert f'/cases/{three["hp_tue"].id}"' not in page.text
    assert 'name="opened_from" value="2026-03-03"' in page.text
    assert f"district_id={city.districts['shenhe']}" in page.text  # the tab links keep it


def test_page_names_a_refused_filter_by_its_label(web_as: Client, three: dict[str, Case]) -> None:
    page = web_as("admin").get("/cases", params={"tab": "all", "opened_from": "someday"})
    assert page.status_code == 200
    notice = page.text.split('data-testid="filter-refused">', 1)[1].split("</p>", 1)[0]
    assert notice == "以下筛选条件无效，已忽略：上报日期自"


def workbook(content: bytes) -> list[tuple[object, ...]]:
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(content)).worksheets[0]
    return [tuple(r) for r in ws.iter_rows(values_only=True)]


def test_export_holds_the_filtered_scoped_list(
    web_as: Client, api_as: Client, city: City, three: dict[str, Case]
) -> None:
    params = {"tab": "all", "opened_from": "2026-03-03"}
    page = web_as("d_heping").get("/cases", params=params)
    link = page.text.split('data-testid="case-export"', 1)[0].rsplit('href="', 1)[1]
    assert "opened_from=2026-03-03" in link.replace("&amp;", "&")
    r = web_as("d_heping").get("/cases/export.xlsx", params=params)
    assert r.status_code == 200
    table = workbook(r.content)
    assert table[0][:3] == ("案件编号", "时限灯", "状态")
    assert [row[0] for row in table[1:]] == [three["hp_tue"].id]
    assert ids(api_as("d_heping"), **params) == {three["hp_tue"].id}
    case_row = table[1]
    # labels and local times, as on the page
    assert case_row[2:6] == ("已上报", "和平区", "和平区南京街商业综合体", "围挡不连续")
    assert case_row[10] == "2026-03-03 00:30"
    assert "reported" not in case_row and "hoarding_gap" not in case_row


def test_export_in_english(web_as: Client, three: dict[str, Case]) -> None:
    client = web_as("admin")
    client.cookies.set("lang", "en")
    table = workbook(client.get("/cases/export.xlsx", params={"tab": "all"}).content)
    assert table[0][:3] == ("Case no.", "Light", "State")
    assert {row[0] for row in table[1:]} == {c.id for c in three.values()}


def test_english_category_options_carry_no_chinese() -> None:
    from dustgrid.web.case_filters import categories

    names = [name for _group, options in categories("en") for _key, name in options]
    assert "Frontage duties neglected" in names
    assert not [n for n in names if re.search(r"[\u3400-\u9fff]", n)]
