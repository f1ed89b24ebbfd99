"""Excel template, export and import of the site ledger (工地台账), the way officials work.

An upload is upserted by project code through the site service (which audits each change),
every row inside its own SAVEPOINT so that one bad row never loses the good ones; every
bad cell comes back as a :class:`RowError` in Chinese. Columns live in ``excel_columns``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from io import BytesIO
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from dustgrid.audit import service as audit
from dustgrid.config import Settings
from dustgrid.errors import DomainError, Forbidden, Invalid
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm
from dustgrid.org.models import District
from dustgrid.org.repository import district_clause
from dustgrid.sites import repository as repo
from dustgrid.sites import service as svc
from dustgrid.sites.excel_columns import (
    BY_KEY,
    COLUMNS,
    ENTERPRISES,
    IMPORT_RULES,
    DistrictRef,
    GridRef,
    ImportRules,
    Lookups,
    Parse,
    ParsedRow,
    enum_label,
    enum_labels,
    find_header,
    hint,
    is_blank,
    parse_row,
)
from dustgrid.sites.gridding import GridInfo, GridKind, gridding
from dustgrid.sites.models import Enterprise, Site, SiteKind
from dustgrid.sites.repository import site_writable_clause
from dustgrid.sites.schemas import SiteCreate, SiteFilter, SiteUpdate
from dustgrid.xlsx import XlsxLimits, append_row, check_archive, write_cell

SHEET = "工地台账"
HELP_SHEET = "填写说明"
VALIDATION_ROWS = 20000  # dropdowns reach this far below the header
CHUNK = 500  # ids per IN (...) query
NOT_XLSX = "无法读取文件：请上传 .xlsx 格式的 Excel 文件（不支持 .xls、.csv） / not an .xlsx file"
OUT_OF_SCOPE = "无权修改该工地（不在管辖范围） / site outside your area"


class RowError(BaseModel):
    """One bad cell: Excel row number, Chinese column header, Chinese reason."""

    row: int
    column: str
    reason: str


class ImportReport(BaseModel):
    """What an upload did; ``unchanged`` rows matched the ledger already (nothing audited)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = Field(default_factory=list)


# --- reading -------------------------------------------------------------------------------


