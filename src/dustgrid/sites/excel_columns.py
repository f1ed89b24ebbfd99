"""The ledger workbook's column table and cell parsers, kept free of the database.

One declarative table drives the template, the export and the import, so the three can
never drift apart. Everything a clerk reads (headers, reasons) is Chinese first, English
after " / ". Row checks need only plain lookups (:class:`Lookups`), so they are unit-testable.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any, cast

from dustgrid.errors import Invalid
from dustgrid.i18n import Msg, translate
from dustgrid.sites.gridding import GridKind
from dustgrid.sites.models import Grade, PermitStatus, SiteKind, Stage
from dustgrid.sites.uscc import USCCError, validate_uscc
from dustgrid.xlsx import unescape


@dataclass(frozen=True, slots=True)
class ImportRules:
    """Sanity bounds of the import, named so that a city can change them in one place."""

    lat_range: tuple[float, float] = (3.0, 54.0)  # China, south to north
    lon_range: tuple[float, float] = (73.0, 136.0)  # China, west to east
    years: tuple[int, int] = (1950, 2100)  # plausible dates
    excel_serials: tuple[int, int] = (18264, 73051)  # Excel day numbers of those years
    header_scan_rows: int = 20  # the header row is looked for among the first rows
    blank_run_limit: int = 2000  # stop reading after this many blank rows in a row


IMPORT_RULES = ImportRules()
EXCEL_EPOCH = date(1899, 12, 30)


class Parse(enum.StrEnum):
    text = "text"
    code = "code"  # identifiers and phone numbers: full-width folded (NFKC)
    enum = "enum"
    number = "number"
    decimal = "decimal"  # money, kept exact
    date = "date"
    boolean = "boolean"
    district = "district"
    grid = "grid"
    uscc = "uscc"


@dataclass(frozen=True, slots=True)
class Column:
    """One ledger column: Chinese header (without ``*``), English name, how to parse it."""

    key: str
    header: str
    en: str
    parse: Parse
    required: bool = False
    max_len: int | None = None
    enum: type[enum.StrEnum] | None = None
    i18n: str = ""  # catalogue prefix of the enum labels (``stage`` → ``stage.earthwork``)
    grid_kind: GridKind | None = None
    max_value: float | None = None  # set for quantities, which are also never negative
    width: int = 14
    fmt: str = ""  # what to type, for the instructions sheet
    example: str = ""
    aliases: tuple[str, ...] = ()
    # Exported for reading only: the import ignores the column (and says so once).
    read_only: bool = False

    @property
    def title(self) -> str:
        """The header cell text; ``*`` marks a required column."""
        return f"{self.header}*" if self.required else self.header


_DATE = "日期，如 2024-05-01、2024/5/1、2024年5月1日"
_ENT = "与统一社会信用代码同时填写"
_USCC = "18位统一社会信用代码"
_NEAR = "网格编号（见下方列表）；空白则按就近原则分配"
P, C = Parse, Column
COLUMNS: tuple[Column, ...] = (
    C("project_code", "项目编号", "Project code", P.code, True, 64, width=18,
      fmt="唯一编号；已存在则更新该工地，否则新增", example="HP-2024-001"),
    C("name", "项目名称", "Project name", P.text, True, 200, width=30, example="中山路住宅项目"),
    C("permit_no", "施工许可证号", "Permit no.", P.code, max_len=64, width=20,
      example="210102202405010101"),
    C("permit_status", "许可状态", "Permit status", P.enum, enum=PermitStatus, i18n="permit",
      width=16),
    C("kind", "工程类别", "Kind of works", P.enum, True, enum=SiteKind, i18n="kind"),
    C("district", "所属区", "District", P.district, True, fmt="区名称或行政区划代码"),
    C("address", "地址", "Address", P.text, max_len=255, width=30, example="中山路100号"),
    C("lat", "纬度(WGS-84)", "Latitude (WGS-84)", P.number, True,
      fmt="十进制度，WGS-84（GPS）坐标，3～54", example="41.7912", aliases=("纬度",)),
    C("lon", "经度(WGS-84)", "Longitude (WGS-84)", P.number, True,
      fmt="十进制度，WGS-84（GPS）坐标，73～136", example="123.4011", aliases=("经度",)),
    C("area_m2", "占地面积(㎡)", "Area (m²)", P.number, max_value=1e9, fmt="数字，平方米",
      example="3000", aliases=("占地面积",)),
    C("investment_yuan", "总投资(元)", "Investment (yuan)", P.decimal, max_value=1e14,
      width=16, fmt="数字，元（不是万元）", example="50000000", aliases=("总投资",)),
    C("stage", "施工阶段", "Stage", P.enum, True, enum=Stage, i18n="stage"),
    C("planned_start_date", "计划开工日期", "Planned start", P.date, fmt=_DATE,
      example="2024-05-01"),
    C("planned_end_date", "计划竣工日期", "Planned end", P.date, fmt=_DATE,
      example="2026-10-31"),
    C("actual_start_date", "实际开工日期", "Actual start", P.date, fmt=_DATE),
    C("actual_end_date", "实际竣工日期", "Actual end", P.date, fmt=_DATE),
    C("builder_name", "建设单位", "Builder", P.text, max_len=128, width=28, fmt=_ENT,
      example="沈阳城建开发有限公司"),
    C("builder_uscc", "建设单位统一社会信用代码", "Builder USCC", P.uscc, width=22, fmt=_USCC),
    C("contractor_name", "施工单位", "Contractor", P.text, max_len=128, width=28, fmt=_ENT),
    C("contractor_uscc", "施工单位统一社会信用代码", "Contractor USCC", P.uscc, width=22,
      fmt=_USCC),
    C("supervisor_name", "监理单位", "Supervisor", P.text, max_len=128, width=28, fmt=_ENT),
    C("supervisor_uscc", "监理单位统一社会信用代码", "Supervisor USCC", P.uscc, width=22,
      fmt=_USCC),
    C("contact_name", "现场联系人", "Site contact", P.text, max_len=64, example="张三"),
    C("contact_phone", "联系电话", "Contact phone", P.code, max_len=32, width=16,
      example="13800000000"),
    C("built_up_area", "是否城市建成区", "In built-up area", P.boolean, fmt="是 / 否",
      example="是", aliases=("城市建成区",)),
    C("grade", "扬尘治理等级", "Dust control grade", P.enum, enum=Grade, i18n="grade",
      fmt="只读：由巡查结果和在办案件自动评定，导入时忽略", read_only=True),
    C("enforcement_grid", "执法监督网格", "Enforcement grid", P.grid,
      grid_kind=GridKind.enforcement, fmt=_NEAR),
    C("inspector_grid", "专职巡查网格", "Inspector grid", P.grid, grid_kind=GridKind.inspector,
      fmt=_NEAR),
)  # fmt: skip
del P, C

BY_KEY: dict[str, Column] = {c.key: c for c in COLUMNS}
ORDER: dict[str, int] = {c.header: i for i, c in enumerate(COLUMNS)}
ENTERPRISES = ("builder", "contractor", "supervisor")


class CellError(ValueError):
    """A cell that cannot be read; ``reason`` is shown to the clerk in their language."""

    def __init__(self, reason: Msg) -> None:
        super().__init__(reason)
        self.reason = reason


def _named(col: Column) -> dict[str, str]:
    """A column's name in each language (a message parameter)."""
    return {"zh-CN": col.header, "en": col.en}


