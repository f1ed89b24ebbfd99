"""A Shenyang-like geography: eight districts tiling a disc around 41.80 N 123.43 E.

Why generated shapes rather than real boundaries: real boundaries are bulky licensed data,
and the demo needs something else from them: shapes that *look* like the city (five small
downtown districts meeting near the centre, three large outer ones), that tile the area
exactly (no gaps, no overlaps, so every site belongs to one district) and that never change
between runs or seeds.

Construction, all in a local metric projection around the centre:

- three wobbly rings, as functions of the compass bearing: the 二环-like core, the
  三环-like built-up ring (inside it ``built_up_area`` is true) and the city edge;
- each district is a run of bearing *pieces*; a piece is the band between two rings (or
  between the centre and a ring) over a bearing interval;
- every arc is sampled at the same global bearings, including every piece boundary, by
  the same function, so neighbouring districts share their vertices exactly.

Sites are drawn per district from a mixture of Gaussian hot spots (new towns, old industrial
belts, downtown) plus a uniform background, with rejection by point-in-polygon, so density is
realistic and every site lies inside its district's stored polygon.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from dustgrid.geo.coords import LocalProjection
from dustgrid.geo.shapes import BBox, bbox, point_in_polygon

CENTRE_LAT, CENTRE_LON = 41.80, 123.43  # 沈阳 downtown (中街 / 青年大街)

HUB, CORE, BUILT_UP, EDGE = 0, 1, 2, 3  # rings, inside out
_RINGS: dict[int, tuple[float, tuple[tuple[float, int, float], ...]]] = {
    # ring: (mean radius m, ((relative amplitude, harmonic, phase), ...))
    CORE: (6500.0, ((0.10, 3, 0.7), (0.05, 7, 1.9))),
    BUILT_UP: (12000.0, ((0.07, 4, 2.3), (0.04, 9, 0.4))),
    EDGE: (25000.0, ((0.12, 2, 1.1), (0.06, 5, 2.8), (0.03, 11, 0.0))),
}
_ARC_STEP_DEG = 2.5  # vertex spacing along arcs (~280 m on the core ring)
_COORD_DIGITS = 6  # ~0.1 m: plenty for boundaries and site points
_BACKGROUND = 0.15  # share of a district's sites spread uniformly, not around hot spots
_MAX_TRIES = 500
_POLAR_MARGIN_M = 100.0  # well above the ~3 m between a ring and its sampled polygon

Piece = tuple[float, float, int, int]  # (from bearing°, to bearing°, inner ring, outer ring)
HotSpot = tuple[float, float, float, float]  # (bearing°, distance m, sigma m, weight)


@dataclass(frozen=True, slots=True)
class DistrictSpec:
    """One district: identity, shape pieces, share of the demo's sites and hot spots.

    ``share`` values are integer weights out of 480 (the default demo size), chosen so that
    at 480 sites the six busy districts hold 70–90 sites each (one legal inspector grid) and
    the two outer ones are smaller (an under-sized inspector grid, as happens in real cities).
    """

    code: str  # administrative division code
    name: str  # 浑南区
    short: str  # 浑南
    name_en: str
    pinyin: str  # usernames: hunnan_admin
    abbr: str  # grid codes: HN-E01
    downtown: bool
    pieces: tuple[Piece, ...]
    share: int
    hotspots: tuple[HotSpot, ...]


DISTRICTS: tuple[DistrictSpec, ...] = (
    DistrictSpec("210102", "和平区", "和平", "Heping District", "heping", "HP", True,
                 ((150, 245, HUB, CORE),), 70,
                 ((200, 3000, 1500, 2), (170, 4800, 1300, 1), (228, 2200, 1200, 1))),
    DistrictSpec("210103", "沈河区", "沈河", "Shenhe District", "shenhe", "SH", True,
                 ((65, 150, HUB, CORE),), 70,
                 ((100, 2500, 1500, 2), (130, 4500, 1500, 1))),
    DistrictSpec("210104", "大东区", "大东", "Dadong District", "dadong", "DD", True,
                 ((10, 15, HUB, CORE), (15, 60, HUB, BUILT_UP), (60, 65, HUB, CORE)), 70,
                 ((35, 3000, 1500, 2), (40, 8500, 2000, 1))),
    DistrictSpec("210105", "皇姑区", "皇姑", "Huanggu District", "huanggu", "HG", True,
                 ((300, 315, HUB, CORE), (315, 355, HUB, BUILT_UP), (355, 370, HUB, CORE)), 70,
                 ((335, 3500, 1500, 2), (335, 8500, 2000, 1))),
    DistrictSpec("210106", "铁西区", "铁西", "Tiexi District", "tiexi", "TX", True,
                 ((245, 250, HUB, CORE), (250, 296, HUB, BUILT_UP), (296, 300, HUB, CORE)), 72,
                 ((270, 4000, 2000, 2), (272, 9000, 2000, 1.5))),
    DistrictSpec("210112", "浑南区", "浑南", "Hunnan District", "hunnan", "HN", False,
                 ((80, 215, CORE, EDGE),), 78,
                 ((150, 9500, 2500, 3), (120, 8500, 2500, 1.5), (170, 15000, 3500, 1),
                  (100, 18000, 4000, 0.5))),
    DistrictSpec("210113", "沈北新区", "沈北", "Shenbei New District", "shenbei", "SB", False,
                 ((330, 355, BUILT_UP, EDGE), (355, 375, CORE, EDGE), (375, 420, BUILT_UP, EDGE),
                  (420, 440, CORE, EDGE)), 25,
                 ((355, 15500, 3000, 2), (30, 16000, 3500, 1), (10, 21000, 3000, 0.5))),
    DistrictSpec("210114", "于洪区", "于洪", "Yuhong District", "yuhong", "YH", False,
                 ((215, 250, CORE, EDGE), (250, 296, BUILT_UP, EDGE), (296, 315, CORE, EDGE),
                  (315, 330, BUILT_UP, EDGE)), 25,
                 ((270, 14500, 3000, 2), (230, 10000, 3000, 1), (318, 13500, 3000, 1))),
)  # fmt: skip

PROJECTION = LocalProjection(CENTRE_LAT, CENTRE_LON)


def ring_radius_m(ring: int, bearing_deg: float) -> float:
    """Radius of a ring at a compass bearing; a few harmonics make it look surveyed, not drawn."""
    if ring == HUB:
        return 0.0
    mean, harmonics = _RINGS[ring]
    t = math.radians(bearing_deg % 360.0)
    return mean * (1.0 + sum(a * math.sin(k * t + ph) for a, k, ph in harmonics))


def _xy(bearing_deg: float, radius_m: float) -> tuple[float, float]:
    t = math.radians(bearing_deg % 360.0)
    return radius_m * math.sin(t), radius_m * math.cos(t)


def _position(bearing_deg: float, ring: int) -> tuple[float, float]:
    """GeoJSON [lon, lat] of a ring point, rounded so shared vertices stay identical."""
    lat, lon = PROJECTION.to_latlon(*_xy(bearing_deg, ring_radius_m(ring, bearing_deg)))
    return round(lon, _COORD_DIGITS), round(lat, _COORD_DIGITS)


def _global_bearings() -> list[float]:
    """Every arc vertex bearing in [0, 360): a regular step plus every piece boundary."""
    marks = {round(i * _ARC_STEP_DEG, 6) for i in range(int(360 / _ARC_STEP_DEG))}
    for spec in DISTRICTS:
        for b0, b1, _, _ in spec.pieces:
            marks.add(float(b0 % 360))
            marks.add(float(b1 % 360))
    return sorted(marks)


_BEARINGS = _global_bearings()


def _arc(b0: float, b1: float, ring: int) -> list[tuple[float, float]]:
    """Positions along ``ring`` from bearing b0 to b1 (b0 < b1, may pass 360), both included."""
    if ring == HUB:
        return [_position(0.0, HUB)]
    out = []
    for turn in (0.0, 360.0):
        out += [(b + turn) for b in _BEARINGS if b0 <= b + turn <= b1]
    return [_position(b, ring) for b in sorted(set(out))]


def district_polygon(spec: DistrictSpec) -> dict[str, Any]:
    """The district as a GeoJSON Polygon (closed ring, counter-clockwise per RFC 7946)."""
    ring: list[tuple[float, float]] = []
    for b0, b1, _, outer in spec.pieces:  # clockwise along the outer boundary
        ring += _arc(b0, b1, outer)
    for b0, b1, inner, _ in reversed(spec.pieces):  # back along the inner boundary
        ring += list(reversed(_arc(b0, b1, inner)))
    dedup = [p for i, p in enumerate(ring) if i == 0 or p != ring[i - 1]]
    if dedup[-1] == dedup[0]:
        dedup.pop()
    dedup.reverse()  # bearings grow clockwise; GeoJSON prefers counter-clockwise exteriors
    dedup.append(dedup[0])
    return {"type": "Polygon", "coordinates": [[[lon, lat] for lon, lat in dedup]]}


def built_up_polygon() -> dict[str, Any]:
    """The built-up area (建成区, inside the 三环-like ring) as a GeoJSON Polygon."""
    ring = [_position(b, BUILT_UP) for b in reversed(_BEARINGS)]
    ring.reverse()
    pts = [[lon, lat] for lon, lat in ring]
    return {"type": "Polygon", "coordinates": [pts + [pts[0]]]}


@dataclass(frozen=True, slots=True)
class DistrictShape:
    """A district's spec with its polygon, bounding box and hot spots in metres."""

    spec: DistrictSpec
    polygon: dict[str, Any]
    box: BBox
    spots: tuple[tuple[float, float, float], ...]  # (x, y, sigma) in metres
    spot_weights: tuple[float, ...]

    def contains(self, lat: float, lon: float) -> bool:
        return self.box.contains(lat, lon) and point_in_polygon(
            lat, lon, self.polygon["coordinates"]
        )


