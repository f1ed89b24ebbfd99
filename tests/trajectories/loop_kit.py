"""A few days of muck-truck fixes around chosen points of the test city, stored in a
``FixStore`` under a test's own data directory, and the run that pushes them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import numpy as np

from dustgrid.config import Settings
from dustgrid.geo.coords import EARTH_RADIUS_M
from dustgrid.trajectories import service
from dustgrid.trajectories.stays import Fixes

DAY1 = date(2026, 5, 4)
DAY2 = date(2026, 5, 5)
# After the run of DAY2: 2026-05-06 03:00 local
RUN_AT = datetime(2026, 5, 5, 19, 0, tzinfo=UTC)
# In 沈河区, 780 m north of site SH-… (41.805, 123.455): inside enforcement grid E-SH's area.
SHENHE_IN_GRID = (41.812, 123.455)
# In 沈河区, more than 2 km from every site: the district alone.
SHENHE_OPEN = (41.780, 123.480)
# In 和平区, 1.3 km from its nearest site.
HEPING = (41.800, 123.420)


def _offset(lat: float, lon: float, north: float, east: float) -> tuple[float, float]:
    return (
        lat + math.degrees(north / EARTH_RADIUS_M),
        lon + math.degrees(east / (EARTH_RADIUS_M * math.cos(math.radians(lat)))),
    )


def loading_fixes(
    points: Sequence[tuple[float, float]],
    days: Sequence[date] = (DAY1, DAY2),
    trucks: int = 4,
    seed: int = 7,
) -> Fixes:
    """Each point worked by ``trucks`` trucks on each day: 30 minutes still (8 m jitter,
    a fix every 30 s) at 21:00 local, arriving from and leaving to 3 km away."""
    rng = np.random.default_rng(seed)
    ids: list[str] = []
    ts: list[int] = []
    lats: list[float] = []
    lons: list[float] = []
    for p, (lat, lon) in enumerate(points):
        for day in days:
            base = int(datetime(day.year, day.month, day.day, 13, 0, tzinfo=UTC).timestamp())
            for k in range(trucks):
                terminal = f"P{p}T{k}"
                t0 = base + k * 600
                far = _offset(lat, lon, 3000.0, 0.0)
                for j in range(4):  # driving in
                    ids.append(terminal)
                    ts.append(t0 - 240 + j * 60)
                    a, b = _offset(*far, -j * 700.0, 0.0)
                    lats.append(a)
                    lons.append(b)
                for j in range(61):  # 30 minutes loading
                    n, e = rng.normal(0, 8, 2)
                    a, b = _offset(lat, lon, float(n), float(e))
                    ids.append(terminal)
                    ts.append(t0 + j * 30)
                    lats.append(a)
                    lons.append(b)
                for j in range(4):  # leaving
                    a, b = _offset(lat, lon, 700.0 * (j + 1), 0.0)
                    ids.append(terminal)
                    ts.append(t0 + 1800 + (j + 1) * 60)
                    lats.append(a)
                    lons.append(b)
    return Fixes.from_columns(ids, ts, lats, lons)


def store_fixes(settings: Settings, fixes: Fixes, batch_id: str = "test-batch") -> None:
    service.store_of(settings).write(fixes, batch_id)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
