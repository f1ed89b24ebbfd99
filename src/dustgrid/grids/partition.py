"""Split one district's sites into grids of bounded size by proximity (临近原则).

Why this shape of algorithm: grids must hold between ``min`` and ``max`` sites (policy), be
compact so a team can patrol them, and come out the same every time the ledger is re-run.
Plain k-means ignores sizes, so we

1. pick the grid count k so that balanced sizes fit the bounds (or the nearest k if none
   does, reported as ``infeasible``; a district with fewer than ``min`` sites gets one
   ``undersized`` grid);
2. order sites along a Hilbert curve in a local metric projection and cut the order into k
   contiguous, balanced chunks (compact start, sizes already legal);
3. improve with capacity-constrained k-means rounds: every site looks at its grid's nearest
   neighbouring centroids; it moves if the target grid has room and its own grid stays
   above ``min``, otherwise it swaps with the site of the target grid that loses least.
   Each accepted move lowers the sum of squared distances to the (fixed) centroids, and
   recomputing centroids lowers it again, so the rounds converge; sizes never leave the
   bounds. No randomness: ties are broken by input position.

Pure Python; 10,000 sites split into ~330 grids in well under two seconds.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

from dustgrid.geo.coords import LocalProjection, haversine_m
from dustgrid.grids.policy import DEFAULT_GRID_POLICY, ENFORCEMENT, INSPECTOR, GridPolicy
from dustgrid.i18n import Msg

K = TypeVar("K", bound=Hashable)
D = TypeVar("D", bound=Hashable)  # a district key
L = TypeVar("L", bound=Hashable)  # a lane key: who supervises the site (see partition_lanes)

_NEIGHBOURS = 8  # candidate grids examined per site: the nearest centroids of its own grid
_HILBERT_ORDER = 12  # 4096 x 4096 cells: ~10 m over a 40 km district, plenty for seeding
_MIN_GAIN_M2 = 1e-6  # ignore float noise when comparing squared distances
_CONVERGED = 1e-4  # relative improvement of a round below which we stop


class PartitionStatus(StrEnum):
    ok = "ok"  # every grid within [min, max]
    empty = "empty"  # no sites
    undersized = "undersized"  # fewer sites than min: one grid holding them all
    infeasible = "infeasible"  # no grid count fits the bounds; the closest count is used


@dataclass(frozen=True, slots=True)
class GroupStats:
    """Size and compactness of one grid; radii are great-circle metres from the centroid."""

    size: int
    centroid_lat: float
    centroid_lon: float
    max_radius_m: float
    mean_radius_m: float


@dataclass(frozen=True)
class Partition(Generic[K]):
    """Grids (lists of site ids, numbered roughly along a space-filling curve) + diagnostics."""

    groups: list[list[K]]
    stats: list[GroupStats]
    min_size: int
    max_size: int
    status: PartitionStatus
    message: Msg
    rounds: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def sizes(self) -> list[int]:
        return [len(g) for g in self.groups]

    @property
    def max_radius_m(self) -> float:
        return max((s.max_radius_m for s in self.stats), default=0.0)

    @property
    def within_bounds(self) -> bool:
        return all(self.min_size <= len(g) <= self.max_size for g in self.groups)


def choose_group_count(n: int, min_size: int, max_size: int) -> tuple[int, PartitionStatus]:
    """Number of grids for n sites: the smallest k with k·min ≤ n ≤ k·max when one exists.

    Otherwise compare the two nearest counts (sizes just below min vs just above max) by
    relative violation and keep the smaller; on a tie prefer more, smaller grids so no
    team's patrol load exceeds the maximum.
    """
    if min_size < 1 or max_size < min_size:
        raise ValueError(f"need 1 <= min_size <= max_size, got {min_size}–{max_size}")
    if n == 0:
        return 0, PartitionStatus.empty
    if n < min_size:
        return 1, PartitionStatus.undersized
    k = -(-n // max_size)
    if n // k >= min_size:
        return k, PartitionStatus.ok
    deficit = (min_size - n // k) / min_size  # k >= 2 here, since k == 1 would be feasible
    excess = (-(-n // (k - 1)) - max_size) / max_size
    return (k if deficit <= excess else k - 1), PartitionStatus.infeasible


def _hilbert_index(x: int, y: int, order: int) -> int:
    """Distance along a Hilbert curve of the given order (classic xy2d)."""
    n = 1 << order
    d = 0
    s = n >> 1
    while s:
        rx = 1 if x & s else 0
        ry = 1 if y & s else 0
        d += s * s * ((3 * rx) ^ ry)
        if ry == 0:
            if rx == 1:
                x, y = n - 1 - x, n - 1 - y
            x, y = y, x
        s >>= 1
    return d


class _HilbertScale:
    """Maps projected metres to Hilbert indices over a fixed square (keeps aspect ratio)."""

    def __init__(self, xs: Sequence[float], ys: Sequence[float]) -> None:
        self.x0, self.y0 = min(xs), min(ys)
        span = max(max(xs) - self.x0, max(ys) - self.y0)
        top = (1 << _HILBERT_ORDER) - 1
        self.f = top / span if span > 0 else 0.0
        self.top = top

    def __call__(self, x: float, y: float) -> int:
        hx = min(self.top, max(0, int((x - self.x0) * self.f)))
        hy = min(self.top, max(0, int((y - self.y0) * self.f)))
        return _hilbert_index(hx, hy, _HILBERT_ORDER)


def _ring_cells(ci: int, cj: int, r: int) -> list[tuple[int, int]]:
    if r == 0:
        return [(ci, cj)]
    cells = [(ci + d, cj + s) for d in range(-r, r + 1) for s in (-r, r)]
    cells += [(ci + s, cj + d) for d in range(-r + 1, r) for s in (-r, r)]
    return cells


def _nearest_centroids(cx: list[float], cy: list[float], m: int) -> list[list[tuple[int, float]]]:
    """For each centroid, the m nearest others as (index, squared distance), nearest first."""
    k = len(cx)
    if k <= 64 or k - 1 <= m:
        return [_nearest_brute(cx, cy, g, m) for g in range(k)]
    x0, y0 = min(cx), min(cy)
    side = max(1, int(math.sqrt(k)))
    cell = max(max(cx) - x0, max(cy) - y0) / side or 1.0
    where = [(int((cx[g] - x0) / cell), int((cy[g] - y0) / cell)) for g in range(k)]
    buckets: dict[tuple[int, int], list[int]] = defaultdict(list)
    for g, key in enumerate(where):
        buckets[key].append(g)
    return [_nearest_in_buckets(cx, cy, g, m, where[g], buckets, cell, side) for g in range(k)]


def _nearest_brute(cx: list[float], cy: list[float], g: int, m: int) -> list[tuple[int, float]]:
    """Centroid g's m nearest by comparing with every other: cheapest for few centroids."""
    cand = sorted(
        ((cx[h] - cx[g]) ** 2 + (cy[h] - cy[g]) ** 2, h) for h in range(len(cx)) if h != g
    )
    return [(h, d2) for d2, h in cand[:m]]


