"""Property tests of the pure partition over whole cities (domain.md §1, docs/grids.md).

For any city of districts, lanes (who supervises a site) and positions:
- every site is in exactly one enforcement grid and exactly one inspector grid;
- no grid holds sites of two districts, and no enforcement grid mixes lanes (the city
  safety station's metro and municipal works never share a grid with a district's sites);
- sizes: when a district's (lane's) count allows grids of ``min``–``max`` sites, every grid
  is in range; the remainder rule otherwise: fewer than ``min`` sites make one under-sized
  grid, and a count no grid count fits is split into the closest count, every grid then
  within one of an even split or inside the bounds.
"""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from dustgrid.grids.partition import (
    PartitionStatus,
    choose_group_count,
    partition_sites,
    plan_city,
)
from dustgrid.grids.policy import DEFAULT_GRID_POLICY, ENFORCEMENT, INSPECTOR

CitySite = tuple[int, str, float, float, str | None]

# A district is a 0.2° square; its sites cluster or spread inside it.
_CENTRES = {"A": (41.80, 123.40), "B": (41.80, 123.70), "C": (42.05, 123.40)}


@st.composite
def cities(draw: st.DrawFn, max_sites: int = 260) -> list[CitySite]:
    """Hypothesis draws the shape (how many sites, which districts, the metro share, how
    clustered); a seeded generator places the sites (drawing each float is slow)."""
    n = draw(st.integers(0, max_sites))
    names = draw(st.lists(st.sampled_from(sorted(_CENTRES)), min_size=1, max_size=3))
    metro_share = draw(st.sampled_from([0.0, 0.1, 0.4]))
    spread = draw(st.sampled_from([0.002, 0.03, 0.1]))
    rng = random.Random(draw(st.integers(0, 2**32)))
    out: list[CitySite] = []
    for i in range(n):
        d = rng.choice(names)
        lat0, lon0 = _CENTRES[d]
        lat = lat0 + max(-0.1, min(0.1, rng.gauss(0, spread)))
        lon = lon0 + max(-0.1, min(0.1, rng.gauss(0, spread)))
        out.append((1000 + i, d, lat, lon, "city" if rng.random() < metro_share else None))
    return out


@settings(max_examples=30, deadline=None)
@given(cities())
def test_every_site_in_exactly_one_grid_of_each_kind_within_its_district_and_lane(
    sites: list[CitySite],
) -> None:
    where = {s[0]: s for s in sites}
    seen: dict[str, Counter[int]] = {ENFORCEMENT: Counter(), INSPECTOR: Counter()}
    for plan in plan_city(sites):
        for group in plan.partition.groups:
            assert group, "no empty grid"
            seen[plan.kind].update(group)
            assert {where[i][1] for i in group} == {plan.district}  # no grid across districts
            if plan.kind == ENFORCEMENT:
                assert {where[i][4] for i in group} == {plan.lane}  # lanes never mix
            else:
                assert plan.lane is None  # inspector grids cover the whole district
    for kind in (ENFORCEMENT, INSPECTOR):
        assert seen[kind] == Counter(list(where)), kind  # each site exactly once


@settings(max_examples=30, deadline=None)
@given(cities(max_sites=400))
def test_sizes_follow_the_policy_where_the_count_allows(sites: list[CitySite]) -> None:
    for plan in plan_city(sites):
        lo, hi = DEFAULT_GRID_POLICY.bounds(plan.kind)
        part = plan.partition
        n = sum(part.sizes)
        k, status = choose_group_count(n, lo, hi)
        assert part.status is status and len(part.groups) == k
        feasible = any(j * lo <= n <= j * hi for j in range(1, n // lo + 1))
        if feasible:
            assert status is PartitionStatus.ok
            assert all(lo <= size <= hi for size in part.sizes), part.sizes
        _check_remainder(part.sizes, n, k, lo, hi, status)


def _check_remainder(
    sizes: list[int], n: int, k: int, lo: int, hi: int, status: PartitionStatus
) -> None:
    if status is PartitionStatus.empty:
        assert sizes == [] and n == 0
    elif status is PartitionStatus.undersized:
        assert sizes == [n] and 0 < n < lo
    elif status is PartitionStatus.infeasible:
        base, extra = divmod(n, k)
        floor, ceiling = min(lo, base), max(hi, base + (1 if extra else 0))
        assert all(floor <= size <= ceiling for size in sizes), (sizes, n, k)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 700), st.sampled_from([ENFORCEMENT, INSPECTOR]))
def test_remainder_rule_for_any_count(n: int, kind: str) -> None:
    """Sites on a line: exercise counts between feasible ranges (e.g. 31–39 enforcement)."""
    lo, hi = DEFAULT_GRID_POLICY.bounds(kind)
    part = partition_sites([(i, 41.8 + i * 1e-4, 123.4) for i in range(n)], lo, hi)
    k, status = choose_group_count(n, lo, hi)
    assert part.status is status and sum(part.sizes) == n and len(part.sizes) == k
    if status is PartitionStatus.ok:
        assert all(lo <= size <= hi for size in part.sizes)
    _check_remainder(part.sizes, n, k, lo, hi, status)
