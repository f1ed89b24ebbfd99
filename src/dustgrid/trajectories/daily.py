"""One day's detection over stored fixes: stays of the day, clusters and suspects of a window.

``detect_day(store, day, known)`` is the daily job's pure core (no database, no web):

1. stays of every day of the window ``[day − suspect_window_days + 1, day]`` (the suspect
   rule needs at least two days, so one day alone can never make a suspect);
2. the stays of each day are computed bucket by bucket (memory bounded by one (day,
   terminal-hash bucket) partition) and cached as Parquet beside the fixes::

       <store root>/../stays/day=2026-05-04/stays.parquet

   with a manifest of the day's fix files (bucket, file name, size, modification time) and
   a fingerprint of the stay rule in the file's metadata. A later run reuses a day whose
   files are unchanged; when a batch arrives for an old day only its changed buckets are
   computed again. A daily run therefore computes the new day alone;
3. clusters (haversine DBSCAN) over the window's stays, their evidence, and the suspects,
   best score first.

*Engines* compute the stays of a list of (day, bucket) partitions: :class:`LocalEngine` in
this process, one partition after another; :class:`dustgrid.trajectories.dask_engine.DaskEngine`
on a Dask cluster, one task per partition. Both give the same stays, so the same suspects.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dustgrid.trajectories.clusters import Cluster, KnownPlace, Suspect, build_clusters, is_suspect
from dustgrid.trajectories.clusters import score as suspect_score
from dustgrid.trajectories.policy import DEFAULT_TRAJECTORY_POLICY, TrajectoryPolicy
from dustgrid.trajectories.stays import Stays, detect_stays
from dustgrid.trajectories.store import FixStore, concat_stays, empty_stays

STAYS_FILE = "stays.parquet"
_MANIFEST_KEY = b"dustgrid.fix_manifest"
_RULE_KEY = b"dustgrid.stay_rule"

Partition = tuple[date, int]  # (local day, terminal-hash bucket)
# bucket → [(file name, size, mtime in ns)] of the bucket's fix files
Manifest = dict[int, list[tuple[str, int, int]]]


class Engine(Protocol):
    """Computes the stays of (day, bucket) partitions of a store."""

    def partition_stays(
        self, store: FixStore, partitions: Sequence[Partition], policy: TrajectoryPolicy
    ) -> list[Stays]:
        """The stays of each partition, in the order given."""
        ...


def stays_of_partition(store: FixStore, day: date, bucket: int, policy: TrajectoryPolicy) -> Stays:
    """Stay points of one (day, bucket) partition: every fix of a terminal's day is there."""
    return detect_stays(store.read(day, bucket), policy)


class LocalEngine:
    """Partitions in this process, one after another, or ``threads`` at a time (reading
    Parquet and the stay kernel release the GIL); memory is bounded by ``threads``
    partitions."""

    def __init__(self, threads: int = 1) -> None:
        self.threads = max(1, threads)

    def partition_stays(
        self, store: FixStore, partitions: Sequence[Partition], policy: TrajectoryPolicy
    ) -> list[Stays]:
        if self.threads == 1 or len(partitions) < 2:
            return [stays_of_partition(store, d, b, policy) for d, b in partitions]
        with ThreadPoolExecutor(self.threads) as pool:
            return list(pool.map(lambda p: stays_of_partition(store, p[0], p[1], policy),
                                 partitions))  # fmt: skip


LOCAL_ENGINE = LocalEngine()


@dataclass(frozen=True)
class DayDetection:
    """The result of one day's run.

    ``stays`` are the stays of ``day`` only (its truck-days); ``clusters`` and ``suspects``
    (best score first) are over the window of ``policy.suspect_window_days`` ending at
    ``day``; ``computed_days`` are the days whose stays had to be computed (at least one
    changed bucket), the others came from the cache.
    """

    day: date
    stays: Stays
    clusters: list[Cluster]
    suspects: list[Suspect]
    window: tuple[date, date] | None = None  # (first, last) day of the window
    window_stays: int = 0  # stays over the whole window
    computed_days: tuple[date, ...] = ()


def window_days(day: date, policy: TrajectoryPolicy = DEFAULT_TRAJECTORY_POLICY) -> list[date]:
    """The days of the window ending at ``day``, oldest first."""
    n = max(1, policy.suspect_window_days)
    return [day - timedelta(days=k) for k in range(n - 1, -1, -1)]