def _nearest_in_buckets(
    cx: list[float],
    cy: list[float],
    g: int,
    m: int,
    home: tuple[int, int],
    buckets: dict[tuple[int, int], list[int]],
    cell: float,
    side: int,
) -> list[tuple[int, float]]:
    """Centroid g's m nearest by scanning rings of grid cells outward from its own cell,
    stopping once no unscanned cell can hold anything nearer: many centroids would make the
    all-pairs comparison quadratic."""
    found: list[tuple[float, int]] = []
    r = 0
    while True:
        for key in _ring_cells(home[0], home[1], r):
            found.extend(
                ((cx[h] - cx[g]) ** 2 + (cy[h] - cy[g]) ** 2, h)
                for h in buckets.get(key, ())
                if h != g
            )
        # Anything not yet scanned is at least r cells away from g.
        if len(found) >= m:
            found.sort()
            if found[m - 1][0] <= (r * cell) ** 2:
                break
        if r > side + 1:
            found.sort()
            break
        r += 1
    return [(h, d2) for d2, h in found[:m]]


def _centroids(
    xs: list[float], ys: list[float], assign: list[int], k: int
) -> tuple[list[float], list[float]]:
    sx, sy, cnt = [0.0] * k, [0.0] * k, [0] * k
    for i, g in enumerate(assign):
        sx[g] += xs[i]
        sy[g] += ys[i]
        cnt[g] += 1
    return [sx[g] / cnt[g] for g in range(k)], [sy[g] / cnt[g] for g in range(k)]


def _improve_round(
    xs: list[float], ys: list[float], assign: list[int], sizes: list[int], lo: int, hi: int
) -> tuple[int, float]:
    """One capacity-constrained k-means round.

    Returns (sites moved, sum of squared distances to the centroids at the round's start).
    """
    k = len(sizes)
    cx, cy = _centroids(xs, ys, assign, k)
    neigh = _nearest_centroids(cx, cy, _NEIGHBOURS)
    moves: list[tuple[float, int, int]] = []  # (gain, site, target grid)
    sse = 0.0
    for i, g in enumerate(assign):
        px, py = xs[i], ys[i]
        own = (px - cx[g]) ** 2 + (py - cy[g]) ** 2
        sse += own
        limit = 4.0 * own  # a centroid 2·d away cannot be closer (triangle inequality)
        for h, sep2 in neigh[g]:
            if sep2 >= limit:
                break
            gain = own - ((px - cx[h]) ** 2 + (py - cy[h]) ** 2)
            if gain > _MIN_GAIN_M2:
                moves.append((gain, i, h))
    if not moves:
        return 0, sse
    moves.sort(key=lambda m: (-m[0], m[1], m[2]))
    moved = bytearray(len(assign))
    changed = 0
    blocked: list[tuple[float, int, int]] = []
    for gain, i, h in moves:
        if moved[i]:
            continue
        g = assign[i]
        if sizes[g] > lo and sizes[h] < hi:
            assign[i] = h
            sizes[g] -= 1
            sizes[h] += 1
            moved[i] = 1
            changed += 1
        else:
            blocked.append((gain, i, h))
    if blocked:
        changed += _swap_blocked(xs, ys, assign, cx, cy, blocked, moved)
    return changed, sse


