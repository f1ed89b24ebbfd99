"""Clusters, their evidence, the suspect rule and the score."""

from __future__ import annotations

import dataclasses

import numpy as np

from dustgrid.trajectories.clusters import KnownPlace, build_clusters, find_suspects, score
from dustgrid.trajectories.policy import DEFAULT_TRAJECTORY_POLICY
from dustgrid.trajectories.stays import Stays
from tests.trajectories.traj_kit import T0, latlon

P = DEFAULT_TRAJECTORY_POLICY
DAY0 = (T0 + P.utc_offset_seconds) // 86_400


def stays(rows: list[tuple[str, int, int, int, float, float]]) -> Stays:
    """rows: (terminal, day offset, start hour local, minutes, metres north, metres east)."""
    names = sorted({r[0] for r in rows})
    start = [T0 + d * 86_400 + h * 3600 - P.utc_offset_seconds for _, d, h, _, _, _ in rows]
    pts = [latlon(n, e) for *_, n, e in rows]
    return Stays(
        terminals=tuple(names),
        terminal=np.array([names.index(r[0]) for r in rows], dtype=np.int64),
        day=np.array([DAY0 + r[1] for r in rows], dtype=np.int64),
        start=np.array(start, dtype=np.int64),
        end=np.array([s + r[3] * 60 for s, r in zip(start, rows, strict=True)], dtype=np.int64),
        lat=np.array([p[0] for p in pts]),
        lon=np.array([p[1] for p in pts]),
        n_fixes=np.full(len(rows), 10, dtype=np.int64),
    )


SITE = [  # three trucks on two days at one place, a few metres apart
    ("A", 0, 9, 20, 0.0, 0.0),
    ("B", 0, 10, 30, 10.0, 5.0),
    ("C", 1, 23, 25, -8.0, 12.0),
    ("A", 1, 3, 15, 4.0, -6.0),
]
FAR = KnownPlace("消纳场", "landfill", *latlon(5000.0, 0.0), 150.0)


def test_evidence_of_a_cluster() -> None:
    [c] = build_clusters(stays(SITE), P, [FAR], {"A": "甲公司", "B": "乙公司"})
    assert (c.trucks, c.visits, c.days) == (3, 4, 2)
    assert c.dwell_seconds == (20 + 30 + 25 + 15) * 60
    assert c.night_share == 0.5  # 23:00 and 03:00 local are night, 09:00 and 10:00 are not
    assert c.terminals == ("A", "B", "C") and c.companies == ("乙公司", "甲公司")
    assert c.first_seen == T0 + 9 * 3600 - P.utc_offset_seconds
    assert c.nearest_known == "消纳场"


def test_three_trucks_on_two_days_outside_every_place_is_a_suspect() -> None:
    [s] = find_suspects(stays(SITE), [FAR], P)
    out = s.as_json(P)
    assert list(out) == ["lat", "lon", "trucks", "visits", "days", "dwell_minutes",
                         "night_share", "first_seen", "last_seen", "score"]  # fmt: skip
    assert out["first_seen"] == "2026-05-04T09:00:00+08:00"
    assert 0 < s.score <= 100


def test_two_trucks_or_one_day_is_not_a_suspect() -> None:
    assert find_suspects(stays([r for r in SITE if r[0] != "C"]), [FAR], P) == []
    one_day = [(t, 0, h, m, n, e) for t, _, h, m, n, e in SITE]
    assert find_suspects(stays(one_day), [FAR], P) == []


def test_the_known_place_buffer_is_radius_plus_250_m() -> None:
    inside = KnownPlace("车场", "depot", *latlon(100.0 + 240.0, 0.0), 100.0)
    assert find_suspects(stays(SITE), [FAR, inside], P) == []
    outside = KnownPlace("车场", "depot", *latlon(100.0 + 270.0, 0.0), 100.0)
    assert len(find_suspects(stays(SITE), [FAR, outside], P)) == 1


