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
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from _common import machine_lines

from dustgrid.demo.fleet import Fleet, FleetSpec, generate_fleet
from dustgrid.geo.coords import haversine_m
from dustgrid.trajectories.clusters import find_suspects
from dustgrid.trajectories.fixes import read_fixes
from dustgrid.trajectories.policy import DEFAULT_TRAJECTORY_POLICY
from dustgrid.trajectories.stays import Fixes, Stays, detect_stays

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
    args = parser.parse_args()

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
