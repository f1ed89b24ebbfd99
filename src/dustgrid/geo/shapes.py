"""Plain-Python polygon helpers for site boundaries, enforcement areas and unit grids.

Geometry follows GeoJSON (RFC 7946): a Polygon is a list of linear rings, the first the
outer boundary and the rest holes; a ring is a closed list of ``[lon, lat]`` positions; a
MultiPolygon is a list of Polygons. Coordinates are WGS-84.

Points passed to the functions below, and points returned, are in **(lat, lon)** order like
:mod:`dustgrid.geo.coords`; only the GeoJSON coordinate arrays are lon-first.
Areas and centroids use a local equirectangular projection, accurate to well under 1 % for
anything the size of a city district. No shapely: these shapes are small and the platform
must stay installable without GEOS.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from dustgrid.geo.coords import LatLon, LocalProjection, haversine_m

Position = Sequence[float]  # [lon, lat] (optionally an altitude, ignored)
Ring = Sequence[Position]
PolygonCoords = Sequence[Ring]
MultiPolygonCoords = Sequence[PolygonCoords]


class GeometryError(ValueError):
    """A GeoJSON geometry that cannot be used, with the offending path in the message."""


class BBox(NamedTuple):
    """Bounding box in GeoJSON order (west, south, east, north)."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    def contains(self, lat: float, lon: float) -> bool:
        return self.min_lat <= lat <= self.max_lat and self.min_lon <= lon <= self.max_lon


# --------------------------------------------------------------------------- point in polygon


def point_in_ring(lat: float, lon: float, ring: Ring) -> bool:
    """Ray casting (even-odd rule) on the lon/lat plane; closing position optional.

    Points exactly on an edge may fall either way, which is fine for site membership.
    """
    inside = False
    n = len(ring)
    if n < 3:
        return False
    j = n - 1
    for i in range(n):
        xi, yi = ring[i][0], ring[i][1]
        xj, yj = ring[j][0], ring[j][1]
        if (yi > lat) != (yj > lat) and lon < (xj - xi) * (lat - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def point_in_polygon(lat: float, lon: float, polygon: PolygonCoords) -> bool:
    """Inside the outer ring and in none of the holes."""
    if not polygon or not point_in_ring(lat, lon, polygon[0]):
        return False
    return not any(point_in_ring(lat, lon, hole) for hole in polygon[1:])


def point_in_multipolygon(lat: float, lon: float, multipolygon: MultiPolygonCoords) -> bool:
    """Inside any of the member polygons."""
    return any(point_in_polygon(lat, lon, poly) for poly in multipolygon)


def point_in_geometry(lat: float, lon: float, geometry: Mapping[str, Any]) -> bool:
    """Point-in-shape for a GeoJSON Polygon or MultiPolygon dict (bbox pre-check first)."""
    polygons = _polygons(geometry)
    return any(
        bbox_of_polygons([poly]).contains(lat, lon) and point_in_polygon(lat, lon, poly)
        for poly in polygons
    )


def _segment_distance_m(lat: float, lon: float, a: Position, b: Position) -> float:
    """Distance in metres from a point to the segment a→b (GeoJSON ``[lon, lat]`` ends).

    The foot of the perpendicular is found in a projection centred on the segment (a
    district's edges are short), then measured on the sphere, so a point hundreds of
    kilometres away still gets its great-circle distance, not a projected one.
    """
    proj = LocalProjection((a[1] + b[1]) / 2.0, (a[0] + b[0]) / 2.0)
    ax, ay = proj.to_xy(a[1], a[0])
    bx, by = proj.to_xy(b[1], b[0])
    px, py = proj.to_xy(lat, lon)
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length2))
    foot_lat, foot_lon = proj.to_latlon(ax + t * dx, ay + t * dy)
    return haversine_m(lat, lon, foot_lat, foot_lon)


def distance_to_boundary_m(lat: float, lon: float, geometry: Mapping[str, Any]) -> float:
    """Shortest distance in metres from a point to any ring (outer or hole) of a GeoJSON
    Polygon or MultiPolygon, whether the point is inside or outside."""
    best = math.inf
    for poly in _polygons(geometry):
        for ring in poly:
            for a, b in zip(ring, list(ring[1:]) + list(ring[:1]), strict=True):
                best = min(best, _segment_distance_m(lat, lon, a, b))
    if best == math.inf:
        raise GeometryError("empty geometry has no boundary")
    return best


def distance_outside_m(lat: float, lon: float, geometry: Mapping[str, Any]) -> float:
    """0 for a point inside the shape, else its distance in metres to the shape's edge."""
    if point_in_geometry(lat, lon, geometry):
        return 0.0
    return distance_to_boundary_m(lat, lon, geometry)


# --------------------------------------------------------------------------- measures