def test_scattered_stays_do_not_cluster() -> None:
    apart = [(t, d, h, m, n * 40, e) for t, d, h, m, n, e in SITE]  # hundreds of metres apart
    assert find_suspects(stays(apart), [], P) == []


def test_more_trucks_days_and_night_work_score_higher() -> None:
    [base] = build_clusters(stays(SITE), P)
    bigger = dataclasses.replace(base, trucks=base.trucks + 3)
    longer = dataclasses.replace(base, days=base.days + 2)
    night = dataclasses.replace(base, night_share=1.0)
    brief = dataclasses.replace(base, dwell_seconds=base.visits * 120)  # 2-minute visits
    assert score(bigger) > score(base) and score(longer) > score(base)
    assert score(night) > score(base) > score(brief)


def test_suspects_are_ordered_best_score_first() -> None:
    second = [(t, d, h, m, n + 3000.0, e) for t, d, h, m, n, e in SITE[:3]]
    second += [("C", 0, 12, 30, 3000.0, 0.0), ("D", 2, 12, 30, 3001.0, 0.0)]
    found = find_suspects(stays(SITE + second), [], P)
    assert len(found) == 2
    assert found[0].score >= found[1].score
    assert found[0].cluster.trucks == 4


def test_the_nearest_known_place_is_the_one_of_least_clearance_among_many() -> None:
    """Thousands of places of very different radii: the ball-tree search gives each cluster
    the same least clearance (distance minus radius) as comparing every pair."""
    from dustgrid.geo.coords import haversine_m
    from dustgrid.trajectories.clusters import Cluster, _with_known

    rng = np.random.default_rng(7)
    known = [
        KnownPlace(
            f"p{i}",
            "depot",
            *latlon(*rng.uniform(-20_000, 20_000, 2)),
            radius_m=float(rng.choice([50.0, 80.0, 3000.0])),
        )  # fmt: skip
        for i in range(3000)
    ]
    blank = dict(trucks=3, visits=3, days=2, dwell_seconds=0, night_share=0.0, first_seen=0,
                 last_seen=0, terminals=(), companies=(), nearest_known=None,
                 known_clearance_m=None)  # fmt: skip
    clusters = [
        Cluster(*latlon(*rng.uniform(-20_000, 20_000, 2)), **blank)  # type: ignore[arg-type]
        for _ in range(60)
    ]
    for c in _with_known(clusters, known):
        brute = min(haversine_m(c.lat, c.lon, k.lat, k.lon) - k.radius_m for k in known)
        assert abs(c.known_clearance_m - brute) < 1e-6  # type: ignore[operator]
        chosen = next(k for k in known if k.name == c.nearest_known)
        assert (
            abs(haversine_m(c.lat, c.lon, chosen.lat, chosen.lon) - chosen.radius_m - brute) < 1e-6
        )


def _shape(name: str, corners: list[tuple[float, float]]) -> KnownPlace:
    """A known place drawn as a polygon; corners in metres (north, east) from the origin;
    its centre is the mean of the corners and its radius a token 10 m (a shape ignores it)."""
    pts = [latlon(n, e) for n, e in corners]
    ring = [[lon, lat] for lat, lon in pts] + [[pts[0][1], pts[0][0]]]
    lat = sum(p[0] for p in pts) / len(pts)
    lon = sum(p[1] for p in pts) / len(pts)
    return KnownPlace(name, "depot", lat, lon, 10.0, {"type": "Polygon", "coordinates": [ring]})


def test_a_drawn_boundary_is_the_place_and_the_buffer_lies_beyond_its_edge() -> None:
    """A car park 2 km long and 60 m wide, drawn: stays 200 m from its edge are inside the
    250 m buffer though its centre is 900 m away; 300 m from its edge they are a suspect,
    though a circle around its centre reaching its corners (1 km) would hold them."""

    def strip(north: float) -> list[tuple[float, float]]:
        return [(north, -100.0), (north, 1900.0), (north + 60.0, 1900.0), (north + 60.0, -100.0)]

    near = _shape("停车场", strip(200.0))
    assert find_suspects(stays(SITE), [FAR, near], P) == []
    [c] = build_clusters(stays(SITE), P, [FAR, near])
    assert c.nearest_known == "停车场" and 190.0 < c.known_clearance_m < 205.0  # type: ignore[operator]
    [s] = find_suspects(stays(SITE), [FAR, _shape("停车场", strip(300.0))], P)
    assert 290.0 < s.cluster.known_clearance_m < 305.0  # type: ignore[operator]


