"""Coordinate systems used by Chinese map services, distances and a local metric projection.

Every function here takes and returns points in **(lat, lon)** order, in degrees, whatever
the map library on the other side uses (GeoJSON and most JS SDKs use lon, lat: swap at the
boundary, not here).

- WGS-84: GPS receivers, sensors, international maps. The platform stores WGS-84.
- GCJ-02 ("Mars" coordinates, 国测局坐标): AMap/Gaode, Tencent, Google China. A published,
  deliberately non-linear offset of a few hundred metres computed on the Krasovsky ellipsoid.
- BD-09: Baidu maps, a further rotation/scaling of GCJ-02.

The forward formulas (WGS→GCJ, GCJ→BD) are the widely published ones. The inverses have no
closed form; instead of the common one-step approximation (error up to a couple of metres) we
iterate the forward function until the residual is below ``INVERSE_TOLERANCE_DEG``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

# Krasovsky 1940 ellipsoid as used by the GCJ-02 algorithm.
KRASOVSKY_A = 6378245.0
KRASOVSKY_EE = 0.00669342162296594323
# Baidu's constant: pi * 3000 / 180.
X_PI = math.pi * 3000.0 / 180.0

# Mean Earth radius (IUGG), good to ~0.5 % for haversine distances.
EARTH_RADIUS_M = 6371008.8

# The usual bounding box outside which GCJ-02 is defined to equal WGS-84.
CHINA_MIN_LON, CHINA_MAX_LON = 72.004, 137.8347
CHINA_MIN_LAT, CHINA_MAX_LAT = 0.8293, 55.8271

# Inverse conversions stop when the forward image is this close to the target (degrees,
# about 1 mm); well under the 1e-7 degrees required by the ledger.
INVERSE_TOLERANCE_DEG = 1e-10
_MAX_ITERATIONS = 30

LatLon = tuple[float, float]


def out_of_china(lat: float, lon: float) -> bool:
    """True when (lat, lon) is outside the bounding box where GCJ-02 offsets apply.

    This is the coarse rectangle every public implementation uses; it deliberately includes
    neighbouring countries, matching what the map providers do.
    """
    return not (CHINA_MIN_LON <= lon <= CHINA_MAX_LON and CHINA_MIN_LAT <= lat <= CHINA_MAX_LAT)


def _transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def _gcj_delta(lat: float, lon: float) -> LatLon:
    """GCJ-02 offset (dlat, dlon) in degrees at a WGS-84 point, inside China."""
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlon = _transform_lon(lon - 105.0, lat - 35.0)
    rad_lat = lat / 180.0 * math.pi
    magic = math.sin(rad_lat)
    magic = 1.0 - KRASOVSKY_EE * magic * magic
    sqrt_magic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (magic * sqrt_magic) * math.pi)
    dlon = (dlon * 180.0) / (KRASOVSKY_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return dlat, dlon


def wgs84_to_gcj02(lat: float, lon: float) -> LatLon:
    """WGS-84 (lat, lon) → GCJ-02 (lat, lon), exact per the published algorithm."""
    if out_of_china(lat, lon):
        return lat, lon
    dlat, dlon = _gcj_delta(lat, lon)
    return lat + dlat, lon + dlon


#: Datums a base map may be drawn in (``DUSTGRID_TILE_CRS``); the platform stores WGS-84.
MAP_DATUMS: Final = ("wgs84", "gcj02")


def to_map_datum(lat: float, lon: float, crs: str) -> LatLon:
    """A stored WGS-84 point in a base map's datum: unchanged for ``wgs84``, shifted for
    ``gcj02`` (the tiles of Chinese providers are drawn there, a few hundred metres off)."""
    return wgs84_to_gcj02(lat, lon) if crs == "gcj02" else (lat, lon)


def _invert(func: Callable[[float, float], LatLon], target: LatLon, guess: LatLon) -> LatLon:
    """Solve func(p) = target by fixed-point iteration p += target - func(p).

    func is the identity plus an offset whose derivative is of order 1e-3, so each step
    shrinks the error about a thousandfold; three or four steps reach machine precision.
    """
    lat, lon = guess
    for _ in range(_MAX_ITERATIONS):
        f_lat, f_lon = func(lat, lon)
        r_lat, r_lon = target[0] - f_lat, target[1] - f_lon
        if abs(r_lat) < INVERSE_TOLERANCE_DEG and abs(r_lon) < INVERSE_TOLERANCE_DEG:
            break
        lat, lon = lat + r_lat, lon + r_lon
    return lat, lon


def gcj02_to_wgs84(lat: float, lon: float) -> LatLon:
    """GCJ-02 (lat, lon) → WGS-84 (lat, lon), iterated to < 1e-10° (not the 1-step guess).

    Points outside the China box are returned unchanged, like the forward conversion.
    """
    if out_of_china(lat, lon):
        return lat, lon
    dlat, dlon = _gcj_delta(lat, lon)
    guess = (lat - dlat, lon - dlon)
    return _invert(wgs84_to_gcj02, (lat, lon), guess)


def gcj02_to_bd09(lat: float, lon: float) -> LatLon:
    """GCJ-02 (lat, lon) → BD-09 (lat, lon), Baidu's published forward formula."""
    z = math.sqrt(lon * lon + lat * lat) + 0.00002 * math.sin(lat * X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * X_PI)
    return z * math.sin(theta) + 0.006, z * math.cos(theta) + 0.0065


