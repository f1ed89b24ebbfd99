"""The demo city's muck-truck fleet (issue 14): a few days of GPS fixes from the synthetic
fleet (``demo.fleet``) over the demo ledger, its trucks in the registry, its depots and
landfills as known places, and the daily runs of those days, so the City Brain pages have
suspects (some overdue, as on a real morning), a heat map and tracks on ``make run``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from dustgrid.config import Settings
from dustgrid.demo.fleet import FleetSpec, generate_fleet
from dustgrid.trajectories import service
from dustgrid.trajectories.models import KnownPlace, PlaceKind, Truck

DEMO_DAYS = 4
DEMO_TRUCKS = 40
RUN_HOUR = 2  # each day is detected at 02:00 local the morning after
_PROVINCE = "辽A"


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
    spec = FleetSpec(seed=seed, trucks=trucks, days=days, first_day=first, ledger_sites=n_sites)
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
