"""Polygons: point-in-polygon, area, centroid, bbox and GeoJSON validation."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dustgrid.geo.coords import EARTH_RADIUS_M, haversine_m
from dustgrid.geo.shapes import (
    BBox,
    GeometryError,
    area_m2,
    bbox,
    centroid,
    distance_outside_m,
    distance_to_boundary_m,
    point_in_geometry,
    point_in_multipolygon,
    point_in_polygon,
    point_in_ring,
    polygon_area_m2,
    validate_geometry,
)

DEG_M = math.pi / 180.0 * EARTH_RADIUS_M  # metres per degree of latitude


def rect(lon0: float, lat0: float, lon1: float, lat1: float, ccw: bool = True) -> list[list[float]]:
    ring = [[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]
    return ring if ccw else ring[::-1]


# A 0.01° square near Hangzhou with a 0.002° hole in the middle.
OUTER = rect(120.10, 30.20, 120.11, 30.21)
HOLE = rect(120.104, 30.204, 120.106, 30.206, ccw=False)
POLYGON: dict[str, Any] = {"type": "Polygon", "coordinates": [OUTER, HOLE]}
MULTI: dict[str, Any] = {
    "type": "MultiPolygon",
    "coordinates": [[OUTER, HOLE], [rect(120.20, 30.20, 120.21, 30.21)]],
}


def expected_rect_area(lon0: float, lat0: float, lon1: float, lat1: float) -> float:
    mid = math.radians((lat0 + lat1) / 2)
    return (lon1 - lon0) * DEG_M * math.cos(mid) * (lat1 - lat0) * DEG_M


def test_point_in_polygon_with_hole() -> None:
    assert point_in_polygon(30.201, 120.101, [OUTER, HOLE])
    assert not point_in_polygon(30.205, 120.105, [OUTER, HOLE])  # in the hole
    assert point_in_polygon(30.205, 120.105, [OUTER])
    assert not point_in_polygon(30.25, 120.105, [OUTER, HOLE])
    assert not point_in_polygon(30.205, 120.105, [])


def test_point_in_ring_is_lat_lon_not_lon_lat() -> None:
    ring = rect(120.0, 30.0, 121.0, 31.0)
    assert point_in_ring(30.5, 120.5, ring)
    assert not point_in_ring(120.5, 30.5, ring)
    assert point_in_ring(30.5, 120.5, ring[:-1])  # closing position optional
    assert not point_in_ring(30.5, 120.5, ring[:2])


def test_point_in_concave_ring() -> None:
    # U shape: the notch between the arms is outside.
    u = [[0, 0], [3, 0], [3, 3], [2, 3], [2, 1], [1, 1], [1, 3], [0, 3], [0, 0]]
    assert point_in_ring(2.0, 0.5, u)  # left arm (lat 2, lon 0.5)
    assert point_in_ring(2.0, 2.5, u)  # right arm
    assert not point_in_ring(2.0, 1.5, u)  # notch
    assert point_in_ring(0.5, 1.5, u)  # base


def test_point_in_multipolygon_and_geometry() -> None:
    assert point_in_multipolygon(30.205, 120.205, MULTI["coordinates"])
    assert point_in_geometry(30.205, 120.205, MULTI)
    assert not point_in_geometry(30.205, 120.105, MULTI)  # hole of the first part
    assert point_in_geometry(30.201, 120.101, POLYGON)
    assert not point_in_geometry(30.205, 120.15, MULTI)  # between the parts
    with pytest.raises(GeometryError, match="unsupported geometry type"):
        point_in_geometry(0, 0, {"type": "Point", "coordinates": [0, 0]})


@settings(max_examples=200)
@given(
    st.floats(73, 134),
    st.floats(18, 53),
    st.floats(0.001, 0.5),
    st.floats(0.001, 0.5),
    st.floats(-0.2, 1.2),
    st.floats(-0.2, 1.2),
    st.booleans(),
)
def test_ray_casting_agrees_with_rectangle_test(
    lon0: float, lat0: float, w: float, h: float, fx: float, fy: float, ccw: bool
) -> None:
    ring = rect(lon0, lat0, lon0 + w, lat0 + h, ccw)
    lon, lat = lon0 + fx * w, lat0 + fy * h
    if min(abs(fx), abs(fx - 1), abs(fy), abs(fy - 1)) < 1e-6:
        return  # on an edge: either answer is acceptable
    assert point_in_ring(lat, lon, ring) == (0 < fx < 1 and 0 < fy < 1)


def test_area_of_square_and_hole() -> None:
    outer = expected_rect_area(120.10, 30.20, 120.11, 30.21)
    hole = expected_rect_area(120.104, 30.204, 120.106, 30.206)
    assert outer == pytest.approx(1.0686e6, rel=1e-3)  # ~1.07 km² sanity
    assert polygon_area_m2([OUTER]) == pytest.approx(outer, rel=1e-3)
    assert area_m2(POLYGON) == pytest.approx(outer - hole, rel=1e-3)
    assert area_m2(MULTI) == pytest.approx(2 * outer - hole, rel=1e-3)  # second part same size
    assert polygon_area_m2([]) == 0.0


@settings(max_examples=100)
@given(st.floats(18, 53), st.floats(73, 134), st.floats(10, 3000), st.floats(10, 3000))
def test_area_of_metric_rectangle(lat: float, lon: float, w_m: float, h_m: float) -> None:
    dlon = w_m / (DEG_M * math.cos(math.radians(lat)))
    dlat = h_m / DEG_M
    ring = rect(lon, lat, lon + dlon, lat + dlat)
    assert polygon_area_m2([ring]) == pytest.approx(w_m * h_m, rel=2e-3)
    assert polygon_area_m2([ring[::-1]]) == pytest.approx(polygon_area_m2([ring]))


def test_centroid_square_l_shape_and_multi() -> None:
    c = centroid({"type": "Polygon", "coordinates": [OUTER]})
    assert c == pytest.approx((30.205, 120.105), abs=1e-7)
    # Symmetric hole keeps the centroid.
    assert centroid(POLYGON) == pytest.approx((30.205, 120.105), abs=1e-7)
    # L shape made of a 2x1 and a 1x1 block (in 0.001° units near the equator):
    # centroid x = (2*1 + 0.5*1)/3 = 0.8333, y = (0.5*2 + 1.5*1)/3 = 0.8333.
    s = 0.001
    ell = [[0, 0], [2 * s, 0], [2 * s, s], [s, s], [s, 2 * s], [0, 2 * s], [0, 0]]
    lat, lon = centroid({"type": "Polygon", "coordinates": [ell]})
    assert (lat, lon) == pytest.approx((s * 2.5 / 3, s * 2.5 / 3), abs=1e-8)
    # Two equal squares: halfway between them.
    m = {"type": "MultiPolygon", "coordinates": [[OUTER], [rect(120.20, 30.20, 120.21, 30.21)]]}
    assert centroid(m) == pytest.approx((30.205, 120.155), abs=1e-6)


def test_bbox() -> None:
    assert bbox(MULTI) == BBox(120.10, 30.20, 120.21, 30.21)
    assert bbox(POLYGON).contains(30.205, 120.105)
    assert not bbox(POLYGON).contains(30.3, 120.105)
    with pytest.raises(GeometryError):
        bbox({"type": "MultiPolygon", "coordinates": []})


def test_validate_returns_clean_copy() -> None:
    geom = {"type": "Polygon", "coordinates": [[[120, 30, 5], [121, 30], [121, 31], [120, 30, 5]]]}
    clean = validate_geometry(geom)
    assert clean == {
        "type": "Polygon",
        "coordinates": [[[120.0, 30.0], [121.0, 30.0], [121.0, 31.0], [120.0, 30.0]]],
    }
    assert all(isinstance(v, float) for v in clean["coordinates"][0][0])
    assert validate_geometry(MULTI)["type"] == "MultiPolygon"
    assert validate_geometry(POLYGON)["coordinates"][1] == HOLE


def _poly(*rings: Any) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": list(rings)}


@pytest.mark.parametrize(
    ("geometry", "message"),
    [
        ([1, 2], "must be a JSON object"),
        ({"type": "Point", "coordinates": [1, 2]}, "type must be 'Polygon' or 'MultiPolygon'"),
        ({"type": "Polygon"}, "coordinates must be a non-empty list"),
        (_poly([[120, 30], [121, 30], [120, 30]]), r"coordinates\[0\]: .*at least 4 positions"),
        (
            _poly([[120, 30], [121, 30], [121, 31], [120, 31]]),
            r"coordinates\[0\]: ring not closed",
        ),
        (
            _poly([[120, 30], [121, 30], [121, 95], [120, 30]]),
            r"coordinates\[0\]\[2\]: latitude 95.0 out of range",
        ),
        (
            _poly([[30, 120], [31, 120], [31, 121], [30, 120]]),
            r"latitude 120.0 out of range \[-90, 90\] \(positions are \[lon, lat\]; swapped\?\)",
        ),
        (
            _poly([[200, 30], [121, 30], [121, 31], [200, 30]]),
            r"coordinates\[0\]\[0\]: longitude 200.0 out of range",
        ),
        (_poly([[120, 30], ["121", 30], [121, 31], [120, 30]]), "must be numbers"),
        (_poly([[120, 30], [True, 30], [121, 31], [120, 30]]), "must be numbers"),
        (_poly([[120, 30], [math.nan, 30], [121, 31], [120, 30]]), "must be finite"),
        (_poly([[120, 30], [121], [121, 31], [120, 30]]), r"\[0\]\[1\]: a position must be"),
        (_poly([[120, 30], [121, 30], [122, 30], [120, 30]]), "zero area"),
        (_poly([[120, 30], [121, 30], [121, 30], [120, 30]]), "fewer than 3 distinct"),
        (
            _poly([[120, 30], [121, 31], [121, 30], [120, 31], [120, 30]]),
            r"coordinates\[0\]: ring crosses itself",
        ),
        (
            _poly(rect(120, 30, 121, 31), rect(122, 30, 122.5, 30.5)),
            r"coordinates\[1\]: hole is not inside the outer ring",
        ),
        ({"type": "MultiPolygon", "coordinates": [[OUTER], []]}, r"coordinates\[1\]: a polygon"),
        (
            {"type": "MultiPolygon", "coordinates": [[OUTER], [[[1, 2], [3, 4]]]]},
            r"coordinates\[1\]\[0\]: .*at least 4",
        ),
    ],
)
def test_validate_errors(geometry: Any, message: str) -> None:
    with pytest.raises(GeometryError, match=message):
        validate_geometry(geometry)


def test_validate_accepts_repeated_vertices_and_clockwise_rings() -> None:
    ring = [[120, 30], [121, 30], [121, 30], [121, 31], [120, 31], [120, 30]]
    assert validate_geometry(_poly(ring))
    assert validate_geometry(_poly(rect(120, 30, 121, 31, ccw=False)))
    # A concave (non-crossing) ring is fine.
    u = [[0, 0], [3, 0], [3, 3], [2, 3], [2, 1], [1, 1], [1, 3], [0, 3], [0, 0]]
    assert validate_geometry(_poly(u))


# --------------------------------------------------------------------------- distance


def test_distance_to_an_edge_is_the_great_circle_distance_to_its_nearest_point() -> None:
    square = {"type": "Polygon", "coordinates": [rect(123.375, 41.765, 123.425, 41.815)]}
    # due south of the bottom edge, 85 km away: the foot is straight north
    south = distance_outside_m(41.0, 123.40, square)
    assert south == pytest.approx(haversine_m(41.0, 123.40, 41.765, 123.40), abs=1.0)
    # far to the south-west (Beijing): the nearest point is the corner
    beijing = distance_outside_m(39.9, 116.4, square)
    assert beijing == pytest.approx(haversine_m(39.9, 116.4, 41.765, 123.375), rel=1e-3)
    assert 600_000 < beijing < 700_000


def test_inside_is_zero_outside_but_the_edge_distance_is_still_measured() -> None:
    square = {"type": "Polygon", "coordinates": [rect(123.375, 41.765, 123.425, 41.815)]}
    assert distance_outside_m(41.79, 123.40, square) == 0.0
    to_edge = distance_to_boundary_m(41.79, 123.40, square)  # from the centre: east/west
    assert to_edge == pytest.approx(0.025 * DEG_M * math.cos(math.radians(41.79)), rel=1e-3)


def test_a_point_in_a_hole_is_outside_by_its_distance_to_the_hole() -> None:
    outer = rect(0.0, 0.0, 1.0, 1.0)
    hole = rect(0.4, 0.4, 0.6, 0.6)
    donut = {"type": "Polygon", "coordinates": [outer, hole]}
    assert distance_outside_m(0.5, 0.5, donut) == pytest.approx(0.1 * DEG_M, rel=1e-2)
    multi = {"type": "MultiPolygon", "coordinates": [[rect(0, 0, 1, 1)], [rect(2, 0, 3, 1)]]}
    assert distance_outside_m(0.5, 1.5, multi) == pytest.approx(0.5 * DEG_M, rel=1e-2)
