"""The order of a day's stops: a shortest open path from a start point (OR-Tools). Pure.

Distances are straight-line (haversine) metres unless a road-distance matrix is given
(:class:`DistanceMatrix`, loaded from a CSV of ``from,to,metres`` by site id; pairs it
lacks fall back to straight lines). The route starts at the configured start point (the
station) or, without one, at the day's first site in priority order; it does not return.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise, permutations
from pathlib import Path

from ortools.constraint_solver import pywrapcp, routing_enums_pb2

EARTH_RADIUS_M = 6_371_008.8
START_ID = 0  # the id a matrix uses for the start point (site ids are positive)


@dataclass(frozen=True, slots=True)
class Stop:
    site_id: int
    lat: float
    lon: float


def haversine_m(a_lat: float, a_lon: float, b_lat: float, b_lon: float) -> float:
    p1, p2 = math.radians(a_lat), math.radians(b_lat)
    dp, dl = p2 - p1, math.radians(b_lon - a_lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


Distance = Callable[[Stop, Stop], float]


def straight_line(a: Stop, b: Stop) -> float:
    return haversine_m(a.lat, a.lon, b.lat, b.lon)


@dataclass(frozen=True)
class DistanceMatrix:
    """Road distances in metres by (from site id, to site id); ``0`` is the start point."""

    metres: Mapping[tuple[int, int], float] = field(default_factory=dict)

    def __call__(self, a: Stop, b: Stop) -> float:
        found = self.metres.get((a.site_id, b.site_id))
        return found if found is not None else straight_line(a, b)

    @classmethod
    def from_csv(cls, path: Path) -> DistanceMatrix:
        """Rows ``from,to,metres`` (a header row is allowed); a bad row names its line."""
        metres: dict[tuple[int, int], float] = {}
        with path.open(encoding="utf-8", newline="") as f:
            for line_no, row in enumerate(csv.reader(f), start=1):
                if not row or (line_no == 1 and not row[0].strip().isdigit()):
                    continue
                try:
                    a, b, m = int(row[0]), int(row[1]), float(row[2])
                except (IndexError, ValueError) as exc:
                    raise ValueError(f"{path}: line {line_no}: expected from,to,metres") from exc
                metres[(a, b)] = m
        return cls(metres)


Router = Callable[[Sequence[Stop], Stop | None], list[int]]


def _nodes(stops: Sequence[Stop], start: Stop | None) -> list[Stop]:
    return [start, *stops] if start is not None else list(stops)


def _cost_matrix(nodes: Sequence[Stop], distance: Distance) -> list[list[int]]:
    # Column 0 is the depot: arriving there costs nothing, so the path is open.
    return [
        [0 if j == 0 or i == j else round(distance(a, b)) for j, b in enumerate(nodes)]
        for i, a in enumerate(nodes)
    ]


def _exact(nodes: Sequence[Stop], costs: list[list[int]], with_start: bool) -> list[int]:
    """The shortest open path from node 0 by trying every order (a handful of stops only)."""
    best: tuple[int, tuple[int, ...]] | None = None
    for perm in permutations(range(1, len(nodes))):
        path = (0, *perm)
        length = sum(costs[a][b] for a, b in pairwise(path))
        if best is None or length < best[0]:
            best = (length, path)
    assert best is not None
    order = best[1][1:] if with_start else best[1]
    return [nodes[i].site_id for i in order]


def ortools_order(
    stops: Sequence[Stop],
    start: Stop | None,
    *,
    distance: Distance = straight_line,
    time_limit_ms: int = 200,
    exact_up_to: int = 5,
) -> list[int]:
    """Site ids in visiting order (every stop exactly once).

    Up to ``exact_up_to`` stops every order is tried (exact, and cheaper than setting up
    the solver); longer routes go to OR-Tools.
    """
    if len(stops) <= 2 and start is None:
        return [s.site_id for s in stops]
    nodes = _nodes(stops, start)
    costs = _cost_matrix(nodes, distance)
    if len(stops) <= exact_up_to:
        return _exact(nodes, costs, with_start=start is not None)
    manager = pywrapcp.RoutingIndexManager(len(nodes), 1, 0)
    model = pywrapcp.RoutingModel(manager)

    def arc(i: int, j: int) -> int:
        return costs[int(manager.IndexToNode(i))][int(manager.IndexToNode(j))]

    model.SetArcCostEvaluatorOfAllVehicles(model.RegisterTransitCallback(arc))
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT
    params.time_limit.FromMilliseconds(time_limit_ms)
    solution = model.SolveWithParameters(params)
    if solution is None:  # no solution in time: keep the priority order
        return [s.site_id for s in stops]
    order, index = [], model.Start(0)
    while not model.IsEnd(index):
        order.append(nodes[manager.IndexToNode(index)].site_id)
        index = solution.Value(model.NextVar(index))
    return order[1:] if start is not None else order


def nearest_neighbour_order(
    stops: Sequence[Stop], start: Stop | None, *, distance: Distance = straight_line
) -> list[int]:
    """Greedy: always the closest unvisited stop next (the bench's baseline)."""
    left = list(stops)
    if not left:
        return []
    here = start if start is not None else left.pop(0)
    order = [] if start is not None else [here.site_id]
    while left:
        nxt = min(left, key=lambda s: distance(here, s))
        left.remove(nxt)
        order.append(nxt.site_id)
        here = nxt
    return order