def read_rows(
    content: bytes, settings: Settings, rules: ImportRules = IMPORT_RULES
) -> list[tuple[int, tuple[Any, ...]]]:
    """Non-blank rows of the ledger sheet as ``(excel row number, values)``."""
    if not content:
        raise Invalid("请选择要上传的 Excel 文件 / no file uploaded")
    if len(content) > settings.upload_max_bytes:
        mb = settings.upload_max_bytes / 1024 / 1024
        raise Invalid(f"文件过大：不能超过 {mb:g} MB / file larger than {mb:g} MB")
    if not content.startswith(b"PK\x03\x04"):
        raise Invalid(NOT_XLSX)
    check_archive(content, XlsxLimits.from_settings(settings))  # before anything inflates
    try:
        wb = load_workbook(BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a corrupt or foreign file
        raise Invalid(NOT_XLSX) from exc
    limit = settings.excel_max_rows + rules.header_scan_rows
    rows: list[tuple[int, tuple[Any, ...]]] = []
    try:
        ws = wb[SHEET] if SHEET in wb.sheetnames else wb.worksheets[0]
        ws.reset_dimensions()  # some writers record a wrong sheet size
        blank_run = 0
        for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
            if all(is_blank(v) for v in values):
                blank_run += 1
                if blank_run >= rules.blank_run_limit:
                    break
                continue
            blank_run = 0
            rows.append((number, tuple(values)))
            if len(rows) > limit:
                raise _too_many(settings)
    except Invalid:
        raise
    except Exception as exc:
        raise Invalid(NOT_XLSX) from exc
    finally:
        wb.close()
    return rows


def _too_many(settings: Settings) -> Invalid:
    n = settings.excel_max_rows
    return Invalid(f"数据行数超过上限 {n} 行，请分批导入 / more than {n} rows, split the file")


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def _names(
    session: Session, model: Any, cols: Sequence[Any], ids: Iterable[int], *where: Any
) -> dict[int, Any]:
    """``{id: value}`` (or ``{id: (values…)}``) for many ids, a few hundred per query."""
    out: dict[int, Any] = {}
    for part in _chunks(sorted(ids)):
        for row in session.execute(select(model.id, *cols).where(model.id.in_(part), *where)):
            out[row[0]] = row[1] if len(cols) == 1 else tuple(row[1:])
    return out


def _scoped(session: Session, principal: Principal) -> tuple[list[District], list[GridInfo]]:
    districts = session.scalars(
        select(District).where(district_clause(principal)).order_by(District.code)
    )
    return list(districts), gridding().visible(session, principal)


def _lookups(districts: Iterable[District], grids: Iterable[GridInfo]) -> Lookups:
    return Lookups.build(
        ((DistrictRef(d.id, d.code, d.name), d.name_en) for d in districts),
        (GridRef(g.id, g.code, g.kind, g.district_id) for g in grids),
    )


# --- upserting -----------------------------------------------------------------------------

_REFS = {"district": "district_id", "enforcement_grid": "enforcement_grid_id",
         "inspector_grid": "inspector_grid_id"}  # fmt: skip
_ENT_KEYS = {f"{e}_{part}" for e in ENTERPRISES for part in ("name", "uscc")}
_DIRECT = tuple(c.key for c in COLUMNS if c.key not in {"project_code", *_REFS, *_ENT_KEYS})
_ATTR_KEY = {v: k for k, v in _REFS.items()}


class RowFailure(Exception):
    """A row the service could not take, with the column to blame."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(reason)
        self.key, self.reason = key, reason


@dataclass
class _Context:
    """What one import loads once: the file's existing sites and per-import lookup caches."""

    principal: Principal
    sites: dict[str, Site]
    writable: set[int]
    uscc: dict[int, str]  # enterprise id → credit code, to compare enterprise cells
    l2: dict[tuple[int, SiteKind], int] = field(default_factory=dict)
    centroids: dict[tuple[int, GridKind], list[tuple[int, float, float]]] = field(
        default_factory=dict
    )

    @classmethod
    def load(cls, session: Session, principal: Principal, codes: Sequence[str]) -> _Context:
        sites: dict[str, Site] = {}
        for part in _chunks(codes):
            stmt = select(Site).where(Site.project_code.in_(part))
            sites.update((s.project_code, s) for s in session.scalars(stmt))
        ids = {s.id for s in sites.values()}
        writable = set(_names(session, Site, [Site.id], ids, site_writable_clause(principal)))
        ent_ids = {i for s in sites.values() for e in ENTERPRISES if (i := getattr(s, f"{e}_id"))}
        return cls(
            principal, sites, writable, _names(session, Enterprise, [Enterprise.uscc], ent_ids)
        )

    def l2_unit(self, session: Session, district_id: int, kind: SiteKind) -> int:
        key = (district_id, kind)
        if key not in self.l2:
            self.l2[key] = svc.default_l2_unit(session, district_id=district_id, kind=kind)
        return self.l2[key]

    def nearest_grid(
        self, session: Session, district_id: int, kind: GridKind, lat: float, lon: float
    ) -> int | None:
        """``service.nearest_grid`` with the grid centroids read once per import, not per row."""
        key = (district_id, kind)
        if key not in self.centroids:
            found = gridding().centroids(session, district_id, kind)
            if not found:  # no sites yet: the service falls back to any grid of the district
                only = svc.nearest_grid(session, district_id=district_id, kind=kind, lat=0, lon=0)
                found = [(only, 0.0, 0.0)] if only is not None else []
            self.centroids[key] = found
        best = min(self.centroids[key], default=None,
                   key=lambda c: (c[1] - lat) ** 2 + (c[2] - lon) ** 2)  # fmt: skip
        return best[0] if best else None

    def complete(self, session: Session, data: dict[str, Any]) -> None:
        """Fill in the L2 unit and blank grids of a new site from the caches."""
        district_id, kind = data["district_id"], SiteKind(data["kind"])
        data.setdefault("l2_unit_id", self.l2_unit(session, district_id, kind))
        for grid_kind in GridKind:
            attr = f"{grid_kind.value}_grid_id"
            if attr not in data:
                data[attr] = self.nearest_grid(
                    session, district_id, grid_kind, data["lat"], data["lon"]
                )


def payload(values: dict[str, Any]) -> dict[str, Any]:
    """Parsed cells to ``SiteFields`` attributes (blank cells stay absent: "leave as is")."""
    out = {k: values[k] for k in _DIRECT if k in values}
    for key, attr in _REFS.items():
        if key in values:
            out[attr] = values[key].id
    for ent in ENTERPRISES:
        if f"{ent}_uscc" in values:
            out[ent] = {"name": values[f"{ent}_name"], "uscc": values[f"{ent}_uscc"]}
    return out


def _same(old: Any, new: Any) -> bool:
    if isinstance(new, float | Decimal) and old is not None:
        return abs(Decimal(str(old)) - Decimal(str(new))) < Decimal("1e-9")
    if isinstance(new, str):
        return (old or "") == new
    return bool(old == new)


def changes(site: Site, data: dict[str, Any], uscc: dict[int, str]) -> dict[str, Any]:
    """The attributes an update would really change (none → the row is "unchanged")."""
    out: dict[str, Any] = {}
    for attr, new in data.items():
        if attr in ENTERPRISES:
            old_id = getattr(site, f"{attr}_id")
            if old_id is None or uscc.get(old_id) != new["uscc"]:
                out[attr] = new
        elif not _same(getattr(site, attr), new):
            out[attr] = new
    if "district_id" in out:  # moved: blank grid cells mean "nearest grid of the new district"
        for attr in ("enforcement_grid_id", "inspector_grid_id"):
            out.setdefault(attr, None)
    return out


def _upsert(session: Session, ctx: _Context, values: dict[str, Any]) -> str:
    """Create or update one site; returns ``created``, ``updated`` or ``unchanged``."""
    data = payload(values)
    site = ctx.sites.get(values["project_code"])
    if site is None:
        ctx.complete(session, data)
        create = SiteCreate.model_validate({**data, "project_code": values["project_code"]})
        with session.begin_nested():
            svc.create_site(session, ctx.principal, create)
        return "created"
    if site.id not in ctx.writable:
        raise RowFailure("project_code", OUT_OF_SCOPE)
    diff = changes(site, data, ctx.uscc)
    if not diff:
        return "unchanged"
    update = SiteUpdate.model_validate(diff)
    with session.begin_nested():
        before = svc.snapshot(site)
        svc.update_site(session, ctx.principal, site.id, update)
        changed = audit.diff(before, svc.snapshot(site))
    return "updated" if changed else "unchanged"


def _blame(exc: Exception, values: dict[str, Any]) -> list[tuple[str, str]]:
    """``(header, reason)`` pairs for an error raised while saving a row."""
    if isinstance(exc, RowFailure):
        return [(BY_KEY[exc.key].header, exc.reason)]
    if isinstance(exc, ValidationError):
        out = []
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]] or ["project_code"]
            key = _ATTR_KEY.get(loc[0], loc[0])
            if key in ENTERPRISES:
                key = f"{key}_uscc" if loc[1:2] == ["uscc"] else f"{key}_name"
            col = BY_KEY.get(key, BY_KEY["project_code"])
            out.append((col.header, f"格式不正确：{err['msg']} / invalid value"))
        return out
    if isinstance(exc, svc.OutsideDistrict):  # the coordinates (or the district) are wrong
        return [(BY_KEY["lat"].header, exc.message)]
    if isinstance(exc, DomainError):
        reason, key = exc.message, "project_code"
        if "所属区" in reason:
            key = "district"
        elif isinstance(exc, Forbidden) and values.get("kind") in svc.CITY_STATION_KINDS:
            key, reason = "kind", f"{reason}（轨道交通、市政工程由市安全监督站监管）"
        return [(BY_KEY[key].header, reason)]
    return [(BY_KEY["project_code"].header, "保存失败，请检查该行数据 / could not save the row")]


