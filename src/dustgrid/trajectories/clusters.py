"""City-wide clusters of stays, their evidence, and suspected unpermitted sites.

Clusters: scikit-learn's DBSCAN over stay centres with the haversine metric and a ball tree
(radius ``cluster_eps_m``, ``cluster_min_stays`` stays); a cluster needs
``cluster_min_trucks`` distinct trucks. Evidence is computed with numpy group-bys.

A cluster is a *suspect* when its centre is farther than ``known_buffer_m`` beyond the
radius of every known place and it was active on ``suspect_min_days`` local days with
``suspect_min_trucks`` trucks. Its score (0–100, docs/trajectories.md)::

    100 × (1 − e^(−trucks / 5)) × (1 − e^(−days / 3))
        × min(1, mean minutes per visit / 20) ^ 0.5 × (0.7 + 0.3 × night share)

More trucks and more days make a place more certain, with diminishing returns; visits
shorter than a loading (about 20 minutes) weaken it (a lay-by, a traffic queue); night work
strengthens it a little (muck is hauled at night).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
from sklearn.cluster import DBSCAN
from sklearn.neighbors import BallTree

from dustgrid.geo.coords import EARTH_RADIUS_M
from dustgrid.trajectories.policy import DEFAULT_TRAJECTORY_POLICY, TrajectoryPolicy
from dustgrid.trajectories.stays import I64, SECONDS_PER_DAY, Stays

NOISE = -1
_SCORE_DIGITS = 1
_KNOWN_NEAREST = 8  # nearest known places looked at first for each cluster


@dataclass(frozen=True, slots=True)
class KnownPlace:
    """A place where trucks legitimately stop: a permitted site, a landfill, a depot…"""

    name: str
    kind: str
    lat: float
    lon: float
    radius_m: float


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


def cluster_labels(stays: Stays, policy: TrajectoryPolicy = DEFAULT_TRAJECTORY_POLICY) -> I64:
    """DBSCAN label of each stay (``NOISE`` for none), haversine metric, ball tree."""
    if len(stays) == 0:
        return np.empty(0, np.int64)
    points = np.radians(np.column_stack([stays.lat, stays.lon]))
    model = DBSCAN(
        eps=policy.cluster_eps_m / EARTH_RADIUS_M,
        min_samples=policy.cluster_min_stays,
        metric="haversine",
        algorithm="ball_tree",
    )
    return np.asarray(model.fit_predict(points), dtype=np.int64)


def _distinct_per_label(labels: I64, values: I64, n: int) -> I64:
    """Number of distinct ``values`` per label 0..n-1."""
    pairs = np.unique(np.column_stack([labels, values]), axis=0)
    return np.bincount(pairs[:, 0], minlength=n).astype(np.int64)


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


def _with_known(clusters: list[Cluster], known: Sequence[KnownPlace]) -> list[Cluster]:
    """Each cluster with its nearest known place by clearance (distance minus radius).

    A ball tree over the known places (haversine) gives each cluster its ``_KNOWN_NEAREST``
    nearest places and the best clearance c among them; any place with a smaller clearance
    lies within c + the largest radius, so one radius query per cluster makes it exact.
    Memory grows with clusters + places, never with their product.
    """
    if not clusters or not known:
        return clusters
    query = np.radians(np.array([[c.lat, c.lon] for c in clusters]))
    places = np.radians(np.array([[k.lat, k.lon] for k in known]))
    radius = np.array([k.radius_m for k in known])
    tree = BallTree(places, metric="haversine")
    k = min(len(known), _KNOWN_NEAREST)
    dist, idx = tree.query(query, k=k)
    clearance = dist * EARTH_RADIUS_M - radius[idx]
    rows = np.arange(len(clusters))
    pick = clearance.argmin(axis=1)
    best, which = clearance[rows, pick], idx[rows, pick]
    if k < len(known):
        reach = np.maximum(best + radius.max(), 0.0) / EARTH_RADIUS_M
        found, found_dist = tree.query_radius(query, r=reach, return_distance=True)
        for i in range(len(clusters)):  # one step per cluster, a handful of places each
            if len(found[i]):
                c = found_dist[i] * EARTH_RADIUS_M - radius[found[i]]
                m = int(c.argmin())
                if c[m] < best[i]:
                    best[i], which[i] = c[m], found[i][m]
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