def stays_root(store: FixStore) -> Path:
    """Where stays are cached: ``stays`` beside the fixes' folder."""
    return store.root.parent / "stays"


def stays_path(store: FixStore, day: date) -> Path:
    return stays_root(store) / f"day={day.isoformat()}" / STAYS_FILE


def rule_fingerprint(policy: TrajectoryPolicy) -> str:
    """What the cached stays depend on: the stay rule's settings (not the suspect rule's)."""
    fields = {
        "stay_distance_m": policy.stay_distance_m,
        "stay_min_minutes": policy.stay_min_minutes,
        "gap_max_minutes": policy.gap_max_minutes,
        "rejoin_after_gap": policy.rejoin_after_gap,
        "rejoin_max_minutes": policy.rejoin_max_minutes,
        "spike_fixes": policy.spike_fixes,
        "utc_offset_hours": policy.utc_offset_hours,
        "storage_buckets": policy.storage_buckets,
    }
    return json.dumps(fields, sort_keys=True)


def day_manifest(store: FixStore, day: date) -> Manifest:
    """The fix files of ``day`` by bucket: name, size and modification time (ns)."""
    out: Manifest = {}
    for bucket in store.buckets(day):
        files = []
        for part in sorted(store.partition_folder(day, bucket).glob("part-*.parquet")):
            st = part.stat()
            files.append((part.name, int(st.st_size), int(st.st_mtime_ns)))
        if files:
            out[bucket] = files
    return out


# --- the cache file -------------------------------------------------------------------------


def _stays_table(parts: Mapping[int, Stays]) -> pa.Table:
    buckets, terminals, days, starts, ends, lats, lons, counts = [], [], [], [], [], [], [], []
    for bucket, s in sorted(parts.items()):
        names = np.asarray(s.terminals, dtype=object)
        buckets.append(np.full(len(s), bucket, np.int64))
        terminals.append(names[s.terminal] if len(s) else np.empty(0, object))
        days.append(s.day)
        starts.append(s.start)
        ends.append(s.end)
        lats.append(s.lat)
        lons.append(s.lon)
        counts.append(s.n_fixes)

    def cat(cols: list[np.ndarray], dtype: type) -> np.ndarray:
        return np.concatenate(cols).astype(dtype) if cols else np.empty(0, dtype)

    return pa.table({
        "bucket": pa.array(cat(buckets, np.int64), pa.int64()),
        "terminal_id": pa.array(cat(terminals, object).tolist(), pa.string()),
        "day": pa.array(cat(days, np.int64), pa.int64()),
        "start": pa.array(cat(starts, np.int64), pa.int64()),
        "end": pa.array(cat(ends, np.int64), pa.int64()),
        "lat": pa.array(cat(lats, np.float64), pa.float64()),
        "lon": pa.array(cat(lons, np.float64), pa.float64()),
        "n_fixes": pa.array(cat(counts, np.int64), pa.int64()),
    })  # fmt: skip


def _stays_of_table(table: pa.Table) -> Stays:
    if table.num_rows == 0:
        return empty_stays()
    ids = table.column("terminal_id").combine_chunks().dictionary_encode()
    names = ids.dictionary.to_pylist()
    order = np.argsort(np.asarray(names, dtype=object))
    remap = np.empty(len(names), np.int64)
    remap[order] = np.arange(len(names))
    return Stays(
        terminals=tuple(str(names[i]) for i in order),
        terminal=remap[ids.indices.to_numpy(zero_copy_only=False).astype(np.int64)],
        day=table.column("day").to_numpy().astype(np.int64),
        start=table.column("start").to_numpy().astype(np.int64),
        end=table.column("end").to_numpy().astype(np.int64),
        lat=table.column("lat").to_numpy().astype(np.float64),
        lon=table.column("lon").to_numpy().astype(np.float64),
        n_fixes=table.column("n_fixes").to_numpy().astype(np.int64),
    )


def _read_cache(path: Path, rule: str) -> tuple[Manifest, pa.Table] | None:
    """(manifest, stays table) of a cached day, or None if absent, unreadable or stale."""
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid):
        return None
    meta = table.schema.metadata or {}
    if meta.get(_RULE_KEY, b"").decode() != rule or _MANIFEST_KEY not in meta:
        return None
    raw = json.loads(meta[_MANIFEST_KEY].decode())
    manifest = {int(b): [tuple(f) for f in files] for b, files in raw.items()}
    return manifest, table


