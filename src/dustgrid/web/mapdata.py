"""Geometry shown on base maps: WGS-84 is stored, GCJ-02 drawn where the tiles need it.

Besides the district boundaries this module gives the map page its vector base map (roads
and rivers, drawn when no tile server is configured: ``DUSTGRID_VECTOR_BASEMAP``) and the
points where district names are written.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from dustgrid.config import Settings
from dustgrid.data import DEMO_BASEMAP
from dustgrid.geo.coords import to_map_datum
from dustgrid.geo.shapes import centroid

log = logging.getLogger(__name__)

#: ``DUSTGRID_VECTOR_BASEMAP`` value naming the bundled demo city's roads and rivers.
DEMO_BASEMAP_SETTING = "demo"


def _line(coords: list[list[float]], crs: str) -> list[list[float]]:
    out = []
    for lon, lat, *_ in coords:
        mlat, mlon = to_map_datum(lat, lon, crs)
        out.append([round(mlon, 6), round(mlat, 6)])
    return out


def to_datum(geometry: dict[str, Any] | None, crs: str) -> dict[str, Any] | None:
    """A GeoJSON geometry (points, lines, polygons) in the base map's datum (``wgs84``
    or ``gcj02``); other geometry types are returned unchanged."""
    if geometry is None or crs != "gcj02":
        return geometry
    kind, coords = geometry.get("type"), geometry.get("coordinates")
    if kind == "Point":
        lon, lat = coords[0], coords[1]  # type: ignore[index]
        mlat, mlon = to_map_datum(lat, lon, crs)
        return {"type": kind, "coordinates": [mlon, mlat]}
    if kind in ("LineString", "MultiPoint"):
        return {"type": kind, "coordinates": _line(coords, crs)}  # type: ignore[arg-type]
    if kind in ("Polygon", "MultiLineString"):
        return {"type": kind, "coordinates": [_line(r, crs) for r in coords]}  # type: ignore[union-attr]
    if kind == "MultiPolygon":
        rings = [[_line(r, crs) for r in poly] for poly in coords]  # type: ignore[union-attr]
        return {"type": kind, "coordinates": rings}
    return geometry


def label_point(boundary: dict[str, Any] | None, crs: str) -> list[float] | None:
    """``[lat, lon]`` where a district's name is written: its centroid, in ``crs``."""
    if not boundary:
        return None
    lat, lon = centroid(boundary)
    mlat, mlon = to_map_datum(lat, lon, crs)
    return [round(mlat, 6), round(mlon, 6)]


@lru_cache(maxsize=4)
def _read(path: str) -> dict[str, Any] | None:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("vector base map %s not drawn: %s", path, exc)
        return None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        log.warning("vector base map %s not drawn: not a GeoJSON FeatureCollection", path)
        return None
    return data


def vector_basemap(settings: Settings) -> dict[str, Any] | None:
    """Roads and rivers drawn under the sites (a GeoJSON FeatureCollection in the map's
    datum), or None: never with a tile server, whose tiles already show them."""
    source = settings.vector_basemap.strip()
    if settings.tile_url or not source:
        return None
    data = _read(str(DEMO_BASEMAP if source == DEMO_BASEMAP_SETTING else Path(source)))
    if data is None:
        return None
    crs = settings.map_crs()
    features = [
        {
            "type": "Feature",
            "properties": f.get("properties") or {},
            "geometry": to_datum(f.get("geometry"), crs),
        }
        for f in data.get("features", [])
        if isinstance(f, dict)
    ]
    return {"type": "FeatureCollection", "features": features}
