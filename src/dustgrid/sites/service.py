"""Ledger logic: create, edit, retire sites; every change is audited. Never commits."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from dustgrid.audit import service as audit
from dustgrid.errors import Forbidden, Invalid, NotFound
from dustgrid.geo.coords import wgs84_to_gcj02
from dustgrid.geo.shapes import distance_outside_m
from dustgrid.i18n import Msg
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm
from dustgrid.models import utcnow
from dustgrid.org import repository as org_repo
from dustgrid.org.models import District
from dustgrid.sites import repository as repo
from dustgrid.sites.gridding import GridKind, gridding
from dustgrid.sites.models import Enterprise, EnterpriseKind, Site, SiteKind
from dustgrid.sites.policy import (
    DEFAULT_DISTRICT_BOUNDARY_POLICY,
    DEFAULT_MONITOR_THRESHOLD_POLICY,
    DistrictBoundaryPolicy,
)
from dustgrid.sites.schemas import EnterpriseRef, SiteCreate, SiteFields, SiteFilter, SiteUpdate

AUDITED_FIELDS = (
    "project_code",
    "name",
    "permit_no",
    "permit_status",
    "kind",
    "district_id",
    "l2_unit_id",
    "address",
    "lat",
    "lon",
    "boundary",
    "built_up_area",
    "area_m2",
    "investment_yuan",
    "stage",
    "planned_start_date",
    "planned_end_date",
    "actual_start_date",
    "actual_end_date",
    "builder_id",
    "contractor_id",
    "supervisor_id",
    "contact_name",
    "contact_phone",
    "monitors_required",
    "grade",
    "control_measures",
    "enforcement_grid_id",
    "inspector_grid_id",
    "retired_at",
    "retire_reason",
)

# Works that the city safety station (市安全监督站) supervises instead of the district bureau.
CITY_STATION_KINDS = frozenset({SiteKind.metro, SiteKind.municipal})


def snapshot(site: Site) -> dict[str, Any]:
    return {name: getattr(site, name) for name in AUDITED_FIELDS}


def get_site(session: Session, principal: Principal, site_id: int) -> Site:
    site = repo.get_visible(session, principal, site_id)
    if site is None:
        raise NotFound("sites.error.site_not_found", site_id=site_id)
    return site


def _writable(session: Session, principal: Principal, site_id: int) -> Site:
    site = get_site(session, principal, site_id)  # 404 first: existence is not revealed
    if not principal.can(Perm.site_write):
        raise Forbidden("sites.error.role_may_not_change_ledger")
    if not repo.is_writable(session, principal, site_id):
        raise Forbidden("sites.error.you_may_not_change_site")
    return site


def upsert_enterprise(session: Session, ref: EnterpriseRef, kind: EnterpriseKind) -> Enterprise:
    """Find an enterprise by credit code or create it (the code is the identity)."""
    ent = repo.enterprise_by_uscc(session, ref.uscc)
    if ent is None:
        ent = Enterprise(name=ref.name, uscc=ref.uscc, kind=kind)
        session.add(ent)
        session.flush()
    return ent


def default_l2_unit(session: Session, *, district_id: int, kind: SiteKind) -> int:
    """The L2 unit for a site: the city safety station for metro/municipal works, if any."""
    if kind in CITY_STATION_KINDS:
        station = org_repo.city_safety_station_id(session)
        if station is not None:
            return station
    bureau = org_repo.district_bureau_id(session, district_id)
    if bureau is None:
        raise Invalid("sites.error.district_has_no_l2_bureau", district_id=district_id)
    return bureau


def nearest_grid(
    session: Session,
    *,
    district_id: int,
    kind: GridKind,
    lat: float,
    lon: float,
    lane: int | None = None,
) -> int | None:
    """Nearest grid of ``kind`` (and ``lane``: see ``gridding.GridInfo.lane``) in the
    district by its sites' centroid (临近原则)."""
    grids = gridding()
    best: tuple[float, int] | None = None
    for gid, clat, clon in grids.centroids(session, district_id, kind, lane):
        d = (clat - lat) ** 2 + (clon - lon) ** 2
        if best is None or d < best[0]:
            best = (d, gid)
    if best is None:
        return grids.any_grid(session, district_id, kind, lane)
    return best[1]


class OutsideDistrict(Invalid):
    """A site position outside its district's boundary (beyond the policy's tolerance).

    The message names the district and the distance in the reader's language (the attributes
    ``district``, ``district_en`` and ``distance_m`` carry the same for pages).
    """

    def __init__(self, district: District, distance_m: float) -> None:
        self.district, self.district_en = district.name, district.name_en or district.name
        self.distance_m = distance_m
        zh = DEFAULT_DISTRICT_BOUNDARY_POLICY.distance_text(distance_m, en=False)
        en = DEFAULT_DISTRICT_BOUNDARY_POLICY.distance_text(distance_m, en=True)
        super().__init__(
            "sites.error.outside_district",
            district={"zh-CN": district.name, "en": self.district_en},
            distance={"zh-CN": zh, "en": en},
            details={"field": "lat", "district": district.name,
                     "distance_m": round(distance_m, 1)},
        )  # fmt: skip


