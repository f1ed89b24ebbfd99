"""Excel ledger through the API: template, export, import with row errors, scope, round trip."""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO
from typing import Any

from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.sites.excel_columns import COLUMNS
from dustgrid.sites.models import Enterprise, Site
from dustgrid.sites.uscc import make_uscc
from tests.fixtures.city import City

Api = Callable[[str], TestClient]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TITLES = [c.title for c in COLUMNS]
NEW_BUILDER = make_uscc("91210102MA00000B1")
METRO_BUILDER = make_uscc("91210102MA00000M1")


def row(**cells: Any) -> list[Any]:
    """A full-width ledger row; ``cells`` by column key."""
    return [cells.get(c.key) for c in COLUMNS]


def site(code: str, district: str = "和平区", **cells: Any) -> list[Any]:
    base = {"project_code": code, "name": f"导入测试{code}", "kind": "房屋建筑",
            "district": district, "lat": 41.790, "lon": 123.400, "stage": "主体阶段"}  # fmt: skip
    return row(**{**base, **cells})


def xlsx(rows: list[list[Any]], headers: list[str] = TITLES) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "工地台账"
    ws.append(headers)
    for r in rows:
        ws.append(r)
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()


def upload(client: TestClient, content: bytes, name: str = "ledger.xlsx") -> Any:
    return client.post("/api/v1/sites/import", files={"file": (name, content, XLSX)})


def find(client: TestClient, code: str) -> dict[str, Any] | None:
    r = client.get("/api/v1/sites", params={"q": code})
    assert r.status_code == 200, r.text
    hits = [i for i in r.json()["items"] if i["project_code"] == code]
    if not hits:
        return None
    detail = client.get(f"/api/v1/sites/{hits[0]['id']}")
    assert detail.status_code == 200
    return dict(detail.json())


def pairs(report: dict[str, Any]) -> list[tuple[int, str]]:
    return [(e["row"], e["column"]) for e in report["errors"]]


def test_admin_import_upserts_good_rows_and_reports_every_bad_cell(api_as: Api, city: City) -> None:
    api = api_as("admin")
    rows = [
        site("NEW-HP-1", builder_name="沈阳新城置业有限公司", builder_uscc=NEW_BUILDER,
             enforcement_grid="E-HP", inspector_grid="I-HP", planned_start_date="2024/5/1",
             investment_yuan="2,000,000", area_m2=800, built_up_area="否"),  # 2 created
        site("NEW-SH-1", district="210103", lat=41.80, lon=123.46, stage="earthwork"),  # 3
        site("HP-002", name="和平区南京街商业综合体", lat=41.785, lon=123.395,
             stage="装饰装修", grade="完全达标"),  # 4 updated (the grade is read-only)
        site("BAD-1", lat=123.4, lon=41.79, contractor_name="某公司",
             contractor_uscc=NEW_BUILDER[:-1] + "Z"),  # 5
        site("BAD-2", kind="别墅", district="浑南区"),  # 6
        row(),  # 7 blank, skipped
        site("BAD-3", enforcement_grid="E-SH", planned_start_date="2024-02-30"),  # 8
        site("NEW-HP-1"),  # 9 duplicate of row 2
        site("HP-003", name="和平区太原街改造工程", kind="其他", lat=41.795, lon=123.405),  # 10
    ]  # fmt: skip
    r = upload(api, xlsx(rows))
    assert r.status_code == 200, r.text
    report = r.json()
    assert pairs(report) == [
        (5, "纬度(WGS-84)"), (5, "经度(WGS-84)"), (5, "施工单位统一社会信用代码"),
        (6, "工程类别"), (6, "所属区"),
        (8, "计划开工日期"), (8, "执法监督网格"),
        (9, "项目编号"),
    ]  # fmt: skip
    assert (report["created"], report["updated"], report["unchanged"]) == (2, 1, 1)
    reasons = {(e["row"], e["column"]): e["reason"] for e in report["errors"]}
    assert reasons[(5, "纬度(WGS-84)")].startswith("纬度和经度可能填反了")
    assert reasons[(9, "项目编号")].startswith("项目编号与第2行重复")

    new = find(api, "NEW-HP-1")
    assert new is not None
    assert new["district_id"] == city.districts["heping"]
    assert new["enforcement_grid_id"] == city.grids["E-HP"]
    assert new["planned_start_date"] == "2024-05-01"
    assert new["built_up_area"] is False and new["monitors_required"] is True
    assert new["builder_id"] is not None and new["l2_unit_id"] == city.units["bureau_heping"]
    sh = find(api, "NEW-SH-1")
    assert sh is not None and sh["district_id"] == city.districts["shenhe"]
    assert sh["stage"] == "earthwork" and sh["inspector_grid_id"] == city.grids["I-SH"]
    updated = find(api, "HP-002")
    # the grade follows from inspections: the typed one is ignored, and the report says so
    assert updated is not None and (updated["stage"], updated["grade"]) == ("decoration", "basic")
    assert report["notices"] == ["excel.grade_read_only"]
    assert updated["contractor_id"] == city.enterprises["alpha"]  # blank cell kept the value
    for code in ("BAD-1", "BAD-2", "BAD-3"):
        assert find(api, code) is None
    history = api.get(f"/api/v1/sites/{updated['id']}/audit").json()
    assert history[0]["action"] == "update" and "stage" in history[0]["changes"]


