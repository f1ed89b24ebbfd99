"""Excel ledger: cell parsing, header detection, row checks, and the import service."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from io import BytesIO
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.audit.models import AuditEntry
from dustgrid.auth.models import User
from dustgrid.auth.service import load_principal
from dustgrid.config import Settings
from dustgrid.errors import Forbidden, Invalid
from dustgrid.grids.models import GridKind
from dustgrid.identity.principal import Principal
from dustgrid.sites.excel import import_sites
from dustgrid.sites.excel_columns import (
    BY_KEY,
    COLUMNS,
    CellError,
    DistrictRef,
    GridRef,
    Lookups,
    find_header,
    parse_bool,
    parse_date,
    parse_enum,
    parse_number,
    parse_row,
)
from dustgrid.sites.models import Site, SiteKind, Stage
from dustgrid.sites.uscc import make_uscc
from tests.fixtures.city import City

USCC_A = make_uscc("91210102MA0000001")
USCC_NEW = make_uscc("91210102MA00000X1")
HEADERS = ["项目编号*", "项目名称*", "工程类别*", "所属区*", "纬度(WGS-84)*", "经度(WGS-84)*",
           "施工阶段*"]  # fmt: skip


def xlsx(headers: list[str], rows: list[list[Any]], *, title_rows: int = 0) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for _ in range(title_rows):
        ws.append(["工地台账（2024年5月上半月）"])
    ws.append(headers)
    for row in rows:
        ws.append(row)
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()


def principal(db: Session, city: City, username: str) -> Principal:
    user = db.get(User, city.users[username])
    assert user is not None
    return load_principal(db, user)


# --- cells ---------------------------------------------------------------------------------


NAIVE = datetime.fromisoformat("2024-05-01T00:00")  # what openpyxl gives for a date cell


@pytest.mark.parametrize(
    "value",
    [
        NAIVE, date(2024, 5, 1), "2024-05-01", "2024/5/1", "2024年5月1日",
        " 2024.5.1 ", "2024-05-01 00:00:00", "２０２４－０５－０１", "20240501", 20240501, 45413,
    ],
)  # fmt: skip
def test_dates_in_the_ways_clerks_type_them(value: Any) -> None:
    assert parse_date(value) == date(2024, 5, 1)


@pytest.mark.parametrize("value", ["2024-13-01", "2024-02-30", "明天", "5/1/2024", 12.5, True])
def test_bad_dates_say_so_with_examples(value: Any) -> None:
    with pytest.raises(CellError, match="不是有效的日期.*2024年5月1日"):
        parse_date(value)


def test_dates_out_of_a_sane_range() -> None:
    with pytest.raises(CellError, match="日期超出合理范围"):
        parse_date("1024-05-01")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1,234.5", 1234.5), ("１２３", 123.0), (" 3 000 ", 3000.0), (42, 42.0), ("41.79°", 41.79),
     ("１，０００", 1000.0)],
)  # fmt: skip
def test_numbers_with_commas_and_full_width_digits(value: Any, expected: float) -> None:
    assert parse_number(value) == expected


def test_money_stays_exact() -> None:
    assert parse_number("12,345,678.91", exact=True) == Decimal("12345678.91")


@pytest.mark.parametrize("value", ["abc", "1.2.3", "nan", True, date(2024, 1, 1)])
def test_bad_numbers(value: Any) -> None:
    with pytest.raises(CellError, match="不是有效的数字"):
        parse_number(value)


def test_enum_labels_come_from_the_catalogue_and_english_values_work() -> None:
    assert parse_enum("房屋建筑", BY_KEY["kind"]) == SiteKind.housing
    assert parse_enum("housing", BY_KEY["kind"]) == SiteKind.housing
    assert parse_enum(" 土方阶段 ", BY_KEY["stage"]) == Stage.earthwork
    with pytest.raises(CellError, match="可选值：土方阶段、基础阶段"):
        parse_enum("打桩", BY_KEY["stage"])


def test_yes_no() -> None:
    assert parse_bool("是") is True and parse_bool("否") is False and parse_bool(True) is True
    with pytest.raises(CellError, match="请填写“是”或“否”"):
        parse_bool("也许")


# --- header --------------------------------------------------------------------------------


def test_header_tolerates_missing_star_spaces_and_full_width_brackets() -> None:
    row = (" 项目编号 ", "项目名称*", "工程类别", "所属区", "纬度（WGS-84）*", "经度（WGS－84）",
           "施工阶段", "占地面积（㎡）", None)  # fmt: skip
    pos, cols = find_header([(1, ("标题",)), (2, row)])
    assert pos == 1
    assert [c.key for c in cols.values()] == [
        "project_code", "name", "kind", "district", "lat", "lon", "stage", "area_m2",
    ]  # fmt: skip


def test_unknown_and_missing_required_columns_are_named() -> None:
    with pytest.raises(Invalid, match="无法识别的列：备注"):
        find_header([(1, (*HEADERS, "备注"))])
    with pytest.raises(Invalid, match="缺少必填列：纬度\\(WGS-84\\)\\*、经度"):
        find_header([(1, ("项目编号", "项目名称", "工程类别", "所属区", "施工阶段"))])
    with pytest.raises(Invalid, match="未找到表头行"):
        find_header([(1, ("a", "b"))])


# --- rows ----------------------------------------------------------------------------------

HP, SH = DistrictRef(1, "210102", "和平区"), DistrictRef(2, "210103", "沈河区")
LOOKUPS = Lookups.build(
    [(HP, "Heping"), (SH, "Shenhe")],
    [GridRef(10, "E-HP", GridKind.enforcement, 1), GridRef(11, "I-HP", GridKind.inspector, 1),
     GridRef(12, "E-SH", GridKind.enforcement, 2)],
)  # fmt: skip


def row_of(**cells: Any) -> dict[Any, Any]:
    base = {"project_code": "X-1", "name": "测试工地", "kind": "房屋建筑", "district": "和平区",
            "lat": 41.79, "lon": 123.40, "stage": "主体阶段"}  # fmt: skip
    base.update(cells)
    return {BY_KEY[k]: v for k, v in base.items()}


def errors(**cells: Any) -> list[tuple[str, str]]:
    """A row's errors as a zh-CN reader sees them."""
    return [(column, str(reason)) for column, reason in parse_row(row_of(**cells), LOOKUPS).errors]


