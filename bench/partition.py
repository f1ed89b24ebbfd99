"""Grid partition of a 10,000-site city: time, and distance to the grid centre vs k-means.

Target (grids issue 12): the partition of 10,000 sites (every district, both grid kinds,
the city safety station's lane apart: ``grids.partition.plan_city``) takes under 10 s.

Run: ``.venv/bin/python bench/partition.py`` (``--sites``, ``--seed``, ``--runs``).

What it does: places ``--sites`` sites in the demo city's eight districts the way the demo
does (``demo.geography``: hot spots plus background), marks about one in six as metro or
municipal works (the city station's lane), and times ``plan_city`` ``--runs`` times (the
median and the slowest are printed). No database: the partition is a pure module.

Baseline, in the same run: plain k-means (Lloyd's algorithm, k-means++ start, seeded) on
exactly the same site sets with the same number of grids k, with numpy when it is installed
and in pure Python otherwise. k-means minimises the squared distance to the centre and
ignores sizes, so it is the compactness a size-bounded partition gives up something
against. For every site the distance to its grid's centre (the mean of its grid's sites,
in metres in a local projection of its district) is measured; printed are the mean and
the 95th percentile over all sites (both kinds), the share of grids within the policy's
size bounds, and the ratios partition / k-means. ``--strict`` exits 1 when over target.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

from _common import machine_lines, percentile, ratio

from dustgrid.demo.geography import DISTRICTS, CityGeography, allocate
from dustgrid.geo.coords import LocalProjection
from dustgrid.grids.partition import DistrictPlan, plan_city
from dustgrid.grids.policy import DEFAULT_GRID_POLICY

try:
    import numpy as np
except ImportError:  # pragma: no cover - the pure-Python baseline below
    np = None  # type: ignore[assignment]

TARGET_S = 10.0
METRO_SHARE = 0.17  # metro and municipal works in the demo ledger (demo/ledger.py mix)
KMEANS_ITERATIONS = 100

CitySite = tuple[int, str, float, float, str | None]
Points = list[tuple[float, float]]


def make_city(n: int, seed: int) -> list[CitySite]:
    """Sites in the demo city's districts (shares and hot spots as the demo places them)."""
    rng = random.Random(seed)
    geo = CityGeography()
    counts = allocate(n, [d.share for d in DISTRICTS])
    sites: list[CitySite] = []
    for shape, count in zip(geo.shapes, counts, strict=True):
        for _ in range(count):
            lat, lon = geo.sample(rng, shape)
            lane = "city" if rng.random() < METRO_SHARE else None
            sites.append((len(sites), shape.spec.code, lat, lon, lane))
    return sites


# --------------------------------------------------------------------------- k-means


def _plus_plus(xy: Points, k: int, rng: random.Random) -> Points:
    """k-means++ seeding: each next centre drawn with probability ∝ squared distance."""
    centres = [xy[rng.randrange(len(xy))]]
    d2 = [(x - centres[0][0]) ** 2 + (y - centres[0][1]) ** 2 for x, y in xy]
    while len(centres) < k:
        total = sum(d2)
        if total <= 0:
            centres.append(xy[rng.randrange(len(xy))])
            continue
        pick, acc, chosen = rng.random() * total, 0.0, len(xy) - 1
        for i, w in enumerate(d2):
            acc += w
            if acc >= pick:
                chosen = i
                break
        cx, cy = xy[chosen]
        centres.append((cx, cy))
        d2 = [min(d, (x - cx) ** 2 + (y - cy) ** 2) for d, (x, y) in zip(d2, xy, strict=True)]
    return centres