def fold(text: str) -> str:
    """Full-width to half-width (NFKC) and trimmed: what clerks mean, whatever the IME."""
    return unicodedata.normalize("NFKC", text).strip()


def header_key(text: Any) -> str:
    """Comparable form of a name: no ``*``, no blanks, half-width brackets, lower case."""
    return re.sub(r"[\s*]+", "", fold(str(text))).lower()


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def cell_text(value: Any) -> str:
    """A cell as text: whole floats lose their ``.0`` (codes and phones typed as numbers),
    and the apostrophe an export puts before a formula-like text is taken off again."""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime) and value.time() == datetime.min.time():
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return unescape(str(value).strip())  # our export's '= escape reads back as typed


def hint(col: Column) -> str:
    """What to type in a column, for the instructions sheet and the header comments."""
    if col.enum is not None:
        return col.fmt or "从下拉列表选择：" + "、".join(enum_labels(col))
    return col.fmt or (f"文本，不超过{col.max_len}个字符" if col.max_len else "")


# --- header --------------------------------------------------------------------------------


@cache
def _header_index() -> dict[str, Column]:
    return {header_key(n): c for c in COLUMNS for n in (c.header, c.en, c.key, *c.aliases)}


def find_header(
    rows: Sequence[tuple[int, Sequence[Any]]], rules: ImportRules = IMPORT_RULES
) -> tuple[int, dict[int, Column]]:
    """The header row (its position in ``rows``) and its columns by index, or :class:`Invalid`.

    Tolerates a missing ``*``, spaces and full-width brackets; names what it cannot use.
    """
    best: tuple[int, dict[int, Column], list[str]] | None = None
    for pos, (_, values) in enumerate(rows[: rules.header_scan_rows]):
        found: dict[int, Column] = {}
        unknown: list[str] = []
        for i, cell in enumerate(values):
            if not is_blank(cell):
                col = _header_index().get(header_key(cell))
                (unknown.append(str(cell).strip()) if col is None else found.update({i: col}))
        if len(found) >= 2 and (best is None or len(found) > len(best[1])):
            best = (pos, found, unknown)
    if best is None:
        raise Invalid("excel.error.no_header")
    pos, found, unknown = best
    if unknown:
        raise Invalid("excel.error.unknown_columns", columns="、".join(unknown))
    keys = [c.key for c in found.values()]
    dupes = sorted({BY_KEY[k].title for k in keys if keys.count(k) > 1})
    if dupes:
        raise Invalid("excel.error.duplicate_columns", columns="、".join(dupes))
    missing = [c.title for c in COLUMNS if c.required and c.key not in keys]
    if missing:
        raise Invalid("excel.error.missing_columns", columns="、".join(missing))
    return pos, found


