"""City-wide clusters of stays, their evidence, and suspected unpermitted sites.

Clusters: scikit-learn's DBSCAN over stay centres with the haversine metric and a ball tree
(radius ``cluster_eps_m``, ``cluster_min_stays`` stays); a cluster needs
``cluster_min_trucks`` distinct trucks. Centres are first snapped to ``cluster_snap_m``
cells, each occupied cell one weighted point (a week of a busy city is millions of stays at
a few tens of thousands of places: DBSCAN's neighbourhoods would need gigabytes).
Evidence is computed with numpy group-bys over the stays themselves.

A cluster is a *suspect* when its centre is farther than ``known_buffer_m`` beyond every
known place (beyond its radius, or beyond the edge of its drawn boundary) and it was active
on ``suspect_min_days`` local days with ``suspect_min_trucks`` trucks. Its score (0–100,
docs/trajectories.md)::

    100 × (1 − e^(−trucks / 5)) × (1 − e^(−days / 3))
        × min(1, mean minutes per visit / 20) ^ 0.5 × (0.7 + 0.3 × night share)

More trucks and more days make a place more certain, with diminishing returns; visits
shorter than a loading (about 20 minutes) weaken it (a lay-by, a traffic queue); night work
strengthens it a little (muck is hauled at night).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
from sklearn.cluster import DBSCAN
from sklearn.neighbors import BallTree

from dustgrid.geo.coords import EARTH_RADIUS_M
from dustgrid.trajectories.policy import DEFAULT_TRAJECTORY_POLICY, TrajectoryPolicy
from dustgrid.trajectories.stays import F64, I64, SECONDS_PER_DAY, Stays

NOISE = -1
_SCORE_DIGITS = 1
_KNOWN_NEAREST = 8  # nearest known places looked at first for each cluster
_EDGE_ROWS = 1 << 21  # (point, boundary edge) rows computed at once: bounds the memory
_MAX_SNAP_SHARE = 0.1  # cluster_snap_m at most this share of cluster_eps_m
_MIN_COS = 1e-6  # cells near a pole: the cosine of latitude kept above this


@dataclass(frozen=True, slots=True)
class KnownPlace:
    """A place where trucks legitimately stop: a permitted site, a landfill, a depot…

    A circle of ``radius_m`` around (lat, lon), or, with a ``boundary`` (a GeoJSON Polygon
    or MultiPolygon, WGS-84), that shape: the clearance of a point is then its distance to
    the shape's edge (negative inside), and the buffer lies beyond the edge, however far
    the corners are from the centre.
    """

    name: str
    kind: str
    lat: float
    lon: float
    radius_m: float
    boundary: Mapping[str, Any] | None = field(default=None, hash=False)


@dataclass(frozen=True, slots=True)
class Cluster:
    """A place where stays gather, with its evidence (times are UTC epoch seconds)."""

    lat: float
    lon: float
    trucks: int
    visits: int
    days: int
    dwell_seconds: int
    night_share: float
    first_seen: int
    last_seen: int
    terminals: tuple[str, ...]
    companies: tuple[str, ...]
    nearest_known: str | None  # name of the nearest known place
    known_clearance_m: float | None  # distance beyond that place's radius (negative: inside)


@dataclass(frozen=True, slots=True)
class Suspect:
    cluster: Cluster
    score: float

    def as_json(self, policy: TrajectoryPolicy = DEFAULT_TRAJECTORY_POLICY) -> dict[str, object]:
        """The command's output object (issue 14): local times with their offset."""
        c = self.cluster
        return {
            "lat": round(c.lat, 6),
            "lon": round(c.lon, 6),
            "trucks": c.trucks,
            "visits": c.visits,
            "days": c.days,
            "dwell_minutes": round(c.dwell_seconds / 60.0, 1),
            "night_share": round(c.night_share, 3),
            "first_seen": local_iso(c.first_seen, policy),
            "last_seen": local_iso(c.last_seen, policy),
            "score": self.score,
        }


def local_iso(epoch_s: int, policy: TrajectoryPolicy = DEFAULT_TRAJECTORY_POLICY) -> str:
    """ISO 8601 local time with its offset, e.g. ``2026-05-04T21:30:00+08:00``."""
    tz = timezone(timedelta(hours=policy.utc_offset_hours))
    return datetime.fromtimestamp(int(epoch_s), UTC).astimezone(tz).isoformat()


