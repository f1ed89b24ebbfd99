"""Writing the ledger: the empty import template and the scoped export, in one layout
(with a help sheet and dropdowns), so an exported file can be edited and re-imported."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy.orm import Session

from dustgrid.identity.principal import Principal
from dustgrid.org.models import District
from dustgrid.sites import repository as repo
from dustgrid.sites.excel.lookups import ENT_KEYS, scoped
from dustgrid.sites.excel.reading import HELP_SHEET, SHEET
from dustgrid.sites.excel.repository import chunks, names_by_id
from dustgrid.sites.excel_columns import (
    BY_KEY,
    COLUMNS,
    ENTERPRISES,
    Parse,
    enum_label,
    enum_labels,
    hint,
    is_blank,
)
from dustgrid.sites.gridding import GridInfo, GridKind, gridding
from dustgrid.sites.models import Enterprise, Site
from dustgrid.sites.schemas import SiteFilter
from dustgrid.xlsx import append_row, write_cell

VALIDATION_ROWS = 20000  # dropdowns reach this far below the header
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
HEADER_FONT = Font(bold=True, color="1F3864")
REQUIRED_FONT = Font(bold=True, color="C00000")
TEXT_PARSES = (Parse.text, Parse.code, Parse.uscc)


def template(session: Session, principal: Principal) -> bytes:
    """The empty import template, with dropdowns and the user's districts and grids."""
    return _workbook(session, principal, [])


def export_sites(session: Session, principal: Principal, f: SiteFilter) -> bytes:
    """The filtered, scoped ledger in the template's layout (edit and re-import it)."""
    return _workbook(session, principal, repo.export_rows(session, principal, f))


def _rows(session: Session, sites: Sequence[Site]) -> Iterator[list[Any]]:
    """Export cell values in column order (labels for enums, names and codes for links)."""
    dist = names_by_id(session, District, [District.name], {s.district_id for s in sites})
    grid_ids = {g for s in sites for g in (s.enforcement_grid_id, s.inspector_grid_id) if g}
    grids: dict[int, str] = {}
    for part in chunks(sorted(grid_ids)):
        grids.update(gridding().codes(session, part))
    ent_ids = {i for s in sites for e in ENTERPRISES if (i := getattr(s, f"{e}_id"))}
    ents = names_by_id(session, Enterprise, [Enterprise.name, Enterprise.uscc], ent_ids)
    for site in sites:
        out: list[Any] = []
        for col in COLUMNS:
            if col.key == "district":
                value: Any = dist.get(site.district_id)
            elif col.parse is Parse.grid:
                value = grids.get(getattr(site, f"{col.key}_id"))
            elif col.key in ENT_KEYS:
                ent, part = col.key.split("_")
                pair = ents.get(getattr(site, f"{ent}_id"))
                value = pair[0 if part == "name" else 1] if pair else None
            else:
                value = getattr(site, col.key)
                if col.enum is not None:
                    value = enum_label(col, value)
                elif isinstance(value, bool):
                    value = "是" if value else "否"
            out.append(None if is_blank(value) else value)
        yield out