def _swap_blocked(
    xs: list[float],
    ys: list[float],
    assign: list[int],
    cx: list[float],
    cy: list[float],
    blocked: list[tuple[float, int, int]],
    moved: bytearray,
) -> int:
    """Swap sites whose grid is at a size bound with the cheapest partner of the target grid.

    Moving q from h to g costs |q−c_g|² − |q−c_h|² = q·2(c_h−c_g) + |c_g|² − |c_h|², linear
    in q, so partners are ranked once per (g, h) pair and consumed cheapest first.
    """
    members: list[list[int]] = [[] for _ in range(len(cx))]
    for i, g in enumerate(assign):
        if not moved[i]:
            members[g].append(i)
    partners: dict[tuple[int, int], list[tuple[float, int]]] = {}
    changed = 0
    for gain, i, h in blocked:
        if moved[i]:
            continue
        g = assign[i]
        queue = partners.get((g, h))
        if queue is None:
            ax, ay = 2.0 * (cx[h] - cx[g]), 2.0 * (cy[h] - cy[g])
            b = cx[g] ** 2 + cy[g] ** 2 - cx[h] ** 2 - cy[h] ** 2
            queue = [(xs[q] * ax + ys[q] * ay + b, q) for q in members[h]]
            heapq.heapify(queue)
            partners[(g, h)] = queue
        while queue and moved[queue[0][1]]:
            heapq.heappop(queue)
        if queue and gain - queue[0][0] > _MIN_GAIN_M2:
            q = heapq.heappop(queue)[1]
            assign[i], assign[q] = h, g
            moved[i] = moved[q] = 1
            changed += 2
    return changed


def partition_sites(
    sites: Sequence[tuple[K, float, float]],
    min_size: int,
    max_size: int,
    *,
    max_rounds: int = 25,
) -> Partition[K]:
    """Partition ``(id, lat, lon)`` sites of one district into compact grids of bounded size.

    Every id appears in exactly one group. Raises ``ValueError`` on duplicate ids or
    coordinates that are not finite WGS-84 degrees. See the module docstring for the method.
    """
    k, status = choose_group_count(len(sites), min_size, max_size)
    ids = [s[0] for s in sites]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate site ids: every site must appear exactly once")
    points: list[tuple[float, float]] = []
    for sid, lat, lon in sites:
        if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90):
            raise ValueError(f"site {sid!r}: invalid coordinates ({lat}, {lon})")
        if not -180 <= lon <= 180:
            raise ValueError(f"site {sid!r}: invalid coordinates ({lat}, {lon})")
        points.append((float(lat), float(lon)))
    n = len(points)
    if k == 0:
        return Partition([], [], min_size, max_size, status, Msg("grids.partition.empty"))

    proj = LocalProjection.around(points)
    xy = proj.project_many(points)
    xs = [p[0] for p in xy]
    ys = [p[1] for p in xy]
    hilbert = _HilbertScale(xs, ys)
    order = sorted(range(n), key=lambda i: (hilbert(xs[i], ys[i]), i))

    base, extra = divmod(n, k)
    sizes = [base + (1 if g < extra else 0) for g in range(k)]
    assign = [0] * n
    pos = 0
    for g, size in enumerate(sizes):
        for i in order[pos : pos + size]:
            assign[i] = g
        pos += size

    lo, hi = min(min_size, base), max(max_size, base + (1 if extra else 0))
    rounds = 0
    prev_sse = math.inf
    while k > 1 and rounds < max_rounds:
        rounds += 1
        changed, sse = _improve_round(xs, ys, assign, sizes, lo, hi)
        # Stop once a round no longer pays: nothing moved or < 0.01 % better than the last.
        if changed == 0 or prev_sse - sse <= _CONVERGED * sse:
            break
        prev_sse = sse

    return _build(ids, points, xs, ys, assign, k, hilbert, proj, min_size, max_size, status, rounds)