def snap_cells(lat: F64, lon: F64, cell_m: float) -> tuple[F64, F64, I64, I64]:
    """Snap points to cells of about ``cell_m`` × ``cell_m`` metres: (cell centre latitudes,
    longitudes, points per cell, each point's cell). Rows of latitude are ``cell_m`` high;
    a row's cells are ``cell_m`` wide at its middle latitude, so every point lies within
    half a cell's diagonal (``cell_m`` / √2) of its cell's centre."""
    step = math.degrees(cell_m / EARTH_RADIUS_M)  # latitude degrees per cell
    row = np.floor(lat / step).astype(np.int64)
    row_lat = (row + 0.5) * step
    lon_step = step / np.maximum(np.cos(np.radians(row_lat)), _MIN_COS)
    col = np.floor(lon / lon_step).astype(np.int64)
    span = int(col.max()) - int(col.min()) + 1  # one int64 key per cell
    key = (row - row.min()) * span + (col - col.min())
    order = np.argsort(key)
    k = key[order]
    head = np.r_[True, k[1:] != k[:-1]]
    cell = np.empty(len(lat), np.int64)
    cell[order] = np.cumsum(head) - 1
    first = order[head]
    counts = np.bincount(cell).astype(np.int64)
    centre_lon = (col[first] + 0.5) * lon_step[first]
    centre_lat = np.asarray(row_lat[first], dtype=np.float64)
    return centre_lat, np.asarray(centre_lon, dtype=np.float64), counts, cell


def cluster_labels(stays: Stays, policy: TrajectoryPolicy = DEFAULT_TRAJECTORY_POLICY) -> I64:
    """DBSCAN label of each stay (``NOISE`` for none), haversine metric, ball tree.

    With ``cluster_snap_m`` > 0 the stays' centres are snapped to cells (``snap_cells``) and
    DBSCAN runs over the occupied cells, each weighted by its stays (``sample_weight``): the
    stays of one cell share its label. That is DBSCAN over the snapped centres, exactly;
    each centre moved by at most ``cluster_snap_m`` / √2, so only a pair of stays whose
    distance lies within ``cluster_snap_m`` × √2 of ``cluster_eps_m`` can be judged
    differently from DBSCAN over the raw centres. Clusters are numbered in the order of
    their first stay (as plain DBSCAN numbers them when every member is a core stay).
    """
    if len(stays) == 0:
        return np.empty(0, np.int64)
    snap = policy.cluster_snap_m
    if not 0.0 <= snap <= policy.cluster_eps_m * _MAX_SNAP_SHARE:
        raise ValueError(
            f"cluster_snap_m must lie in [0, {_MAX_SNAP_SHARE:g} × cluster_eps_m], not {snap}"
        )
    model = DBSCAN(
        eps=policy.cluster_eps_m / EARTH_RADIUS_M,
        min_samples=policy.cluster_min_stays,
        metric="haversine",
        algorithm="ball_tree",
    )
    if snap == 0.0:
        points = np.radians(np.column_stack([stays.lat, stays.lon]))
        return np.asarray(model.fit_predict(points), dtype=np.int64)
    lat, lon, counts, cell = snap_cells(stays.lat, stays.lon, snap)
    points = np.radians(np.column_stack([lat, lon]))
    by_cell = np.asarray(model.fit_predict(points, sample_weight=counts), dtype=np.int64)
    labels = by_cell[cell]
    kept = labels != NOISE
    if not kept.any():
        return labels
    first = np.full(int(labels.max()) + 1, len(labels), np.int64)
    np.minimum.at(first, labels[kept], np.flatnonzero(kept))
    rank = np.empty_like(first)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    labels[kept] = rank[labels[kept]]
    return labels


