"""A week of patrol plans for every grid group of a 5,000-site city.

Target (patrol-plan issue): a week of plans for every group in under 30 s.

Run: ``.venv/bin/python bench/patrols.py`` (``--sites``, ``--rounds``; ``--help``).

What it does: migrates a fresh SQLite database in a temporary folder, loads the demo city
(``dustgrid.demo.city.build_demo``, the generator behind ``dustgrid demo --sites``) with
``--sites`` sites, then plans next week for every grid group, three ways, taking turns
round by round (``measure_interleaved``) so a change in machine load hits all alike:

1. **end to end**: ``patrols.service.generate_week`` (what the Monday job and
   ``dustgrid patrols plan`` run): groups, sites and their priority inputs (open cases,
   rechecks, alerts) and visits read from the database, the plan, OR-Tools routes, the
   stops written and flushed (rolled back after each round);
2. **planner + OR-Tools**: the pure planner on the same inputs gathered once beforehand
   (``service.plan_inputs``), routes by OR-Tools;
3. **baseline: planner + greedy**: the same with each day ordered nearest-neighbour first
   instead of by OR-Tools.

Printed: the machine, the city (sites, grids, groups), per way the wall time (p50 of the
rounds) and CPU time with the ratio to the baseline, the stops planned, the shortfall and
the total route length (OR-Tools against greedy), then PASS/FAIL against the target.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Sequence
from datetime import timedelta
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import Any

from _common import LoadSampler, busy_warning, machine_lines, measure_interleaved, ratio
from sqlalchemy.orm import Session

from dustgrid import migrate, wiring
from dustgrid.config import Settings
from dustgrid.db import make_engine
from dustgrid.demo.city import build_demo
from dustgrid.patrols import repository as repo
from dustgrid.patrols import service as svc
from dustgrid.patrols.periods import monday_of, period_of, week_label
from dustgrid.patrols.planner import PeriodPlan, plan_period
from dustgrid.patrols.policy import DEFAULT_PATROL_POLICY
from dustgrid.patrols.routing import Stop, haversine_m, nearest_neighbour_order, ortools_order

TARGET_S = 30.0
POLICY = DEFAULT_PATROL_POLICY


def _route_m(plans: Sequence[PeriodPlan], where: dict[int, tuple[float, float]]) -> float:
    total = 0.0
    for plan in plans:
        for cd in plan.crew_days:
            pts = [where[s] for s in cd.site_ids]
            total += sum(haversine_m(*a, *b) for a, b in pairwise(pts))
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sites", type=int, default=5000, help="demo city size")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds per way")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    wiring.load()  # the scope reaches the demo's summary asks for

    workdir = Path(tempfile.mkdtemp(prefix="dustgrid-bench-patrols-"))
    url = f"sqlite:///{workdir / 'bench.db'}"
    settings = Settings(database_url=url, var_dir=workdir)
    migrate.upgrade(url)
    engine = make_engine(url)
    session = Session(engine, expire_on_commit=False)
    build_demo(session, seed=args.seed, n_sites=args.sites)
    session.commit()

    monday = monday_of(svc.today_for(settings)) + timedelta(days=7)
    groups = repo.groups(session)
    inputs = {
        g.group_id: svc.plan_inputs(
            session,
            g,
            period_of(monday, POLICY.duty(g.grid_kind), POLICY.fortnight_anchor),
            today=monday,
            settings=settings,
        )
        for g in groups
    }
    where = {s.site_id: (s.lat, s.lon) for i in inputs.values() for s in i.sites}

    def end_to_end() -> int:
        try:
            reports = svc.generate_week(session, monday, today=monday, settings=settings)
            return sum(r.stops for r in reports)
        finally:
            session.rollback()

    def pure(router: Callable[[Sequence[Stop], Stop | None], list[int]]) -> list[PeriodPlan]:
        return [
            plan_period(i.sites, i.days, i.crews, i.duty, start=i.start, route=router)
            for i in inputs.values()
        ]

    ortools = partial(ortools_order, time_limit_ms=POLICY.route_time_limit_ms)
    ways: dict[str, Callable[[], Any]] = {
        "end to end (generate_week)": end_to_end,
        "planner + OR-Tools": lambda: pure(ortools),
        "baseline: planner + greedy": lambda: pure(nearest_neighbour_order),
    }
    with LoadSampler() as load:
        timings = measure_interleaved(ways, n=args.rounds)

    for line in machine_lines([("database", f"SQLite (in-process) [{url}]")]):
        print(line)
    kinds = {g.grid_kind for g in groups}
    print(
        f"\nDustGrid patrol plans: {args.sites:,} sites, {len({g.grid_id for g in groups})} grids"
        f" ({', '.join(sorted(kinds))}), {len(groups)} groups; week {week_label(monday)};"
        f" {args.rounds} rounds per way, interleaved\n"
    )
    base = timings["baseline: planner + greedy"]
    print(f"{'way':<30} {'wall p50 s':>10} {'CPU p50 s':>10} {'ratio':>7}")
    for name, t in timings.items():
        print(
            f"{name:<30} {t.p50 / 1000:>10.2f} {t.cpu_p50 / 1000:>10.2f}"
            f" {ratio(t.p50, base.p50):>7}"
        )
    or_plans = timings["planner + OR-Tools"].result
    greedy_plans = base.result
    stops = timings["end to end (generate_week)"].result
    shortfall = sum(p.shortfall for p in or_plans)
    or_km, greedy_km = _route_m(or_plans, where) / 1000, _route_m(greedy_plans, where) / 1000
    print(f"\nstops planned: {stops:,}; shortfall: {shortfall:,} sites")
    print(
        f"route length (sum of every crew-day's path): OR-Tools {or_km:,.1f} km,"
        f" greedy {greedy_km:,.1f} km ({or_km / greedy_km:.1%} of greedy)"
        if greedy_km
        else "route length: no routes"
    )
    worst = timings["end to end (generate_week)"].samples_ms
    verdict = "PASS" if max(worst) / 1000 < TARGET_S else "FAIL"
    print(
        f"\n{verdict}: every group's week in {max(worst) / 1000:.2f} s (target < {TARGET_S:.0f} s)"
    )
    warning = busy_warning(load.peak)
    if warning:
        print(warning)
    session.close()
    engine.dispose()
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
