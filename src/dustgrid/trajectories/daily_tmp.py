"""TEMPORARY stand-in for ``daily.detect_day`` (being written on branch wt-cbscale).

Same signature and result; deleted once that branch is merged. Clusters and suspects are
computed over the ``WINDOW_DAYS`` local days ending at ``day``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from dustgrid.trajectories.clusters import (
    Cluster,
    KnownPlace,
    Suspect,
    build_clusters,
    is_suspect,
    score,
)
from dustgrid.trajectories.policy import DEFAULT_TRAJECTORY_POLICY, TrajectoryPolicy
from dustgrid.trajectories.stays import Stays
from dustgrid.trajectories.store import FixStore, _concat_stays

WINDOW_DAYS = 7


@dataclass(frozen=True, slots=True)
class DayDetection:
    day: date
    stays: Stays
    clusters: list[Cluster]
    suspects: list[Suspect]


def detect_day(
    store: FixStore,
    day: date,
    known: Sequence[KnownPlace],
    policy: TrajectoryPolicy = DEFAULT_TRAJECTORY_POLICY,
    *,
    engine: object = None,
    companies: Mapping[str, str] | None = None,
) -> DayDetection:
    days = [day - timedelta(days=k) for k in range(WINDOW_DAYS - 1, -1, -1)]
    per_day = [store.stays_of_day(d) for d in days]
    window = _concat_stays(per_day)
    clusters = build_clusters(window, policy, known, companies)
    found = [Suspect(c, score(c, policy)) for c in clusters if is_suspect(c, policy)]
    found.sort(key=lambda s: (-s.score, -s.cluster.trucks, -s.cluster.lat, s.cluster.lon))
    return DayDetection(day, per_day[-1], clusters, found)