def test_district_admin_is_held_to_their_area(api_as: Api, city: City, db: Session) -> None:
    api = api_as("d_heping")
    rows = [
        site("NEW-HP-2"),  # 2 created
        site("SH-NEW", district="沈河区", lat=41.80, lon=123.46),  # 3 not their district
        site("HP-M01", name="地铁十号线和平站", kind="轨道交通"),  # 4 run by the safety station
        site("METRO-NEW", kind="轨道交通", builder_name="地铁建设公司",
             builder_uscc=METRO_BUILDER),  # 5 would belong to the safety station
    ]  # fmt: skip
    report = upload(api, xlsx(rows)).json()
    assert pairs(report) == [(3, "所属区"), (4, "项目编号"), (5, "工程类别")]
    assert report["errors"][0]["reason"].startswith("所属区不存在或不在管辖范围：沈河区")
    assert report["errors"][1]["reason"].startswith("无权修改该工地（不在管辖范围）")
    assert (report["created"], report["updated"], report["unchanged"]) == (1, 0, 0)
    new = find(api, "NEW-HP-2")
    assert new is not None and new["l2_unit_id"] == city.units["bureau_heping"]
    # The failed rows left nothing behind: no site, and no enterprise from the rolled-back row.
    assert db.scalar(select(Site.id).where(Site.project_code.in_(["SH-NEW", "METRO-NEW"]))) is None
    assert db.scalar(select(Enterprise.id).where(Enterprise.uscc == METRO_BUILDER)) is None
    metro = db.get(Site, city.sites["HP-M01"])
    assert metro is not None and metro.name == "地铁十号线和平站"


def test_roles_without_the_permission_get_403(api_as: Api) -> None:
    content = xlsx([site("X-403")])
    for user in ("con_alpha", "st_heping", "off_hp1"):
        assert upload(api_as(user), content).status_code == 403, user
    assert find(api_as("admin"), "X-403") is None


def test_bad_files_are_rejected_clearly(api_as: Api) -> None:
    api = api_as("admin")
    r = upload(api, "项目编号,项目名称\nA,B\n".encode(), name="ledger.csv")
    assert r.status_code == 422 and "xlsx" in r.text
    r = upload(api, xlsx([site("X-1")], headers=[*TITLES[:5], "备注", *TITLES[6:]]))
    assert r.status_code == 422 and "无法识别的列：备注" in r.text
    r = upload(api, xlsx([["A", "B"]], headers=["项目编号", "项目名称"]))
    assert r.status_code == 422 and "缺少必填列" in r.text


def test_template_has_headers_dropdowns_and_scoped_lists(api_as: Api) -> None:
    r = api_as("d_heping").get("/api/v1/sites/template.xlsx")
    assert r.status_code == 200 and r.headers["content-type"].startswith(XLSX)
    wb = load_workbook(BytesIO(r.content))
    assert wb.sheetnames == ["工地台账", "填写说明"]
    ws = wb["工地台账"]
    assert [c.value for c in ws[1]] == TITLES
    assert ws.freeze_panes == "B2" and ws["A1"].font.b
    formulas = {str(dv.sqref).split(":")[0].rstrip("0123456789"): dv.formula1
                for dv in ws.data_validations.dataValidation}  # fmt: skip
    col = {c.key: ws.cell(row=1, column=i + 1).column_letter for i, c in enumerate(COLUMNS)}
    assert formulas[col["kind"]] == '"房屋建筑,市政工程,轨道交通,拆除工程,其他"'
    assert formulas[col["stage"]] == '"土方阶段,基础阶段,主体阶段,装饰装修,已竣工,停工"'
    assert formulas[col["permit_status"]] == '"已取得施工许可,疑似未批先建,确认未批先建"'
    assert col["grade"] not in formulas  # read-only: exported, never picked
    assert formulas[col["built_up_area"]] == '"是,否"'
    assert formulas[col["district"]].startswith("'填写说明'!$A$")
    help_text = {str(c.value) for r_ in wb["填写说明"].iter_rows() for c in r_ if c.value}
    assert {"和平区", "E-HP", "I-HP", "项目编号*"} <= help_text
    assert not {"沈河区", "E-SH", "I-SH"} & help_text


def test_export_is_scoped_and_reimports_unchanged(api_as: Api) -> None:
    api = api_as("d_heping")
    r = api.get("/api/v1/sites/export.xlsx")
    assert r.status_code == 200 and r.headers["content-type"].startswith(XLSX)
    ws = load_workbook(BytesIO(r.content))["工地台账"]
    values = [list(v) for v in ws.iter_rows(values_only=True)]
    assert values[0] == TITLES
    assert [v[0] for v in values[1:]] == ["HP-001", "HP-002", "HP-003"]
    assert {v[TITLES.index("所属区*")] for v in values[1:]} == {"和平区"}
    assert values[1][TITLES.index("施工单位")] == "沈阳阿尔法建设集团有限公司"
    report = upload(api, r.content).json()
    assert report == {"created": 0, "updated": 0, "unchanged": 3, "errors": [],
                      "notices": ["excel.grade_read_only"]}  # fmt: skip


def test_admin_export_round_trip_with_a_filter(api_as: Api, city: City) -> None:
    api = api_as("admin")
    r = api.get("/api/v1/sites/export.xlsx", params={"district_id": city.districts["shenhe"]})
    codes = [v[0] for v in load_workbook(BytesIO(r.content))["工地台账"].iter_rows(
        min_row=2, values_only=True)]  # fmt: skip
    assert codes == ["SH-001", "SH-002", "SH-003"]
    everything = api.get("/api/v1/sites/export.xlsx").content
    report = upload(api, everything).json()
    assert report == {"created": 0, "updated": 0, "unchanged": 7, "errors": [],
                      "notices": ["excel.grade_read_only"]}  # fmt: skip
