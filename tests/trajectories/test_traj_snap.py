"""Snapping stay centres to cells before DBSCAN (``cluster_snap_m``): the same clusters and
suspects as DBSCAN over the raw centres, and the documented bound where they may differ."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from sklearn.cluster import DBSCAN

from dustgrid.demo.fleet import Fleet, FleetSpec, generate_fleet
from dustgrid.geo.coords import EARTH_RADIUS_M
from dustgrid.trajectories.clusters import (
    NOISE,
    build_clusters,
    cluster_labels,
    find_suspects,
    snap_cells,
)
from dustgrid.trajectories.policy import DEFAULT_TRAJECTORY_POLICY
from dustgrid.trajectories.stays import Stays, detect_stays
from dustgrid.trajectories.store import concat_stays
from tests.trajectories.traj_kit import latlon

P = DEFAULT_TRAJECTORY_POLICY
PLAIN = dataclasses.replace(P, cluster_snap_m=0.0)
CENTRE_JITTER_M = 1.5  # a stay centre's own error (the median of its fixes)


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    return generate_fleet(FleetSpec(seed=1))


def busy_week(stays: Stays, days: int, seed: int) -> Stays:
    """``stays`` repeated on ``days`` days, each copy's centres moved by fresh jitter: many
    stays per place, so cells hold several stays each."""
    rng = np.random.default_rng(seed)
    deg = math.degrees(CENTRE_JITTER_M / EARTH_RADIUS_M)
    copies = [
        dataclasses.replace(
            stays,
            day=stays.day - k,
            start=stays.start - k * 86_400,
            end=stays.end - k * 86_400,
            lat=stays.lat + rng.normal(0.0, deg, len(stays)),
            lon=stays.lon + rng.normal(0.0, deg / math.cos(math.radians(stays.lat[0])), len(stays)),
        )
        for k in range(days)
    ]
    return concat_stays(copies)


def test_snapping_gives_the_clusters_and_suspects_of_plain_dbscan(fleet: Fleet) -> None:
    stays = detect_stays(fleet.fixes())
    week = busy_week(stays, 7, seed=3)
    _, _, counts, _ = snap_cells(week.lat, week.lon, P.cluster_snap_m)
    assert counts.max() >= 5 and len(counts) < len(week)  # cells do gather stays
    for case in (stays, week):
        assert np.array_equal(cluster_labels(case, P), cluster_labels(case, PLAIN))
        assert build_clusters(case, P, fleet.known) == build_clusters(case, PLAIN, fleet.known)
        fast, plain = find_suspects(case, fleet.known, P), find_suspects(case, fleet.known, PLAIN)
        assert [s.as_json() for s in fast] == [s.as_json() for s in plain] and fast


def test_no_snapping_is_scikit_learns_dbscan_over_the_stays(fleet: Fleet) -> None:
    stays = detect_stays(fleet.fixes())
    points = np.radians(np.column_stack([stays.lat, stays.lon]))
    model = DBSCAN(eps=P.cluster_eps_m / EARTH_RADIUS_M, min_samples=P.cluster_min_stays,
                   metric="haversine", algorithm="ball_tree")  # fmt: skip
    assert np.array_equal(cluster_labels(stays, PLAIN), model.fit_predict(points))


def haversine_m(
    lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
) -> np.ndarray:
    p1, p2, dl = np.radians(lat1), np.radians(lat2), np.radians(lon2 - lon1)
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(h)))


def test_every_point_lies_within_half_a_cells_diagonal_of_its_cell() -> None:
    rng = np.random.default_rng(7)
    lat = rng.uniform(18.0, 53.0, 20_000)  # China, south to north
    lon = rng.uniform(73.0, 135.0, 20_000)
    for cell_m in (1.0, 2.0, 10.0):
        clat, clon, counts, cell = snap_cells(lat, lon, cell_m)
        moved = haversine_m(lat, lon, clat[cell], clon[cell])
        assert moved.max() <= cell_m / math.sqrt(2) * (1 + 1e-6)
        assert counts.sum() == len(lat) and np.array_equal(np.bincount(cell), counts)


def pair_stays(north: float, apart_m: float, east: float = 0.0) -> Stays:
    """Three trucks' stays: two at one point, one ``apart_m`` north of it."""
    pts = [latlon(north, east), latlon(north, east), latlon(north + apart_m, east)]
    return Stays(
        terminals=("A", "B", "C"),
        terminal=np.arange(3, dtype=np.int64),
        day=np.zeros(3, np.int64),
        start=np.arange(3, dtype=np.int64) * 3600,
        end=np.arange(3, dtype=np.int64) * 3600 + 1200,
        lat=np.array([p[0] for p in pts]),
        lon=np.array([p[1] for p in pts]),
        n_fixes=np.full(3, 10, np.int64),
    )


@pytest.mark.parametrize("snap", [1.0, 2.0, 10.0])
def test_a_pair_is_judged_as_plain_dbscan_does_outside_the_bound(snap: float) -> None:
    """Closer than eps − snap·√2: always together; farther than eps + snap·√2: never, wherever
    the pair lies against the cells."""
    policy = dataclasses.replace(P, cluster_snap_m=snap)
    slack = snap * math.sqrt(2) + 0.01
    for k in range(25):
        north, east = k * 0.37 * snap, k * 0.53 * snap
        near = cluster_labels(pair_stays(north, P.cluster_eps_m - slack, east), policy)
        far = cluster_labels(pair_stays(north, P.cluster_eps_m + slack, east), policy)
        assert near.tolist() == [0, 0, 0]
        assert far.tolist() == [0, 0, NOISE]


def test_exactly_eps_apart_is_a_neighbour_without_snapping() -> None:
    assert cluster_labels(pair_stays(0.0, P.cluster_eps_m), PLAIN).tolist() == [0, 0, 0]


def test_the_snap_cell_is_bounded_by_a_tenth_of_the_radius() -> None:
    stays = pair_stays(0.0, 50.0)
    tenth = P.cluster_eps_m / 10
    at_bound = dataclasses.replace(P, cluster_snap_m=tenth)
    assert cluster_labels(stays, at_bound).tolist() == [0, 0, 0]
    for bad in (tenth + 0.001, -0.5):
        with pytest.raises(ValueError, match="cluster_snap_m"):
            cluster_labels(stays, dataclasses.replace(P, cluster_snap_m=bad))


def test_one_cell_is_core_by_its_weight() -> None:
    """Two stays of two trucks in one cell make a cluster of two (min stays 2), as plain
    DBSCAN does; one stay alone stays noise."""
    two = pair_stays(0.0, 5_000.0)
    assert cluster_labels(two, P).tolist() == cluster_labels(two, PLAIN).tolist() == [0, 0, NOISE]
