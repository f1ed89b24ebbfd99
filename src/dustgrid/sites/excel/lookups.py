"""What the import and the export read in bulk: names by id, the principal's districts
and grids, and the lookups the cell parser resolves references with."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from dustgrid.identity.principal import Principal
from dustgrid.org.models import District
from dustgrid.sites.excel import repository as repo
from dustgrid.sites.excel_columns import ENTERPRISES, DistrictRef, GridRef, Lookups
from dustgrid.sites.gridding import GridInfo, gridding

ENT_KEYS = {f"{e}_{part}" for e in ENTERPRISES for part in ("name", "uscc")}


def scoped(session: Session, principal: Principal) -> tuple[list[District], list[GridInfo]]:
    return repo.visible_districts(session, principal), gridding().visible(session, principal)


def build_lookups(districts: Iterable[District], grids: Iterable[GridInfo]) -> Lookups:
    return Lookups.build(
        ((DistrictRef(d.id, d.code, d.name), d.name_en) for d in districts),
        (GridRef(g.id, g.code, g.kind, g.district_id) for g in grids),
    )