# --- cells ---------------------------------------------------------------------------------


def parse_text(value: Any, max_len: int | None = None, *, code: bool = False) -> str:
    text = fold(cell_text(value)) if code else cell_text(value)
    if max_len is not None and len(text) > max_len:
        raise CellError(Msg("excel.cell.too_long", {"max": max_len}))
    return text


def parse_number(value: Any, *, exact: bool = False) -> Any:
    """Numbers typed as text too (commas, full-width digits, a trailing ``°``).

    ``exact`` gives a ``Decimal`` (money), else a float.
    """
    bad = CellError(Msg("excel.cell.not_number", {"value": cell_text(value)}))
    if isinstance(value, bool | date):
        raise bad
    text = str(value) if isinstance(value, int | float | Decimal) else fold(str(value))
    try:
        number = Decimal(re.sub(r"[,，\s]", "", text).rstrip("°"))
    except InvalidOperation:
        raise bad from None
    if not number.is_finite():
        raise bad
    return number if exact else float(number)


_DATE_RE = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[\sT]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)


def parse_date(value: Any, rules: ImportRules = IMPORT_RULES) -> date:
    """Excel dates, Excel day numbers, 20240501, and the ways clerks type dates as text."""
    bad = CellError(Msg("excel.cell.not_date", {"value": cell_text(value)}))
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, int | float) and not isinstance(value, bool):
        if rules.excel_serials[0] <= value <= rules.excel_serials[1]:
            value = EXCEL_EPOCH + timedelta(days=int(value))
        elif not float(value).is_integer():
            raise bad
        value = str(int(value)) if not isinstance(value, date) else value
    if not isinstance(value, date):
        text = fold(str(value))
        if re.fullmatch(r"\d{8}", text):
            text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
        if (m := _DATE_RE.match(text)) is None:
            raise bad
        try:
            value = date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            raise bad from None
    low, high = rules.years
    if not low <= value.year <= high:
        raise CellError(Msg("excel.cell.date_range", {"low": low, "high": high, "value": value}))
    return cast(date, value)


