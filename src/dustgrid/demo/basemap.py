"""The demo city's base map: ring roads, radial roads and rivers as GeoJSON lines.

The demo has no tile server (nothing is fetched at run time), so the map draws these vector
layers under the sites instead. They are invented to fit the demo's districts
(:mod:`dustgrid.demo.geography`): a 二环-like ring inside the downtown core, a 三环-like ring
inside the built-up ring, eight radial roads out to the city edge, the 浑河-like river
flowing east to south-west just outside downtown and a canal across the north of it.

The shipped file ``dustgrid/data/basemap/demo_city.geojson`` is this module's output
(``python -m dustgrid.demo.basemap > src/dustgrid/data/basemap/demo_city.geojson``); a test
checks the two agree, so a change to the demo's geography shows up as a changed base map.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from dustgrid.demo.geography import BUILT_UP, CORE, EDGE, PROJECTION, ring_radius_m

_DIGITS = 5  # ~1 m
_STEP_DEG = 5.0  # vertex spacing of the ring roads and rivers

#: (zh name, en name, factor of the core ring, factor of the built-up ring)
_RING_ROADS = (
    ("二环路", "2nd Ring Road", 0.8, 0.0),
    ("三环路", "3rd Ring Road", 0.0, 0.92),
)
#: (zh name, en name, bearing°): radial roads from the centre to the city edge
_RADIALS = (
    ("青年大街", "Qingnian Street", 0.0),
    ("沈铁路", "Shentie Road", 45.0),
    ("东陵路", "Dongling Road", 90.0),
    ("浑南大道", "Hunnan Avenue", 150.0),
    ("沈辽路", "Shenliao Road", 245.0),
    ("北陵大街", "Beiling Street", 330.0),
    ("黄河大街", "Huanghe Street", 300.0),
    ("南京街", "Nanjing Street", 200.0),
)


def _point(bearing_deg: float, radius_m: float) -> list[float]:
    t = math.radians(bearing_deg % 360.0)
    lat, lon = PROJECTION.to_latlon(radius_m * math.sin(t), radius_m * math.cos(t))
    return [round(lon, _DIGITS), round(lat, _DIGITS)]


def _steps(start: float, end: float) -> list[float]:
    n = max(2, math.ceil(abs(end - start) / _STEP_DEG))
    return [start + (end - start) * i / n for i in range(n + 1)]


def _feature(kind: str, name: str, name_en: str, coords: list[list[float]]) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"kind": kind, "name": name, "name_en": name_en},
        "geometry": {"type": "LineString", "coordinates": coords},
    }


def _ring_road(core: float, built_up: float) -> list[list[float]]:
    return [
        _point(b, core * ring_radius_m(CORE, b) + built_up * ring_radius_m(BUILT_UP, b))
        for b in _steps(0.0, 360.0)
    ]


def _radial(bearing: float) -> list[list[float]]:
    """Straight out from near the centre, with a slight bend so it does not look ruled."""
    end = ring_radius_m(EDGE, bearing) * 0.98
    return [
        _point(bearing + 2.5 * math.sin(i / 10 * math.pi), 600.0 + (end - 600.0) * i / 20)
        for i in range(21)
    ]


def _river() -> list[list[float]]:
    """East to south-west, closest to the centre (just outside the core) due south."""
    out = []
    bearings = _steps(95.0, 250.0)
    for i, b in enumerate(bearings):
        t = i / (len(bearings) - 1)
        near = 1.2 * ring_radius_m(CORE, b)
        far = 1.02 * ring_radius_m(EDGE, b)
        r = near + (far - near) * (2.0 * t - 1.0) ** 4 + 350.0 * math.sin(9.0 * math.pi * t)
        out.append(_point(b, r))
    return out


def _canal() -> list[list[float]]:
    """West to east across the north of downtown."""
    return [_point(b, 0.55 * ring_radius_m(CORE, b)) for b in _steps(280.0, 440.0)]


def demo_basemap() -> dict[str, Any]:
    """The demo city's base map as a GeoJSON FeatureCollection (WGS-84, lon/lat)."""
    features = [_feature("river", "浑河", "Hun River", _river())]
    features.append(_feature("river", "新开河", "Xinkai River", _canal()))
    for name, name_en, core, built_up in _RING_ROADS:
        features.append(_feature("ring_road", name, name_en, _ring_road(core, built_up)))
    for name, name_en, bearing in _RADIALS:
        features.append(_feature("road", name, name_en, _radial(bearing)))
    return {"type": "FeatureCollection", "features": features}


def dumps(collection: dict[str, Any]) -> str:
    """The shipped file's exact text (compact, one feature per line, stable)."""
    lines = [
        json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in collection["features"]
    ]
    return '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"


if __name__ == "__main__":
    sys.stdout.write(dumps(demo_basemap()))
