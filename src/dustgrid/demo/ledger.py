"""The demo city's ledger rows: enterprises and sites with plausible, consistent attributes.

Why these distributions: the platform's views only look real when the ledger does. Most
sites are housing (房建), metro and municipal works cluster in the built-up area and go to
the city safety station, areas and investments are log-normal so most sites are above the
monitor thresholds (``DEFAULT_MONITOR_THRESHOLD_POLICY``, domain §7) while small works are
not, dates agree with the stage, a few big contractors hold most of the work, and a few sites are
City-Brain finds without a permit (疑似未批先建). Rows are plain dicts for one bulk insert.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from typing import Any
from zoneinfo import ZoneInfo

from dustgrid.demo import names
from dustgrid.demo.geography import DISTRICTS, CityGeography, DistrictSpec, allocate
from dustgrid.geo.coords import wgs84_to_gcj02
from dustgrid.sites.models import (
    Enterprise,
    EnterpriseKind,
    Grade,
    PermitStatus,
    SiteKind,
    Stage,
)
from dustgrid.sites.policy import DEFAULT_MONITOR_THRESHOLD_POLICY
from dustgrid.sites.service import CITY_STATION_KINDS
from dustgrid.sites.uscc import USCC_CHARSET, make_uscc

DEMO_TZ = ZoneInfo("Asia/Shanghai")

# Enterprises per line of business (60 in all); the first two builders are the city's own
# investment companies, owners of municipal and metro works. "civil" firms are contractors
# that build roads, pipes and tunnels.
ENTERPRISE_PLAN = (
    ("builder", EnterpriseKind.builder, 16),
    ("contractor", EnterpriseKind.contractor, 19),
    ("civil", EnterpriseKind.contractor, 8),
    ("supervisor", EnterpriseKind.supervisor, 12),
    ("provider", EnterpriseKind.provider, 3),
    ("inspection", EnterpriseKind.inspection, 2),
)
CITY_BUILDERS = ("沈阳盛京城市建设投资集团有限公司", "沈阳盛京轨道交通建设有限公司")

_KIND_WEIGHTS = {  # inside the built-up ring vs the outskirts
    True: {SiteKind.housing: 64, SiteKind.municipal: 11, SiteKind.metro: 6,
           SiteKind.demolition: 12, SiteKind.other: 7},
    False: {SiteKind.housing: 66, SiteKind.municipal: 14, SiteKind.metro: 2,
            SiteKind.demolition: 6, SiteKind.other: 12},
}  # fmt: skip
_BUILDING_STAGES = {Stage.earthwork: 14, Stage.foundation: 16, Stage.structure: 34,
                    Stage.decoration: 18, Stage.completed: 6, Stage.suspended: 12}  # fmt: skip
_STAGE_WEIGHTS = {  # civil works have no decoration stage; demolition is earthwork-like
    SiteKind.housing: _BUILDING_STAGES,
    SiteKind.other: _BUILDING_STAGES,
    SiteKind.municipal: {Stage.earthwork: 25, Stage.foundation: 15, Stage.structure: 30,
                         Stage.completed: 8, Stage.suspended: 12},
    SiteKind.metro: {Stage.earthwork: 20, Stage.foundation: 25, Stage.structure: 40,
                     Stage.completed: 5, Stage.suspended: 10},
    SiteKind.demolition: {Stage.earthwork: 60, Stage.completed: 15, Stage.suspended: 25},
}  # fmt: skip
_STAGE_AGE_DAYS = {Stage.earthwork: (5, 120), Stage.foundation: (60, 300),
                   Stage.structure: (150, 700), Stage.decoration: (400, 1000),
                   Stage.suspended: (30, 900)}  # fmt: skip
_DURATION_DAYS = {SiteKind.housing: (540, 1100), SiteKind.municipal: (120, 540),
                  SiteKind.metro: (700, 1400), SiteKind.demolition: (30, 150),
                  SiteKind.other: (90, 400)}  # fmt: skip
_GRADE_WEIGHTS = {Grade.non_compliant: 8, Grade.basic: 30, Grade.full: 47, Grade.ungraded: 15}
_SUSPECTED_SHARE = 0.025  # sites the City Brain found without a permit (疑似未批先建)
_SMALL_SHARE = 0.12  # small building works (零星工程) below both monitor thresholds
_ZIPF = 0.7  # how strongly work concentrates on the biggest firms


def make_enterprises(rng: random.Random) -> dict[str, list[Enterprise]]:
    """Enterprises by line of business, each with a unique name and a valid USCC."""
    taken_names, taken_codes = set(CITY_BUILDERS), set[str]()
    divisions = ["210100"] + [d.code for d in DISTRICTS]
    out: dict[str, list[Enterprise]] = {}
    for business, kind, count in ENTERPRISE_PLAN:
        pool = []
        for i in range(count):
            if business == "builder" and i < len(CITY_BUILDERS):
                name = CITY_BUILDERS[i]
            else:
                name = names.enterprise_name(rng, business, taken_names)
            code = ""
            while not code or code in taken_codes:
                org = "MA" + "".join(rng.choice(USCC_CHARSET) for _ in range(7))
                code = make_uscc("91" + rng.choice(divisions) + org)
            taken_codes.add(code)
            pool.append(Enterprise(name=name, uscc=code, kind=kind))
        out[business] = pool
    return out


@dataclass(frozen=True)
class LedgerContext:
    """Ids the rows point at (all flushed before planning)."""

    district_ids: dict[str, int]  # by district code
    bureau_ids: dict[str, int]  # L2 district bureau by district code
    safety_station_id: int  # L2 city safety station (metro, municipal works)
    enterprises: dict[str, list[Enterprise]]


class SitePlanner:
    """Draws the site rows, district by district, from one random stream."""

    def __init__(
        self, rng: random.Random, today: date, geo: CityGeography, ctx: LedgerContext
    ) -> None:
        self.rng, self.today, self.geo, self.ctx = rng, today, geo, ctx
        self._taken: set[str] = set()
        # Cumulative weights computed once per table (same draws as weights=, much cheaper).
        self._tables: dict[int, tuple[list[Any], list[int]]] = {}
        self._zipf_cum: dict[int, list[float]] = {}

    def plan(self, n_sites: int) -> tuple[list[dict[str, Any]], list[DistrictSpec]]:
        """``n_sites`` rows (without grid ids) and the district of each row."""
        rows: list[dict[str, Any]] = []
        where: list[DistrictSpec] = []
        counts = allocate(n_sites, [d.share for d in DISTRICTS])
        for shape, count in zip(self.geo.shapes, counts, strict=True):
            for seq in range(1, count + 1):
                lat, lon = self.geo.sample(self.rng, shape)
                rows.append(self._row(shape.spec, seq, lat, lon))
                where.append(shape.spec)
        return rows, where

    def _pick(self, weights: dict[Any, int]) -> Any:
        table = self._tables.get(id(weights))
        if table is None:
            table = self._tables[id(weights)] = (list(weights), list(accumulate(weights.values())))
        return self.rng.choices(table[0], cum_weights=table[1])[0]

    def _zipf(self, pool: list[Enterprise]) -> Enterprise:
        """A few big firms get most of the work, as in real ledgers."""
        cum = self._zipf_cum.get(len(pool))
        if cum is None:
            cum = list(accumulate(1.0 / (i + 1) ** _ZIPF for i in range(len(pool))))
            self._zipf_cum[len(pool)] = cum
        return self.rng.choices(pool, cum_weights=cum)[0]

    def _row(self, d: DistrictSpec, seq: int, lat: float, lon: float) -> dict[str, Any]:
        rng, roads, ents = self.rng, names.ROADS[d.code], self.ctx.enterprises
        built = self.geo.is_built_up(lat, lon)
        suspected = rng.random() < _SUSPECTED_SHARE
        kind: SiteKind = self._pick(_KIND_WEIGHTS[built])
        if suspected:
            kind = SiteKind.housing if kind in CITY_STATION_KINDS else kind
            name, road = names.suspected_site_name(rng, district=d.name, roads=roads)
            stage = rng.choice((Stage.earthwork, Stage.earthwork, Stage.foundation))
        else:
            name, road = names.project_name(rng, kind=kind.value, district=d.name, roads=roads)
            stage = self._pick(_STAGE_WEIGHTS[kind])
        area, investment = self._size(kind)
        ps, pe, a_s, a_e, permit_day = self._dates(kind, stage)
        planned: tuple[date | None, date | None] = (ps, pe)
        grade: Grade = self._pick(_GRADE_WEIGHTS)
        if kind == SiteKind.metro:
            builder = ents["builder"][1]
        elif kind == SiteKind.municipal:
            builder = ents["builder"][0]
        else:
            builder = self._zipf(ents["builder"][len(CITY_BUILDERS) :])
        civil = kind in CITY_STATION_KINDS or (kind == SiteKind.demolition and rng.random() < 0.5)
        contractor = self._zipf(ents["civil" if civil else "contractor"])
        supervisor = rng.choice(ents["supervisor"])
        contact, phone = names.person_name(rng), names.mobile_phone(rng)
        graded_at: datetime | None = self._graded_at()
        if suspected:  # nothing known yet but the place and what the satellite saw
            grade, planned, investment, graded_at = Grade.ungraded, (None, None), Decimal(0), None
        elif grade == Grade.ungraded:
            graded_at = None
        l2 = self.ctx.safety_station_id if kind in CITY_STATION_KINDS else (
            self.ctx.bureau_ids[d.code])  # fmt: skip
        gcj_lat, gcj_lon = wgs84_to_gcj02(lat, lon)
        return {
            "project_code": f"{d.code}{ps.year}{seq:04d}",
            "name": names.unique(name, self._taken),
            "permit_no": "" if suspected else f"{d.code}{permit_day:%Y%m%d}{seq % 100:02d}01",
            "permit_status": (PermitStatus.suspected_unpermitted if suspected
                              else PermitStatus.permitted),
            "kind": kind,
            "district_id": self.ctx.district_ids[d.code],
            "l2_unit_id": l2,
            "address": names.street_address(rng, district=d.name, road=road),
            "lat": lat, "lon": lon, "gcj_lat": gcj_lat, "gcj_lon": gcj_lon,
            "built_up_area": built,
            "area_m2": area,
            "investment_yuan": investment,
            "stage": stage,
            "planned_start_date": planned[0], "planned_end_date": planned[1],
            "actual_start_date": a_s, "actual_end_date": a_e,
            "builder_id": None if suspected else builder.id,
            "contractor_id": None if suspected else contractor.id,
            "supervisor_id": None if suspected else supervisor.id,
            "contact_name": "" if suspected else contact,
            "contact_phone": "" if suspected else phone,
            "monitors_required": DEFAULT_MONITOR_THRESHOLD_POLICY.monitors_required(
                investment_yuan=investment, area_m2=area),
            "grade": grade,
            "graded_at": graded_at,
            "retire_reason": "",
        }  # fmt: skip

    def _graded_at(self) -> datetime:
        """Some working hour of the last two weeks, Shanghai time, stored in UTC."""
        day = self.today - timedelta(days=self.rng.randint(1, 15))
        local = datetime.combine(day, datetime.min.time(), DEMO_TZ)
        return (local + timedelta(minutes=self.rng.randint(8 * 60, 17 * 60))).astimezone(UTC)

    def _size(self, kind: SiteKind) -> tuple[float, Decimal]:
        """(area m², investment yuan): log-normal, so most sites are above the thresholds."""
        rng = self.rng
        small = kind in (SiteKind.housing, SiteKind.other) and rng.random() < _SMALL_SHARE
        if small:
            area, money = rng.uniform(80, 480), rng.uniform(1e5, 9.5e5)
        elif kind == SiteKind.housing:
            area = min(4e5, max(600.0, rng.lognormvariate(10.7, 0.8)))  # median ~45,000 m²
            money = area * rng.uniform(2800, 5200)
        elif kind == SiteKind.municipal:
            area = min(2e5, max(500.0, rng.lognormvariate(9.6, 0.9)))
            money = rng.lognormvariate(17.2, 1.0)  # median ~30 million yuan
        elif kind == SiteKind.metro:
            area, money = rng.uniform(6000, 25000), rng.uniform(2e8, 9e8)
        elif kind == SiteKind.demolition:
            area = min(1.5e5, max(500.0, rng.lognormvariate(9.4, 1.0)))
            money = area * rng.uniform(60, 180)
        else:
            area = min(5e4, max(300.0, rng.lognormvariate(8.0, 1.2)))
            money = area * rng.uniform(1500, 4000)
        return float(round(area)), Decimal(int(round(money, -2)))

    def _dates(self, kind: SiteKind, stage: Stage) -> tuple[date, date, date, date | None, date]:
        """(planned start, planned end, actual start, actual end, permit day) for the stage."""
        rng, today = self.rng, self.today
        duration = rng.randint(*_DURATION_DAYS[kind])
        actual_end = None
        if stage == Stage.completed:  # finished within the last three months or so
            actual_end = today - timedelta(days=rng.randint(3, 90))
            actual_start = actual_end - timedelta(days=round(duration * rng.uniform(0.9, 1.25)))
            planned_start = actual_start - timedelta(days=rng.randint(-5, 30))
        else:
            planned_start = today - timedelta(days=rng.randint(*_STAGE_AGE_DAYS[stage]))
            actual_start = min(today, planned_start + timedelta(days=rng.randint(-5, 30)))
        planned_end = planned_start + timedelta(days=duration)
        permit_day = planned_start - timedelta(days=rng.randint(5, 60))
        return planned_start, planned_end, actual_start, actual_end, permit_day
