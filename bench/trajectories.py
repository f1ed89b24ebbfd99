"""Stay-point detection speed on the synthetic fleet, side by side with trackintel 1.4.2.

Run: ``.venv/bin/python bench/trajectories.py`` (``--help`` for sizes). Printed:

- the machine;
- ours (``dustgrid.trajectories.stays.detect_stays``, numba kernel, compiled before timing):
  fixes/s with the plain sliding rule (``rejoin_after_gap=False, spike_fixes=0``, the rule
  trackintel implements) and with the default policy, on the whole fleet;
- trackintel 1.4.2 ``generate_staypoints(method="sliding", dist_threshold=100,
  time_threshold=5, gap_threshold=15, include_last=True)`` on the first ``--ti-trucks``
  trucks of one day, ours on the very same fixes, the speed ratio, and the share of
  trackintel's stays that ours matches (same terminal, overlapping in time, centres within
  ``MATCH_M``). trackintel is installed for the bench only: give the interpreter that has it
  with ``--trackintel-python`` (or have it importable here); without it ours is printed alone;
- clustering and suspects on the fleet's stays, and the end-to-end time from a Parquet file
  (read → stays → clusters → suspects) with the process's peak memory.

``--city-day N`` (e.g. ``100_000_000``) instead runs the daily job on a synthetic city-day
of N fixes: trucks every ``--interval`` seconds over a working day, alternating stays at
shared places (loading, unloading, parking) and straight drives between them, with 8 m
jitter. The fixes are generated in chunks of trucks straight into a ``FixStore`` (not
timed). The window is the default policy's (``suspect_window_days``, 7; ``--window-days``
to change it) at full size: the day's stays are computed once (not timed) and the stays
cache of each of the days before is written from them, shifted back by whole days with
fresh jitter of 1.5 m on each centre (the same trucks at the same places on other days;
those days have no fix files, their cache is what the job reads). Then ``detect_day`` is
timed end to end in a process that did not generate the data: read the day's partitions →
stays → write the day's stays cache → read the other days' → clusters over the window →
suspects. Printed: seconds per step and the peak resident memory of the process.
``--cluster-snap-m 0`` times plain DBSCAN over the window's stays (no snapping).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from _common import machine_lines

from dustgrid.demo.fleet import Fleet, FleetSpec, generate_fleet
from dustgrid.geo.coords import haversine_m
from dustgrid.trajectories.clusters import KnownPlace, find_suspects
from dustgrid.trajectories.daily import (
    LocalEngine,
    _stays_table,
    _write_cache,
    cached_day_stays,
    day_manifest,
    detect_day,
    rule_fingerprint,
    stays_path,
)
from dustgrid.trajectories.fixes import read_fixes
from dustgrid.trajectories.policy import DEFAULT_TRAJECTORY_POLICY
from dustgrid.trajectories.stays import Fixes, Stays, detect_stays
from dustgrid.trajectories.store import FixStore

PLAIN = dataclasses.replace(DEFAULT_TRAJECTORY_POLICY, rejoin_after_gap=False, spike_fixes=0)
MATCH_M = 50.0
HELPER = Path(__file__).resolve().parent / "_trackintel_run.py"


def timed(func: Any, rounds: int) -> tuple[float, Any]:
    """(median seconds, last result) over ``rounds`` calls."""
    spent, result = [], None
    for _ in range(rounds):
        began = time.perf_counter()
        result = func()
        spent.append(time.perf_counter() - began)
    return statistics.median(spent), result


def subset(fleet: Fleet, trucks: int) -> Fixes:
    """The first ``trucks`` trucks on the fleet's first day."""
    names = sorted(set(fleet.terminal_ids.tolist()))[:trucks]
    day_end = fleet.t.min() + 86_400
    mask = np.isin(fleet.terminal_ids, names) & (fleet.t < day_end)
    return Fixes.from_columns(fleet.terminal_ids[mask], fleet.t[mask], fleet.lat[mask],
                              fleet.lon[mask])  # fmt: skip