class CityGeography:
    """The districts' shapes, the built-up ring, and site sampling inside a district."""

    def __init__(self) -> None:
        self.shapes: list[DistrictShape] = []
        for spec in DISTRICTS:
            poly = district_polygon(spec)
            spots = tuple((*_xy(b, d), s) for b, d, s, _ in spec.hotspots)
            weights = tuple(w for _, _, _, w in spec.hotspots)
            self.shapes.append(DistrictShape(spec, poly, bbox(poly), spots, weights))
        self.built_up = built_up_polygon()
        self._built_box = bbox(self.built_up)

    def is_built_up(self, lat: float, lon: float) -> bool:
        """Inside the built-up ring (建成区).

        The stored polygon is the authority; the smooth ring it samples differs from it by a
        few metres only, so points well inside or outside are decided in polar form first.
        """
        x, y = PROJECTION.to_xy(lat, lon)
        r = math.hypot(x, y)
        edge = ring_radius_m(BUILT_UP, math.degrees(math.atan2(x, y)))
        if abs(r - edge) > _POLAR_MARGIN_M:
            return r < edge
        return self._built_box.contains(lat, lon) and point_in_polygon(
            lat, lon, self.built_up["coordinates"]
        )

    def locate(self, lat: float, lon: float) -> DistrictSpec | None:
        """The district holding a point, or None outside the city."""
        for shape in self.shapes:
            if shape.contains(lat, lon):
                return shape.spec
        return None

    def sample(self, rng: random.Random, shape: DistrictShape) -> tuple[float, float]:
        """A random (lat, lon) inside the district: mostly around hot spots, some anywhere."""
        box = shape.box
        for _ in range(_MAX_TRIES):
            if rng.random() < _BACKGROUND:
                lat = rng.uniform(box.min_lat, box.max_lat)
                lon = rng.uniform(box.min_lon, box.max_lon)
            else:
                x, y, sigma = rng.choices(shape.spots, weights=shape.spot_weights)[0]
                lat, lon = PROJECTION.to_latlon(rng.gauss(x, sigma), rng.gauss(y, sigma))
            lat, lon = round(lat, _COORD_DIGITS), round(lon, _COORD_DIGITS)
            if shape.contains(lat, lon):
                return lat, lon
        raise RuntimeError(f"could not place a site in {shape.spec.name}")  # pragma: no cover


def allocate(n: int, shares: list[int]) -> list[int]:
    """Split n into integer counts proportional to ``shares`` (largest remainder, exact).

    Integer arithmetic only, so the split never depends on float rounding.
    """
    total = sum(shares)
    base = [n * s // total for s in shares]
    rest = n - sum(base)
    order = sorted(range(len(shares)), key=lambda i: (-(n * shares[i] % total), i))
    for i in order[:rest]:
        base[i] += 1
    return base
