"""Property tests of the pure planner: coverage, quotas, working days, priority order."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from dustgrid.patrols.periods import parse_week, period_of, week_label
from dustgrid.patrols.planner import PlanSite, ordered, plan_period
from dustgrid.patrols.policy import DEFAULT_PATROL_POLICY, DutyPolicy
from dustgrid.patrols.priority import PriorityInputs, priority_key
from dustgrid.patrols.routing import (
    DistanceMatrix,
    Stop,
    haversine_m,
    nearest_neighbour_order,
    ortools_order,
)
from dustgrid.workcal import china_calendar

CAL = china_calendar()
GRADES = ("non_compliant", "basic", "ungraded", "full")


def _route(stops: Sequence[Stop], start: Stop | None) -> list[int]:
    return nearest_neighbour_order(stops, start)  # fast and exact enough for the properties


priorities = st.builds(
    PriorityInputs,
    grade=st.sampled_from(GRADES),
    open_cases=st.integers(0, 3),
    recheck_due=st.none() | st.dates(date(2026, 12, 1), date(2026, 12, 31)),
    open_alerts=st.integers(0, 2),
)


@st.composite
def sites(draw: st.DrawFn) -> list[PlanSite]:
    n = draw(st.integers(0, 140))
    return [
        PlanSite(
            i + 1,
            41.7 + draw(st.floats(0, 0.2)),
            123.3 + draw(st.floats(0, 0.2)),
            draw(priorities),
        )
        for i in range(n)
    ]


duties = st.builds(
    DutyPolicy,
    period=st.just("weekly"),
    period_days=st.just(7),
    per_day_min=st.integers(1, 12),
    per_day_max=st.none() | st.integers(12, 15),
    together=st.booleans(),
)


@st.composite
def periods(draw: st.DrawFn) -> list[date]:
    """The working days of a week or a fortnight somewhere in 2025–2026 (holidays too)."""
    monday = parse_week(f"{draw(st.sampled_from([2025, 2026]))}-W{draw(st.integers(1, 50)):02d}")
    length = draw(st.sampled_from([7, 14]))
    return [
        monday + timedelta(days=i)
        for i in range(length)
        if CAL.is_workday(monday + timedelta(days=i))
    ]


@settings(max_examples=150, deadline=None)
@given(sites(), periods(), st.integers(1, 3), duties)
def test_plan_properties(
    plan_sites: list[PlanSite], days: list[date], crews: int, duty: DutyPolicy
) -> None:
    plan = plan_period(plan_sites, days, crews, duty, route=_route)
    scheduled = [sid for cd in plan.crew_days for sid in cd.site_ids]

    # every site exactly once: planned once, or named in the shortfall
    assert Counter(scheduled + list(plan.unscheduled)) == Counter(s.site_id for s in plan_sites)
    assert len(scheduled) == len(set(scheduled))

    # only working days, each crew on each of them
    assert all(CAL.is_workday(cd.day) for cd in plan.crew_days)
    assert len(plan.crew_days) == len(days) * crews

    # daily quotas: never above the maximum; at or above the minimum whenever some number
    # of crew-days can hold the planned sites within min..max (else the plan says so)
    counts = [len(cd.site_ids) for cd in plan.crew_days if cd.site_ids]
    if duty.per_day_max is not None:
        assert all(c <= duty.per_day_max for c in counts)
        assert plan.shortfall == max(0, len(plan_sites) - duty.per_day_max * len(days) * crews)
    else:
        assert plan.shortfall == 0 or not days
    m = len(scheduled)
    slots = len(days) * crews
    top = duty.per_day_max or m
    feasible = any(k * duty.per_day_min <= m <= k * top for k in range(1, slots + 1))
    if feasible:
        assert all(c >= duty.per_day_min for c in counts)
        assert not plan.underfilled
    elif m:
        assert plan.underfilled
    if m >= duty.per_day_min * slots:  # enough for every crew-day: none left idle
        assert len(counts) == slots

    # priority: a site on a later day never outranks one on an earlier day, and the
    # shortfall holds the lowest-priority sites
    key = {s.site_id: (priority_key(s.priority), s.site_id) for s in plan_sites}
    by_day: dict[date, list[int]] = {}
    for cd in plan.crew_days:
        by_day.setdefault(cd.day, []).extend(cd.site_ids)
    worst_so_far = None
    for day in sorted(by_day):
        if not by_day[day]:
            continue
        best = min(key[s] for s in by_day[day])
        assert worst_so_far is None or worst_so_far <= best
        worst_so_far = max(key[s] for s in by_day[day])
    if plan.unscheduled and scheduled:
        assert max(key[s] for s in scheduled) <= min(key[s] for s in plan.unscheduled)


def test_priority_order_worst_grade_then_cases_rechecks_alerts() -> None:
    plain = PriorityInputs(grade="full")
    order = [
        PriorityInputs(grade="full", boost=1),
        PriorityInputs(grade="non_compliant"),
        PriorityInputs(grade="basic", open_cases=2),
        PriorityInputs(grade="basic", open_cases=1, recheck_due=date(2026, 12, 8)),
        PriorityInputs(grade="basic", open_cases=1, recheck_due=date(2026, 12, 9)),
        PriorityInputs(grade="basic", open_cases=1, open_alerts=1),
        PriorityInputs(grade="basic", open_cases=1),
        PriorityInputs(grade="ungraded"),
        PriorityInputs(grade="full", open_alerts=1),
        plain,
    ]
    shuffled = [PlanSite(i + 1, 41.8, 123.4, p) for i, p in enumerate(reversed(order))]
    assert [s.priority for s in ordered(shuffled)] == order


def test_seed_numbers_inspector_pair_covers_a_90_site_grid_in_a_week() -> None:
    days = [date(2026, 12, 7) + timedelta(days=i) for i in range(5)]
    grid = [PlanSite(i + 1, 41.8 + i * 0.001, 123.4, PriorityInputs()) for i in range(90)]
    plan = plan_period(grid, days, 2, DEFAULT_PATROL_POLICY.inspector, route=_route)
    assert plan.shortfall == 0
    used = [len(cd.site_ids) for cd in plan.crew_days if cd.site_ids]
    assert sum(used) == 90 and all(10 <= n <= 12 for n in used)
    too_many = [PlanSite(i + 1, 41.8, 123.4 + i * 0.001) for i in range(130)]
    short = plan_period(too_many, days, 2, DEFAULT_PATROL_POLICY.inspector, route=_route)
    assert short.shortfall == 130 - 12 * 10


def test_fortnights_pair_weeks_from_the_anchor() -> None:
    duty = DEFAULT_PATROL_POLICY.enforcement
    anchor = DEFAULT_PATROL_POLICY.fortnight_anchor
    first = period_of(date(2026, 12, 16), duty, anchor)
    second = period_of(date(2026, 12, 23), duty, anchor)
    assert first == second and (first.end - first.start).days == 13
    assert week_label(first.start) in ("2026-W50", "2026-W51")
    assert period_of(first.end + timedelta(days=1), duty, anchor).start == first.end + timedelta(
        days=1
    )


def test_route_visits_every_stop_once_and_is_no_longer_than_greedy() -> None:
    stops = [Stop(i + 1, 41.8 + (i % 5) * 0.01, 123.4 + (i // 5) * 0.01) for i in range(12)]
    start = Stop(0, 41.79, 123.39)
    order = ortools_order(stops, start, time_limit_ms=500)
    assert sorted(order) == [s.site_id for s in stops]
    by_id = {s.site_id: s for s in stops}

    def length(ids: list[int]) -> float:
        path = [start, *(by_id[i] for i in ids)]
        return sum(haversine_m(a.lat, a.lon, b.lat, b.lon) for a, b in pairwise(path))

    assert length(order) <= length(nearest_neighbour_order(stops, start)) + 1


def test_road_matrix_is_used_where_it_has_the_pair(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "roads.csv"
    path.write_text("from,to,metres\n1,2,50\n2,1,50\n", encoding="utf-8")
    matrix = DistanceMatrix.from_csv(path)
    a, b, c = Stop(1, 41.8, 123.4), Stop(2, 41.9, 123.5), Stop(3, 41.8, 123.41)
    assert matrix(a, b) == 50
    assert matrix(a, c) == haversine_m(41.8, 123.4, 41.8, 123.41)
    path.write_text("1,2,x\n", encoding="utf-8")
    try:
        DistanceMatrix.from_csv(path)
    except ValueError as exc:
        assert "line 1" in str(exc)
    else:
        raise AssertionError("a bad row is refused")


def test_small_routes_are_exact_and_start_where_told() -> None:
    stops = [Stop(1, 41.80, 123.40), Stop(2, 41.83, 123.40), Stop(3, 41.81, 123.40)]
    # without a start point the day's first site (in priority order) opens the route
    assert ortools_order(stops, None) == [1, 3, 2]
    # from a station north of them all: the northernmost first
    assert ortools_order(stops, Stop(0, 41.90, 123.40)) == [2, 3, 1]
    # the same answers from the solver
    assert ortools_order(stops, None, exact_up_to=0) == [1, 3, 2]
    assert ortools_order(stops, Stop(0, 41.90, 123.40), exact_up_to=0) == [2, 3, 1]