def import_sites(
    session: Session,
    principal: Principal,
    content: bytes,
    *,
    settings: Settings,
    rules: ImportRules = IMPORT_RULES,
) -> ImportReport:
    """Upsert every valid row by project code; report every bad cell. Never commits."""
    if not principal.can(Perm.site_import):
        raise Forbidden("无权导入台账 / your role may not import the ledger")
    rows = read_rows(content, settings, rules)
    pos, columns = find_header(rows, rules)
    body = rows[pos + 1 :]
    if len(body) > settings.excel_max_rows:
        raise _too_many(settings)
    districts, grids = _scoped(session, principal)  # ``grids`` also keeps them in the session
    lookups = _lookups(districts, grids)
    parsed: list[tuple[int, ParsedRow]] = []
    first: dict[str, int] = {}
    for number, values in body:
        cells = {col: values[i] if i < len(values) else None for i, col in columns.items()}
        row = parse_row(cells, lookups, rules)
        code = row.values.get("project_code")
        if code is not None and code in first:
            row.fail("project_code", f"项目编号与第{first[code]}行重复 / "
                                     f"same project code as row {first[code]}")  # fmt: skip
        elif code is not None:
            first[code] = number
        parsed.append((number, row))
    codes = [r.values["project_code"] for _, r in parsed if not r.errors]
    ctx = _Context.load(session, principal, codes)
    report = ImportReport()
    for number, row in parsed:
        errors = row.errors
        if not errors:
            try:
                outcome = _upsert(session, ctx, row.values)
            except (RowFailure, ValidationError, DomainError, SQLAlchemyError) as exc:
                errors = _blame(exc, row.values)
            else:
                setattr(report, outcome, getattr(report, outcome) + 1)
        report.errors.extend(RowError(row=number, column=h, reason=r) for h, r in errors)
    bad_rows = len({e.row for e in report.errors})
    audit.record(
        session, actor=principal, action="import", entity_type="site_import", entity_id=None,
        changes={"created": report.created, "updated": report.updated,
                 "unchanged": report.unchanged, "error_rows": bad_rows, "rows": len(parsed)},
        summary=f"Excel导入工地台账：新增{report.created}，更新{report.updated}，"
                f"未变{report.unchanged}，错误{bad_rows}行",
    )  # fmt: skip
    return report