def _polygons(geometry: Mapping[str, Any]) -> list[PolygonCoords]:
    kind = geometry.get("type")
    coords = geometry.get("coordinates")
    if kind == "Polygon":
        return [coords] if coords else []
    if kind == "MultiPolygon":
        return list(coords or [])
    raise GeometryError(f"unsupported geometry type {kind!r}; expected Polygon or MultiPolygon")


def bbox_of_polygons(polygons: Sequence[PolygonCoords]) -> BBox:
    """Bounding box of the outer rings (holes cannot extend it)."""
    lons = [p[0] for poly in polygons if poly for p in poly[0]]
    lats = [p[1] for poly in polygons if poly for p in poly[0]]
    if not lons:
        raise GeometryError("empty geometry has no bounding box")
    return BBox(min(lons), min(lats), max(lons), max(lats))


def bbox(geometry: Mapping[str, Any]) -> BBox:
    """Bounding box of a GeoJSON Polygon/MultiPolygon as (west, south, east, north)."""
    return bbox_of_polygons(_polygons(geometry))


def _ring_moments(ring: Ring, proj: LocalProjection) -> tuple[float, float, float]:
    """Signed area (m², counter-clockwise positive) and first moments of a ring (shoelace)."""
    pts = proj.project_many([(p[1], p[0]) for p in ring])
    a = mx = my = 0.0
    for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1], strict=True):
        cross = x0 * y1 - x1 * y0
        a += cross
        mx += (x0 + x1) * cross
        my += (y0 + y1) * cross
    return a / 2.0, mx / 6.0, my / 6.0


def _polygon_moments(polygon: PolygonCoords) -> tuple[float, float, float, LocalProjection]:
    """Unsigned area and moments (holes subtracted) in a projection centred on the polygon."""
    proj = LocalProjection.around([(p[1], p[0]) for p in polygon[0]])
    area = mx = my = 0.0
    for idx, ring in enumerate(polygon):
        a, rx, ry = _ring_moments(ring, proj)
        sign = (1.0 if a >= 0 else -1.0) * (1.0 if idx == 0 else -1.0)
        area += sign * a
        mx += sign * rx
        my += sign * ry
    return area, mx, my, proj


def polygon_area_m2(polygon: PolygonCoords) -> float:
    """Area in m² of one polygon (outer ring minus holes), whatever the ring orientation."""
    if not polygon:
        return 0.0
    return max(0.0, _polygon_moments(polygon)[0])


def area_m2(geometry: Mapping[str, Any]) -> float:
    """Area in m² of a GeoJSON Polygon or MultiPolygon (parts assumed not to overlap)."""
    return sum(polygon_area_m2(poly) for poly in _polygons(geometry))


def centroid(geometry: Mapping[str, Any]) -> LatLon:
    """Area-weighted centroid (lat, lon); vertex mean when the shape has no area.

    Each part is measured in its own projection and the parts are combined by area, so a
    MultiPolygon spread over a district still gets a sensible centre.
    """
    polygons = [p for p in _polygons(geometry) if p]
    if not polygons:
        raise GeometryError("empty geometry has no centroid")
    total = lat_acc = lon_acc = 0.0
    for poly in polygons:
        area, mx, my, proj = _polygon_moments(poly)
        if area > 1e-9:
            c_lat, c_lon = proj.to_latlon(mx / area, my / area)
            total += area
            lat_acc += c_lat * area
            lon_acc += c_lon * area
    if total > 0:
        return lat_acc / total, lon_acc / total
    outer = [p for poly in polygons for p in poly[0]]
    return sum(p[1] for p in outer) / len(outer), sum(p[0] for p in outer) / len(outer)


# --------------------------------------------------------------------------- validation


def _check_position(pos: Any, path: str) -> list[float]:
    if not isinstance(pos, (list, tuple)) or not 2 <= len(pos) <= 3:
        raise GeometryError(f"{path}: a position must be [lon, lat] (or [lon, lat, alt])")
    for value in pos:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise GeometryError(f"{path}: coordinates must be numbers, got {value!r}")
        if not math.isfinite(value):
            raise GeometryError(f"{path}: coordinates must be finite, got {value!r}")
    lon, lat = float(pos[0]), float(pos[1])
    if not -180.0 <= lon <= 180.0:
        raise GeometryError(f"{path}: longitude {lon} out of range [-180, 180]")
    if not -90.0 <= lat <= 90.0:
        hint = " (positions are [lon, lat]; swapped?)" if -90.0 <= lon <= 90.0 else ""
        raise GeometryError(f"{path}: latitude {lat} out of range [-90, 90]{hint}")
    return [lon, lat]