def test_a_good_row_parses_to_values() -> None:
    cells = row_of(district="210102", enforcement_grid="e-hp", builder_name="某公司",
                   builder_uscc=USCC_A.lower(), investment_yuan="1,000,000")  # fmt: skip
    row = parse_row(cells, LOOKUPS)
    assert row.errors == []
    assert row.values["district"] == HP and row.values["enforcement_grid"].id == 10
    assert row.values["builder_uscc"] == USCC_A
    assert row.values["investment_yuan"] == Decimal("1000000")


def test_swapped_coordinates_get_a_specific_message() -> None:
    assert errors(lat=123.40, lon=41.79) == [
        ("纬度(WGS-84)", "纬度和经度可能填反了"),
        ("经度(WGS-84)", "纬度和经度可能填反了"),
    ]


def test_coordinates_outside_china() -> None:
    errs = errors(lat=60.0, lon=10.0)
    assert [c for c, _ in errs] == ["纬度(WGS-84)", "经度(WGS-84)"]
    assert "3～54" in errs[0][1] and "73～136" in errs[1][1]


def test_bad_uscc_message_names_the_column() -> None:
    bad = USCC_A[:-1] + ("0" if USCC_A[-1] != "0" else "1")
    ((column, reason),) = errors(contractor_name="某公司", contractor_uscc=bad)
    assert column == "施工单位统一社会信用代码"
    assert reason.startswith("施工单位统一社会信用代码无效：校验码错误")


def test_enterprise_name_and_code_go_together() -> None:
    assert [c for c, _ in errors(builder_name="某公司", supervisor_uscc=USCC_A)] == [
        "建设单位统一社会信用代码", "监理单位",
    ]  # fmt: skip


def test_grids_must_be_of_the_right_kind_and_in_the_district() -> None:
    errs = errors(enforcement_grid="I-HP", inspector_grid="Q-404")
    assert errs[0] == ("执法监督网格", "网格 I-HP 不是执法监督网格")
    assert errs[1][0] == "专职巡查网格" and "网格不存在或不在管辖范围" in errs[1][1]
    ((column, reason),) = errors(enforcement_grid="E-SH")
    assert column == "执法监督网格" and "不在和平区" in reason


def test_all_errors_of_a_row_are_collected_in_column_order() -> None:
    errs = errors(name=None, kind="别墅", district="浑南区", lat="四十一", stage=None,
                  planned_start_date="2024-06-01", planned_end_date="2024-05-01",
                  built_up_area="也许", area_m2="-5")  # fmt: skip
    assert [c for c, _ in errs] == [
        "项目名称", "工程类别", "所属区", "纬度(WGS-84)", "占地面积(㎡)", "施工阶段",
        "计划竣工日期", "是否城市建成区",
    ]  # fmt: skip
    assert errs[0][1] == "必填项为空"


def test_column_table_is_complete() -> None:
    assert len(COLUMNS) == 28
    assert [c.title for c in COLUMNS if c.required] == HEADERS


# --- the import service --------------------------------------------------------------------


def test_duplicates_name_the_first_row_and_blank_rows_are_skipped(
    db: Session, city: City, settings: Settings
) -> None:
    good = ["DUP-1", "重复测试工地", "房屋建筑", "和平区", 41.792, 123.402, "土方阶段"]
    content = xlsx(HEADERS, [good, [None] * 7, ["", " "], good], title_rows=1)
    report = import_sites(db, principal(db, city, "admin"), content, settings=settings)
    assert (report.created, report.updated, report.unchanged) == (1, 0, 0), report.errors
    assert [(e.row, e.column) for e in report.errors] == [(6, "项目编号")]
    assert report.errors[0].reason.startswith("项目编号与第3行重复")


