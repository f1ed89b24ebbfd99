"""Run trackintel's sliding staypoints on a Parquet of fixes (bench/trajectories.py's helper).

Runs under the interpreter that has trackintel 1.4.2 (installed for the bench only)::

    python bench/_trackintel_run.py FIXES.parquet OUT.parquet

Reads columns terminal_id, t (UTC epoch seconds), lat, lon; prints the seconds spent in
``generate_staypoints`` alone; writes terminal_id, start, end (epoch seconds), lat, lon.
"""

from __future__ import annotations

import sys
import time
import warnings

import geopandas as gpd
import pandas as pd
import trackintel as ti

EPOCH = pd.Timestamp(0, tz="UTC")


def main(src: str, out: str) -> None:
    df = pd.read_parquet(src)
    pfs = gpd.GeoDataFrame(
        {
            "user_id": df["terminal_id"].astype("category").cat.codes,
            "tracked_at": pd.to_datetime(df["t"], unit="s", utc=True),
        },
        geometry=gpd.points_from_xy(df["lon"], df["lat"]),
        crs="EPSG:4326",
    )
    names = dict(enumerate(df["terminal_id"].astype("category").cat.categories))
    pfs = ti.Positionfixes(pfs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        began = time.perf_counter()
        _, sp = pfs.generate_staypoints(
            method="sliding", dist_threshold=100, time_threshold=5, gap_threshold=15,
            include_last=True,
        )  # fmt: skip
        spent = time.perf_counter() - began
    result = pd.DataFrame(
        {
            "terminal_id": sp["user_id"].map(names).astype(str),
            "start": (sp["started_at"] - EPOCH).dt.total_seconds().round().astype("int64"),
            "end": (sp["finished_at"] - EPOCH).dt.total_seconds().round().astype("int64"),
            "lat": sp.geometry.y,
            "lon": sp.geometry.x,
        }
    )
    result.to_parquet(out)
    print(f"{spent:.6f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