def _distinct_per_label(labels: I64, values: I64, n: int) -> I64:
    """Number of distinct ``values`` per label 0..n-1."""
    if len(labels) == 0:
        return np.zeros(n, np.int64)
    span = int(values.max()) - int(values.min()) + 1  # one int64 key per (label, value)
    keys = np.sort(labels * span + (values - values.min()))
    distinct = keys[np.r_[True, keys[1:] != keys[:-1]]]
    return np.bincount(distinct // span, minlength=n).astype(np.int64)


def _night(stays: Stays, policy: TrajectoryPolicy) -> I64:
    hour = ((stays.start + policy.utc_offset_seconds) % SECONDS_PER_DAY) // 3600
    night = (hour >= policy.night_start_hour) | (hour < policy.night_end_hour)
    return night.astype(np.int64)


def build_clusters(
    stays: Stays,
    policy: TrajectoryPolicy = DEFAULT_TRAJECTORY_POLICY,
    known: Sequence[KnownPlace] = (),
    companies: Mapping[str, str] | None = None,
) -> list[Cluster]:
    """Clusters of ``stays`` with at least ``cluster_min_trucks`` trucks, with evidence."""
    labels = cluster_labels(stays, policy)
    kept = labels != NOISE
    if not kept.any():
        return []
    lab, n = labels[kept], int(labels.max()) + 1
    term, day = stays.terminal[kept], stays.day[kept]
    start, end = stays.start[kept], stays.end[kept]
    trucks = _distinct_per_label(lab, term, n)
    days = _distinct_per_label(lab, day, n)
    visits = np.bincount(lab, minlength=n)
    dwell = np.bincount(lab, weights=(end - start).astype(np.float64), minlength=n)
    night = np.bincount(lab, weights=_night(stays, policy)[kept].astype(np.float64), minlength=n)
    order = np.argsort(lab, kind="stable")
    bounds = np.searchsorted(lab[order], np.arange(n + 1))
    lat, lon = stays.lat[kept][order], stays.lon[kept][order]
    term, start, end = term[order], start[order], end[order]  # once, not once per cluster
    out: list[Cluster] = []
    for c in range(n):  # one step per cluster, not per fix
        if trucks[c] < policy.cluster_min_trucks:
            continue
        sl = slice(bounds[c], bounds[c + 1])
        names = tuple(sorted({stays.terminals[i] for i in np.unique(term[sl])}))
        firms = tuple(sorted({companies[t] for t in names if t in companies})) if companies else ()
        out.append(
            Cluster(
                lat=float(np.median(lat[sl])),
                lon=float(np.median(lon[sl])),
                trucks=int(trucks[c]),
                visits=int(visits[c]),
                days=int(days[c]),
                dwell_seconds=int(dwell[c]),
                night_share=float(night[c] / visits[c]),
                first_seen=int(start[sl].min()),
                last_seen=int(end[sl].max()),
                terminals=names,
                companies=firms,
                nearest_known=None,
                known_clearance_m=None,
            )
        )
    return _with_known(out, known)


@dataclass(frozen=True, slots=True)
class _Edges:
    """The boundary edges of the places that have one, flattened: place ``p``'s edges are
    rows ``start[p]`` to ``start[p] + count[p]`` (count 0: a circle)."""

    start: I64
    count: I64
    alat: F64
    alon: F64
    blat: F64
    blon: F64


def _rings(boundary: Mapping[str, Any] | None) -> list[list[tuple[float, float]]]:
    """The rings (outer and holes) of a Polygon or MultiPolygon as (lat, lon) lists, closed;
    [] for anything else (the place is then its circle)."""
    if not boundary:
        return []
    kind, coords = boundary.get("type"), boundary.get("coordinates") or []
    polygons = [coords] if kind == "Polygon" else coords if kind == "MultiPolygon" else []
    out = []
    try:
        for poly in polygons:
            for ring in poly:
                pts = [(float(p[1]), float(p[0])) for p in ring]
                if len(pts) >= 3:
                    out.append(pts if pts[0] == pts[-1] else [*pts, pts[0]])
    except (TypeError, ValueError, IndexError):
        return []
    return out


def _edges(known: Sequence[KnownPlace]) -> tuple[_Edges | None, F64]:
    """The flattened boundary edges (None when no place has a boundary), and each place's
    reach: its radius, or for a shape the distance from its centre to its farthest corner
    (the shape lies inside that circle, so distance − reach never exceeds the clearance)."""
    reach = np.array([k.radius_m for k in known], dtype=np.float64)
    start = np.zeros(len(known), np.int64)
    count = np.zeros(len(known), np.int64)
    a: list[tuple[float, float]] = []
    b: list[tuple[float, float]] = []
    for i, k in enumerate(known):  # one step per place, a few corners each
        rings = _rings(k.boundary)
        if not rings:
            continue
        start[i] = len(a)
        for ring in rings:
            a.extend(ring[:-1])
            b.extend(ring[1:])
        count[i] = len(a) - start[i]
        corners = np.radians(np.array([p for ring in rings for p in ring]))
        centre = np.radians([[k.lat, k.lon]])
        reach[i] = float(_haversine_rad(centre, corners).max()) * EARTH_RADIUS_M
    if not a:
        return None, reach
    pa, pb = np.array(a), np.array(b)
    return _Edges(start, count, pa[:, 0], pa[:, 1], pb[:, 0], pb[:, 1]), reach


def _haversine_rad(p: F64, q: F64) -> F64:
    """Central angle between (lat, lon) rows in radians (``p`` broadcast against ``q``)."""
    dlat, dlon = q[:, 0] - p[:, 0], q[:, 1] - p[:, 1]
    h = np.sin(dlat / 2) ** 2 + np.cos(p[:, 0]) * np.cos(q[:, 0]) * np.sin(dlon / 2) ** 2
    return np.asarray(2 * np.arcsin(np.sqrt(np.minimum(1.0, h))), dtype=np.float64)


def _shape_clearance(lat: F64, lon: F64, place: I64, edges: _Edges) -> F64:
    """Clearance of each point (lat[i], lon[i]) from the boundary of place ``place[i]``: the
    distance to the nearest edge in metres, negative inside (even-odd rule over every ring,
    so holes are outside). Vectorised over (point, edge) rows, in chunks of ``_EDGE_ROWS``."""
    out = np.empty(len(lat), np.float64)
    counts = edges.count[place]
    ends = np.cumsum(counts)
    first = 0
    while first < len(lat):  # one step per chunk of rows, not per point
        last = int(np.searchsorted(ends, ends[first] - counts[first] + _EDGE_ROWS, "right"))
        last = max(last, first + 1)
        sl = slice(first, last)
        n = counts[sl]
        pair = np.repeat(np.arange(last - first), n)
        offset = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
        e = np.repeat(edges.start[place[sl]], n) + offset
        plat, plon = lat[sl][pair], lon[sl][pair]
        ky = math.radians(1.0) * EARTH_RADIUS_M
        kx = ky * np.cos(np.radians(plat))
        ax, ay = (edges.alon[e] - plon) * kx, (edges.alat[e] - plat) * ky
        dx, dy = (edges.blon[e] - edges.alon[e]) * kx, (edges.blat[e] - edges.alat[e]) * ky
        length2 = dx * dx + dy * dy
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(length2 > 0, -(ax * dx + ay * dy) / length2, 0.0)
            t = np.clip(t, 0.0, 1.0)
            dist = np.hypot(ax + t * dx, ay + t * dy)
            alat, blat = edges.alat[e], edges.blat[e]
            alon, blon = edges.alon[e], edges.blon[e]
            crosses = ((alat > plat) != (blat > plat)) & (
                plon < (blon - alon) * (plat - alat) / (blat - alat) + alon
            )
        starts = np.cumsum(n) - n
        nearest = np.minimum.reduceat(dist, starts)
        inside = np.add.reduceat(crosses.astype(np.int64), starts) % 2 == 1
        out[sl] = np.where(inside, -nearest, nearest)
        first = last
    return out


def _clearance(
    lat: F64, lon: F64, place: I64, dist_m: F64, reach: F64, edges: _Edges | None
) -> F64:
    """Clearance of each (point, place) pair: distance minus radius for a circle, the signed
    distance to the edge for a shape."""
    out = dist_m - reach[place]
    if edges is not None:
        shaped = edges.count[place] > 0
        if shaped.any():
            out[shaped] = _shape_clearance(lat[shaped], lon[shaped], place[shaped], edges)
    return out


def _with_known(clusters: list[Cluster], known: Sequence[KnownPlace]) -> list[Cluster]:
    """Each cluster with its nearest known place by clearance (beyond its radius, or beyond
    the edge of its boundary).

    A ball tree over the places' centres (haversine) gives each cluster its
    ``_KNOWN_NEAREST`` nearest places and the best clearance c among them. Distance minus
    reach (the radius, or the farthest corner of a shape) never exceeds a place's clearance,
    so any place that beats c lies within c + the largest reach: one radius query per
    cluster makes it exact, and only the places whose bound beats c are measured to their
    edges. Memory grows with clusters + places, never with their product.
    """
    if not clusters or not known:
        return clusters
    edges, reach = _edges(known)
    lat = np.array([c.lat for c in clusters])
    lon = np.array([c.lon for c in clusters])
    query = np.radians(np.column_stack([lat, lon]))
    tree = BallTree(np.radians(np.array([[k.lat, k.lon] for k in known])), metric="haversine")
    k = min(len(known), _KNOWN_NEAREST)
    dist, idx = tree.query(query, k=k)
    rows = np.repeat(np.arange(len(clusters)), k)
    clearance = _clearance(
        lat[rows], lon[rows], idx.ravel(), dist.ravel() * EARTH_RADIUS_M, reach, edges
    ).reshape(len(clusters), k)
    pick = clearance.argmin(axis=1)
    every = np.arange(len(clusters))
    best, which = clearance[every, pick], idx[every, pick]
    if k < len(known):
        radius = np.maximum(best + reach.max(), 0.0) / EARTH_RADIUS_M
        found, found_dist = tree.query_radius(query, r=radius, return_distance=True)
        ci = np.repeat(every, [len(f) for f in found])
        pi = np.concatenate(list(found)).astype(np.int64)
        bound = np.concatenate(list(found_dist)) * EARTH_RADIUS_M - reach[pi]
        keep = bound < best[ci]  # only these can beat the best of the nearest
        ci, pi = ci[keep], pi[keep]
        c = _clearance(lat[ci], lon[ci], pi, bound[keep] + reach[pi], reach, edges)
        better = c < best[ci]
        ci, pi, c = ci[better], pi[better], c[better]
        order = np.lexsort((c, ci))
        ci, pi, c = ci[order], pi[order], c[order]
        head = np.r_[True, ci[1:] != ci[:-1]] if len(ci) else np.zeros(0, bool)
        best[ci[head]], which[ci[head]] = c[head], pi[head]
    return [
        _replace_known(c, known[int(w)].name, float(b))
        for c, w, b in zip(clusters, which, best, strict=True)
    ]


def _replace_known(c: Cluster, name: str, clearance: float) -> Cluster:
    from dataclasses import replace

    return replace(c, nearest_known=name, known_clearance_m=clearance)


def score(cluster: Cluster, policy: TrajectoryPolicy = DEFAULT_TRAJECTORY_POLICY) -> float:
    """The suspect score, 0–100 (module docstring)."""
    per_visit_min = cluster.dwell_seconds / 60.0 / max(1, cluster.visits)
    value = (
        100.0
        * (1.0 - math.exp(-cluster.trucks / policy.score_trucks_scale))
        * (1.0 - math.exp(-cluster.days / policy.score_days_scale))
        * math.sqrt(min(1.0, per_visit_min / policy.score_visit_minutes))
        * (1.0 - policy.score_night_weight + policy.score_night_weight * cluster.night_share)
    )
    return round(value, _SCORE_DIGITS)


def is_suspect(cluster: Cluster, policy: TrajectoryPolicy = DEFAULT_TRAJECTORY_POLICY) -> bool:
    outside = cluster.known_clearance_m is None or cluster.known_clearance_m > policy.known_buffer_m
    return (
        outside
        and cluster.days >= policy.suspect_min_days
        and cluster.trucks >= policy.suspect_min_trucks
    )


def find_suspects(
    stays: Stays,
    known: Sequence[KnownPlace],
    policy: TrajectoryPolicy = DEFAULT_TRAJECTORY_POLICY,
    companies: Mapping[str, str] | None = None,
) -> list[Suspect]:
    """Suspected sites, best score first (then more trucks, then north to south)."""
    found = [
        Suspect(c, score(c, policy))
        for c in build_clusters(stays, policy, known, companies)
        if is_suspect(c, policy)
    ]
    found.sort(key=lambda s: (-s.score, -s.cluster.trucks, -s.cluster.lat, s.cluster.lon))
    return found
