"""Scope filters: every list and lookup of sites, grids and districts goes through these.

A district sees its own district, a station its own grids, an officer or inspector their
own grids, a contractor its own enterprise's sites, a device provider the sites where its
devices are. Reads outside scope answer 404.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, or_, select, true

from dustgrid.alerts.models import Alert
from dustgrid.cases.models import Case
from dustgrid.devices.models import Device, DeviceKind
from dustgrid.grids.models import Grid
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Role
from dustgrid.org.models import District
from dustgrid.sites.models import Site


def _unit_sites(p: Principal) -> ColumnElement[bool]:
    """Sites under the principal's unit, by the unit's level."""
    if p.unit_level == 1:
        return true()
    if p.unit_level == 2 and p.org_unit_id is not None:
        return Site.l2_unit_id == p.org_unit_id
    if p.unit_level == 3 and p.grid_ids:
        return Site.enforcement_grid_id.in_(p.grid_ids)
    return false()


def site_clause(p: Principal) -> ColumnElement[bool]:
    """WHERE clause limiting ``Site`` rows to what ``p`` may see."""
    match p.role:
        case Role.city_admin:
            return true()
        case Role.district_admin | Role.station_staff | Role.viewer:
            return _unit_sites(p)
        case Role.officer | Role.inspector:
            if not p.grid_ids:
                return false()
            return or_(
                Site.enforcement_grid_id.in_(p.grid_ids), Site.inspector_grid_id.in_(p.grid_ids)
            )
        case Role.contractor:
            if p.enterprise_id is None:
                return false()
            return or_(Site.contractor_id == p.enterprise_id, Site.builder_id == p.enterprise_id)
        case Role.provider:
            # A device provider sees the sites where its devices are (domain.md §7).
            if p.enterprise_id is None:
                return false()
            return Site.id.in_(
                select(Device.site_id).where(
                    Device.provider_id == p.enterprise_id, Device.site_id.is_not(None)
                )
            )
        case _:
            return false()


# Roles bound to a district unit, who also see the reference stations (国控/省控点) there.
_DISTRICT_STAFF = frozenset({Role.district_admin, Role.station_staff, Role.officer, Role.viewer})


def device_clause(p: Principal) -> ColumnElement[bool]:
    """WHERE clause limiting ``Device`` rows: city-wide all, a provider its own devices,
    everyone else the devices of the sites they see (plus their district's reference
    stations, which belong to no site)."""
    if p.is_city_wide:
        return true()
    if p.role == Role.provider:
        if p.enterprise_id is None:
            return false()
        return Device.provider_id == p.enterprise_id
    parts: list[ColumnElement[bool]] = [Device.site_id.in_(select(Site.id).where(site_clause(p)))]
    if p.role in _DISTRICT_STAFF and p.district_id is not None:
        parts.append(
            and_(
                Device.kind == DeviceKind.reference_station,
                Device.district_id == p.district_id,
            )
        )
    return or_(*parts)


def grid_clause(p: Principal) -> ColumnElement[bool]:
    """Grids the principal may see: their own, their unit's, or those holding visible sites."""
    if p.is_city_wide:
        return true()
    visible_sites = site_clause(p)
    parts: list[ColumnElement[bool]] = [
        Grid.id.in_(select(Site.enforcement_grid_id).where(visible_sites)),
        Grid.id.in_(select(Site.inspector_grid_id).where(visible_sites)),
    ]
    if p.grid_ids:
        parts.append(Grid.id.in_(p.grid_ids))
    if p.role in (Role.district_admin, Role.viewer) and p.unit_level == 2 and p.district_id:
        parts.append(Grid.district_id == p.district_id)
    return or_(*parts)


def district_clause(p: Principal) -> ColumnElement[bool]:
    """Districts the principal may see: the whole city for L1, else where their sites are."""
    if p.is_city_wide:
        return true()
    parts: list[ColumnElement[bool]] = [
        District.id.in_(select(Site.district_id).where(site_clause(p)))
    ]
    if p.district_id is not None:
        parts.append(District.id == p.district_id)
    return or_(*parts)


def site_writable_clause(p: Principal) -> ColumnElement[bool]:
    """Sites the principal may change (the caller has already checked the permission)."""
    if p.role == Role.city_admin:
        return true()
    if p.role == Role.district_admin:
        return and_(site_clause(p))
    return false()


def provider_case_clause(p: Principal) -> ColumnElement[bool]:
    """Cases raised from the alerts of a provider's own devices (exceedance, offline,
    stale key, data quality): a provider sees its devices' cases, not every case of the
    sites where it has a device (those are the site's and the grid's business)."""
    if p.enterprise_id is None:
        return false()
    own_devices = select(Device.id).where(Device.provider_id == p.enterprise_id)
    return Case.id.in_(
        select(Alert.case_id).where(Alert.case_id.is_not(None), Alert.device_id.in_(own_devices))
    )


def case_clause(p: Principal) -> ColumnElement[bool]:
    """Cases the principal may see: those of visible sites; L1 all; an L2 unit also those
    dispatched to it; a device provider only its devices' cases; everyone the cases they
    reported or were named responsible for."""
    if p.is_city_wide:
        return true()
    if p.role == Role.provider:
        return or_(
            provider_case_clause(p),
            Case.reporter_id == p.user_id,
            Case.responsible_user_id == p.user_id,
        )
    parts: list[ColumnElement[bool]] = [
        Case.site_id.in_(select(Site.id).where(site_clause(p))),
        Case.reporter_id == p.user_id,
        Case.responsible_user_id == p.user_id,
    ]
    if p.role in (Role.district_admin, Role.viewer) and p.unit_level == 2 and p.org_unit_id:
        parts.append(Case.assigned_unit_id == p.org_unit_id)
    return or_(*parts)
