"""The check-in fence: distance from a phone to a site's boundary or point, in metres."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dustgrid.geo.coords import haversine_m
from dustgrid.inspections.fence import distance_to_site_m, spoken_distance, within
from dustgrid.inspections.policy import DEFAULT_CHECK_IN_POLICY

SITE = (41.7910, 123.4010)
# A 0.002° square around the site (about 220 m × 170 m at Shenyang's latitude).
BOUNDARY = {
    "type": "Polygon",
    "coordinates": [
        [
            [123.400, 41.790],
            [123.402, 41.790],
            [123.402, 41.792],
            [123.400, 41.792],
            [123.400, 41.790],
        ]
    ],
}


def _dist(lat: float, lon: float, boundary: dict | None = BOUNDARY) -> float:
    return distance_to_site_m(lat, lon, site_lat=SITE[0], site_lon=SITE[1], boundary=boundary)


def test_inside_the_drawn_boundary_is_zero() -> None:
    assert _dist(41.7915, 123.4015) == 0.0


def test_outside_the_boundary_is_measured_from_its_edge() -> None:
    # 0.001° north of the north edge ≈ 111 m; from the point it would be ≈ 222 m
    d = _dist(41.793, 123.401)
    assert d == pytest.approx(111.2, abs=1.0)
    assert within(d, DEFAULT_CHECK_IN_POLICY.radius_m)


def test_without_a_boundary_the_point_is_used() -> None:
    d = _dist(41.793, 123.401, boundary=None)
    assert d == pytest.approx(haversine_m(41.793, 123.401, *SITE))
    assert d == pytest.approx(222.4, abs=1.0)
    assert not within(d, DEFAULT_CHECK_IN_POLICY.radius_m)


def test_an_unusable_boundary_falls_back_on_the_point() -> None:
    broken = {"type": "LineString", "coordinates": [[123.4, 41.79], [123.5, 41.8]]}
    assert _dist(*SITE, boundary=broken) == 0.0


def test_spoken_distance_in_both_languages() -> None:
    assert spoken_distance(1315.0) == "1.3 公里"
    assert spoken_distance(1315.0, "en") == "1.3 km"
    assert spoken_distance(349.6) == "350 米"
    assert spoken_distance(349.6, "en") == "350 m"


@given(st.floats(min_value=41.70, max_value=41.90), st.floats(min_value=123.30, max_value=123.50))
def test_the_boundary_is_never_farther_than_the_point_inside_it(lat: float, lon: float) -> None:
    # The site's point lies inside its boundary, so the edge is at most as far as the point.
    assert _dist(lat, lon) <= _dist(lat, lon, boundary=None) + 0.5
