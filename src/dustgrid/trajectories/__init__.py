"""Muck-truck (渣土车) trajectories: stay points, city-wide clusters, suspected sites.

Pure cores (no database, no web): :mod:`.policy` (the numbers), :mod:`.stays` (stay-point
detection per truck-day, a compiled kernel), :mod:`.clusters` (haversine DBSCAN, evidence,
suspects and their score), :mod:`.fixes` (reading CSV/Parquet fixes with bad-row
reporting). :mod:`.cli` is ``dustgrid trajectories``. See docs/trajectories.md.
"""