def _bd09_to_gcj02_approx(lat: float, lon: float) -> LatLon:
    """The widely published one-step BD→GCJ inverse (error up to ~1e-6°)."""
    x, y = lon - 0.0065, lat - 0.006
    z = math.sqrt(x * x + y * y) - 0.00002 * math.sin(y * X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * X_PI)
    return z * math.sin(theta), z * math.cos(theta)


def bd09_to_gcj02(lat: float, lon: float) -> LatLon:
    """BD-09 (lat, lon) → GCJ-02 (lat, lon): the published formula refined by iteration."""
    guess = _bd09_to_gcj02_approx(lat, lon)
    return _invert(gcj02_to_bd09, (lat, lon), guess)


def wgs84_to_bd09(lat: float, lon: float) -> LatLon:
    """WGS-84 (lat, lon) → BD-09 (lat, lon) via GCJ-02."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lat, lon))


def bd09_to_wgs84(lat: float, lon: float) -> LatLon:
    """BD-09 (lat, lon) → WGS-84 (lat, lon) via GCJ-02."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lat, lon))


# ---------------------------------------------------------------- arrays (GPS fixes in bulk)

FloatArray = npt.NDArray[np.float64]


def _gcj_delta_arrays(lat: FloatArray, lon: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``_gcj_delta`` on arrays: the same published formula, element-wise."""
    x, y = lon - 105.0, lat - 35.0
    pi = math.pi
    t_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    t_lat += (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    t_lat += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    t_lat += (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    t_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    t_lon += (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    t_lon += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    t_lon += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * pi
    magic = 1.0 - KRASOVSKY_EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (t_lat * 180.0) / ((KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (magic * sqrt_magic) * pi)
    dlon = (t_lon * 180.0) / (KRASOVSKY_A / sqrt_magic * np.cos(rad_lat) * pi)
    return dlat, dlon


def _in_china_arrays(lat: FloatArray, lon: FloatArray) -> npt.NDArray[np.bool_]:
    return (
        (lon >= CHINA_MIN_LON)
        & (lon <= CHINA_MAX_LON)
        & (lat >= CHINA_MIN_LAT)
        & (lat <= CHINA_MAX_LAT)
    )


def wgs84_to_gcj02_arrays(lat: FloatArray, lon: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``wgs84_to_gcj02`` for arrays of points (same formula, same China box)."""
    lat, lon = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
    dlat, dlon = _gcj_delta_arrays(lat, lon)
    inside = _in_china_arrays(lat, lon)
    return np.where(inside, lat + dlat, lat), np.where(inside, lon + dlon, lon)


def gcj02_to_wgs84_arrays(lat: FloatArray, lon: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``gcj02_to_wgs84`` for arrays: the same fixed-point iteration to < 1e-10°, run on all
    points at once until every residual is below the tolerance."""
    lat, lon = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
    dlat, dlon = _gcj_delta_arrays(lat, lon)
    g_lat, g_lon = lat - dlat, lon - dlon
    for _ in range(_MAX_ITERATIONS):
        f_lat, f_lon = wgs84_to_gcj02_arrays(g_lat, g_lon)
        r_lat, r_lon = lat - f_lat, lon - f_lon
        if np.all(np.abs(r_lat) < INVERSE_TOLERANCE_DEG) and np.all(
            np.abs(r_lon) < INVERSE_TOLERANCE_DEG
        ):
            break
        g_lat, g_lon = g_lat + r_lat, g_lon + r_lon
    inside = _in_china_arrays(lat, lon)
    return np.where(inside, g_lat, lat), np.where(inside, g_lon, lon)


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres on a sphere of radius ``EARTH_RADIUS_M``."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    h = math.sin(dp / 2.0) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2.0) ** 2
    return 2.0 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True, slots=True)
class LocalProjection:
    """Equirectangular projection to metres around a reference point.

    Cheap (one multiply per axis) and accurate to well under 1 % within a few tens of
    kilometres of the reference, which is all a district needs for clustering, areas and
    centroids. x grows east, y grows north.
    """

    ref_lat: float
    ref_lon: float

    @property
    def _kx(self) -> float:
        return math.radians(1.0) * EARTH_RADIUS_M * math.cos(math.radians(self.ref_lat))

    @property
    def _ky(self) -> float:
        return math.radians(1.0) * EARTH_RADIUS_M

    def to_xy(self, lat: float, lon: float) -> tuple[float, float]:
        """(lat, lon) in degrees → (x east, y north) in metres."""
        return (lon - self.ref_lon) * self._kx, (lat - self.ref_lat) * self._ky

    def to_latlon(self, x: float, y: float) -> LatLon:
        """(x east, y north) in metres → (lat, lon) in degrees."""
        kx = self._kx
        lon = self.ref_lon + (x / kx if kx else 0.0)
        return self.ref_lat + y / self._ky, lon

    def project_many(self, points: list[LatLon]) -> list[tuple[float, float]]:
        """Project many (lat, lon) points at once (constants computed once)."""
        kx, ky = self._kx, self._ky
        rlat, rlon = self.ref_lat, self.ref_lon
        return [((lon - rlon) * kx, (lat - rlat) * ky) for lat, lon in points]

    @classmethod
    def around(cls, points: list[LatLon]) -> LocalProjection:
        """A projection centred on the middle of the points' bounding box."""
        if not points:
            raise ValueError("cannot centre a projection on no points")
        lats = [p[0] for p in points]
        lons = [p[1] for p in points]
        return cls((min(lats) + max(lats)) / 2.0, (min(lons) + max(lons)) / 2.0)
