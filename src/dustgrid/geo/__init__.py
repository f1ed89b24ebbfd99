"""Pure geometry helpers: Chinese map coordinate systems, distances and polygons.

Points are (lat, lon) everywhere in this package; only GeoJSON coordinate arrays are
[lon, lat], as the GeoJSON standard requires.
"""

from dustgrid.geo.coords import (
    LocalProjection,
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    haversine_m,
    out_of_china,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from dustgrid.geo.shapes import (
    BBox,
    GeometryError,
    area_m2,
    bbox,
    centroid,
    point_in_geometry,
    point_in_multipolygon,
    point_in_polygon,
    point_in_ring,
    polygon_area_m2,
    validate_geometry,
)

__all__ = [
    "BBox",
    "GeometryError",
    "LocalProjection",
    "area_m2",
    "bbox",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "centroid",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "haversine_m",
    "out_of_china",
    "point_in_geometry",
    "point_in_multipolygon",
    "point_in_polygon",
    "point_in_ring",
    "polygon_area_m2",
    "validate_geometry",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]
