"""WGS-84 / GCJ-02 / BD-09 conversions, haversine and the local projection.

Reference values are copied from two independent, widely used open-source projects'
published test data (not computed by our code):

- googollee/eviltransform, go/transform_test.go and javascript/test.js:
  (wgsLat, wgsLng, gcjLat, gcjLng) triples for Shanghai, Shenzhen and Beijing.
- wandergis/coordtransform, README.md "result" block for the input (lng 116.404, lat 39.915)
  (that library is lon-first; the values are swapped to (lat, lon) here). Its BD→GCJ and
  GCJ→WGS results are the one-step approximations, so ours must only be close to them (and a
  better inverse), not equal.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dustgrid.geo.coords import (
    EARTH_RADIUS_M,
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

Conversion = Callable[[float, float], tuple[float, float]]

EVILTRANSFORM_VECTORS = [
    # (wgs_lat, wgs_lon, gcj_lat, gcj_lon)
    pytest.param(31.1774276, 121.5272106, 31.17530398364597, 121.531541859215, id="shanghai"),
    pytest.param(22.543847, 113.912316, 22.540796131694766, 113.9171764808363, id="shenzhen"),
    pytest.param(39.911954, 116.377817, 39.91334545536069, 116.38404722455657, id="beijing"),
]

# wandergis/coordtransform README, input (lat 39.915, lon 116.404).
CT_IN = (39.915, 116.404)
CT_WGS_TO_GCJ = (39.91640428150164, 116.41024449916938)
CT_GCJ_TO_BD = (39.92133699351021, 116.41036949371029)
CT_BD_TO_GCJ_ONE_STEP = (39.90865673957631, 116.39762729119315)
CT_GCJ_TO_WGS_ONE_STEP = (39.91359571849836, 116.39775550083061)

CITIES = {  # approximate WGS-84 city centres, only used for magnitude/direction checks
    "beijing": (39.9042, 116.4074),
    "shanghai": (31.2304, 121.4737),
    "guangzhou": (23.1291, 113.2644),
    "chengdu": (30.5728, 104.0668),
    "urumqi": (43.8256, 87.6168),
    "harbin": (45.8038, 126.5349),
    "nantong": (31.9802, 120.8943),
    "tianjin": (39.3434, 117.3616),
}

china_lat = st.floats(min_value=18.0, max_value=53.0)
china_lon = st.floats(min_value=74.0, max_value=134.0)


def _close(a: tuple[float, float], b: tuple[float, float], tol: float) -> bool:
    return abs(a[0] - b[0]) <= tol and abs(a[1] - b[1]) <= tol


@pytest.mark.parametrize(("wlat", "wlon", "glat", "glon"), EVILTRANSFORM_VECTORS)
def test_wgs_to_gcj_matches_eviltransform_vectors(
    wlat: float, wlon: float, glat: float, glon: float
) -> None:
    assert _close(wgs84_to_gcj02(wlat, wlon), (glat, glon), 1e-9)


@pytest.mark.parametrize(("wlat", "wlon", "glat", "glon"), EVILTRANSFORM_VECTORS)
def test_gcj_to_wgs_inverts_published_vectors(
    wlat: float, wlon: float, glat: float, glon: float
) -> None:
    # eviltransform itself only promises 0.5 m for its "exact" inverse; ours is iterated.
    assert _close(gcj02_to_wgs84(glat, glon), (wlat, wlon), 1e-8)


def test_coordtransform_readme_forward_values() -> None:
    assert _close(wgs84_to_gcj02(*CT_IN), CT_WGS_TO_GCJ, 1e-9)
    assert _close(gcj02_to_bd09(*CT_IN), CT_GCJ_TO_BD, 1e-9)


@pytest.mark.parametrize(
    ("ours", "forward", "one_step"),
    [
        (bd09_to_gcj02, gcj02_to_bd09, CT_BD_TO_GCJ_ONE_STEP),
        (gcj02_to_wgs84, wgs84_to_gcj02, CT_GCJ_TO_WGS_ONE_STEP),
    ],
)
def test_inverses_refine_the_published_one_step_formula(
    ours: Conversion, forward: Conversion, one_step: tuple[float, float]
) -> None:
    got = ours(*CT_IN)
    assert _close(got, one_step, 2e-6)  # same answer to ~0.2 m ...
    err_ours = max(abs(a - b) for a, b in zip(forward(*got), CT_IN, strict=True))
    err_one_step = max(abs(a - b) for a, b in zip(forward(*one_step), CT_IN, strict=True))
    assert err_ours < 1e-9 < err_one_step  # ... but ours actually maps back onto the input


@settings(max_examples=300)
@given(china_lat, china_lon)
def test_wgs_gcj_round_trip(lat: float, lon: float) -> None:
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lat, lon))
    assert _close(back, (lat, lon), 1e-7)
    assert _close(wgs84_to_gcj02(*gcj02_to_wgs84(lat, lon)), (lat, lon), 1e-7)


@settings(max_examples=300)
@given(china_lat, china_lon)
def test_gcj_bd_round_trip(lat: float, lon: float) -> None:
    assert _close(bd09_to_gcj02(*gcj02_to_bd09(lat, lon)), (lat, lon), 1e-7)
    assert _close(bd09_to_wgs84(*wgs84_to_bd09(lat, lon)), (lat, lon), 1e-7)


def test_tiananmen_round_trip() -> None:
    tiananmen = (39.908692, 116.397477)
    assert _close(gcj02_to_wgs84(*wgs84_to_gcj02(*tiananmen)), tiananmen, 1e-9)
    assert _close(bd09_to_wgs84(*wgs84_to_bd09(*tiananmen)), tiananmen, 1e-9)


@pytest.mark.parametrize("city", sorted(CITIES))
def test_offset_is_a_few_hundred_metres_eastward_in_china(city: str) -> None:
    lat, lon = CITIES[city]
    glat, glon = wgs84_to_gcj02(lat, lon)
    assert 100.0 < haversine_m(lat, lon, glat, glon) < 800.0
    assert glon > lon  # GCJ-02 pushes every one of these cities east
    blat, blon = gcj02_to_bd09(glat, glon)
    assert 100.0 < haversine_m(glat, glon, blat, blon) < 1500.0  # Baidu adds ~0.006°/0.0065°


@settings(max_examples=200)
@given(china_lat, china_lon)
def test_offset_magnitude_bounded_everywhere_in_the_box(lat: float, lon: float) -> None:
    assert haversine_m(lat, lon, *wgs84_to_gcj02(lat, lon)) < 1000.0


@pytest.mark.parametrize(
    "point",
    [(35.6812, 139.7671), (51.5074, -0.1278), (-33.8688, 151.2093), (1.3521, 103.8198 + 40)],
    ids=["tokyo", "london", "sydney", "pacific"],
)
def test_no_offset_outside_china(point: tuple[float, float]) -> None:
    assert out_of_china(*point)
    assert wgs84_to_gcj02(*point) == point
    assert gcj02_to_wgs84(*point) == point


def test_china_box_edges() -> None:
    assert not out_of_china(39.9, 116.4)
    assert out_of_china(39.9, 72.0)
    assert out_of_china(56.0, 116.4)
    assert out_of_china(0.5, 116.4)


def test_haversine_rosetta_code_reference() -> None:
    # Rosetta Code "Haversine formula": BNA→LAX is 2887.2599506071106 km with R = 6372.8 km.
    d = haversine_m(36.12, -86.67, 33.94, -118.40)
    assert d == pytest.approx(2887259.9506071106 * EARTH_RADIUS_M / 6372800.0, abs=1e-3)


def test_haversine_basics() -> None:
    one_degree = math.pi / 180.0 * EARTH_RADIUS_M
    assert haversine_m(0, 0, 1, 0) == pytest.approx(one_degree)
    assert haversine_m(30, 120, 30, 120) == 0.0
    assert haversine_m(10, 20, 30, 40) == pytest.approx(haversine_m(30, 40, 10, 20))
    assert haversine_m(0, 0, 0, 180) == pytest.approx(math.pi * EARTH_RADIUS_M)


@settings(max_examples=200)
@given(
    china_lat,
    china_lon,
    st.floats(min_value=-0.2, max_value=0.2),
    st.floats(min_value=-0.2, max_value=0.2),
)
def test_local_projection_matches_haversine_near_reference(
    lat: float, lon: float, dlat: float, dlon: float
) -> None:
    proj = LocalProjection(lat, lon)
    x, y = proj.to_xy(lat + dlat, lon + dlon)
    assert proj.to_latlon(x, y) == pytest.approx((lat + dlat, lon + dlon), abs=1e-9)
    planar = math.hypot(x, y)
    sphere = haversine_m(lat, lon, lat + dlat, lon + dlon)
    assert planar == pytest.approx(sphere, rel=5e-3, abs=0.01)


def test_local_projection_axes_and_many() -> None:
    proj = LocalProjection.around([(30.0, 120.0), (30.2, 120.4)])
    assert (proj.ref_lat, proj.ref_lon) == pytest.approx((30.1, 120.2))
    east = proj.to_xy(30.1, 120.21)
    north = proj.to_xy(30.11, 120.2)
    assert east[0] > 0 and east[1] == 0.0
    assert north[1] > 0 and north[0] == 0.0
    assert proj.project_many([(30.1, 120.21), (30.11, 120.2)]) == [east, north]
    with pytest.raises(ValueError):
        LocalProjection.around([])
