"""Geometry shown on base maps: WGS-84 is stored, GCJ-02 drawn where the tiles need it."""

from __future__ import annotations

from typing import Any

from dustgrid.geo.coords import wgs84_to_gcj02


def _ring(ring: list[list[float]]) -> list[list[float]]:
    out = []
    for lon, lat, *_ in ring:
        glat, glon = wgs84_to_gcj02(lat, lon)
        out.append([glon, glat])
    return out


def to_datum(geometry: dict[str, Any] | None, crs: str) -> dict[str, Any] | None:
    """A GeoJSON Polygon/MultiPolygon in the base map's datum (``wgs84`` or ``gcj02``)."""
    if geometry is None or crs != "gcj02":
        return geometry
    if geometry.get("type") == "Polygon":
        return {"type": "Polygon", "coordinates": [_ring(r) for r in geometry["coordinates"]]}
    if geometry.get("type") == "MultiPolygon":
        return {
            "type": "MultiPolygon",
            "coordinates": [[_ring(r) for r in poly] for poly in geometry["coordinates"]],
        }
    return geometry
