"""The demo city's muck-truck fleet (issue 14): a few days of GPS fixes from the synthetic
fleet (``demo.fleet``) over the demo ledger, its trucks in the registry, its depots and
landfills as known places, and the daily runs of those days, so the City Brain pages have
suspects (some overdue, as on a real morning), a heat map and tracks on ``make run``.

One hidden site is placed in the area of a city safety station grid (``station_place``),
so the station's admin (``safety_admin``) has a push of its own to decide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from dustgrid.config import Settings
from dustgrid.demo.fleet import FleetSpec, LatLon, generate_fleet
from dustgrid.geo.coords import EARTH_RADIUS_M, haversine_m
from dustgrid.geo.shapes import point_in_geometry
from dustgrid.org import repository as org_repo
from dustgrid.trajectories import repository as traj_repo
from dustgrid.trajectories import service
from dustgrid.trajectories.loop_policy import DEFAULT_CITY_BRAIN_LOOP_POLICY
from dustgrid.trajectories.models import KnownPlace, PlaceKind, Truck
from dustgrid.trajectories.policy import DEFAULT_TRAJECTORY_POLICY

DEMO_DAYS = 4
DEMO_TRUCKS = 40
RUN_HOUR = 2  # each day is detected at 02:00 local the morning after
_PROVINCE = "辽A"
# The station's hidden site lies this far from one of its sites: beyond the site's radius
# and the detection's buffer (80 + 250 m), well inside the grid's reach (1 km).
STATION_PLACE_M = 600.0
_CLEAR_MARGIN_M = 100.0  # the detected centre wanders a little: keep clear of the buffer
_BEARINGS = 12


def _offset(lat: float, lon: float, metres: float, bearing: float) -> LatLon:
    north, east = metres * math.cos(bearing), metres * math.sin(bearing)
    return (
        lat + math.degrees(north / EARTH_RADIUS_M),
        lon + math.degrees(east / (EARTH_RADIUS_M * math.cos(math.radians(lat)))),
    )


def station_place(session: Session) -> LatLon | None:
    """A place ``STATION_PLACE_M`` from a site of a city safety station grid whose nearest
    active site is a station grid's (so its push is routed to the station: see
    ``trajectories.service._routed_unit``), inside the district and clear of every ledger
    site's buffer; None when the city has no station grid with sites."""
    buffer = DEFAULT_TRAJECTORY_POLICY.known_buffer_m + _CLEAR_MARGIN_M
    reach = DEFAULT_CITY_BRAIN_LOOP_POLICY.grid_reach_m
    ledger = [
        (lat, lon, max(80.0, math.sqrt(max(area or 0.0, 0.0) / math.pi)))
        for _i, _n, lat, lon, area, _b in traj_repo.ledger_places(session)
    ]
    for district in org_repo.districts_with_boundary(session):
        rows = sorted(traj_repo.enforcement_grid_sites(session, district.id), key=tuple)
        for _gid, _code, lane, slat, slon in rows:
            if lane is None:
                continue
            for k in range(_BEARINGS):
                lat, lon = _offset(slat, slon, STATION_PLACE_M, 2 * math.pi * k / _BEARINGS)
                if not point_in_geometry(lat, lon, district.boundary or {}):
                    continue
                if any(haversine_m(lat, lon, a, o) - r <= buffer for a, o, r in ledger):
                    continue
                near = min(rows, key=lambda r: haversine_m(lat, lon, r[3], r[4]))
                if near[2] is not None and haversine_m(lat, lon, near[3], near[4]) <= reach:
                    return (round(lat, 6), round(lon, 6))
    return None


@dataclass(frozen=True, slots=True)
class FleetDemo:
    fixes: int
    trucks: int
    days: tuple[date, ...]
    pushed: int

    def describe(self) -> str:
        return (
            f"City Brain demo: {self.trucks} muck trucks, {self.fixes} GPS fixes over "
            f"{len(self.days)} days ({self.days[0]} – {self.days[-1]}), "
            f"{self.pushed} suspects pushed"
        )


def load_fleet_demo(
    session: Session,
    *,
    seed: int,
    n_sites: int,
    settings: Settings,
    today: date,
    days: int = DEMO_DAYS,
    trucks: int = DEMO_TRUCKS,
) -> FleetDemo:
    """Generate, store and detect the last ``days`` days before ``today`` (flushes only)."""
    first = today - timedelta(days=days)
    placed = station_place(session)
    spec = FleetSpec(
        seed=seed,
        trucks=trucks,
        days=days,
        first_day=first,
        ledger_sites=n_sites,
        placed_sites=(placed,) if placed else (),
    )
    fleet = generate_fleet(spec)
    for i, terminal in enumerate(sorted(set(fleet.companies))):
        plate = f"{_PROVINCE}{(seed * 7919 + i * 104_729) % 90_000 + 10_000:05d}"
        session.add(Truck(plate=plate, company=fleet.companies[terminal], terminal_id=terminal))
    for n, place in enumerate(p for p in fleet.known if p.kind in ("depot", "landfill")):
        kind = PlaceKind.depot if place.kind == "depot" else PlaceKind.landfill
        name = f"{'渣土车队停车场' if kind == PlaceKind.depot else '建筑垃圾消纳场'} {n + 1}"
        session.add(KnownPlace(name=name, kind=kind, lat=place.lat, lon=place.lon,
                               radius_m=place.radius_m, note="demo"))  # fmt: skip
    session.flush()
    service.store_of(settings).write(fleet.fixes(), f"demo-fleet-{seed}")
    tz = ZoneInfo(settings.timezone)
    pushed = 0
    run_days = tuple(first + timedelta(days=k) for k in range(days))
    for day in run_days:
        at = datetime.combine(day + timedelta(days=1), time(RUN_HOUR), tzinfo=tz)
        report = service.run_once(session, day, settings=settings, now=at)
        pushed += report.pushed if report else 0
    return FleetDemo(fixes=len(fleet), trucks=trucks, days=run_days, pushed=pushed)
