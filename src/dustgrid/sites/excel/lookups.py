"""What the import and the export read in bulk: names by id, the principal's districts
and grids, and the lookups the cell parser resolves references with."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.identity.principal import Principal
from dustgrid.org.models import District
from dustgrid.org.repository import district_clause
from dustgrid.sites.excel_columns import ENTERPRISES, DistrictRef, GridRef, Lookups
from dustgrid.sites.gridding import GridInfo, gridding

CHUNK = 500  # ids per IN (...) query
ENT_KEYS = {f"{e}_{part}" for e in ENTERPRISES for part in ("name", "uscc")}


def chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), CHUNK):
        yield items[i : i + CHUNK]


def names_by_id(
    session: Session, model: Any, cols: Sequence[Any], ids: Iterable[int], *where: Any
) -> dict[int, Any]:
    """``{id: value}`` (or ``{id: (values…)}``) for many ids, a few hundred per query."""
    out: dict[int, Any] = {}
    for part in chunks(sorted(ids)):
        for row in session.execute(select(model.id, *cols).where(model.id.in_(part), *where)):
            out[row[0]] = row[1] if len(cols) == 1 else tuple(row[1:])
    return out


def scoped(session: Session, principal: Principal) -> tuple[list[District], list[GridInfo]]:
    districts = session.scalars(
        select(District).where(district_clause(principal)).order_by(District.code)
    )
    return list(districts), gridding().visible(session, principal)


def build_lookups(districts: Iterable[District], grids: Iterable[GridInfo]) -> Lookups:
    return Lookups.build(
        ((DistrictRef(d.id, d.code, d.name), d.name_en) for d in districts),
        (GridRef(g.id, g.code, g.kind, g.district_id) for g in grids),
    )