_YES_NO = {**dict.fromkeys(("是", "y", "yes", "true", "1", "√"), True),
           **dict.fromkeys(("否", "n", "no", "false", "0", "×"), False)}  # fmt: skip


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    found = _YES_NO.get(fold(cell_text(value)).lower())
    if found is None:
        raise CellError(Msg("excel.cell.not_yes_no", {"value": cell_text(value)}))
    return found


def enum_label(col: Column, member: enum.StrEnum) -> str:
    """The zh-CN label of an enum value, from the i18n catalogue (one source of truth)."""
    return translate(f"{col.i18n}.{member.value}", "zh-CN")


def enum_labels(col: Column) -> list[str]:
    return [enum_label(col, m) for m in col.enum or ()]


@cache
def _enum_index(col: Column) -> dict[str, enum.StrEnum]:
    index: dict[str, enum.StrEnum] = {}
    for m in col.enum or ():
        for name in (m.value, enum_label(col, m), translate(f"{col.i18n}.{m.value}", "en")):
            index[header_key(name)] = m
    return index


def parse_enum(value: Any, col: Column) -> enum.StrEnum:
    """Chinese label (as in the dropdown) or the English enum value (machine-made files)."""
    member = _enum_index(col).get(header_key(cell_text(value)))
    if member is None:
        raise CellError(
            Msg("excel.cell.unknown_value",
                {"value": cell_text(value), "choices": "、".join(enum_labels(col))})
        )  # fmt: skip
    return member


# --- rows ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DistrictRef:
    id: int
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class GridRef:
    id: int
    code: str
    kind: GridKind
    district_id: int


@dataclass
class Lookups:
    """Districts and grids the importing user may use, by every name a clerk might type."""

    districts: dict[str, DistrictRef] = field(default_factory=dict)
    grids: dict[str, GridRef] = field(default_factory=dict)

    @classmethod
    def build(
        cls, districts: Iterable[tuple[DistrictRef, str]], grids: Iterable[GridRef]
    ) -> Lookups:
        """``districts`` pairs each district with its English name (also accepted)."""
        out = cls(grids={header_key(g.code): g for g in grids})
        for ref, name_en in districts:
            out.districts.update({header_key(n): ref for n in (ref.name, ref.code, name_en) if n})
        return out