def _build(
    ids: list[K],
    points: list[tuple[float, float]],
    xs: list[float],
    ys: list[float],
    assign: list[int],
    k: int,
    hilbert: _HilbertScale,
    proj: LocalProjection,
    min_size: int,
    max_size: int,
    status: PartitionStatus,
    rounds: int,
) -> Partition[K]:
    """Groups ordered along the Hilbert curve by centroid, members in input order."""
    cx, cy = _centroids(xs, ys, assign, k)
    members: list[list[int]] = [[] for _ in range(k)]
    for i, g in enumerate(assign):
        members[g].append(i)
    ranked = sorted(range(k), key=lambda g: (hilbert(cx[g], cy[g]), members[g][0]))
    groups: list[list[K]] = []
    stats: list[GroupStats] = []
    for g in ranked:
        c_lat, c_lon = proj.to_latlon(cx[g], cy[g])
        radii = [haversine_m(c_lat, c_lon, *points[i]) for i in members[g]]
        groups.append([ids[i] for i in members[g]])
        stats.append(GroupStats(len(radii), c_lat, c_lon, max(radii), sum(radii) / len(radii)))
    n = len(ids)
    if status is PartitionStatus.undersized:
        message = Msg("grids.partition.undersized", {"n": n, "min": min_size})
    elif status is PartitionStatus.infeasible:
        lo, hi = min(len(m) for m in members), max(len(m) for m in members)
        message = Msg(
            "grids.partition.infeasible",
            {"n": n, "min": min_size, "max": max_size, "k": k, "lo": lo, "hi": hi},
        )
    else:
        message = Msg("grids.partition.ok", {"n": n, "k": k})
    return Partition(groups, stats, min_size, max_size, status, message, rounds)


def partition_district(
    sites: Sequence[tuple[K, float, float]],
    kind: str,
    policy: GridPolicy = DEFAULT_GRID_POLICY,
) -> Partition[K]:
    """Partition with the bounds of ``policy`` for ``kind`` (enforcement or inspector)."""
    lo, hi = policy.bounds(kind)
    part = partition_sites(sites, lo, hi)
    part.notes.append(f"policy {policy.version}: {kind} {lo}–{hi}")
    return part


def partition_lanes(
    sites: Sequence[tuple[K, float, float, L | None]],
    kind: str,
    policy: GridPolicy = DEFAULT_GRID_POLICY,
) -> list[tuple[L | None, Partition[K]]]:
    """One district's grids of ``kind``, as ``(lane, partition)`` pairs.

    A site's *lane* is the unit whose officers work its enforcement grid when that is not
    the district's own station: the city safety station for metro and municipal works
    (seed 000 §3(二): 地铁和市政工程由市安全监督机构执法监督人员进入网格), ``None`` for the
    district's other sites. Enforcement grids never mix lanes, so each lane is partitioned
    on its own (lanes in order of first appearance, ``None`` first). Inspector grids are
    drawn by proximity over the whole district whoever supervises the sites (seed 000
    §3(一) 二: 结合建筑工地临近原则，由第三方专职巡查团队具体划定): one partition, lane None.
    """
    if kind == INSPECTOR:
        return [(None, partition_district([(i, a, o) for i, a, o, _ in sites], kind, policy))]
    if kind != ENFORCEMENT:
        policy.bounds(kind)  # raises the policy's error naming the unknown kind
    lanes: dict[L | None, list[tuple[K, float, float]]] = {None: []}
    for sid, lat, lon, lane in sites:
        lanes.setdefault(lane, []).append((sid, lat, lon))
    out: list[tuple[L | None, Partition[K]]] = []
    for lane, members in lanes.items():
        if members or lane is None:
            out.append((lane, partition_district(members, kind, policy)))
    return out


@dataclass(frozen=True)
class DistrictPlan(Generic[K, D, L]):
    """The grids of one kind for one district and lane (see ``plan_city``)."""

    district: D
    kind: str
    lane: L | None
    partition: Partition[K]


def plan_city(
    sites: Sequence[tuple[K, D, float, float, L | None]],
    policy: GridPolicy = DEFAULT_GRID_POLICY,
) -> list[DistrictPlan[K, D, L]]:
    """Every grid of a city: ``(id, district, lat, lon, lane)`` sites, districts in order of
    first appearance, enforcement then inspector grids for each.

    No grid crosses a district boundary, the city safety station's included: its grids are
    drawn per district like the others (docs/grids.md explains why). Every site lands in
    exactly one enforcement and one inspector grid.
    """
    by_district: dict[D, list[tuple[K, float, float, L | None]]] = {}
    for sid, district, lat, lon, lane in sites:
        by_district.setdefault(district, []).append((sid, lat, lon, lane))
    plans: list[DistrictPlan[K, D, L]] = []
    for district, members in by_district.items():
        for kind in (ENFORCEMENT, INSPECTOR):
            plans += [
                DistrictPlan(district, kind, lane, part)
                for lane, part in partition_lanes(members, kind, policy)
            ]
    return plans