def test_file_checks(db: Session, city: City, settings: Settings) -> None:
    p = principal(db, city, "admin")
    with pytest.raises(Invalid, match="xlsx"):
        import_sites(db, p, b"project_code,name\nA,B\n", settings=settings)
    with pytest.raises(Invalid, match="xlsx"):
        import_sites(db, p, b"PK\x03\x04garbage", settings=settings)
    small = settings.model_copy(update={"upload_max_bytes": 100})
    with pytest.raises(Invalid, match="文件过大"):
        import_sites(db, p, xlsx(HEADERS, []), settings=small)
    few = settings.model_copy(update={"excel_max_rows": 2})
    rows = [[f"N-{i}", "工地", "其他", "和平区", 41.79, 123.4, "停工"] for i in range(3)]
    with pytest.raises(Invalid, match="数据行数超过上限 2 行"):
        import_sites(db, p, xlsx(HEADERS, rows), settings=few)
    with pytest.raises(Forbidden):
        import_sites(db, principal(db, city, "st_heping"), xlsx(HEADERS, rows), settings=settings)


def test_update_then_reimport_is_unchanged_and_audited(
    db: Session, city: City, settings: Settings
) -> None:
    p = principal(db, city, "d_heping")
    content = xlsx([*HEADERS, "施工单位", "施工单位统一社会信用代码", "是否城市建成区"],
                   [["HP-001", "和平区中山路住宅项目", "房屋建筑", "和平区", 41.791, 123.401,
                     "装饰装修", "沈阳阿尔法建设集团有限公司", USCC_A, "否"]])  # fmt: skip
    first = import_sites(db, p, content, settings=settings)
    assert (first.created, first.updated, first.unchanged, first.errors) == (0, 1, 0, [])
    site = db.get(Site, city.sites["HP-001"])
    assert site is not None and site.stage == Stage.decoration and site.built_up_area is False
    again = import_sites(db, p, content, settings=settings)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    entry = db.scalars(select(AuditEntry).where(AuditEntry.entity_type == "site_import")
                       .order_by(AuditEntry.id.desc())).first()  # fmt: skip
    assert entry is not None and entry.actor_name == "d_heping"
    assert entry.changes == {"created": 0, "updated": 0, "unchanged": 1, "error_rows": 0, "rows": 1}


def test_two_thousand_rows_take_seconds_not_minutes(
    db: Session, city: City, settings: Settings
) -> None:
    headers = [*HEADERS, "施工单位", "施工单位统一社会信用代码", "执法监督网格", "计划开工日期"]
    rows = [[f"PERF-{i:05d}", f"性能测试工地{i}", "房屋建筑", "和平区", 41.77 + i * 1e-5,
             123.38 + i * 1e-5, "主体阶段", "新公司", USCC_NEW, "E-HP", "2024/5/1"]
            for i in range(2000)]  # fmt: skip
    content = xlsx(headers, rows)
    report = import_sites(db, principal(db, city, "admin"), content, settings=settings)
    assert report.errors == [] and report.created == 2000


def test_machine_made_files_use_keys_and_english_values(
    db: Session, city: City, settings: Settings
) -> None:
    headers = ["project_code", "name", "kind", "district", "lat", "lon", "stage",
               "built_up_area", "planned_start_date", "grade", "investment_yuan"]  # fmt: skip
    rows = [["API-1", "接口导入工地", "demolition", "Heping", "41.7901", "123.4001", "earthwork",
             True, NAIVE, "basic", 1_500_000]]  # fmt: skip
    report = import_sites(db, principal(db, city, "admin"), xlsx(headers, rows), settings=settings)
    assert report.errors == [] and report.created == 1
    site = db.scalars(select(Site).where(Site.project_code == "API-1")).one()
    assert (site.kind, site.stage, site.grade.value) == (
        SiteKind.demolition,
        Stage.earthwork,
        "ungraded",  # a grade column is read-only: grades follow from inspections
    )
    assert report.notices == ["excel.grade_read_only"]
    assert site.planned_start_date == date(2024, 5, 1) and site.monitors_required is True
    assert site.enforcement_grid_id == city.grids["E-HP"]  # nearest grid of the district


def test_moving_a_site_reassigns_grids_and_unit(
    db: Session, city: City, settings: Settings
) -> None:
    headers = [*HEADERS, "监理单位", "监理单位统一社会信用代码"]
    rows = [["HP-003", "和平区太原街改造工程", "其他", "沈河区", 41.80, 123.46, "主体阶段",
             "新监理公司", USCC_NEW]]  # fmt: skip
    report = import_sites(db, principal(db, city, "admin"), xlsx(headers, rows), settings=settings)
    assert (report.updated, report.errors) == (1, [])
    site = db.get(Site, city.sites["HP-003"])
    assert site is not None and site.district_id == city.districts["shenhe"]
    assert site.l2_unit_id == city.units["bureau_shenhe"]
    assert (site.enforcement_grid_id, site.inspector_grid_id) == (
        city.grids["E-SH"], city.grids["I-SH"],
    )  # fmt: skip
    assert site.supervisor_id is not None and site.contractor_id == city.enterprises["alpha"]
