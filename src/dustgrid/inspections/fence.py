"""The check-in fence (pure): how far a phone is from a site, and how to say it.

A site with a drawn boundary (GeoJSON Polygon or MultiPolygon, ``Site.boundary``) is measured
from its edge (0 inside); a site without one from its point. Distances are metres on the
WGS-84 sphere (``geo``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dustgrid.geo.coords import haversine_m
from dustgrid.geo.shapes import GeometryError, distance_outside_m


def distance_to_site_m(
    lat: float,
    lon: float,
    *,
    site_lat: float,
    site_lon: float,
    boundary: Mapping[str, Any] | None,
) -> float:
    """Metres from (lat, lon) to the site: its boundary when drawn and usable, else its point."""
    if boundary:
        try:
            return distance_outside_m(lat, lon, boundary)
        except GeometryError:
            pass  # an unusable drawing: fall back on the point
    return haversine_m(lat, lon, site_lat, site_lon)


def within(distance_m: float, radius_m: float) -> bool:
    return distance_m <= radius_m


def spoken_distance(distance_m: float, locale: str = "zh-CN") -> str:
    """ "1.3 公里" / "1.3 km" from a kilometre on, else whole metres ("350 米" / "350 m")."""
    if distance_m >= 1000:
        km = f"{distance_m / 1000:.1f}"
        return f"{km} km" if locale == "en" else f"{km} 公里"
    m = f"{round(distance_m):d}"
    return f"{m} m" if locale == "en" else f"{m} 米"