def _write_cache(path: Path, table: pa.Table, manifest: Manifest, rule: str) -> None:
    meta = {
        _MANIFEST_KEY: json.dumps({str(b): [list(f) for f in v] for b, v in manifest.items()}),
        _RULE_KEY: rule,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    pq.write_table(table.replace_schema_metadata(meta), temporary)
    os.replace(temporary, path)


def cached_day_stays(
    store: FixStore,
    days: Sequence[date],
    policy: TrajectoryPolicy = DEFAULT_TRAJECTORY_POLICY,
    engine: Engine | None = None,
) -> tuple[dict[date, Stays], tuple[date, ...]]:
    """The stays of each day (from the cache where its fix files are unchanged), and the days
    that had buckets to compute. All changed partitions of all days go to the engine at once.
    """
    engine = engine or LOCAL_ENGINE
    rule = rule_fingerprint(policy)
    plans: dict[date, tuple[Manifest, dict[int, pa.Table], list[int]]] = {}
    ready: dict[date, pa.Table] = {}
    todo: list[Partition] = []
    for day in days:
        manifest = day_manifest(store, day)
        cached = _read_cache(stays_path(store, day), rule)
        if cached is not None and cached[0] == manifest:
            ready[day] = cached[1]  # the day's fix files are unchanged
            continue
        kept: dict[int, pa.Table] = {}
        if cached is not None:
            old_manifest, table = cached
            column = table.column("bucket").to_numpy()
            for b in manifest:
                if old_manifest.get(b) == manifest[b]:
                    kept[b] = table.filter(pa.array(column == b))
        changed = [b for b in manifest if b not in kept]
        plans[day] = (manifest, kept, changed)
        todo.extend((day, b) for b in changed)
    results = dict(zip(todo, engine.partition_stays(store, todo, policy), strict=True))
    computed: list[date] = []
    for day, (manifest, kept, changed) in plans.items():
        fresh = _stays_table({b: results[(day, b)] for b in changed})
        table = pa.concat_tables([fresh, *kept.values()])
        table = table.sort_by([("bucket", "ascending"), ("terminal_id", "ascending"),
                               ("start", "ascending")])  # fmt: skip
        if manifest or stays_path(store, day).exists():
            _write_cache(stays_path(store, day), table, manifest, rule)
        if changed:
            computed.append(day)
        ready[day] = table
    return {day: _stays_of_table(ready[day]) for day in days}, tuple(computed)


def suspects_of(
    clusters: Sequence[Cluster], policy: TrajectoryPolicy = DEFAULT_TRAJECTORY_POLICY
) -> list[Suspect]:
    """The clusters that are suspects, best score first (as ``find_suspects`` orders them)."""
    found = [Suspect(c, suspect_score(c, policy)) for c in clusters if is_suspect(c, policy)]
    found.sort(key=lambda s: (-s.score, -s.cluster.trucks, -s.cluster.lat, s.cluster.lon))
    return found


def detect_day(
    store: FixStore,
    day: date,
    known: Sequence[KnownPlace],
    policy: TrajectoryPolicy = DEFAULT_TRAJECTORY_POLICY,
    *,
    engine: Engine | None = None,
    companies: Mapping[str, str] | None = None,
) -> DayDetection:
    """Stays of ``day``; clusters and suspects over the window ending at ``day``."""
    days = window_days(day, policy)
    by_day, computed = cached_day_stays(store, days, policy, engine)
    window = concat_stays([by_day[d] for d in days])
    clusters = build_clusters(window, policy, known, companies)
    return DayDetection(
        day=day,
        window=(days[0], days[-1]),
        stays=by_day[day],
        window_stays=len(window),
        clusters=clusters,
        suspects=suspects_of(clusters, policy),
        computed_days=computed,
    )


__all__ = [
    "LOCAL_ENGINE",
    "DayDetection",
    "Engine",
    "LocalEngine",
    "cached_day_stays",
    "day_manifest",
    "detect_day",
    "stays_of_partition",
    "stays_path",
    "window_days",
]