def _workbook(session: Session, principal: Principal, sites: Sequence[Site]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = SHEET
    for i, col in enumerate(COLUMNS, start=1):
        cell = write_cell(ws, 1, i, col.title)
        cell.font = REQUIRED_FONT if col.required else HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.comment = Comment(f"{col.en}\n{hint(col)}", "DustGrid", width=260, height=90)
        dim = ws.column_dimensions[get_column_letter(i)]
        dim.width = col.width
        if col.parse in TEXT_PARSES:
            dim.number_format = "@"  # so that typed codes keep their leading zeros
    ws.row_dimensions[1].height = 32
    ws.freeze_panes = "B2"
    for r, values in enumerate(_rows(session, sites), start=2):
        for i, value in enumerate(values, start=1):
            cell = write_cell(ws, r, i, value)
            if COLUMNS[i - 1].parse is Parse.date:
                cell.number_format = "yyyy-mm-dd"
    last = get_column_letter(len(COLUMNS))
    ws.auto_filter.ref = f"A1:{last}{len(sites) + 1}"
    districts, grids = scoped(session, principal)
    lists = _write_help(wb.create_sheet(HELP_SHEET), districts, grids)
    _add_dropdowns(ws, lists, max(VALIDATION_ROWS, len(sites) + 1))
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()


NOTES = (
    "1. 请在“工地台账”工作表中逐行填写，第一行为表头，请勿修改表头；列名带 * 的为必填项。",
    "2. 以“项目编号”为准：编号已存在则更新该工地，否则新增工地。",
    "3. 更新已有工地时，空白单元格表示保持原值不变。",
    "4. 坐标请填写 WGS-84（GPS）十进制度，例如 纬度 41.7912、经度 123.4011，注意不要填反。",
    "5. 填写单位名称时须同时填写其18位统一社会信用代码，反之亦然。",
    "6. 出错的行会在导入结果中按行号、列名和原因列出，其余正确的行照常导入。",
    "1-6 (English): fill one site per row below the header; * = required; the project code "
    "decides between update and create; blank cells keep existing values on update.",
)


def _write_help(
    ws: Worksheet, districts: Sequence[District], grids: Sequence[GridInfo]
) -> dict[str, str]:
    """The instructions sheet; returns the ranges the dropdowns of the ledger refer to."""
    append_row(ws, ["工地台账导入说明"])
    ws["A1"].font = Font(bold=True, size=14)
    for note in NOTES:
        append_row(ws, [note])
    ws.append([])
    heads: list[int] = []

    def head(*titles: str) -> None:
        append_row(ws, titles)
        heads.append(ws.max_row)

    head("列名", "是否必填", "填写要求", "示例", "English")
    for col in COLUMNS:
        append_row(ws, [col.title, "必填" if col.required else "选填", hint(col), col.example,
                        col.en])  # fmt: skip
    ws.append([])
    lists: dict[str, str] = {}
    head("所属区（可填名称或代码，仅限您的管辖范围）", "区划代码")
    _write_districts(ws, districts, lists)
    ws.append([])
    head("网格编号", "网格名称", "网格类型", "所属区")
    _write_grids(ws, districts, grids, lists)
    for row in heads:
        for cell in ws[row]:
            cell.font, cell.fill = HEADER_FONT, HEADER_FILL
    for letter, width in zip("ABCDE", (40, 16, 44, 22, 22), strict=True):
        ws.column_dimensions[letter].width = width
    return lists


def _write_districts(ws: Worksheet, districts: Sequence[District], lists: dict[str, str]) -> None:
    """The districts the user may pick; their range goes into ``lists`` for the dropdown."""
    if districts:
        start = ws.max_row + 1
        for d in districts:
            append_row(ws, [d.name, d.code])
        lists["district"] = f"'{HELP_SHEET}'!$A${start}:$A${ws.max_row}"


def _write_grids(
    ws: Worksheet,
    districts: Sequence[District],
    grids: Sequence[GridInfo],
    lists: dict[str, str],
) -> None:
    """The grids the user may pick, one block per grid kind, so that each grid column's
    dropdown (its range goes into ``lists``) offers only grids of its kind."""
    names = {d.id: d.name for d in districts}
    for kind in GridKind:
        mine = [g for g in grids if g.kind == kind]
        if mine:
            start = ws.max_row + 1
            for g in mine:
                label = BY_KEY[f"{kind.value}_grid"].header
                append_row(ws, [g.code, g.name, label, names.get(g.district_id, "")])
            lists[kind.value] = f"'{HELP_SHEET}'!$A${start}:$A${ws.max_row}"


def _add_dropdowns(ws: Worksheet, lists: dict[str, str], last_row: int) -> None:
    """List validations: strict for enums and 是/否, a warning only for districts and grids;
    none on a read-only column."""
    for i, col in enumerate(COLUMNS, start=1):
        strict = True
        if col.read_only:  # information only: nothing to pick
            continue
        if col.parse is Parse.enum:
            formula = '"' + ",".join(enum_labels(col)) + '"'
        elif col.parse is Parse.boolean:
            formula = '"是,否"'
        elif col.parse in (Parse.district, Parse.grid):
            ref = lists.get(col.grid_kind.value if col.grid_kind else "district")
            if ref is None:
                continue
            formula, strict = ref, False
        else:
            continue
        dv = DataValidation(
            type="list", formula1=formula, allow_blank=True, showErrorMessage=True,
            errorStyle="stop" if strict else "warning", errorTitle=col.header,
            error=f"请从下拉列表中选择{col.header}",
        )  # fmt: skip
        letter = get_column_letter(i)
        dv.add(f"{letter}2:{letter}{last_row}")
        ws.add_data_validation(dv)