# --- writing -------------------------------------------------------------------------------

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
    dist = _names(session, District, [District.name], {s.district_id for s in sites})
    grid_ids = {g for s in sites for g in (s.enforcement_grid_id, s.inspector_grid_id) if g}
    grids: dict[int, str] = {}
    for part in _chunks(sorted(grid_ids)):
        grids.update(gridding().codes(session, part))
    ent_ids = {i for s in sites for e in ENTERPRISES if (i := getattr(s, f"{e}_id"))}
    ents = _names(session, Enterprise, [Enterprise.name, Enterprise.uscc], ent_ids)
    for site in sites:
        out: list[Any] = []
        for col in COLUMNS:
            if col.key == "district":
                value: Any = dist.get(site.district_id)
            elif col.parse is Parse.grid:
                value = grids.get(getattr(site, f"{col.key}_id"))
            elif col.key in _ENT_KEYS:
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
    districts, grids = _scoped(session, principal)
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
    append_row(ws, ["工地台账导入说明 / How to fill in the site ledger"])
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
    if districts:
        start = ws.max_row + 1
        for d in districts:
            append_row(ws, [d.name, d.code])
        lists["district"] = f"'{HELP_SHEET}'!$A${start}:$A${ws.max_row}"
    ws.append([])
    head("网格编号", "网格名称", "网格类型", "所属区")
    names = {d.id: d.name for d in districts}
    for kind in GridKind:
        mine = [g for g in grids if g.kind == kind]
        if mine:
            start = ws.max_row + 1
            for g in mine:
                label = BY_KEY[f"{kind.value}_grid"].header
                append_row(ws, [g.code, g.name, label, names.get(g.district_id, "")])
            lists[kind.value] = f"'{HELP_SHEET}'!$A${start}:$A${ws.max_row}"
    for row in heads:
        for cell in ws[row]:
            cell.font, cell.fill = HEADER_FONT, HEADER_FILL
    for letter, width in zip("ABCDE", (40, 16, 44, 22, 22), strict=True):
        ws.column_dimensions[letter].width = width
    return lists


def _add_dropdowns(ws: Worksheet, lists: dict[str, str], last_row: int) -> None:
    """List validations: strict for enums and 是/否, a warning only for districts and grids."""
    for i, col in enumerate(COLUMNS, start=1):
        strict = True
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
            error=f"请从下拉列表中选择{col.header} / pick a value from the list",
        )  # fmt: skip
        letter = get_column_letter(i)
        dv.add(f"{letter}2:{letter}{last_row}")
        ws.add_data_validation(dv)
