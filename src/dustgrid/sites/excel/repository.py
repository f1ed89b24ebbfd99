"""The spreadsheet's bulk reads: many ids or codes a query, in chunks of ``CHUNK``.

An import of thousands of rows asks for sites by code and names by id a few hundred at a
time instead of once per row; the export reads the names behind every id the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.identity.principal import Principal
from dustgrid.org.models import District
from dustgrid.org.repository import district_clause
from dustgrid.sites.models import Site

CHUNK = 500  # ids per IN (...) query


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


def sites_by_code(session: Session, codes: Sequence[str]) -> dict[str, Site]:
    """The sites with these project codes (retired ones included), by code."""
    sites: dict[str, Site] = {}
    for part in chunks(codes):
        stmt = select(Site).where(Site.project_code.in_(part))
        sites.update((s.project_code, s) for s in session.scalars(stmt))
    return sites


def visible_districts(session: Session, principal: Principal) -> list[District]:
    stmt = select(District).where(district_clause(principal)).order_by(District.code)
    return list(session.scalars(stmt))