def check_in_district(
    district: District | None,
    lat: float,
    lon: float,
    policy: DistrictBoundaryPolicy = DEFAULT_DISTRICT_BOUNDARY_POLICY,
) -> None:
    """``OutsideDistrict`` when the point lies further than the tolerance outside the
    district's drawn boundary; a district without a boundary is not checked."""
    if district is None or not district.boundary:
        return
    outside = distance_outside_m(lat, lon, district.boundary)
    if outside > policy.tolerance_m:
        raise OutsideDistrict(district, outside)


def _grid_fits(
    session: Session, grid_id: int, kind: GridKind, site: Site, lane: int | None, *, chosen: bool
) -> bool:
    """Whether the site may stay in (or be put in) this grid; errors name what is wrong.

    A grid of another lane (a city-station enforcement grid for a district-supervised site,
    or the reverse) is an error when the grid was chosen in this write, and otherwise means
    the site changed hands (its kind or L2 unit changed): the caller then picks the nearest
    grid of the right lane.
    """
    grid = gridding().get(session, grid_id)
    if grid is None:
        raise Invalid("sites.error.grid_not_found", grid_id=grid_id)
    if grid.kind != kind:
        raise Invalid(
            "sites.error.grid_kind_mismatch",
            grid_code=grid.code,
            kind=Msg(f"grid_kind.{kind.value}"),
        )
    if grid.district_id != site.district_id:
        raise Invalid("sites.error.grid_another_district", grid_code=grid.code)
    if grid.lane == lane:
        return True
    if chosen:
        raise Invalid(
            "sites.error.grid_belongs_another_supervising_unit_metro",
            grid_code=grid.code,
            details={"field": f"{kind.value}_grid_id"},
        )
    return False


def _place_in_grids(session: Session, site: Site, values: dict[str, Any]) -> None:
    """Keep the site's grids (when they still fit) or give it the nearest of each kind."""
    for grid_kind in GridKind:
        attr = f"{grid_kind.value}_grid_id"
        lane = gridding().lane_of(session, grid_kind, site.l2_unit_id)
        gid = getattr(site, attr)
        if gid is not None and _grid_fits(
            session, gid, grid_kind, site, lane, chosen=attr in values
        ):
            continue
        setattr(
            site,
            attr,
            nearest_grid(
                session,
                district_id=site.district_id,
                kind=grid_kind,
                lat=site.lat,
                lon=site.lon,
                lane=lane,
            ),
        )


def _apply(session: Session, site: Site, data: SiteFields, principal: Principal) -> None:
    values = data.model_dump(exclude_unset=True)
    for field, kind in (
        ("builder", EnterpriseKind.builder),
        ("contractor", EnterpriseKind.contractor),
        ("supervisor", EnterpriseKind.supervisor),
    ):
        if field in values:
            ref = getattr(data, field)
            values.pop(field)
            setattr(site, f"{field}_id", upsert_enterprise(session, ref, kind).id if ref else None)
    for key, value in values.items():
        setattr(site, key, value)
    if "district_id" in values and (
        org_repo.district_visible(session, principal, site.district_id) is None
    ):
        raise Invalid("sites.error.unknown_district", district_id=site.district_id)
    if {"lat", "lon", "district_id"} & values.keys() or site.id is None:
        check_in_district(session.get(District, site.district_id), site.lat, site.lon)
    if (
        site.l2_unit_id is None
        or ("kind" in values or "district_id" in values)
        and ("l2_unit_id" not in values)
    ):
        site.l2_unit_id = default_l2_unit(session, district_id=site.district_id, kind=site.kind)
    site.gcj_lat, site.gcj_lon = wgs84_to_gcj02(site.lat, site.lon)
    site.monitors_required = DEFAULT_MONITOR_THRESHOLD_POLICY.monitors_required(
        investment_yuan=site.investment_yuan or Decimal(0), area_m2=site.area_m2 or 0.0
    )
    _place_in_grids(session, site, values)


def create_site(session: Session, principal: Principal, data: SiteCreate) -> Site:
    if not principal.can(Perm.site_write):
        raise Forbidden("sites.error.role_may_not_add_sites")
    if repo.by_project_code(session, data.project_code) is not None:
        raise Invalid("sites.error.project_code_already_exists", project_code=data.project_code)
    site = Site(
        project_code=data.project_code.strip(),
        area_m2=0.0,
        investment_yuan=Decimal(0),
        built_up_area=True,
    )
    _apply(session, site, data, principal)
    session.add(site)
    session.flush()
    if not repo.is_writable(session, principal, site.id):
        raise Forbidden("sites.error.you_may_only_add_sites_own")
    audit.record_change(
        session,
        actor=principal,
        action="create",
        entity_type="site",
        entity_id=site.id,
        before={},
        after=snapshot(site),
        summary=f"新增工地 {site.name}",
    )
    return site


