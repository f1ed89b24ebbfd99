"""Importing the ledger: every valid row upserted by project code through the site service
(which audits each change), each row in its own SAVEPOINT so one bad row never loses the
good ones; every bad cell comes back as a :class:`RowError` in Chinese."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from dustgrid.audit import service as audit
from dustgrid.config import Settings
from dustgrid.errors import DomainError, Forbidden, validation_text
from dustgrid.i18n import LOCALES, Msg
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm
from dustgrid.sites import service as svc
from dustgrid.sites.excel.lookups import ENT_KEYS, build_lookups, scoped
from dustgrid.sites.excel.reading import read_rows, too_many
from dustgrid.sites.excel.repository import names_by_id, sites_by_code
from dustgrid.sites.excel_columns import (
    BY_KEY,
    COLUMNS,
    ENTERPRISES,
    IMPORT_RULES,
    ImportRules,
    ParsedRow,
    find_header,
    parse_row,
)
from dustgrid.sites.gridding import GridKind, gridding
from dustgrid.sites.models import Enterprise, Site, SiteKind
from dustgrid.sites.repository import site_writable_clause
from dustgrid.sites.schemas import SiteCreate, SiteUpdate

OUT_OF_SCOPE = Msg("excel.row.out_of_scope")


class RowError(BaseModel):
    """One bad cell: Excel row number, Chinese column header (as in the file), the reason
    (zh-CN; ``msg`` holds its key and parameters, for the reader's language)."""

    row: int
    column: str
    reason: str
    msg: dict[str, Any] | None = None

    @classmethod
    def of(cls, row: int, column: str, reason: Msg) -> RowError:
        return cls(row=row, column=column, reason=str(reason), msg=reason.as_json())


class ImportReport(BaseModel):
    """What an upload did; ``unchanged`` rows matched the ledger already (nothing audited)."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = Field(default_factory=list)
    # What the import left alone on purpose (a read-only column), as message keys.
    notices: list[str] = Field(default_factory=list)


_REFS = {"district": "district_id", "enforcement_grid": "enforcement_grid_id",
         "inspector_grid": "inspector_grid_id"}  # fmt: skip
_DIRECT = tuple(
    c.key for c in COLUMNS if c.key not in {"project_code", *_REFS, *ENT_KEYS} and not c.read_only
)

_ATTR_KEY = {v: k for k, v in _REFS.items()}


class RowFailure(Exception):
    """A row the service could not take, with the column to blame."""

    def __init__(self, key: str, reason: Msg) -> None:
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
    centroids: dict[tuple[int, GridKind, int | None], list[tuple[int, float, float]]] = field(
        default_factory=dict
    )

    @classmethod
    def load(cls, session: Session, principal: Principal, codes: Sequence[str]) -> _Context:
        sites = sites_by_code(session, codes)
        ids = {s.id for s in sites.values()}
        writable = set(names_by_id(session, Site, [Site.id], ids, site_writable_clause(principal)))
        ent_ids = {i for s in sites.values() for e in ENTERPRISES if (i := getattr(s, f"{e}_id"))}
        return cls(
            principal, sites, writable, names_by_id(session, Enterprise, [Enterprise.uscc], ent_ids)
        )

    def l2_unit(self, session: Session, district_id: int, kind: SiteKind) -> int:
        key = (district_id, kind)
        if key not in self.l2:
            self.l2[key] = svc.default_l2_unit(session, district_id=district_id, kind=kind)
        return self.l2[key]

    def nearest_grid(
        self,
        session: Session,
        district_id: int,
        kind: GridKind,
        lat: float,
        lon: float,
        l2_unit_id: int | None = None,
    ) -> int | None:
        """``service.nearest_grid`` with the grid centroids read once per import, not per row
        (per district, kind and lane: see ``gridding.GridInfo.lane``)."""
        lane = gridding().lane_of(session, kind, l2_unit_id)
        key = (district_id, kind, lane)
        if key not in self.centroids:
            found = gridding().centroids(session, district_id, kind, lane)
            if not found:  # no sites yet: the service falls back to any grid of the district
                only = svc.nearest_grid(
                    session, district_id=district_id, kind=kind, lat=0, lon=0, lane=lane
                )
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
                    session, district_id, grid_kind, data["lat"], data["lon"], data["l2_unit_id"]
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


def _said(msg: str | Msg) -> Msg:
    return msg if isinstance(msg, Msg) else Msg("core.text", {"text": msg})


def _blame(exc: Exception, values: dict[str, Any]) -> list[tuple[str, Msg]]:
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
            detail = {loc: validation_text(err, loc) for loc in LOCALES}
            out.append((col.header, Msg("excel.row.invalid_value", {"detail": detail})))
        return out
    if isinstance(exc, svc.OutsideDistrict):  # the coordinates (or the district) are wrong
        return [(BY_KEY["lat"].header, _said(exc.msg))]
    if isinstance(exc, DomainError):
        reason, key = _said(exc.msg), "project_code"
        if "所属区" in exc.message:
            key = "district"
        elif isinstance(exc, Forbidden) and values.get("kind") in svc.CITY_STATION_KINDS:
            key, reason = "kind", Msg("excel.row.city_station", {"reason": reason})
        return [(BY_KEY[key].header, reason)]
    return [(BY_KEY["project_code"].header, Msg("excel.row.save_failed"))]


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
        raise Forbidden("excel.error.may_not_import")
    rows = read_rows(content, settings, rules)
    pos, columns = find_header(rows, rules)
    body = rows[pos + 1 :]
    if len(body) > settings.excel_max_rows:
        raise too_many(settings)
    districts, grids = scoped(session, principal)  # ``grids`` also keeps them in the session
    lookups = build_lookups(districts, grids)
    parsed: list[tuple[int, ParsedRow]] = []
    first: dict[str, int] = {}
    for number, values in body:
        cells = {col: values[i] if i < len(values) else None for i, col in columns.items()}
        row = parse_row(cells, lookups, rules)
        code = row.values.get("project_code")
        if code is not None and code in first:
            row.fail("project_code", Msg("excel.row.duplicate_code", {"row": first[code]}))
        elif code is not None:
            first[code] = number
        parsed.append((number, row))
    codes = [r.values["project_code"] for _, r in parsed if not r.errors]
    ctx = _Context.load(session, principal, codes)
    report = ImportReport(
        notices=[f"excel.{c.key}_read_only" for c in columns.values() if c.read_only]
    )
    for number, row in parsed:
        errors = row.errors
        if not errors:
            try:
                outcome = _upsert(session, ctx, row.values)
            except (RowFailure, ValidationError, DomainError, SQLAlchemyError) as exc:
                errors = _blame(exc, row.values)
            else:
                setattr(report, outcome, getattr(report, outcome) + 1)
        report.errors.extend(RowError.of(number, h, r) for h, r in errors)
    bad_rows = len({e.row for e in report.errors})
    audit.record(
        session, actor=principal, action="import", entity_type="site_import", entity_id=None,
        changes={"created": report.created, "updated": report.updated,
                 "unchanged": report.unchanged, "error_rows": bad_rows, "rows": len(parsed)},
        summary=f"Excel导入工地台账：新增{report.created}，更新{report.updated}，"
                f"未变{report.unchanged}，错误{bad_rows}行",
    )  # fmt: skip
    return report