def _segments_cross(
    a: Sequence[float], b: Sequence[float], c: Sequence[float], d: Sequence[float]
) -> bool:
    """Proper or touching intersection of segments ab and cd (orientation tests)."""

    def orient(p: Sequence[float], q: Sequence[float], r: Sequence[float]) -> float:
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    def on_seg(p: Sequence[float], q: Sequence[float], r: Sequence[float]) -> bool:
        return min(p[0], r[0]) <= q[0] <= max(p[0], r[0]) and min(p[1], r[1]) <= q[1] <= max(
            p[1], r[1]
        )

    o1, o2, o3, o4 = orient(a, b, c), orient(a, b, d), orient(c, d, a), orient(c, d, b)
    if ((o1 > 0 > o2) or (o1 < 0 < o2)) and ((o3 > 0 > o4) or (o3 < 0 < o4)):
        return True
    return (
        (o1 == 0 and on_seg(a, c, b))
        or (o2 == 0 and on_seg(a, d, b))
        or (o3 == 0 and on_seg(c, a, d))
        or (o4 == 0 and on_seg(c, b, d))
    )


def _find_self_intersection(ring: list[list[float]]) -> tuple[int, int] | None:
    """Indices of two non-adjacent edges that meet, found with a sweep over edge x-extents."""
    n = len(ring) - 1  # edges; ring is closed
    edges = sorted(range(n), key=lambda i: min(ring[i][0], ring[i + 1][0]))
    active: list[int] = []
    for i in edges:
        x_min = min(ring[i][0], ring[i + 1][0])
        active = [j for j in active if max(ring[j][0], ring[j + 1][0]) >= x_min]
        for j in active:
            if abs(i - j) in (1, n - 1):  # neighbours share a vertex by construction
                continue
            if _segments_cross(ring[i], ring[i + 1], ring[j], ring[j + 1]):
                return (min(i, j), max(i, j))
        active.append(i)
    return None


def _check_ring(ring: Any, path: str) -> list[list[float]]:
    if not isinstance(ring, (list, tuple)):
        raise GeometryError(f"{path}: a linear ring must be a list of positions")
    if len(ring) < 4:
        raise GeometryError(
            f"{path}: a linear ring needs at least 4 positions (3 corners + closing), "
            f"got {len(ring)}"
        )
    out = [_check_position(pos, f"{path}[{i}]") for i, pos in enumerate(ring)]
    if out[0] != out[-1]:
        raise GeometryError(
            f"{path}: ring not closed: first position {out[0]} differs from last {out[-1]}"
        )
    if len({(p[0], p[1]) for p in out[:-1]}) < 3:
        raise GeometryError(f"{path}: ring has fewer than 3 distinct corners")
    # Repeated consecutive positions are harmless; drop them so they do not look like touches.
    dedup = [p for k, p in enumerate(out) if k == 0 or p != out[k - 1]]
    crossing = _find_self_intersection(dedup)
    if crossing is not None:
        i, j = crossing
        raise GeometryError(
            f"{path}: ring crosses itself (edge {dedup[i]}→{dedup[i + 1]} meets "
            f"edge {dedup[j]}→{dedup[j + 1]})"
        )
    proj = LocalProjection.around([(p[1], p[0]) for p in out])
    if abs(_ring_moments(out, proj)[0]) < 1e-6:
        raise GeometryError(f"{path}: ring has zero area (all corners on a line)")
    return out


def _check_polygon(poly: Any, path: str) -> list[list[list[float]]]:
    if not isinstance(poly, (list, tuple)) or not poly:
        raise GeometryError(f"{path}: a polygon must be a non-empty list of rings")
    rings = [_check_ring(ring, f"{path}[{i}]") for i, ring in enumerate(poly)]
    for i, hole in enumerate(rings[1:], start=1):
        if not all(point_in_ring(p[1], p[0], rings[0]) for p in hole[:-1]):
            raise GeometryError(f"{path}[{i}]: hole is not inside the outer ring {path}[0]")
    return rings


def validate_geometry(geometry: Any) -> dict[str, Any]:
    """Check a GeoJSON Polygon/MultiPolygon and return a clean copy (floats, no altitude).

    Raises :class:`GeometryError` naming the path of the first problem, e.g.
    ``coordinates[0][2]: latitude 95.0 out of range [-90, 90]``. Ring orientation is not
    enforced (RFC 7946 asks parsers to accept both).
    """
    if not isinstance(geometry, Mapping):
        raise GeometryError("geometry must be a JSON object with 'type' and 'coordinates'")
    kind = geometry.get("type")
    if kind not in ("Polygon", "MultiPolygon"):
        raise GeometryError(f"type must be 'Polygon' or 'MultiPolygon', got {kind!r}")
    coords = geometry.get("coordinates")
    if not isinstance(coords, (list, tuple)) or not coords:
        raise GeometryError("coordinates must be a non-empty list")
    if kind == "Polygon":
        return {"type": kind, "coordinates": _check_polygon(coords, "coordinates")}
    polys = [_check_polygon(poly, f"coordinates[{i}]") for i, poly in enumerate(coords)]
    return {"type": kind, "coordinates": polys}