@dataclass
class ParsedRow:
    """A row's values by column key (blank cells absent) and its ``(header, reason)`` errors."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: list[tuple[str, Msg]] = field(default_factory=list)
    filled: set[str] = field(default_factory=set)  # keys of the non-blank cells

    def fail(self, key: str, reason: Msg) -> None:
        self.values.pop(key, None)
        self.errors.append((BY_KEY[key].header, reason))
        self.errors.sort(key=lambda e: ORDER[e[0]])


def parse_cell(col: Column, value: Any, lookups: Lookups, rules: ImportRules) -> Any:
    """One non-blank cell to its value, or :class:`CellError`."""
    text = cell_text(value)
    match col.parse:
        case Parse.text | Parse.code:
            return parse_text(value, col.max_len, code=col.parse == Parse.code)
        case Parse.enum:
            return parse_enum(value, col)
        case Parse.number | Parse.decimal:
            return _bounded_number(col, value)
        case Parse.date:
            return parse_date(value, rules)
        case Parse.boolean:
            return parse_bool(value)
        case Parse.uscc:
            return _uscc(col, text)
        case Parse.district:
            return _district(lookups, text)
        case Parse.grid:
            return _grid(lookups, text)
    raise AssertionError(col.parse)  # pragma: no cover


def _bounded_number(col: Column, value: Any) -> Any:
    """A number; a column with an upper bound takes neither a negative value nor one above
    the bound (typically the wrong unit, such as m² typed as hectares)."""
    number = parse_number(value, exact=col.parse == Parse.decimal)
    if col.max_value is not None and number < 0:
        raise CellError(Msg("excel.cell.negative"))
    if col.max_value is not None and number > col.max_value:
        raise CellError(Msg("excel.cell.too_large"))
    return number


def _uscc(col: Column, text: str) -> str:
    """A unified social credit code, its checker's reason named with the column's header."""
    try:
        return validate_uscc(text)
    except USCCError as exc:
        raise CellError(
            Msg("excel.cell.invalid_code", {"column": _named(col), "why": exc.msg})
        ) from None


def _district(lookups: Lookups, text: str) -> DistrictRef:
    """A district by any of its names, among only those the importing user governs."""
    ref = lookups.districts.get(header_key(text))
    if ref is None:
        raise CellError(Msg("excel.cell.unknown_district", {"value": text}))
    return ref


def _grid(lookups: Lookups, text: str) -> GridRef:
    """A grid by its code, among only those the importing user governs."""
    grid = lookups.grids.get(header_key(text))
    if grid is None:
        raise CellError(Msg("excel.cell.unknown_grid", {"value": text}))
    return grid


def _within(value: float, bounds: tuple[float, float]) -> bool:
    return bounds[0] <= value <= bounds[1]


def _check_location(row: ParsedRow, rules: ImportRules) -> None:
    """China only; a latitude that looks like a longitude (and back) means they were swapped."""
    lat, lon = row.values.get("lat"), row.values.get("lon")
    lats, lons = rules.lat_range, rules.lon_range
    if (
        lat is not None
        and lon is not None
        and not (_within(lat, lats) and _within(lon, lons))
        and (_within(lon, lats) and _within(lat, lons))
    ):
        row.fail("lat", Msg("excel.cell.swapped"))
        row.fail("lon", Msg("excel.cell.swapped"))
        return
    if lat is not None and not _within(lat, lats):
        row.fail(
            "lat", Msg("excel.cell.lat_range", {"low": f"{lats[0]:g}", "high": f"{lats[1]:g}"})
        )
    if lon is not None and not _within(lon, lons):
        row.fail(
            "lon", Msg("excel.cell.lon_range", {"low": f"{lons[0]:g}", "high": f"{lons[1]:g}"})
        )


def _check_pairs(row: ParsedRow) -> None:
    """Checks that involve two cells: enterprise pairs, grids versus district, date order."""
    v = row.values
    for ent in ENTERPRISES:
        name_col, code_col = BY_KEY[f"{ent}_name"], BY_KEY[f"{ent}_uscc"]
        for given, needed in ((name_col, code_col), (code_col, name_col)):
            if given.key in row.filled and needed.key not in row.filled:
                pair = {"given": _named(given), "needed": _named(needed)}
                row.fail(needed.key, Msg("excel.cell.pair", pair))
    district: DistrictRef | None = v.get("district")
    for key in ("enforcement_grid", "inspector_grid"):
        grid: GridRef | None = v.get(key)
        if grid is not None and grid.kind != BY_KEY[key].grid_kind:
            row.fail(
                key, Msg("excel.cell.grid_kind", {"grid": grid.code, "kind": _named(BY_KEY[key])})
            )
        elif grid is not None and district is not None and grid.district_id != district.id:
            row.fail(
                key, Msg("excel.cell.grid_district", {"grid": grid.code, "district": district.name})
            )
    for start, end in (("planned_start_date", "planned_end_date"),
                       ("actual_start_date", "actual_end_date")):  # fmt: skip
        if v.get(start) and v.get(end) and v[end] < v[start]:
            row.fail(
                end,
                Msg(
                    "excel.cell.ends_before",
                    {"end": _named(BY_KEY[end]), "start": _named(BY_KEY[start])},
                ),
            )


def parse_row(
    cells: Mapping[Column, Any], lookups: Lookups, rules: ImportRules = IMPORT_RULES
) -> ParsedRow:
    """All errors of a row at once, one per bad cell, in column order."""
    row = ParsedRow()
    for col, value in cells.items():
        if col.read_only:
            continue
        if is_blank(value):
            if col.required:
                row.errors.append((col.header, Msg("excel.cell.required")))
            continue
        row.filled.add(col.key)
        try:
            row.values[col.key] = parse_cell(col, value, lookups, rules)
        except CellError as exc:
            row.errors.append((col.header, exc.reason))
    _check_location(row, rules)
    _check_pairs(row)
    row.errors.sort(key=lambda e: ORDER[e[0]])
    return row