def test_stays_inside_a_drawn_boundary_have_negative_clearance() -> None:
    yard = _shape("车辆基地", [(-500.0, -500.0), (-500.0, 500.0), (500.0, 500.0), (500.0, -500.0)])
    [c] = build_clusters(stays(SITE), P, [yard])
    assert c.nearest_known == "车辆基地"
    assert -510.0 < c.known_clearance_m < -480.0  # type: ignore[operator]
    assert find_suspects(stays(SITE), [yard], P) == []


def test_a_hole_in_a_boundary_is_outside_it() -> None:
    outer = [(-2000.0, -2000.0), (-2000.0, 2000.0), (2000.0, 2000.0), (2000.0, -2000.0)]
    hole = [(-600.0, -600.0), (600.0, -600.0), (600.0, 600.0), (-600.0, 600.0)]
    place = _shape("消纳场", outer)
    ring = [[lon, lat] for lat, lon in (latlon(n, e) for n, e in hole)]
    coords = [place.boundary["coordinates"][0], [*ring, ring[0]]]  # type: ignore[index]
    holed = dataclasses.replace(place, boundary={"type": "Polygon", "coordinates": coords})
    [c] = build_clusters(stays(SITE), P, [holed])
    assert 580.0 < c.known_clearance_m < 610.0  # type: ignore[operator]
    assert len(find_suspects(stays(SITE), [holed], P)) == 1


def test_the_nearest_known_place_among_circles_and_shapes_is_exact() -> None:
    """Hundreds of circles and drawn shapes: the ball-tree search with the shapes' bounds
    gives each cluster the least clearance that measuring every place gives."""
    from dustgrid.geo.coords import haversine_m
    from dustgrid.geo.shapes import distance_to_boundary_m, point_in_geometry
    from dustgrid.trajectories.clusters import Cluster, _with_known

    rng = np.random.default_rng(11)
    known: list[KnownPlace] = []
    for i in range(400):
        n, e = rng.uniform(-15_000, 15_000, 2)
        if i % 2:
            known.append(KnownPlace(f"c{i}", "depot", *latlon(n, e), float(rng.uniform(30, 400))))
            continue
        half_n, half_e = rng.uniform(20, 1500, 2)  # long thin ones too
        corners = [(n - half_n, e - half_e), (n - half_n, e + half_e), (n + half_n, e + half_e),
                   (n + half_n, e - half_e)]  # fmt: skip
        known.append(_shape(f"s{i}", corners))
    blank = dict(trucks=3, visits=3, days=2, dwell_seconds=0, night_share=0.0, first_seen=0,
                 last_seen=0, terminals=(), companies=(), nearest_known=None,
                 known_clearance_m=None)  # fmt: skip
    clusters = [
        Cluster(*latlon(*rng.uniform(-15_000, 15_000, 2)), **blank)  # type: ignore[arg-type]
        for _ in range(80)
    ]

    def clearance(lat: float, lon: float, k: KnownPlace) -> float:
        if k.boundary is None:
            return haversine_m(lat, lon, k.lat, k.lon) - k.radius_m
        edge = distance_to_boundary_m(lat, lon, k.boundary)
        return -edge if point_in_geometry(lat, lon, k.boundary) else edge

    inside = 0
    for c in _with_known(clusters, known):
        brute = min(clearance(c.lat, c.lon, k) for k in known)
        assert c.known_clearance_m is not None
        assert abs(c.known_clearance_m - brute) < 0.5 + 1e-3 * abs(brute)
        inside += c.known_clearance_m < 0
    assert inside >= 1  # some fell inside a shape or circle: both signs are checked
