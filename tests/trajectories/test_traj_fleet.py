"""The whole pipeline on a synthetic fleet over the demo city: precision and recall.

The fleet (``dustgrid.demo.fleet``) loads at the demo ledger's digging sites, parks at
depots, unloads at landfills, and crews work hidden unpermitted sites; decoys (a crew on one
day, two trucks on several days) must not come out. A suspect is right when it lies within
``MATCH_M`` of a hidden site. Levels asserted here are documented in docs/trajectories.md.
"""

from __future__ import annotations

import numpy as np
import pytest

from dustgrid.demo.fleet import FleetSpec, generate_fleet, precision_recall
from dustgrid.trajectories.clusters import find_suspects
from dustgrid.trajectories.stays import detect_stays

MATCH_M = 250.0
MIN_PRECISION = 0.85
MIN_RECALL = 0.9


def test_same_seed_same_fleet_and_another_seed_another() -> None:
    spec = FleetSpec(seed=5, trucks=8, days=2, hidden_sites=2, decoys=0, crew=(3, 3))
    a, b = generate_fleet(spec), generate_fleet(spec)
    assert np.array_equal(a.t, b.t) and np.array_equal(a.lat, b.lat)
    assert list(a.terminal_ids) == list(b.terminal_ids) and a.hidden == b.hidden
    c = generate_fleet(FleetSpec(seed=6, trucks=8, days=2, hidden_sites=2, decoys=0, crew=(3, 3)))
    assert c.hidden != a.hidden


def test_known_places_come_from_the_demo_city() -> None:
    fleet = generate_fleet(FleetSpec(seed=5, trucks=4, days=1, hidden_sites=1, decoys=0,
                                     crew=(3, 3)))  # fmt: skip
    kinds = {k.kind for k in fleet.known}
    assert kinds == {"site", "depot", "landfill"}
    assert sum(k.kind == "site" for k in fleet.known) == FleetSpec().ledger_sites


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pipeline_precision_and_recall(seed: int) -> None:
    fleet = generate_fleet(FleetSpec(seed=seed))
    suspects = find_suspects(detect_stays(fleet.fixes()), fleet.known)
    found = [(s.cluster.lat, s.cluster.lon) for s in suspects]
    precision, recall = precision_recall(found, fleet.hidden, MATCH_M)
    print(f"seed {seed}: {len(fleet)} fixes, {len(found)} suspects, "
          f"precision {precision:.2f}, recall {recall:.2f}")  # fmt: skip
    assert precision >= MIN_PRECISION and recall >= MIN_RECALL