def kmeans_numpy(xy: Points, k: int, rng: random.Random) -> list[int]:
    pts = np.asarray(xy, dtype=float)
    centres = np.asarray(_plus_plus(xy, k, rng), dtype=float)
    labels = np.zeros(len(xy), dtype=int)
    for _ in range(KMEANS_ITERATIONS):
        d2 = ((pts[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        new = d2.argmin(axis=1)
        if _ and np.array_equal(new, labels):
            break
        labels = new
        for g in range(k):
            mine = pts[labels == g]
            if len(mine):
                centres[g] = mine.mean(axis=0)
    return [int(g) for g in labels]


def kmeans_python(xy: Points, k: int, rng: random.Random) -> list[int]:
    centres = _plus_plus(xy, k, rng)
    labels: list[int] = []
    for _ in range(KMEANS_ITERATIONS):
        new = [
            min(range(k), key=lambda g: (x - centres[g][0]) ** 2 + (y - centres[g][1]) ** 2)
            for x, y in xy
        ]
        if new == labels:
            break
        labels = new
        sums = [[0.0, 0.0, 0] for _ in range(k)]
        for (x, y), g in zip(xy, labels, strict=True):
            sums[g][0] += x
            sums[g][1] += y
            sums[g][2] += 1
        centres = [(sx / c, sy / c) if c else centres[g] for g, (sx, sy, c) in enumerate(sums)]
    return labels


# --------------------------------------------------------------------------- measuring


def _distances(xy: Points, labels: Sequence[int]) -> list[float]:
    """Each site's distance (m) to the mean of its grid's sites."""
    sums: dict[int, list[float]] = {}
    for (x, y), g in zip(xy, labels, strict=True):
        acc = sums.setdefault(g, [0.0, 0.0, 0.0])
        acc[0], acc[1], acc[2] = acc[0] + x, acc[1] + y, acc[2] + 1
    centre = {g: (sx / n, sy / n) for g, (sx, sy, n) in sums.items()}
    return [
        math.hypot(x - centre[g][0], y - centre[g][1]) for (x, y), g in zip(xy, labels, strict=True)
    ]


def compare(plans: list[DistrictPlan[int, str, str]], where: dict[int, CitySite], seed: int) -> Any:
    """Per partition: the same sites and k through k-means; distances and sizes of both."""
    rng = random.Random(seed)
    kmeans = kmeans_numpy if np is not None else kmeans_python
    ours: list[float] = []
    theirs: list[float] = []
    in_bounds = [0, 0]
    grids = 0
    km_seconds = 0.0
    for plan in plans:
        part = plan.partition
        if not part.groups:
            continue
        ids = [i for group in part.groups for i in group]
        labels = [g for g, group in enumerate(part.groups) for _ in group]
        proj = LocalProjection.around([(where[i][2], where[i][3]) for i in ids])
        xy = proj.project_many([(where[i][2], where[i][3]) for i in ids])
        ours += _distances(xy, labels)
        started = time.perf_counter()
        km = kmeans(xy, len(part.groups), rng) if len(part.groups) > 1 else [0] * len(xy)
        km_seconds += time.perf_counter() - started
        theirs += _distances(xy, km)
        lo, hi = DEFAULT_GRID_POLICY.bounds(plan.kind)
        in_bounds[0] += sum(lo <= s <= hi for s in part.sizes)
        km_sizes = [km.count(g) for g in range(len(part.groups))]
        in_bounds[1] += sum(lo <= s <= hi for s in km_sizes)
        grids += len(part.groups)
    return ours, theirs, in_bounds, grids, km_seconds


def _ratio(value: float, baseline: float) -> str:
    """``ratio`` with two decimals: the two methods differ by a few per cent."""
    return f"{value / baseline:.2f}x" if baseline > 0 else ratio(value, baseline)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sites", type=int, default=10_000, help="sites in the city")
    parser.add_argument("--seed", type=int, default=1, help="placement and k-means seed")
    parser.add_argument("--runs", type=int, default=3, help="timed partitions of the city")
    parser.add_argument("--target-s", type=float, default=TARGET_S, help="time target")
    parser.add_argument("--strict", action="store_true", help="exit 1 when over target")
    args = parser.parse_args(argv)

    sites = make_city(args.sites, args.seed)
    where = {s[0]: s for s in sites}
    times: list[float] = []
    plans: list[DistrictPlan[int, str, str]] = []
    for _ in range(args.runs):
        started = time.perf_counter()
        plans = plan_city(sites)
        times.append(time.perf_counter() - started)
    ours, theirs, in_bounds, grids, km_seconds = compare(plans, where, args.seed)

    baseline = "numpy " + np.__version__ if np is not None else "pure Python (numpy missing)"
    print(
        f"DustGrid partition benchmark: {args.sites:,} sites in {len(DISTRICTS)} districts, "
        f"{grids} grids, policy {DEFAULT_GRID_POLICY.version}, {args.runs} runs"
    )
    for line in machine_lines([("k-means baseline", baseline)]):
        print(line)
    slowest = max(times)
    verdict = "PASS" if slowest < args.target_s else "FAIL"
    print()
    print(
        f"partition time: median {statistics.median(times):.2f} s, slowest {slowest:.2f} s "
        f"(target < {args.target_s:.0f} s: {verdict}); k-means on the same sets: "
        f"{km_seconds:.2f} s"
    )
    print()
    print(f"{'distance to grid centre':<28}{'mean m':>10}{'p95 m':>10}{'grids in bounds':>18}")
    rows = (("partition (plan_city)", ours, in_bounds[0]), ("plain k-means, same k", theirs,
            in_bounds[1]))  # fmt: skip
    for name, values, ok in rows:
        print(
            f"{name:<28}{statistics.fmean(values):>10.0f}{percentile(values, 95):>10.0f}"
            f"{f'{ok}/{grids}':>18}"
        )
    print(
        f"{'ratio partition / k-means':<28}"
        f"{_ratio(statistics.fmean(ours), statistics.fmean(theirs)):>10}"
        f"{_ratio(percentile(ours, 95), percentile(theirs, 95)):>10}"
    )
    return 1 if args.strict and verdict == "FAIL" else 0


if __name__ == "__main__":
    sys.exit(main())