def update_site(session: Session, principal: Principal, site_id: int, data: SiteUpdate) -> Site:
    site = _writable(session, principal, site_id)
    before = snapshot(site)
    with session.no_autoflush:
        _apply(session, site, data, principal)
    session.flush()
    if not repo.is_writable(session, principal, site.id):
        raise Forbidden("sites.error.you_may_not_move_site_out")
    audit.record_change(
        session,
        actor=principal,
        action="update",
        entity_type="site",
        entity_id=site.id,
        before=before,
        after=snapshot(site),
        summary=f"修改工地 {site.name}",
    )
    return site


def retire_site(session: Session, principal: Principal, site_id: int, reason: str) -> Site:
    site = _writable(session, principal, site_id)
    if site.retired_at is not None:
        raise Invalid("sites.error.site_already_retired")
    before = snapshot(site)
    site.retired_at = utcnow()
    site.retire_reason = reason
    audit.record_change(
        session,
        actor=principal,
        action="retire",
        entity_type="site",
        entity_id=site.id,
        before=before,
        after=snapshot(site),
        summary=f"工地退出台账：{reason}",
    )
    return site


def list_page(
    session: Session, principal: Principal, f: SiteFilter, *, page: int, size: int
) -> tuple[list[Any], int]:
    return repo.page_with_total(session, principal, f, offset=(page - 1) * size, limit=size)


def map_points(session: Session, principal: Principal, f: SiteFilter, crs: str) -> dict[str, Any]:
    """Compact marker data: one row per site, coordinates in the base map's datum."""
    rows = repo.map_rows(session, principal, f, crs)
    return {"crs": crs, "fields": ["id", "lat", "lon", "grade", "name", "code"], "rows": rows}


SITE_CHOICES_LIMIT = 2000  # a form's site select box lists at most this many sites


def site_choices(session: Session, principal: Principal) -> list[Any]:
    """``(id, project_code, name)`` of the open sites in scope, for a form's select box."""
    return repo.open_choices(session, principal, limit=SITE_CHOICES_LIMIT)


SITE_SEARCH_LIMIT = 12  # the site picker proposes at most this many matches
SITE_PICK_NAMED = 3  # an ambiguous site name's error names this many of its matches


def site_search(session: Session, principal: Principal, q: str) -> list[Any]:
    """Open sites in scope matching part of a project code, name, address or permit number
    (a form's site picker; nothing for an empty ``q``)."""
    return repo.search_open(session, principal, q, limit=SITE_SEARCH_LIMIT)


def site_label(code: str, name: str) -> str:
    """How a picked site reads in its box (and what the server recognises again)."""
    return f"{code} {name}"


def pick_site(
    session: Session, principal: Principal, text: str, chosen_id: int | None = None
) -> int | None:
    """The open site in scope that a picker's text names, or None for a blank text.

    ``chosen_id`` is what the page's script picked; it counts while the text still reads
    as that site. Otherwise (no script, or the text was changed) the text is resolved: an
    exact project code or name, a "code name" label, else a single site containing it.
    Raises ``Invalid`` naming the text when nothing or more than one site matches.
    """
    words = text.strip()
    if not words:
        return None
    if chosen_id is not None:
        for row in repo.open_by_code_or_name(session, principal, words.split(" ", 1)[0]):
            if row.id == chosen_id and site_label(row.project_code, row.name) == words:
                return chosen_id
    exact = repo.open_by_code_or_name(session, principal, words)
    if not exact and " " in words:  # "HP-001 和平区中山路住宅项目": the code names it
        exact = repo.open_by_code_or_name(session, principal, words.split(" ", 1)[0])
    rows = exact or repo.search_open(session, principal, words, limit=SITE_PICK_NAMED + 1)
    if len(rows) == 1:
        return int(rows[0].id)
    if not rows:
        raise Invalid("site.pick.not_found", details={"field": "site_id"}, text=words)
    named = " · ".join(site_label(r.project_code, r.name) for r in rows[:SITE_PICK_NAMED])
    raise Invalid("site.pick.ambiguous", details={"field": "site_id"}, text=words, sites=named)


ENTERPRISE_CHOICES_LIMIT = 20  # the enterprise picker proposes at most this many matches


def enterprise_choices(session: Session, principal: Principal, q: str) -> list[Enterprise]:
    """Enterprises of the sites in scope whose name or credit code contains ``q``."""
    return repo.enterprises_in_scope(session, principal, q, limit=ENTERPRISE_CHOICES_LIMIT)


def l2_unit_of(session: Session, site_id: int) -> int | None:
    """The L2 unit a site answers to (the default unit a case on it is dispatched to)."""
    return repo.l2_unit_of(session, site_id)
