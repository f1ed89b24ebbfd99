"""Proximity grids (临近原则): size bounds, coverage, determinism, compactness, speed."""

from __future__ import annotations

import dataclasses
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dustgrid.geo.coords import LocalProjection
from dustgrid.grids.partition import (
    Partition,
    PartitionStatus,
    choose_group_count,
    partition_district,
    partition_sites,
)
from dustgrid.grids.policy import DEFAULT_GRID_POLICY, ENFORCEMENT, INSPECTOR, GridPolicy

Site = tuple[int, float, float]


def city_cloud(n: int, seed: int, spread: float = 0.2) -> list[Site]:
    """Sites around Hangzhou: 30 % uniform, the rest in a few dense construction clusters."""
    rng = random.Random(seed)
    centres = [
        (30.25 + rng.uniform(-spread, spread) * 0.7, 120.15 + rng.uniform(-spread, spread))
        for _ in range(rng.randint(1, 12))
    ]
    sites: list[Site] = []
    for i in range(n):
        if rng.random() < 0.3:
            lat, lon = (
                30.25 + rng.uniform(-spread, spread) * 0.7,
                120.15 + rng.uniform(-spread, spread),
            )
        else:
            c = rng.choice(centres)
            lat, lon = rng.gauss(c[0], spread / 10), rng.gauss(c[1], spread / 10)
        sites.append((1000 + i, lat, lon))
    return sites


def mean_radius_m(groups: list[list[int]], sites: list[Site]) -> float:
    """Mean over grids of the mean distance of members to their centroid (projected)."""
    where = {s[0]: (s[1], s[2]) for s in sites}
    proj = LocalProjection.around(list(where.values()))
    radii = []
    for g in groups:
        xy = proj.project_many([where[i] for i in g])
        cx = sum(p[0] for p in xy) / len(xy)
        cy = sum(p[1] for p in xy) / len(xy)
        radii.append(sum(math.hypot(p[0] - cx, p[1] - cy) for p in xy) / len(xy))
    return sum(radii) / len(radii)


def check_cover(part: Partition[int], sites: list[Site]) -> None:
    flat = [i for g in part.groups for i in g]
    assert sorted(flat) == sorted(s[0] for s in sites)  # every site exactly once
    assert len(part.stats) == len(part.groups)
    assert [s.size for s in part.stats] == part.sizes


@pytest.mark.parametrize(
    ("n", "lo", "hi", "expected"),
    [
        (0, 20, 30, (0, PartitionStatus.empty)),
        (1, 20, 30, (1, PartitionStatus.undersized)),
        (19, 20, 30, (1, PartitionStatus.undersized)),
        (20, 20, 30, (1, PartitionStatus.ok)),
        (30, 20, 30, (1, PartitionStatus.ok)),
        (35, 20, 30, (2, PartitionStatus.infeasible)),  # 17/18 beats 35 (relative violation)
        (40, 20, 30, (2, PartitionStatus.ok)),
        (61, 20, 30, (3, PartitionStatus.ok)),
        (10000, 20, 30, (334, PartitionStatus.ok)),
        (100, 70, 90, (1, PartitionStatus.infeasible)),  # 100 in one beats 2 × 50
        (130, 70, 90, (2, PartitionStatus.infeasible)),  # 2 × 65 beats 130 in one
        (140, 70, 90, (2, PartitionStatus.ok)),
        (10000, 70, 90, (112, PartitionStatus.ok)),
    ],
)
def test_choose_group_count(
    n: int, lo: int, hi: int, expected: tuple[int, PartitionStatus]
) -> None:
    assert choose_group_count(n, lo, hi) == expected


def test_choose_group_count_rejects_bad_bounds() -> None:
    with pytest.raises(ValueError):
        choose_group_count(10, 0, 5)
    with pytest.raises(ValueError):
        choose_group_count(10, 6, 5)


