"""The numbers of trajectory analysis as one named, versioned policy (docs/trajectories.md).

The stay rule and the suspect rule come from issue 14 (seed 000 §1(一)); the clustering
radius, the night hours and the score's constants are platform defaults.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TrajectoryPolicy:
    """Stay points, clusters and suspected sites.

    Stay (sliding rule): the fixes after an anchor fix stay within ``stay_distance_m`` of it
    (exactly the distance counts as inside) for at least ``stay_min_minutes`` (from the
    anchor to the last fix inside); a gap between two consecutive fixes longer than
    ``gap_max_minutes`` ends the stay at the fix before the gap. With ``rejoin_after_gap``,
    a stay ended by a gap and the stay that starts right after the gap within
    ``stay_distance_m`` of its centre are one stay (a terminal that went silent inside a
    place; at most ``rejoin_max_minutes`` of silence). ``spike_fixes`` far fixes followed by
    a fix back inside are jitter, not a departure. A stay's centre is the median of its
    fixes. ``rejoin_after_gap=False, spike_fixes=0`` is the plain rule (trackintel's).

    Clusters: DBSCAN over stay centres with the haversine metric, radius ``cluster_eps_m``
    and ``cluster_min_stays`` stays; clusters with fewer than ``cluster_min_trucks`` distinct
    trucks are dropped. Before DBSCAN, stay centres are snapped to cells of
    ``cluster_snap_m`` (0: no snapping) and each occupied cell is one weighted point, so a
    place visited thousands of times in the window is a few dozen points, not thousands: a
    pair of stays can only be judged differently from plain DBSCAN when their distance lies
    within ``cluster_snap_m`` × √2 of ``cluster_eps_m`` (docs/trajectories.md).

    Suspect: a cluster farther than ``known_buffer_m`` beyond every known place's radius,
    active on at least ``suspect_min_days`` local days with at least ``suspect_min_trucks``
    distinct trucks. The daily run (``daily.detect_day``) clusters the stays of the
    ``suspect_window_days`` days ending at the day it runs for.
    """

    # 2026.3: stay centres snapped to cluster_snap_m cells before DBSCAN (the 7-day window)
    version: str = "2026.3"
    stay_distance_m: float = 100.0
    stay_min_minutes: float = 5.0
    gap_max_minutes: float = 15.0
    rejoin_after_gap: bool = True
    rejoin_max_minutes: float = 180.0
    # Up to this many consecutive fixes outside, followed by one back inside, are GPS jitter.
    spike_fixes: int = 1
    cluster_eps_m: float = 100.0
    cluster_min_stays: int = 2
    cluster_min_trucks: int = 2
    # Cells (metres) stay centres are snapped to before DBSCAN; 0 clusters the stays as they
    # are. Must stay well below cluster_eps_m (checked: at most a tenth of it).
    cluster_snap_m: float = 2.0
    known_buffer_m: float = 250.0
    suspect_min_days: int = 2
    suspect_min_trucks: int = 3
    # The daily run clusters the stays of this many days ending at the day it runs for (the
    # suspect rule needs ≥ suspect_min_days days, so one day alone never makes a suspect).
    suspect_window_days: int = 7
    # Local time (China has one zone and no daylight saving): days and night hours.
    utc_offset_hours: int = 8
    night_start_hour: int = 22  # a visit starting at or after 22:00 …
    night_end_hour: int = 6  # … or before 06:00 local is a night visit
    # Score (docs/trajectories.md): saturation constants and the loading dwell it expects.
    score_trucks_scale: float = 5.0
    score_days_scale: float = 3.0
    score_visit_minutes: float = 20.0
    score_night_weight: float = 0.3
    # Fix storage: files per day are split into this many terminal-hash buckets.
    storage_buckets: int = 64
    basis: str = (
        "issue 14 / seed 000 §1: D 100 m, T 5 min, G 15 min, buffer 250 m, ≥ 2 days, "
        "≥ 3 trucks; clustering radius, 7-day window, night hours and score: platform default"
    )

    @property
    def stay_min_seconds(self) -> int:
        return round(self.stay_min_minutes * 60)

    @property
    def gap_max_seconds(self) -> int:
        return round(self.gap_max_minutes * 60)

    @property
    def utc_offset_seconds(self) -> int:
        return self.utc_offset_hours * 3600


DEFAULT_TRAJECTORY_POLICY = TrajectoryPolicy()
