"""The numbers of the City Brain loop (issue 14) as one named, versioned policy.

Detection's own numbers (stay rule, clusters, the suspect rule) are ``TrajectoryPolicy``;
the 24-hour clock itself is the case policy's (``cases.policy``, the feedback clock).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CityBrainLoopPolicy:
    """Pushing suspects, routing them, their verdicts and the data coming in.

    - A suspect within ``near_existing_m`` of a suspect already pushed (whatever its
      verdict) is the same place: its evidence is refreshed, nothing is pushed again.
    - Routing: inside an enforcement grid's area (within ``grid_reach_m`` of one of its
      active sites) the push joins that grid, else the district's L2 unit alone.
    - A dismissed suspect becomes a known place of radius ``dismissed_radius_m``; a confirmed
      one enters the ledger with an area of ``confirmed_area_m2``.
    - The daily job runs for yesterday (local day) once the local time is past ``run_hour``.
    - The batch API takes at most ``batch_max_bytes`` (after gzip) and reports the first
      ``batch_max_reported`` bad rows by line.
    - The heat map shows at most ``heat_max_cells`` cells of ``heat_cell_deg`` degrees.
    """

    version: str = "2026.1"
    near_existing_m: float = 250.0
    grid_reach_m: float = 1000.0
    dismissed_radius_m: float = 150.0
    confirmed_area_m2: float = 5000.0
    run_hour: int = 2
    batch_max_bytes: int = 64 * 1024 * 1024
    batch_max_reported: int = 1000
    heat_cell_deg: float = 0.002
    heat_max_cells: int = 4000
    webhook_timeout_s: float = 5.0
    basis: str = (
        "issue 14 / seed 000 §1(二): daily push, the district confirms within 24 h, a "
        "dismissed place is not pushed again; distances and sizes: platform defaults"
    )


DEFAULT_CITY_BRAIN_LOOP_POLICY = CityBrainLoopPolicy()
