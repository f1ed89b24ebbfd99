"""The stay rule at its boundaries (D, T, G), jitter, silence, truck-days (issue 14)."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dustgrid.geo.coords import haversine_m
from dustgrid.trajectories.policy import DEFAULT_TRAJECTORY_POLICY, TrajectoryPolicy
from dustgrid.trajectories.stays import detect_stays
from tests.trajectories.traj_kit import BASE_LAT, BASE_LON, T0, away, latlon, merge, still, track

P = DEFAULT_TRAJECTORY_POLICY
PLAIN = dataclasses.replace(P, rejoin_after_gap=False, spike_fixes=0)
D, T, G = P.stay_distance_m, P.stay_min_seconds, P.gap_max_seconds


def test_defaults_are_the_issues() -> None:
    assert (P.stay_distance_m, P.stay_min_minutes, P.gap_max_minutes) == (100.0, 5.0, 15.0)
    assert P.known_buffer_m == 250.0
    assert (P.suspect_min_days, P.suspect_min_trucks) == (2, 3)


def test_a_fix_at_exactly_d_is_inside_and_just_beyond_leaves() -> None:
    at_d = still(0, 10) + [(630, D, 0.0)] + still(660, 10) + away(2000)
    stays = detect_stays(track(at_d), PLAIN)
    assert len(stays) == 1
    assert int(stays.end[0] - stays.start[0]) == 660 + 600  # one stay through the fix at D
    beyond = still(0, 10) + [(630, D + 0.5, 0.0)] + [(660, D + 200, 0.0)] + away(2000)
    stays = detect_stays(track(beyond), PLAIN)
    assert len(stays) == 1
    assert int(stays.end[0] - T0) == 600  # ends at the last fix within D


def test_a_stay_of_exactly_t_counts_and_one_fix_less_does_not() -> None:
    exact = still(0, T / 60) + away(T + 30)
    stays = detect_stays(track(exact), PLAIN)
    assert len(stays) == 1 and int(stays.end[0] - stays.start[0]) == T
    short = still(0, T / 60 - 0.5) + away(T)
    assert len(detect_stays(track(short), PLAIN)) == 0


def test_a_gap_of_exactly_g_does_not_break_and_a_longer_one_does() -> None:
    # 3 minutes, silence of exactly G, 3 more minutes: one stay only if the gap is allowed
    exactly = still(0, 3) + still(180 + G, 3) + away(180 + G + 400)
    stays = detect_stays(track(exactly), PLAIN)
    assert len(stays) == 1 and int(stays.end[0] - stays.start[0]) == 180 + G + 180
    longer = still(0, 3) + still(180 + G + 1, 3) + away(180 + G + 400)
    assert len(detect_stays(track(longer), PLAIN)) == 0  # two 3-minute pieces: no stay


def test_a_gap_longer_than_g_ends_the_stay_at_the_fix_before_it() -> None:
    steps = still(0, 10) + still(600 + G + 60, 10, north=3000)
    stays = detect_stays(track(steps), P)  # reappears elsewhere: two stays, silence not dwell
    assert len(stays) == 2
    assert int(stays.end[0] - T0) == 600
    assert int(stays.start[1] - T0) == 600 + G + 60


def test_silence_inside_a_place_is_one_stay() -> None:
    # arrives, 2 minutes, engine off for 40 minutes, 2 minutes, leaves
    steps = still(0, 2) + still(120 + 40 * 60, 2) + away(120 + 40 * 60 + 400)
    stays = detect_stays(track(steps), P)
    assert len(stays) == 1
    assert int(stays.end[0] - stays.start[0]) == 120 + 40 * 60 + 120
    assert len(detect_stays(track(steps), PLAIN)) == 0  # the plain rule loses the visit


def test_a_terminal_that_goes_silent_for_good_keeps_its_last_stay() -> None:
    steps = away(0) + still(600, 8)  # never seen leaving
    stays = detect_stays(track(steps), PLAIN)
    assert len(stays) == 1 and int(stays.end[0] - stays.start[0]) == 480


def test_jitter_and_a_spike_do_not_split_a_stay() -> None:
    rng = np.random.default_rng(7)
    steps = [(s, float(n), float(e)) for s, n, e in still(0, 40)]
    noise = rng.normal(0.0, 12.0, size=(len(steps), 2))
    steps = [(s, n + dn, e + de) for (s, n, e), (dn, de) in zip(steps, noise, strict=True)]
    steps[40] = (steps[40][0], 450.0, 0.0)  # one multipath spike 450 m away
    stays = detect_stays(track(steps + away(2500)), P)
    assert len(stays) == 1
    assert int(stays.end[0] - stays.start[0]) == 40 * 60
    # the median centre stays within a few metres of the true place despite the spike
    assert haversine_m(float(stays.lat[0]), float(stays.lon[0]), BASE_LAT, BASE_LON) < 6.0
    plain = detect_stays(track(steps + away(2500)), PLAIN)
    assert len(plain) == 2  # without spike tolerance the spike splits it


def test_truck_days_split_at_local_midnight_and_input_order_does_not_matter() -> None:
    # 15:50 to 16:10 UTC is 23:50 to 00:10 local: two truck-days
    steps = still(15 * 3600 + 50 * 60, 20) + away(16 * 3600 + 20 * 60)
    fixes = merge(track(steps, "A"), track(still(0, 10) + away(900), "B"))
    stays = detect_stays(fixes, P)
    assert sorted(stays.terminals[i] for i in stays.terminal) == ["A", "A", "B"]
    assert len(set(stays.day.tolist())) == 2
    shuffled = fixes.select(np.ones(len(fixes), dtype=np.bool_))
    order = np.random.default_rng(1).permutation(len(fixes))
    shuffled = type(fixes)(
        fixes.terminals, fixes.terminal[order], fixes.t[order], fixes.lat[order], fixes.lon[order]
    )
    again = detect_stays(shuffled, P)
    assert np.array_equal(again.start, stays.start) and np.array_equal(again.lat, stays.lat)


def test_repeated_fixes_count_once() -> None:
    steps = still(0, 10) + away(700)
    fixes = track(steps + steps[:5])
    stays = detect_stays(fixes, P)
    assert len(stays) == 1 and int(stays.n_fixes[0]) == 21


def test_the_centre_is_the_median_of_the_stay() -> None:
    steps = [(s, 0.0, 0.0) for s, _, _ in still(0, 10)]
    steps[3] = (steps[3][0], 90.0, 0.0)  # one fix 90 m north, inside D
    stays = detect_stays(track(steps + away(700)), PLAIN)
    lat, lon = latlon(0.0, 0.0)
    assert abs(float(stays.lat[0]) - lat) < 1e-12 and abs(float(stays.lon[0]) - lon) < 1e-12


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(5, 120), st.floats(-300, 300), st.floats(-300, 300)),
        min_size=2,
        max_size=120,
    ),
    st.booleans(),
)
def test_every_stay_obeys_the_rule(steps: list[tuple[int, float, float]], plain: bool) -> None:
    policy: TrajectoryPolicy = PLAIN if plain else P
    clock, rows = 0, []
    for dt, n, e in steps:
        clock += dt * 10
        rows.append((float(clock), n, e))
    fixes = track(rows)
    stays = detect_stays(fixes, policy)
    assert np.all(stays.end - stays.start >= policy.stay_min_seconds)
    assert np.all(stays.start[1:] > stays.end[:-1])  # stays never overlap
    for k in range(len(stays)):  # every fix from anchor to last inside within D, or a spike
        inside = (fixes.t >= stays.start[k]) & (fixes.t <= stays.end[k])
        a = int(np.flatnonzero(fixes.t == stays.start[k])[0])
        d = [
            haversine_m(fixes.lat[a], fixes.lon[a], fixes.lat[i], fixes.lon[i])
            for i in np.flatnonzero(inside)
        ]
        far = sum(1 for x in d if x > policy.stay_distance_m + 1e-6)
        assert far == 0 or (not plain and far <= len(d) // 2)
