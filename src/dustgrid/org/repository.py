"""District and unit queries, always filtered by the caller's scope."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.orm import Session

from dustgrid.identity.principal import Principal
from dustgrid.identity.reach import Reach
from dustgrid.org.models import District, OrgUnit, UnitKind

# Districts holding a site the principal sees (sites are above org; sites.repository).
DISTRICTS_OF_VISIBLE_SITES = Reach(
    "districts holding visible sites", provided_by="dustgrid.sites.repository"
)


def district_clause(p: Principal) -> ColumnElement[bool]:
    """Districts the principal may see: the whole city for L1, else where their sites are."""
    if p.is_city_wide:
        return true()
    parts: list[ColumnElement[bool]] = [DISTRICTS_OF_VISIBLE_SITES(p)]
    if p.district_id is not None:
        parts.append(District.id == p.district_id)
    return or_(*parts)


def districts(session: Session, principal: Principal) -> list[District]:
    stmt = select(District).where(district_clause(principal)).order_by(District.code)
    return list(session.scalars(stmt))


def district_choices(session: Session, principal: Principal) -> list[Any]:
    """``(id, name)`` of the districts the principal sees, for a form's select box."""
    stmt = (
        select(District.id, District.name).where(district_clause(principal)).order_by(District.code)
    )
    return list(session.execute(stmt))


def district_visible(session: Session, principal: Principal, district_id: int) -> District | None:
    stmt = select(District).where(District.id == district_id, district_clause(principal))
    return session.scalar(stmt)


def districts_with_boundary(session: Session) -> list[District]:
    """Every district with a drawn boundary (to place a point; boundaries are public)."""
    return list(session.scalars(select(District).where(District.boundary.is_not(None))))


def district_by_code(session: Session, code: str) -> District | None:
    return session.scalar(select(District).where(District.code == code))


def district_names(session: Session) -> dict[int, str]:
    """Names for labels only (districts are public administrative names)."""
    return {d_id: name for d_id, name in session.execute(select(District.id, District.name))}


def units_of_kinds(session: Session, kinds: Collection[UnitKind]) -> list[Any]:
    """``(id, name)`` of every unit of these kinds, by id (unit names are public)."""
    stmt = select(OrgUnit.id, OrgUnit.name).where(OrgUnit.kind.in_(kinds)).order_by(OrgUnit.id)
    return list(session.execute(stmt))


def city_safety_station_id(session: Session) -> int | None:
    """The city safety station's unit id (L2 of metro and municipal works), if there is one."""
    unit_id = session.scalar(select(OrgUnit.id).where(OrgUnit.kind == UnitKind.city_safety_station))
    return int(unit_id) if unit_id is not None else None


def district_bureau_id(session: Session, district_id: int) -> int | None:
    """The district bureau's unit id (L2 of the district's other works), if there is one."""
    unit_id = session.scalar(
        select(OrgUnit.id).where(
            OrgUnit.kind == UnitKind.district_bureau, OrgUnit.district_id == district_id
        )
    )
    return int(unit_id) if unit_id is not None else None


def all_units(session: Session) -> list[OrgUnit]:
    """The whole tree: small (tens of rows), so scope is applied in Python by ``unit_scope``."""
    return list(session.scalars(select(OrgUnit).order_by(OrgUnit.level, OrgUnit.id)))


def unit_scope(units: list[OrgUnit], principal: Principal) -> set[int]:
    """Ids of the units ``principal`` may see: all for city-wide users, else their own unit,
    its ancestors and its descendants (an L3 station sees its bureau and the city bureau)."""
    if principal.is_city_wide:
        return {u.id for u in units}
    if principal.org_unit_id is None:
        return set()
    by_id = {u.id: u for u in units}
    if principal.org_unit_id not in by_id:
        return set()
    seen: set[int] = set()
    cur: int | None = principal.org_unit_id
    while cur is not None and cur not in seen:  # ancestors (guarding against a cycle)
        seen.add(cur)
        cur = by_id[cur].parent_id if cur in by_id else None
    children: dict[int, list[int]] = {}
    for u in units:
        if u.parent_id is not None:
            children.setdefault(u.parent_id, []).append(u.id)
    stack = [principal.org_unit_id]
    while stack:  # descendants
        for child in children.get(stack.pop(), []):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return seen


def descendants(units: list[OrgUnit], unit_id: int) -> set[int]:
    """Ids strictly below ``unit_id`` (used to refuse cycles when moving a unit)."""
    children: dict[int, list[int]] = {}
    for u in units:
        if u.parent_id is not None:
            children.setdefault(u.parent_id, []).append(u.id)
    out: set[int] = set()
    stack = [unit_id]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in out:
                out.add(child)
                stack.append(child)
    return out
