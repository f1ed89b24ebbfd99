"""A synthetic muck-truck fleet over the demo city, with hidden unpermitted sites.

Deterministic by seed. The places come from the demo city: the ledger of
:mod:`dustgrid.demo.ledger` (planned in memory, the same way ``dustgrid demo`` plans it)
gives the permitted sites that dig (earthwork and foundation stages, demolitions): trucks
load there. Depots (停车场) sit around the built-up ring and landfills (消纳场) near the city
edge. Every ledger site, depot and landfill is a *known place*. ``hidden_sites`` more places
are drawn in the districts, far from every known place, and served by crews of trucks on a
few days each: the unpermitted sites (未批先建) the pipeline should find.

A truck-day: parked at its depot, then trips depot → loading place (12–35 min, the terminal
sometimes silent while loading) → landfill (6–15 min) → …, short traffic stops on the way,
now and then a long private stop somewhere (a meal), back to the depot. Fixes every
``interval_s`` seconds with Gaussian jitter, rare multipath spikes and dropped fixes.
Generation is per segment with numpy (a few dozen segments per truck-day).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import numpy as np
import numpy.typing as npt

from dustgrid.demo.geography import DISTRICTS, PROJECTION, CityGeography
from dustgrid.demo.ledger import DEMO_TZ, LedgerContext, SitePlanner, make_enterprises
from dustgrid.geo.coords import haversine_m
from dustgrid.sites.models import PermitStatus, SiteKind, Stage
from dustgrid.trajectories.clusters import KnownPlace
from dustgrid.trajectories.stays import Fixes

LatLon = tuple[float, float]
LOCAL = timezone(timedelta(hours=8))
_DIGGING_STAGES = frozenset({Stage.earthwork, Stage.foundation})
_MIN_SITE_RADIUS_M = 80.0
_HIDDEN_CLEARANCE_M = 900.0  # a hidden site lies this far beyond every known place's radius
_HIDDEN_SPACING_M = 1500.0
_SHIFT_HOURS = (0, 1, 6, 7, 8, 12, 13)  # local start hours: night, day and late shifts
_LAST_TRIP_S = 18 * 3600 + 1800  # no trip starts after 18:30 (every truck is home by midnight)
_SHIFT_SECONDS = 9 * 3600  # no new trip after this much of the shift
COMPANIES = (
    "沈阳盛通渣土运输有限公司",
    "沈阳鑫达土方工程有限公司",
    "沈阳恒运建筑垃圾清运有限公司",
    "辽宁顺捷运输有限公司",
    "沈阳广源土石方有限公司",
    "沈阳北方环卫运输有限公司",
)


@dataclass(frozen=True, slots=True)
class FleetSpec:
    """What to generate. Times are local (UTC+8)."""

    seed: int = 1
    trucks: int = 60
    days: int = 5
    first_day: date = date(2026, 5, 4)
    hidden_sites: int = 8
    # Hidden sites placed by the caller (besides the ``hidden_sites`` drawn at random): the
    # demo puts one in a city safety station grid's area, so a push goes to the station.
    placed_sites: tuple[LatLon, ...] = ()
    # Places that must NOT come out: worked by a crew on one day only, or by two trucks only.
    decoys: int = 6
    crew: tuple[int, int] = (3, 5)  # trucks serving one hidden site
    active_days: tuple[int, int] = (2, 4)  # days a hidden site is worked
    ledger_sites: int = 480
    depots: int = 6
    landfills: int = 4
    interval_s: int = 30
    jitter_m: float = 8.0
    spike_share: float = 0.003
    drop_share: float = 0.02
    silent_loading_share: float = 0.3


@dataclass(frozen=True)
class Fleet:
    """The generated fixes, the known places, the hidden sites (the truth) and companies."""

    spec: FleetSpec
    terminal_ids: npt.NDArray[Any]
    t: npt.NDArray[np.int64]
    lat: npt.NDArray[np.float64]
    lon: npt.NDArray[np.float64]
    known: list[KnownPlace]
    hidden: list[LatLon]
    decoys: list[LatLon] = field(default_factory=list)
    companies: dict[str, str] = field(default_factory=dict)

    def fixes(self) -> Fixes:
        return Fixes.from_columns(self.terminal_ids, self.t, self.lat, self.lon)

    def __len__(self) -> int:
        return int(self.t.shape[0])


def ledger_places(seed: int, n_sites: int, today: date) -> tuple[list[LatLon], list[KnownPlace]]:
    """(digging permitted sites, every ledger site as a known place) of the demo ledger,
    planned in memory with the demo's own planner (nothing is written)."""
    rng = random.Random(seed)
    ctx = LedgerContext(
        district_ids={d.code: i for i, d in enumerate(DISTRICTS, start=1)},
        bureau_ids={d.code: i for i, d in enumerate(DISTRICTS, start=1)},
        safety_station_id=0,
        enterprises=make_enterprises(rng),
    )
    rows, _ = SitePlanner(rng, today, CityGeography(), ctx).plan(n_sites)
    digging, known = [], []
    for row in rows:
        radius = max(_MIN_SITE_RADIUS_M, math.sqrt(float(row["area_m2"]) / math.pi))
        known.append(KnownPlace(row["name"], "site", row["lat"], row["lon"], radius))
        permitted = row["permit_status"] == PermitStatus.permitted
        digs = row["stage"] in _DIGGING_STAGES or row["kind"] == SiteKind.demolition
        if permitted and digs and row["actual_end_date"] is None:
            digging.append((row["lat"], row["lon"]))
    return digging, known


