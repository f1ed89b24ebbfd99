"""Building fixes for trajectory tests: tracks given in metres and seconds around a point."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

from dustgrid.geo.coords import EARTH_RADIUS_M
from dustgrid.trajectories.stays import Fixes

BASE_LAT, BASE_LON = 41.80, 123.43
# 2026-05-04 08:00 in Shanghai (UTC+8), well inside one local day
T0 = int(datetime(2026, 5, 4, 0, 0, tzinfo=UTC).timestamp())

Step = tuple[float, float, float]  # (seconds after T0, metres north, metres east)


def latlon(north_m: float, east_m: float) -> tuple[float, float]:
    """The point north_m/east_m from the base (exact along a meridian)."""
    lat = BASE_LAT + math.degrees(north_m / EARTH_RADIUS_M)
    lon = BASE_LON + math.degrees(east_m / (EARTH_RADIUS_M * math.cos(math.radians(BASE_LAT))))
    return lat, lon


def track(steps: Sequence[Step], terminal: str = "T1") -> Fixes:
    points = [latlon(n, e) for _, n, e in steps]
    return Fixes.from_columns(
        [terminal] * len(steps),
        [T0 + int(s) for s, _, _ in steps],
        [p[0] for p in points],
        [p[1] for p in points],
    )


def merge(*parts: Fixes) -> Fixes:
    ids = np.concatenate([np.asarray(p.terminals, dtype=object)[p.terminal] for p in parts])
    return Fixes.from_columns(
        ids,
        np.concatenate([p.t for p in parts]),
        np.concatenate([p.lat for p in parts]),
        np.concatenate([p.lon for p in parts]),
    )


def still(start_s: float, minutes: float, every_s: float = 30.0, north: float = 0.0,
          east: float = 0.0) -> list[Step]:  # fmt: skip
    """Fixes every ``every_s`` seconds at one place, from start_s for ``minutes`` (inclusive)."""
    n = int(round(minutes * 60 / every_s))
    return [(start_s + k * every_s, north, east) for k in range(n + 1)]


def away(start_s: float, north: float = 5000.0) -> list[Step]:
    """Two fixes far away (the truck has left)."""
    return [(start_s, north, 0.0), (start_s + 30, north + 300, 0.0)]