@settings(max_examples=60, deadline=None)
@given(st.integers(20, 400), st.integers(0, 10**6), st.sampled_from([0.01, 0.2]))
def test_enforcement_sizes_within_bounds(n: int, seed: int, spread: float) -> None:
    sites = city_cloud(n, seed, spread)
    part = partition_sites(sites, 20, 30)
    check_cover(part, sites)
    k, status = choose_group_count(n, 20, 30)
    assert len(part.groups) == k and part.status is status
    if status is PartitionStatus.ok:
        assert part.within_bounds
    else:  # 31..39 sites: one slightly big grid or two balanced, slightly small ones
        assert part.status is PartitionStatus.infeasible
        assert sorted(part.sizes) in ([n], [n // 2, n - n // 2])


@settings(max_examples=40, deadline=None)
@given(st.integers(70, 400), st.integers(0, 10**6))
def test_inspector_sizes_within_bounds_or_balanced(n: int, seed: int) -> None:
    sites = city_cloud(n, seed)
    part = partition_sites(sites, 70, 90)
    check_cover(part, sites)
    k, status = choose_group_count(n, 70, 90)
    if status is PartitionStatus.ok:
        assert part.within_bounds
    else:
        assert min(part.sizes) >= min(70, n // k)
        assert max(part.sizes) <= max(90, -(-n // k))
        assert (
            part.status is PartitionStatus.infeasible
            and "cannot form grids" in part.message.render("en")
        )


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.integers(0, 5)),  # coarse lattice: many coincident sites
        min_size=20,
        max_size=150,
    )
)
def test_coincident_sites(cells: list[tuple[int, int]]) -> None:
    sites = [(i, 30.0 + a * 1e-3, 120.0 + b * 1e-3) for i, (a, b) in enumerate(cells)]
    part = partition_sites(sites, 20, 30)
    check_cover(part, sites)
    if part.status is PartitionStatus.ok:
        assert part.within_bounds


def test_deterministic() -> None:
    sites = city_cloud(1500, seed=7)
    a = partition_sites(sites, 20, 30)
    b = partition_sites(list(sites), 20, 30)
    assert a.groups == b.groups
    assert a.stats == b.stats


@pytest.mark.parametrize(("lo", "hi"), [(20, 30), (70, 90)])
def test_more_compact_than_random_split(lo: int, hi: int) -> None:
    sites = city_cloud(2000, seed=3)
    part = partition_sites(sites, lo, hi)
    rng = random.Random(0)
    shuffled = [s[0] for s in sites]
    rng.shuffle(shuffled)
    random_groups, pos = [], 0
    for size in part.sizes:
        random_groups.append(shuffled[pos : pos + size])
        pos += size
    ours, rand = mean_radius_m(part.groups, sites), mean_radius_m(random_groups, sites)
    assert ours < 0.25 * rand, (ours, rand)


def test_local_search_improves_on_hilbert_chunks() -> None:
    sites = city_cloud(3000, seed=11)
    seeded = partition_sites(sites, 20, 30, max_rounds=0)
    improved = partition_sites(sites, 20, 30)
    assert seeded.rounds == 0 and improved.rounds > 0
    assert mean_radius_m(improved.groups, sites) < mean_radius_m(seeded.groups, sites)
    assert improved.within_bounds and seeded.within_bounds


def test_two_far_apart_clusters_are_not_mixed() -> None:
    west = [(i, 30.0 + (i % 5) * 1e-3, 120.0 + (i // 5) * 1e-3) for i in range(25)]
    east = [(100 + i, 30.0 + (i % 5) * 1e-3, 120.5 + (i // 5) * 1e-3) for i in range(25)]
    part = partition_sites(west + east, 20, 30)
    assert sorted(sorted(g) for g in part.groups) == [list(range(25)), list(range(100, 125))]
    assert part.max_radius_m < 500


def test_small_districts() -> None:
    empty: Partition[int] = partition_sites([], 20, 30)
    assert empty.groups == [] and empty.status is PartitionStatus.empty and empty.within_bounds
    one = partition_sites([("s1", 30.0, 120.0)], 20, 30)
    assert one.groups == [["s1"]] and one.status is PartitionStatus.undersized
    assert one.stats[0].max_radius_m == 0.0
    few = partition_sites([(f"s{i}", 30.0 + i * 1e-3, 120.0) for i in range(12)], 20, 30)
    assert len(few.groups) == 1 and few.sizes == [12]
    assert few.status is PartitionStatus.undersized and not few.within_bounds
    assert "under-sized" in few.message.render("en") and "不足额" in str(few.message)


def test_single_exact_fit_and_identical_points() -> None:
    same = [(i, 31.98, 120.89) for i in range(60)]
    part = partition_sites(same, 20, 30)
    assert part.status is PartitionStatus.ok and part.within_bounds and part.max_radius_m < 1e-3
    check_cover(part, same)


def test_members_keep_input_order_and_ids_are_opaque() -> None:
    sites = [(f"site-{i:03d}", 30.0 + (i % 7) * 1e-3, 120.0 + (i // 7) * 1e-3) for i in range(45)]
    part = partition_sites(sites, 20, 30)
    order = {s[0]: k for k, s in enumerate(sites)}
    for g in part.groups:
        assert [order[i] for i in g] == sorted(order[i] for i in g)


def test_invalid_input() -> None:
    with pytest.raises(ValueError, match="duplicate site ids"):
        partition_sites([(1, 30.0, 120.0), (1, 30.1, 120.0)], 1, 5)
    with pytest.raises(ValueError, match="invalid coordinates"):
        partition_sites([(1, math.nan, 120.0)], 1, 5)
    with pytest.raises(ValueError, match="invalid coordinates"):
        partition_sites([(1, 30.0, 190.0)], 1, 5)
    with pytest.raises(ValueError, match="invalid coordinates"):
        partition_sites([(1, 95.0, 120.0)], 1, 5)


def test_stats_are_consistent() -> None:
    sites = city_cloud(500, seed=5)
    part = partition_sites(sites, 20, 30)
    for stat in part.stats:
        assert 0 <= stat.mean_radius_m <= stat.max_radius_m <= part.max_radius_m
        assert 29 < stat.centroid_lat < 32 and 119 < stat.centroid_lon < 121


@pytest.mark.parametrize(("kind", "lo", "hi"), [(ENFORCEMENT, 20, 30), (INSPECTOR, 70, 90)])
def test_ten_thousand_sites_in_one_district(kind: str, lo: int, hi: int) -> None:
    # Speed is measured by benchmarks, never asserted in tests (about 1 s of CPU here).
    sites = city_cloud(10_000, seed=2024)
    part = partition_district(sites, kind)
    assert part.status is PartitionStatus.ok and part.within_bounds
    assert (part.min_size, part.max_size) == (lo, hi)
    check_cover(part, sites)


def test_policy_defaults_and_bounds() -> None:
    assert GridPolicy() == DEFAULT_GRID_POLICY
    assert DEFAULT_GRID_POLICY.version == "2024.2"
    assert DEFAULT_GRID_POLICY.bounds(ENFORCEMENT) == (20, 30)
    assert DEFAULT_GRID_POLICY.bounds(INSPECTOR) == (70, 90)
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_GRID_POLICY.enforcement_max = 40  # type: ignore[misc]
    with pytest.raises(ValueError, match="unknown grid kind"):
        DEFAULT_GRID_POLICY.bounds("l3")
    with pytest.raises(ValueError, match="1 <= min <= max"):
        GridPolicy(enforcement_min=31)


def test_partition_district_uses_policy() -> None:
    policy = GridPolicy(version="city-x.2", enforcement_min=5, enforcement_max=8)
    sites = city_cloud(50, seed=1)
    part = partition_district(sites, ENFORCEMENT, policy)
    assert part.within_bounds and all(5 <= s <= 8 for s in part.sizes)
    assert part.notes == ["policy city-x.2: enforcement 5–8"]