def _ring_places(
    rng: random.Random, n: int, radius: tuple[float, float], kind: str
) -> list[KnownPlace]:
    label = {"depot": "渣土车停车场", "landfill": "建筑垃圾消纳场"}[kind]
    out = []
    for i in range(n):
        bearing = 2 * math.pi * (i + rng.random() * 0.5) / n
        r = rng.uniform(*radius)
        lat, lon = PROJECTION.to_latlon(r * math.sin(bearing), r * math.cos(bearing))
        out.append(KnownPlace(f"{label}{i + 1}", kind, round(lat, 6), round(lon, 6), 150.0))
    return out


def _hidden_places(rng: random.Random, n: int, known: list[KnownPlace]) -> list[LatLon]:
    geo, out = CityGeography(), list[LatLon]()
    while len(out) < n:
        shape = rng.choice(geo.shapes)
        lat, lon = geo.sample(rng, shape)
        clear = all(
            haversine_m(lat, lon, k.lat, k.lon) - k.radius_m > _HIDDEN_CLEARANCE_M for k in known
        )
        apart = all(haversine_m(lat, lon, h[0], h[1]) > _HIDDEN_SPACING_M for h in out)
        if clear and apart:
            out.append((lat, lon))
    return out


class _Track:
    """Fixes of one truck-day, appended segment by segment."""

    def __init__(self, rng: np.random.Generator, spec: FleetSpec, start: int, where: LatLon):
        self.rng, self.spec, self.now, self.where = rng, spec, start, where
        self.day_end = start + 86_400
        self.t: list[npt.NDArray[np.int64]] = []
        self.xy: list[npt.NDArray[np.float64]] = []

    def _emit(
        self, times: npt.NDArray[np.int64], x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]
    ) -> None:
        self.t.append(times)
        self.xy.append(np.column_stack([x, y]))

    def stay(self, seconds: int, silent: tuple[int, int] | None = None) -> None:
        """Stay at the current place; ``silent`` = (offset, length) of a silence inside."""
        times = np.arange(self.now, self.now + seconds, self.spec.interval_s, dtype=np.int64)
        if silent is not None:
            lo = self.now + silent[0]
            times = times[(times < lo) | (times >= lo + silent[1])]
        x, y = PROJECTION.to_xy(*self.where)
        self._emit(times, np.full(times.shape, x), np.full(times.shape, y))
        self.now += seconds

    def drive(self, to: LatLon, speed_ms: float) -> None:
        (x0, y0), (x1, y1) = PROJECTION.to_xy(*self.where), PROJECTION.to_xy(*to)
        seconds = max(self.spec.interval_s, int(math.hypot(x1 - x0, y1 - y0) / speed_ms))
        times = np.arange(self.now, self.now + seconds, self.spec.interval_s, dtype=np.int64)
        f = (times - self.now) / seconds
        self._emit(times, x0 + f * (x1 - x0), y0 + f * (y1 - y0))
        self.now += seconds
        self.where = to

    def columns(
        self,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        t = np.concatenate(self.t)
        xy = np.concatenate(self.xy)
        n, spec, rng = t.shape[0], self.spec, self.rng
        xy += rng.normal(0.0, spec.jitter_m, size=(n, 2))
        spikes = rng.random(n) < spec.spike_share
        angle = rng.uniform(0, 2 * math.pi, n)
        reach = rng.uniform(300.0, 600.0, n)
        xy[spikes, 0] += (reach * np.cos(angle))[spikes]
        xy[spikes, 1] += (reach * np.sin(angle))[spikes]
        keep = (rng.random(n) >= spec.drop_share) & (t < self.day_end)
        lat, lon = _to_latlon(xy[keep, 0], xy[keep, 1])
        return t[keep], lat, lon


def _to_latlon(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    lat0, lon0 = PROJECTION.to_latlon(0.0, 0.0)
    lat1, lon1 = PROJECTION.to_latlon(1.0, 1.0)
    return lat0 + y * (lat1 - lat0), lon0 + x * (lon1 - lon0)


@dataclass
class _Plan:
    """Who works where on which day."""

    depots: list[KnownPlace]
    landfills: list[KnownPlace]
    digging: list[LatLon]
    places: list[LatLon]  # the hidden sites (drawn, then placed), then the decoys
    company_of: list[int]
    # (truck, day index) -> index into places
    hidden_work: dict[tuple[int, int], int]


Columns = tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]


def _truck_day(rng: random.Random, nrng: np.random.Generator, spec: FleetSpec, plan: _Plan,
               truck: int, day_index: int) -> Columns:  # fmt: skip
    midnight = datetime.combine(spec.first_day + timedelta(days=day_index), time(0), LOCAL)
    start = int(midnight.astimezone(UTC).timestamp())
    depot = plan.depots[plan.company_of[truck] % len(plan.depots)]
    home = (depot.lat, depot.lon)
    track = _Track(nrng, spec, start, home)
    track.stay(rng.choice(_SHIFT_HOURS) * 3600 + rng.randrange(0, 3600, 30))
    end_of_work = min(start + _LAST_TRIP_S, track.now + _SHIFT_SECONDS)
    hidden = plan.hidden_work.get((truck, day_index))
    load = plan.places[hidden] if hidden is not None else rng.choice(plan.digging)
    while track.now < end_of_work:
        _traffic(rng, track, load)
        loading = rng.randint(12, 35) * 60
        silent = None
        if rng.random() < spec.silent_loading_share:
            silent = (rng.randint(1, 4) * 60, rng.randint(20, 40) * 60)
            loading = max(loading, silent[0] + silent[1] + 120)
        track.stay(loading, silent)
        fill = min(plan.landfills, key=lambda f: haversine_m(load[0], load[1], f.lat, f.lon))
        _traffic(rng, track, (fill.lat, fill.lon))
        track.stay(rng.randint(6, 15) * 60)
        if rng.random() < 0.08:  # a meal somewhere: one truck, one day
            x, y = PROJECTION.to_xy(*track.where)
            meal = PROJECTION.to_latlon(x + rng.uniform(-3000, 3000), y + rng.uniform(-3000, 3000))
            track.drive(meal, rng.uniform(7, 11))
            track.stay(rng.randint(20, 50) * 60)
    _traffic(rng, track, home)
    track.stay(max(0, start + 86_400 - spec.interval_s - track.now))
    return track.columns()


def _traffic(rng: random.Random, track: _Track, to: LatLon) -> None:
    """Drive to ``to`` with one or two short stops (traffic lights, under 5 minutes)."""
    speed = rng.uniform(7.0, 11.0)
    for _ in range(rng.randint(0, 2)):
        (x0, y0), (x1, y1) = PROJECTION.to_xy(*track.where), PROJECTION.to_xy(*to)
        f = rng.uniform(0.2, 0.8)
        track.drive(PROJECTION.to_latlon(x0 + f * (x1 - x0), y0 + f * (y1 - y0)), speed)
        track.stay(rng.randint(1, 4) * 60 - 30)
    track.drive(to, speed)


def _plan(spec: FleetSpec, rng: random.Random) -> tuple[_Plan, list[KnownPlace]]:
    digging, known = ledger_places(spec.seed, spec.ledger_sites, spec.first_day)
    depots = _ring_places(rng, spec.depots, (8000.0, 14000.0), "depot")
    landfills = _ring_places(rng, spec.landfills, (18000.0, 22000.0), "landfill")
    known = known + depots + landfills
    drawn = _hidden_places(rng, spec.hidden_sites + spec.decoys, known)
    places = drawn[: spec.hidden_sites] + list(spec.placed_sites) + drawn[spec.hidden_sites :]
    work: dict[tuple[int, int], int] = {}
    for h in range(len(places)):
        if h < _n_hidden(spec):
            size, days = rng.randint(*spec.crew), rng.randint(*spec.active_days)
        elif h % 2:  # a decoy worked by a crew on a single day
            size, days = rng.randint(*spec.crew), 1
        else:  # a decoy worked by two trucks on several days
            size, days = 2, rng.randint(*spec.active_days)
        _assign(rng, spec, work, h, size, days)
    company_of = [rng.randrange(len(COMPANIES)) for _ in range(spec.trucks)]
    return _Plan(depots, landfills, digging, places, company_of, work), known


def _n_hidden(spec: FleetSpec) -> int:
    return spec.hidden_sites + len(spec.placed_sites)


def _assign(rng: random.Random, spec: FleetSpec, work: dict[tuple[int, int], int], place: int,
            size: int, days: int) -> None:  # fmt: skip
    """``size`` trucks (free ones first) work ``place`` on ``days`` random days."""
    free = [t for t in range(spec.trucks) if all((t, d) not in work for d in range(spec.days))]
    crew = rng.sample(free if len(free) >= size else range(spec.trucks), size)
    for d in rng.sample(range(spec.days), min(spec.days, days)):
        for t in crew:
            work[(t, d)] = place


def generate_fleet(spec: FleetSpec = FleetSpec()) -> Fleet:
    """The whole fleet's fixes over ``spec.days`` days (same spec, same fleet)."""
    rng = random.Random(spec.seed * 104_729 + 14)
    nrng = np.random.default_rng(spec.seed)
    plan, known = _plan(spec, rng)
    ids, ts, lats, lons = [], [], [], []
    names = [f"T{spec.seed:02d}{i + 1:04d}" for i in range(spec.trucks)]
    for truck in range(spec.trucks):
        for d in range(spec.days):
            t, lat, lon = _truck_day(rng, nrng, spec, plan, truck, d)
            ids.append(np.full(t.shape, names[truck], dtype=object))
            ts.append(t)
            lats.append(lat)
            lons.append(lon)
    return Fleet(
        spec=spec,
        terminal_ids=np.concatenate(ids),
        t=np.concatenate(ts),
        lat=np.concatenate(lats),
        lon=np.concatenate(lons),
        known=known,
        hidden=plan.places[: _n_hidden(spec)],
        decoys=plan.places[_n_hidden(spec) :],
        companies={names[i]: COMPANIES[c] for i, c in enumerate(plan.company_of)},
    )


def precision_recall(
    found: list[LatLon], hidden: list[LatLon], within_m: float
) -> tuple[float, float]:
    """(share of found places within ``within_m`` of a hidden site, share of hidden sites
    with a found place within ``within_m``); 1.0 for an empty denominator."""
    hit = [any(haversine_m(f[0], f[1], h[0], h[1]) <= within_m for h in hidden) for f in found]
    got = [any(haversine_m(f[0], f[1], h[0], h[1]) <= within_m for f in found) for h in hidden]
    precision = sum(hit) / len(hit) if hit else 1.0
    recall = sum(got) / len(got) if got else 1.0
    return precision, recall


__all__ = ["DEMO_TZ", "Fleet", "FleetSpec", "generate_fleet", "ledger_places", "precision_recall"]