def write_parquet(fixes: Fixes, path: Path, time_name: str = "t") -> None:
    names = np.asarray(fixes.terminals, dtype=object)[fixes.terminal].astype(str)
    table = pa.table({"terminal_id": names, time_name: fixes.t, "lat": fixes.lat,
                      "lon": fixes.lon})  # fmt: skip
    pq.write_table(table, path)


def run_trackintel(python: str | None, fixes: Fixes, work: Path) -> tuple[float, Any] | None:
    """(seconds inside generate_staypoints, its stays as a table) or None if unavailable."""
    if python is None:
        if importlib.util.find_spec("trackintel") is None:
            return None
        python = sys.executable
    write_parquet(fixes, work / "ti_in.parquet")
    done = subprocess.run(
        [python, str(HELPER), str(work / "ti_in.parquet"), str(work / "ti_out.parquet")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        print(f"trackintel failed: {done.stderr.strip().splitlines()[-1:]}")
        return None
    return float(done.stdout.strip().splitlines()[-1]), pq.read_table(work / "ti_out.parquet")


def matched_share(theirs: Any, ours: Stays) -> float:
    """Share of trackintel's stays with one of ours: same terminal, overlapping, close."""
    by_terminal: dict[str, list[int]] = {}
    for k in range(len(ours)):
        by_terminal.setdefault(ours.terminals[int(ours.terminal[k])], []).append(k)
    rows = theirs.to_pylist()
    hits = 0
    for row in rows:
        for k in by_terminal.get(row["terminal_id"], []):
            overlap = ours.start[k] <= row["end"] and row["start"] <= ours.end[k]
            near = haversine_m(row["lat"], row["lon"], ours.lat[k], ours.lon[k]) <= MATCH_M
            if overlap and near:
                hits += 1
                break
    return hits / len(rows) if rows else 1.0


def end_to_end(fleet: Fleet, copies: int, work: Path) -> None:
    """read Parquet → stays → clusters → suspects on the fleet tiled ``copies`` times."""
    fx = fleet.fixes()
    names = np.asarray(fx.terminals, dtype=object)[fx.terminal].astype(str)
    tiled = pa.table({
        "terminal_id": np.concatenate([np.char.add(names, f"-{c}") for c in range(copies)]),
        "time": np.tile(fx.t, copies),
        "lat": np.tile(fx.lat, copies) + np.repeat(np.arange(copies) * 1e-6, len(fx)),
        "lon": np.tile(fx.lon, copies),
    })  # fmt: skip
    path = work / "city_day.parquet"
    pq.write_table(tiled, path)
    began = time.perf_counter()
    result = read_fixes(path)
    read_s = time.perf_counter() - began
    stays = detect_stays(result.fixes)
    stays_s = time.perf_counter() - began - read_s
    suspects = find_suspects(stays, fleet.known)
    total = time.perf_counter() - began
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"end to end: {tiled.num_rows:,} fixes from Parquet → {len(stays):,} stays → "
          f"{len(suspects)} suspects in {total:.2f} s (read {read_s:.2f} s, stays "
          f"{stays_s:.2f} s, clusters and suspects {total - read_s - stays_s:.2f} s); "
          f"peak memory of the process {peak_mb:,.0f} MB")  # fmt: skip


# --- the synthetic city-day ------------------------------------------------------------------

CITY_LAT, CITY_LON, CITY_HALF_M = 41.80, 123.43, 20_000.0
M_PER_DEG = 111_195.0
CHUNK_FIXES = 4_000_000  # fixes generated and written at a time
WORK_HOURS = 16  # a truck reports from about 05:00 to 21:00 local
STAY_MIN_S, STAY_MAX_S = 6 * 60, 45 * 60
SPEED_MS = 9.0
JITTER_M = 8.0
CENTRE_JITTER_M = 1.5  # error of a stay's centre: the median of 24-180 fixes with 8 m jitter
TRUCKS_PER_PLACE = 1.5
KNOWN_SHARE = 0.9  # places that are known (sites in the ledger, depots, landfills)


def city_places(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    north = rng.uniform(-CITY_HALF_M, CITY_HALF_M, n)
    east = rng.uniform(-CITY_HALF_M, CITY_HALF_M, n)
    lat = CITY_LAT + north / M_PER_DEG
    return lat, CITY_LON + east / (M_PER_DEG * np.cos(np.radians(CITY_LAT)))


def city_chunk(rng: np.random.Generator, first: int, trucks: int, places: tuple[np.ndarray,
               np.ndarray], day_start: int, interval: int) -> Fixes:  # fmt: skip
    """``trucks`` trucks' working day: stays at places and straight drives, vectorised."""
    per_truck = WORK_HOURS * 3600 // interval
    pairs = 2 + WORK_HOURS * 3600 // (STAY_MIN_S + 120)  # enough stay+drive pairs for a day
    plat, plon = places
    where = rng.integers(0, plat.shape[0], (trucks, pairs + 1))
    lat0, lon0 = plat[where[:, :-1]], plon[where[:, :-1]]
    lat1, lon1 = plat[where[:, 1:]], plon[where[:, 1:]]
    stay_n = rng.integers(STAY_MIN_S, STAY_MAX_S, (trucks, pairs)) // interval
    dist = np.hypot((lat1 - lat0) * M_PER_DEG,
                    (lon1 - lon0) * M_PER_DEG * np.cos(np.radians(CITY_LAT)))  # fmt: skip
    drive_n = np.maximum(1, (dist / SPEED_MS / interval).astype(np.int64))
    # segments per truck: stay 0, drive 0→1, stay 1, drive 1→2, …
    n = np.empty((trucks, 2 * pairs), np.int64)
    n[:, 0::2], n[:, 1::2] = stay_n, drive_n
    a_lat = np.empty_like(n, dtype=np.float64)
    a_lon, b_lat, b_lon = np.empty_like(a_lat), np.empty_like(a_lat), np.empty_like(a_lat)
    a_lat[:, 0::2] = b_lat[:, 0::2] = a_lat[:, 1::2] = lat0
    a_lon[:, 0::2] = b_lon[:, 0::2] = a_lon[:, 1::2] = lon0
    b_lat[:, 1::2], b_lon[:, 1::2] = lat1, lon1
    cum = np.cumsum(n, axis=1)
    n = np.clip(per_truck - (cum - n), 0, n)  # cut every truck at its day's end
    flat_n = n.ravel()
    seg_first = np.cumsum(flat_n) - flat_n
    total = int(flat_n.sum())
    step = np.arange(total) - np.repeat(seg_first, flat_n)
    frac = step / np.repeat(np.maximum(flat_n, 1), flat_n)
    lat = np.repeat(a_lat.ravel(), flat_n) + np.repeat((b_lat - a_lat).ravel(), flat_n) * frac
    lon = np.repeat(a_lon.ravel(), flat_n) + np.repeat((b_lon - a_lon).ravel(), flat_n) * frac
    lat += rng.normal(0.0, JITTER_M / M_PER_DEG, total)
    lon += rng.normal(0.0, JITTER_M / (M_PER_DEG * np.cos(np.radians(CITY_LAT))), total)
    fixes_of = n.sum(axis=1)
    terminal = np.repeat(np.arange(trucks, dtype=np.int64), fixes_of)
    within = np.arange(total) - np.repeat(np.cumsum(fixes_of) - fixes_of, fixes_of)
    begin = day_start + 5 * 3600 + rng.integers(0, 3600, trucks)
    t = np.repeat(begin, fixes_of) + within * interval
    names = tuple(f"T{first + i:07d}" for i in range(trucks))
    return Fixes(names, terminal, t.astype(np.int64), lat, lon)


class TimedEngine(LocalEngine):
    """The local engine, counting the seconds spent reading partitions and finding stays."""

    seconds = 0.0

    def partition_stays(self, store: FixStore, partitions: Any, policy: Any) -> list[Stays]:
        began = time.perf_counter()
        out = super().partition_stays(store, partitions, policy)
        self.seconds += time.perf_counter() - began
        return out


def city_day(total: int, interval: int, work: Path, seed: int, threads: int, window: int,
             snap_m: float, prepare_only: bool = False) -> None:  # fmt: skip
    """The daily job on a synthetic city-day of ``total`` fixes (module docstring).

    A ``work`` folder holding a ``city-day.json`` of the same ``total``, ``interval`` and
    ``seed`` (kept by ``--keep``) is reused: generating takes ten minutes and is not timed,
    so it can be done once while the machine is busy and the job timed when it is quiet.
    When the day was generated (or its window prepared) in this process, the job is timed
    in a fresh process, so the peak memory printed is the job's own."""
    rng = np.random.default_rng(seed)
    per_truck = WORK_HOURS * 3600 // interval
    trucks = max(1, total // per_truck)
    plat, plon = city_places(rng, max(4, int(trucks / TRUCKS_PER_PLACE)))
    known_n = int(plat.shape[0] * KNOWN_SHARE)
    known = [KnownPlace(f"K{i}", "site", float(plat[i]), float(plon[i]), 120.0)
             for i in range(known_n)]  # fmt: skip
    day = date(2026, 5, 5)
    local0 = int(datetime(2026, 5, 4, tzinfo=UTC).timestamp()) - 8 * 3600  # 4 May 00:00 +08
    store = FixStore(work / "fixes")
    chunk_trucks = max(1, CHUNK_FIXES // per_truck)
    marker = work / "city-day.json"
    wanted = {"total": total, "interval": interval, "seed": seed}
    kept = json.loads(marker.read_text()) if marker.is_file() else {}
    fresh = {k: kept.get(k) for k in wanted} != wanted
    if fresh:
        began, written = time.perf_counter(), 0
        shutil.rmtree(work / "fixes", ignore_errors=True)
        shutil.rmtree(stays_path(store, day).parent.parent, ignore_errors=True)
        for first in range(0, trucks, chunk_trucks):
            count = min(chunk_trucks, trucks - first)
            fixes = city_chunk(rng, first, count, (plat, plon), local0 + 86_400, interval)
            written += len(fixes)
            store.write(fixes, f"c{first}")
            del fixes
        print(f"city-day: {written:,} fixes of {trucks:,} trucks (every {interval} s, "
              f"{WORK_HOURS} h), {plat.shape[0]:,} places ({known_n:,} known), stored in "
              f"{time.perf_counter() - began:.0f} s (not timed)", flush=True)  # fmt: skip
        kept = {**wanted, "written": written}
        marker.write_text(json.dumps(kept))
    prepared = int(kept.get("earlier_days", 0)) >= window - 1
    if not prepared:
        began = time.perf_counter()
        _cache_earlier_days(store, day, window - 1, threads, np.random.default_rng(seed + 1))
        print(f"city-day: the {window - 1} days before cached as the day's stays shifted by "
              f"whole days with fresh jitter, in {time.perf_counter() - began:.0f} s "
              f"(not timed)", flush=True)  # fmt: skip
        kept = {**kept, "earlier_days": window - 1}
        marker.write_text(json.dumps(kept))
    if prepare_only:
        return
    if fresh or not prepared:  # time the job in a process of its own
        argv = [sys.executable, __file__, "--city-day", str(total), "--interval", str(interval),
                "--seed", str(seed), "--threads", str(threads), "--window-days", str(window),
                "--cluster-snap-m", str(snap_m), "--keep", str(work), "--no-machine"]  # fmt: skip
        subprocess.run(argv, check=True)
        return
    shutil.rmtree(stays_path(store, day).parent, ignore_errors=True)  # time it again
    # compile the kernel before timing, as generating does on a first run
    detect_stays(city_chunk(rng, 0, 1, (plat, plon), local0, interval))
    print(f"city-day: {kept['written']:,} fixes of {trucks:,} trucks kept in {work} "
          f"(generated earlier, not timed); {window - 1} days before it in the stays "
          f"cache")  # fmt: skip
    _time_city_day(store, day, known, threads, kept["written"], window, snap_m)


def _cache_earlier_days(
    store: FixStore, day: date, earlier: int, threads: int, rng: np.random.Generator
) -> None:
    """Put ``earlier`` days before ``day`` in the stays cache (no fixes of their own): the
    day's stays (computed here, untimed) shifted back by whole days, each centre moved by
    fresh jitter of the size of a stay centre's own error, so no two days coincide."""
    policy = DEFAULT_TRAJECTORY_POLICY
    by_day, _ = cached_day_stays(store, [day], policy, LocalEngine(threads))
    stays = by_day[day]
    cos = np.cos(np.radians(CITY_LAT))
    for k in range(1, earlier + 1):
        shifted = dataclasses.replace(
            stays,
            day=stays.day - k,
            start=stays.start - k * 86_400,
            end=stays.end - k * 86_400,
            lat=stays.lat + rng.normal(0.0, CENTRE_JITTER_M / M_PER_DEG, len(stays)),
            lon=stays.lon + rng.normal(0.0, CENTRE_JITTER_M / (M_PER_DEG * cos), len(stays)),
        )
        earlier_day = day - timedelta(days=k)
        # the cache of a day without fix files: an empty manifest, the stay rule's fingerprint
        _write_cache(stays_path(store, earlier_day), _stays_table({0: shifted}),
                     day_manifest(store, earlier_day), rule_fingerprint(policy))  # fmt: skip


def _time_city_day(
    store: FixStore,
    day: date,
    known: list[KnownPlace],
    threads: int,
    written: int,
    window: int,
    snap_m: float,
) -> None:
    """Time one ``detect_day`` over the stored day (the days before are in the stays cache)."""
    policy = dataclasses.replace(
        DEFAULT_TRAJECTORY_POLICY, suspect_window_days=window, cluster_snap_m=snap_m
    )
    before_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    began, cpu_began = time.perf_counter(), time.process_time()
    engine = TimedEngine(threads)
    result = detect_day(store, day, known, policy, engine=engine)
    total_s, cpu_s = time.perf_counter() - began, time.process_time() - cpu_began
    stays_s = engine.seconds
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"  read → stays ({threads} thread(s), {len(store.buckets(day))} buckets): "
        f"{stays_s:.1f} s, {len(result.stays):,} stays ({written / stays_s:,.0f} fixes/s)"
    )
    print(
        f"  stays cache, clusters and suspects over {result.window_stays:,} stays of {window} "
        f"days (cluster_snap_m {policy.cluster_snap_m:g}): {total_s - stays_s:.1f} s, "
        f"{len(result.clusters):,} clusters, {len(result.suspects):,} suspects"
    )
    print(f"  end to end: {total_s:.1f} s ({cpu_s:.1f} s of CPU in this process); peak "
          f"resident memory {peak_mb:,.0f} MB (before the job: {before_rss:,.0f} MB); load "
          f"average now {os.getloadavg()[0]:.1f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trucks", type=int, default=60)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ti-trucks", type=int, default=20, help="trucks given to trackintel")
    parser.add_argument("--trackintel-python", help="interpreter with trackintel 1.4.2")
    parser.add_argument("--copies", type=int, default=0,
                        help="end to end on the fleet tiled this many times (0: skip)")  # fmt: skip
    parser.add_argument(
        "--city-day",
        type=int,
        default=0,
        metavar="N",
        help="run the daily job on a synthetic city-day of N fixes instead",
    )
    parser.add_argument("--interval", type=int, default=15, help="city-day: seconds per fix")
    parser.add_argument(
        "--window-days",
        type=int,
        default=DEFAULT_TRAJECTORY_POLICY.suspect_window_days,
        help="city-day: days clustered (default: the default policy's)",
    )
    parser.add_argument(
        "--prepare-only",
        action="store_true",
        help="city-day: generate and cache (with --keep), do not time",
    )
    parser.add_argument(
        "--cluster-snap-m",
        type=float,
        default=DEFAULT_TRAJECTORY_POLICY.cluster_snap_m,
        help="city-day: the policy's cluster_snap_m (0: plain DBSCAN over the stays)",
    )
    parser.add_argument("--no-machine", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=2, help="city-day: partitions at once")
    parser.add_argument("--work-dir", type=Path, help="city-day: where to store (default: tmp)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="city-day: store in DIR and keep it; a later run with the same "
                             "N, interval and seed reuses it and times the job only")  # fmt: skip
    args = parser.parse_args()
    if args.city_day:
        if not args.no_machine:
            for line in machine_lines([("numpy", np.__version__), ("pyarrow", pa.__version__)]):
                print(line, flush=True)
        rest = (args.seed, args.threads, args.window_days, args.cluster_snap_m, args.prepare_only)
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            city_day(args.city_day, args.interval, args.keep, *rest)
            return
        with tempfile.TemporaryDirectory(dir=args.work_dir) as tmp:
            city_day(args.city_day, args.interval, Path(tmp), *rest)
        return

    import numba
    import sklearn

    for line in machine_lines([("numpy", np.__version__), ("numba", numba.__version__),
                               ("scikit-learn", sklearn.__version__)]):  # fmt: skip
        print(line)
    began = time.perf_counter()
    fleet = generate_fleet(FleetSpec(seed=args.seed, trucks=args.trucks, days=args.days))
    print(f"fleet: {args.trucks} trucks × {args.days} days, {len(fleet):,} fixes, seed "
          f"{args.seed} (generated in {time.perf_counter() - began:.1f} s)")  # fmt: skip
    fixes = fleet.fixes()
    detect_stays(subset(fleet, 2), PLAIN)  # compile (or load numba's cache) before timing
    for label, policy in (
        ("plain sliding rule", PLAIN),
        ("default policy", DEFAULT_TRAJECTORY_POLICY),
    ):
        seconds, stays = timed(lambda p=policy: detect_stays(fixes, p), args.rounds)
        print(f"ours, {label}: {len(fixes) / seconds:,.0f} fixes/s ({len(stays):,} stays "
              f"in {seconds * 1000:.1f} ms, median of {args.rounds})")  # fmt: skip
    seconds, suspects = timed(lambda: find_suspects(stays, fleet.known), 1)
    print(f"clusters and suspects: {len(suspects)} suspects from {len(stays):,} stays in "
          f"{seconds * 1000:.0f} ms")  # fmt: skip

    small = subset(fleet, args.ti_trucks)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ours_s, ours = timed(lambda: detect_stays(small, PLAIN), args.rounds)
        theirs = run_trackintel(args.trackintel_python, small, work)
        print(f"same fixes ({args.ti_trucks} trucks, one day, {len(small):,} fixes):")
        print(f"  ours        {len(small) / ours_s:>14,.0f} fixes/s ({len(ours)} stays)")
        if theirs is None:
            print("  trackintel  not installed here (see docs/performance.md); ours alone")
        else:
            ti_s, table = theirs
            print(f"  trackintel  {len(small) / ti_s:>14,.0f} fixes/s ({table.num_rows} stays)")
            print(f"  ratio       {ti_s / ours_s:,.0f}× faster")
            print(f"  matched     {matched_share(table, ours):.1%} of trackintel's stays")
        if args.copies:
            end_to_end(fleet, args.copies, work)


if __name__ == "__main__":
    main()
