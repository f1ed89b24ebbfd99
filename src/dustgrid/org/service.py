"""Districts and the unit tree (L1 city bureau → L2 bureaus/stations → L3 stations).

Every change is audited; writes need ``Perm.org_write`` (city admin). Never commits.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from typing import Any

from sqlalchemy.orm import Session

from dustgrid.audit import service as audit
from dustgrid.errors import Conflict, Forbidden, Invalid, NotFound
from dustgrid.i18n import Msg
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm
from dustgrid.org import repository as repo
from dustgrid.org.models import UNIT_LEVEL, District, OrgUnit, UnitKind
from dustgrid.org.schemas import (
    DistrictCreate,
    DistrictUpdate,
    UnitCreate,
    UnitNode,
    UnitUpdate,
)

# Whether a unit of each kind is bound to a district: "required", "forbidden" or "optional".
# A supervision station under a district bureau inherits (and must keep) its district.
DISTRICT_RULE: dict[UnitKind, str] = {
    UnitKind.city_bureau: "forbidden",
    UnitKind.district_bureau: "required",
    UnitKind.city_safety_station: "forbidden",
    UnitKind.supervision_station: "optional",
    UnitKind.third_party: "optional",
}
UNIT_FIELDS = ("name", "name_en", "kind", "level", "parent_id", "district_id")


def _require_org_write(principal: Principal) -> None:
    if not principal.can(Perm.org_write):
        raise Forbidden("org.error.role_may_not_change_organisation")


# --------------------------------------------------------------------------- districts


def _district_snapshot(d: District) -> dict[str, Any]:
    """Audited fields; the boundary as a short digest so entries stay small."""
    digest = None
    if d.boundary is not None:
        raw = json.dumps(d.boundary, sort_keys=True, separators=(",", ":")).encode()
        digest = hashlib.sha256(raw).hexdigest()[:16]
    return {"code": d.code, "name": d.name, "name_en": d.name_en, "boundary_sha256": digest}


def list_districts(session: Session, principal: Principal) -> list[District]:
    return repo.districts(session, principal)


def district_choices(session: Session, principal: Principal) -> list[Any]:
    """``(id, name)`` rows of the visible districts, ordered by code (forms' select boxes)."""
    return repo.district_choices(session, principal)


def units_of_kinds(session: Session, kinds: Collection[UnitKind]) -> list[Any]:
    """``(id, name)`` rows of every unit of these kinds (forms' select boxes)."""
    return repo.units_of_kinds(session, kinds)


def get_district(session: Session, principal: Principal, district_id: int) -> District:
    d = repo.district_visible(session, principal, district_id)
    if d is None:
        raise NotFound("org.error.district_not_found", district_id=district_id)
    return d


def create_district(session: Session, principal: Principal, data: DistrictCreate) -> District:
    _require_org_write(principal)
    if repo.district_by_code(session, data.code) is not None:
        raise Conflict("org.error.district_code_already_exists", data_code=data.code)
    d = District(
        code=data.code, name=data.name.strip(), name_en=data.name_en or "", boundary=data.boundary
    )
    session.add(d)
    session.flush()
    audit.record_change(
        session,
        actor=principal,
        action="create",
        entity_type="district",
        entity_id=d.id,
        before={},
        after=_district_snapshot(d),
        summary=f"新增区 {d.name}",
    )
    return d


def update_district(
    session: Session, principal: Principal, district_id: int, data: DistrictUpdate
) -> District:
    _require_org_write(principal)
    d = get_district(session, principal, district_id)
    before = _district_snapshot(d)
    values = data.model_dump(exclude_unset=True)
    if values.get("code") and values["code"] != d.code:
        other = repo.district_by_code(session, values["code"])
        if other is not None:
            raise Conflict("org.error.district_code_already_exists", data_code=values["code"])
    for key in ("code", "name", "name_en"):
        if values.get(key) is not None:
            setattr(d, key, values[key].strip())
    if "boundary" in values:
        d.boundary = data.boundary
    session.flush()
    audit.record_change(
        session,
        actor=principal,
        action="update",
        entity_type="district",
        entity_id=d.id,
        before=before,
        after=_district_snapshot(d),
        summary=f"修改区 {d.name}",
    )
    return d


# --------------------------------------------------------------------------- units


def visible_units(session: Session, principal: Principal) -> list[OrgUnit]:
    units = repo.all_units(session)
    keep = repo.unit_scope(units, principal)
    return [u for u in units if u.id in keep]


def unit_tree(session: Session, principal: Principal) -> list[UnitNode]:
    """The visible part of the tree; a node whose parent is hidden becomes a root."""
    units = visible_units(session, principal)
    names = repo.district_names(session)
    nodes = {
        u.id: UnitNode.model_validate(u).model_copy(
            update={"district_name": names.get(u.district_id) if u.district_id else None}
        )
        for u in units
    }
    roots: list[UnitNode] = []
    for u in units:
        node = nodes[u.id]
        parent = nodes.get(u.parent_id) if u.parent_id is not None else None
        (parent.children if parent is not None else roots).append(node)
    return roots


def get_unit(session: Session, principal: Principal, unit_id: int) -> OrgUnit:
    unit = session.get(OrgUnit, unit_id)
    if unit is None or unit.id not in repo.unit_scope(repo.all_units(session), principal):
        raise NotFound("org.error.unit_not_found", unit_id=unit_id)
    return unit


def _unit_snapshot(u: OrgUnit) -> dict[str, Any]:
    return {name: getattr(u, name) for name in UNIT_FIELDS}


def _validate_unit(session: Session, unit: OrgUnit, *, level: int | None) -> None:
    """Level follows the kind; the parent is one level up; the district matches the kind."""
    expected = UNIT_LEVEL[unit.kind]
    if level is not None and level != expected:
        raise Invalid(
            "org.error.level_not",
            kind=Msg(f"unit_kind.{unit.kind.value}"),
            expected=expected,
            level=level,
        )
    unit.level = expected
    parent = session.get(OrgUnit, unit.parent_id) if unit.parent_id is not None else None
    if unit.parent_id is not None and parent is None:
        raise Invalid("org.error.parent_unit_not_found", parent_id=unit.parent_id)
    _check_parent_level(session, unit, parent, expected)
    _inherit_station_district(unit, parent)
    _check_district(session, unit)


def _check_parent_level(
    session: Session, unit: OrgUnit, parent: OrgUnit | None, expected: int
) -> None:
    """The parent is one level up; the one L1 unit (the city bureau) has none."""
    if expected == 1:
        if parent is not None:
            raise Invalid("org.error.l1_city_bureau_has_no_parent")
        others = [u for u in repo.all_units(session) if u.level == 1 and u.id != unit.id]
        if others:
            raise Conflict("org.error.there_already_l1_city_bureau")
    elif parent is None or parent.level != expected - 1:
        raise Invalid(
            "org.error.parent_l_unit_must_l_unit", expected=expected, expected_1=expected - 1
        )


def _inherit_station_district(unit: OrgUnit, parent: OrgUnit | None) -> None:
    """A supervision station takes its bureau's district, and may not name another."""
    if (
        unit.kind == UnitKind.supervision_station
        and parent is not None
        and parent.district_id is not None
    ):
        if unit.district_id is None:
            unit.district_id = parent.district_id
        elif unit.district_id != parent.district_id:
            raise Invalid("org.error.station_must_bureau_s_district")


def _check_district(session: Session, unit: OrgUnit) -> None:
    """The district matches the kind's rule, exists, and has at most one district bureau."""
    rule = DISTRICT_RULE[unit.kind]
    if rule == "required" and unit.district_id is None:
        raise Invalid("org.error.needs_district", kind=Msg(f"unit_kind.{unit.kind.value}"))
    if rule == "forbidden" and unit.district_id is not None:
        raise Invalid("org.error.has_no_district", kind=Msg(f"unit_kind.{unit.kind.value}"))
    if unit.district_id is not None and session.get(District, unit.district_id) is None:
        raise Invalid("org.error.district_not_found_2", district_id=unit.district_id)
    if unit.kind == UnitKind.district_bureau:
        twin = [
            u
            for u in repo.all_units(session)
            if u.kind == UnitKind.district_bureau
            and u.district_id == unit.district_id
            and u.id != unit.id
        ]
        if twin:
            raise Conflict("org.error.district_already_has_bureau")


def create_unit(session: Session, principal: Principal, data: UnitCreate) -> OrgUnit:
    _require_org_write(principal)
    unit = OrgUnit(
        name=data.name.strip(),
        name_en=data.name_en,
        kind=data.kind,
        level=UNIT_LEVEL[data.kind],
        parent_id=data.parent_id,
        district_id=data.district_id,
    )
    with session.no_autoflush:
        _validate_unit(session, unit, level=data.level)
    session.add(unit)
    session.flush()
    audit.record_change(
        session,
        actor=principal,
        action="create",
        entity_type="org_unit",
        entity_id=unit.id,
        before={},
        after=_unit_snapshot(unit),
        summary=f"新增单位 {unit.name}",
    )
    return unit


def update_unit(session: Session, principal: Principal, unit_id: int, data: UnitUpdate) -> OrgUnit:
    _require_org_write(principal)
    unit = get_unit(session, principal, unit_id)
    before = _unit_snapshot(unit)
    values = data.model_dump(exclude_unset=True)
    if "parent_id" in values and values["parent_id"] is not None:
        below = repo.descendants(repo.all_units(session), unit.id)
        if values["parent_id"] == unit.id or values["parent_id"] in below:
            raise Invalid("org.error.unit_cannot_sit_under_itself")
    with session.no_autoflush:
        for key in ("name", "name_en", "kind", "parent_id", "district_id"):
            if key in values and not (key in ("name", "name_en", "kind") and values[key] is None):
                setattr(unit, key, values[key].strip() if key == "name" else values[key])
        _validate_unit(session, unit, level=values.get("level"))
        for child in repo.all_units(session):
            if child.parent_id != unit.id or child.id == unit.id:
                continue
            if child.level != unit.level + 1:
                raise Invalid(
                    "org.error.child_unit_l_would_no_longer",
                    child_name=child.name,
                    level=child.level,
                )
            if (
                child.kind == UnitKind.supervision_station
                and unit.district_id is not None
                and child.district_id not in (None, unit.district_id)
            ):
                raise Invalid("org.error.child_station_elsewhere", child_name=child.name)
    session.flush()
    audit.record_change(
        session,
        actor=principal,
        action="update",
        entity_type="org_unit",
        entity_id=unit.id,
        before=before,
        after=_unit_snapshot(unit),
        summary=f"修改单位 {unit.name}",
    )
    return unit
