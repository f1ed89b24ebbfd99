"""Patrol plans: generate a period's plan per grid group, read a week's plans, coverage.

A period is a week (inspector grids) or a fortnight (enforcement grids). Generating a
period that already has a plan keeps its past: stops before ``today`` and stops whose site
was already visited in the period stay as they are; the other stops are replaced by a new
plan of the sites not yet visited over the working days from ``today`` on.

A *visit* is a submitted inspection (not a draft) of the site within the plan's period by
a member of the group (or recorded for the group); for inspector grids only on-site visits
count, for enforcement grids remote video checks count too (seed 000 §3(五)).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from dustgrid.audit.service import record_change
from dustgrid.bounds import DATE_MAX, DATE_MIN
from dustgrid.cases.deadlines import work_calendar
from dustgrid.config import Settings
from dustgrid.emergencies.policy import LEVEL_RANK
from dustgrid.emergencies.service import sites_under_order
from dustgrid.errors import Forbidden, Invalid, NotFound
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm
from dustgrid.inspections.models import InspectionMode
from dustgrid.models import utcnow
from dustgrid.patrols import repository as repo
from dustgrid.patrols.models import PatrolPlan, PatrolStop
from dustgrid.patrols.periods import Period, parse_week, period_of
from dustgrid.patrols.planner import PlanSite, plan_period
from dustgrid.patrols.policy import DEFAULT_PATROL_POLICY, INSPECTOR, DutyPolicy, PatrolPolicy
from dustgrid.patrols.priority import PriorityInputs
from dustgrid.patrols.routing import DistanceMatrix, Stop, ortools_order, straight_line
from dustgrid.workcal.calendar import WorkCalendar

VISITED, MISSED, PLANNED = "visited", "missed", "planned"


@dataclass(frozen=True, slots=True)
class GenerateReport:
    grid_code: str
    group_id: int
    period: Period
    created: bool
    stops: int  # stops written now
    kept: int  # stops kept from before (past or already visited)
    shortfall: int


@dataclass(frozen=True, slots=True)
class StopView:
    site_id: int
    name: str
    lat: float
    lon: float
    status: str  # visited | missed | planned


@dataclass(frozen=True, slots=True)
class MemberDay:
    grid: str
    group: str
    group_id: int
    member: str | None  # username; None for a group without members
    member_name: str
    day: date
    stops: tuple[StopView, ...]

    @property
    def site_ids(self) -> list[int]:
        return [s.site_id for s in self.stops]


@dataclass(frozen=True, slots=True)
class PlanView:
    grid: str
    grid_name: str
    group: str
    group_id: int
    kind: str
    period_start: date
    period_end: date
    policy_version: str
    shortfall: int
    shortfall_site_ids: list[int]
    days: list[MemberDay] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class WeekPlans:
    week: str
    monday: date
    focus: tuple[str, ...]
    plans: list[PlanView]

    def member_days(self) -> list[MemberDay]:
        return [d for p in self.plans for d in p.days]


@dataclass(frozen=True, slots=True)
class CoverageRow:
    level: str
    key: str  # username, group id, grid code or district id (as text)
    label: str
    planned: int
    visited: int
    missed: int

    @property
    def rate(self) -> float | None:
        return round(self.visited / self.planned, 4) if self.planned else None


# --- the policy, calendar, distances --------------------------------------------------------


def patrol_policy(settings: Settings | None = None) -> PatrolPolicy:
    """The policy in force (a city override would replace the version; none yet)."""
    return DEFAULT_PATROL_POLICY


@lru_cache(maxsize=4)
def _matrix(path: Path, mtime: float) -> DistanceMatrix:
    return DistanceMatrix.from_csv(path)


def distance_for(settings: Settings) -> Any:
    path = settings.patrol_distance_matrix
    if path is None:
        return straight_line
    if not path.is_file():
        raise Invalid("patrols.error.patrol_distance_matrix_no_such_file", path=path)
    return _matrix(path, path.stat().st_mtime)


def start_point(settings: Settings, grid_code: str) -> Stop | None:
    found = settings.patrol_start_points.get(grid_code)
    return Stop(0, found[0], found[1]) if found else None


def working_days(calendar: WorkCalendar, days: Iterable[date]) -> list[date]:
    return [d for d in days if calendar.is_workday(d)]


def local_today(now: datetime, calendar: WorkCalendar) -> date:
    return now.astimezone(calendar.tz).date()


def today_for(settings: Settings, now: datetime | None = None) -> date:
    """Today in the calendar's time zone (the day a plan's past ends)."""
    return local_today(now or utcnow(), work_calendar(settings))


def _local_bounds(period: Period, tz: tzinfo) -> tuple[datetime, datetime]:
    start = datetime.combine(period.start, time(0), tzinfo=tz)
    return start, datetime.combine(period.end + timedelta(days=1), time(0), tzinfo=tz)


# --- generating ----------------------------------------------------------------------------


def _plan_sites(
    session: Session, rows: Sequence[repo.SiteRow], tz: tzinfo, today: date
) -> list[PlanSite]:
    """The sites with their priority inputs: the one place those inputs are gathered. A
    site under a heavy-pollution emergency order today comes first, the higher the warning
    level the sooner (domain rules §9: checks at every site during a warning)."""
    ids = [r.site_id for r in rows]
    orders = sites_under_order(session, today)
    cases = repo.open_case_counts(session, ids)
    rechecks = repo.recheck_dues(session, ids)
    alerts = repo.open_alert_counts(session, ids)
    out = []
    for r in rows:
        due = rechecks.get(r.site_id)
        inputs = PriorityInputs(
            grade=r.grade,
            open_cases=cases.get(r.site_id, 0),
            recheck_due=due.astimezone(tz).date() if due is not None else None,
            open_alerts=alerts.get(r.site_id, 0),
            boost=LEVEL_RANK[orders[r.site_id]] if r.site_id in orders else 0,
        )
        out.append(PlanSite(r.site_id, r.lat, r.lon, inputs))
    return out


def _visited_sites(
    session: Session,
    group: repo.GroupRow,
    member_ids: set[int],
    site_ids: Sequence[int],
    period: Period,
    tz: tzinfo,
) -> set[int]:
    start, end = _local_bounds(period, tz)
    modes = {InspectionMode.on_site.value}
    if group.grid_kind != INSPECTOR:
        modes.add(InspectionMode.video.value)
    return {
        v.site_id
        for v in repo.visits(session, site_ids, start, end)
        if v.mode in modes and (v.group_id == group.group_id or v.inspector_id in member_ids)
    }


def _snapshot(plan: PatrolPlan, stops: int) -> dict[str, Any]:
    return {
        "stops": stops,
        "shortfall": plan.shortfall,
        "policy_version": plan.policy_version,
    }


@dataclass(frozen=True, slots=True)
class PlanInputs:
    """What the pure planner gets for one group and period (gathered from the database)."""

    sites: list[PlanSite]  # active sites not yet visited in the period, with priorities
    days: list[date]  # working days of the period from ``today`` on
    crews: int
    duty: DutyPolicy
    start: Stop | None
    members: list[repo.MemberRow]
    visited: set[int]


def plan_inputs(
    session: Session,
    group: repo.GroupRow,
    period: Period,
    *,
    today: date,
    settings: Settings,
    policy: PatrolPolicy = DEFAULT_PATROL_POLICY,
) -> PlanInputs:
    calendar = work_calendar(settings)
    members = repo.members(session, [group.group_id])[group.group_id]
    sites = repo.active_sites(session, group.grid_id, group.grid_kind)
    visited = _visited_sites(
        session,
        group,
        {m.user_id for m in members},
        [s.site_id for s in sites],
        period,
        calendar.tz,
    )
    duty = policy.duty(group.grid_kind)
    return PlanInputs(
        sites=_plan_sites(
            session, [s for s in sites if s.site_id not in visited], calendar.tz, today
        ),
        days=working_days(calendar, (d for d in period.days() if d >= today)),
        crews=1 if duty.together or not members else len(members),
        duty=duty,
        start=start_point(settings, group.grid_code),
        members=members,
        visited=visited,
    )


def generate_group(
    session: Session,
    group: repo.GroupRow,
    period: Period,
    *,
    today: date,
    settings: Settings,
    replace: bool = False,
    actor: Principal | None = None,
    policy: PatrolPolicy = DEFAULT_PATROL_POLICY,
) -> GenerateReport:
    """Create (or, with ``replace``, regenerate) the group's plan for ``period``."""
    plan = repo.plan_for(session, group.group_id, period.start)
    created = plan is None
    if plan is not None and not replace:
        return GenerateReport(group.grid_code, group.group_id, period, False, 0, 0, plan.shortfall)
    if plan is None:
        plan = PatrolPlan(
            grid_id=group.grid_id,
            group_id=group.group_id,
            period_start=period.start,
            period_end=period.end,
            kind=period.kind,
            policy_version=policy.version,
            shortfall=0,
            shortfall_site_ids=[],
        )
        repo.add(session, plan)
        session.flush()
    inputs = plan_inputs(session, group, period, today=today, settings=settings, policy=policy)
    old = repo.stops_of(session, [plan.id])
    before = {} if created else _snapshot(plan, len(old))
    kept = [s for s in old if s.day < today or s.site_id in inputs.visited]
    kept_ids = {s.id for s in kept}
    repo.delete_stops(session, [s.id for s in old if s.id not in kept_ids])
    duty, members = inputs.duty, inputs.members
    result = plan_period(
        inputs.sites,
        inputs.days,
        inputs.crews,
        duty,
        start=inputs.start,
        route=_router(settings, policy),
    )
    new = [
        PatrolStop(
            plan_id=plan.id,
            member_user_id=None if duty.together else _member(members, cd.crew),
            day=cd.day,
            seq=i,
            site_id=site_id,
        )
        for cd in result.crew_days
        for i, site_id in enumerate(cd.site_ids, start=1)
    ]
    repo.add_stops(session, new)
    plan.policy_version, plan.shortfall = policy.version, result.shortfall
    plan.shortfall_site_ids = list(result.unscheduled)
    session.flush()
    record_change(
        session,
        actor=actor,
        action="create" if created else "update",
        entity_type="patrol_plan",
        entity_id=plan.id,
        before=before,
        after=_snapshot(plan, len(kept) + len(new)),
        summary=f"巡查计划 {group.grid_code} {period.start}–{period.end}",
    )
    return GenerateReport(
        group.grid_code, group.group_id, period, created, len(new), len(kept), result.shortfall
    )


def _member(members: Sequence[repo.MemberRow], crew: int) -> int | None:
    return members[crew].user_id if crew < len(members) else None


def _router(settings: Settings, policy: PatrolPolicy) -> Any:
    distance = distance_for(settings)

    def route(stops: Sequence[Stop], start: Stop | None) -> list[int]:
        return ortools_order(
            stops, start, distance=distance, time_limit_ms=policy.route_time_limit_ms
        )

    return route


def generate_week(
    session: Session,
    monday: date,
    *,
    today: date,
    settings: Settings,
    grid_code: str | None = None,
    replace: bool = False,
    actor: Principal | None = None,
    policy: PatrolPolicy = DEFAULT_PATROL_POLICY,
) -> list[GenerateReport]:
    """Plans for every group (of one grid) for the period holding the week of ``monday``."""
    if grid_code is not None and not repo.grid_exists(session, grid_code):
        raise NotFound("patrols.error.no_grid_code", grid_code=grid_code)
    return [
        generate_group(
            session,
            group,
            period_of(monday, policy.duty(group.grid_kind), policy.fortnight_anchor),
            today=today,
            settings=settings,
            replace=replace,
            actor=actor,
            policy=policy,
        )
        for group in repo.groups(session, grid_code)
    ]


def ensure_current_plans(
    session: Session,
    now: datetime,
    settings: Settings,
    policy: PatrolPolicy = DEFAULT_PATROL_POLICY,
) -> int:
    """The scheduled job: on a working day, plan every group still without a current plan.

    Monday's first tick plans the week (or the first working day's, after a holiday); a
    group added later in the period gets its plan on the next tick.
    """
    calendar = work_calendar(settings)
    today = local_today(now, calendar)
    if not calendar.is_workday(today):
        return 0
    starts = {
        kind: period_of(today, policy.duty(kind), policy.fortnight_anchor).start
        for kind in ("enforcement", "inspector")
    }
    done = 0
    for group in repo.groups_without_plan(session, starts):
        period = period_of(today, policy.duty(group.grid_kind), policy.fortnight_anchor)
        generate_group(session, group, period, today=today, settings=settings, policy=policy)
        done += 1
    return done


# --- reading -------------------------------------------------------------------------------


def _check_reader(principal: Principal | None) -> None:
    """Plans and coverage are the grid's working data (``Perm.grid_work``): not companies'."""
    if principal is not None and not principal.can(Perm.grid_work):
        raise Forbidden("patrols.error.patrol_plans_are_not_open_role")


def parse_week_param(text: str) -> date:
    """The Monday of an ISO week from a parameter; 422 naming ``week`` when it is not one."""
    try:
        monday = parse_week(text)
    except ValueError as exc:
        raise Invalid("patrols.error.week", week=text) from exc
    if not DATE_MIN <= monday <= DATE_MAX - timedelta(days=6):
        raise Invalid("patrols.error.week_out_range", first=DATE_MIN.year, last=DATE_MAX.year)
    return monday


def _statuses(
    session: Session,
    plan: PatrolPlan,
    group: repo.GroupRow,
    member_ids: set[int],
    site_ids: Sequence[int],
    today: date,
    tz: tzinfo,
) -> dict[tuple[int, date], str]:
    period = Period(plan.period_start, plan.period_end, plan.kind)
    visited = _visited_sites(session, group, member_ids, site_ids, period, tz)
    out = {}
    for s in repo.stops_of(session, [plan.id]):
        if s.site_id in visited:
            out[(s.site_id, s.day)] = VISITED
        else:
            out[(s.site_id, s.day)] = MISSED if s.day < today else PLANNED
    return out


def _member_days(
    session: Session,
    plan: PatrolPlan,
    group: repo.GroupRow,
    members: list[repo.MemberRow],
    days: list[date],
    today: date,
    tz: tzinfo,
) -> list[MemberDay]:
    stops = [s for s in repo.stops_of(session, [plan.id]) if s.day in days]
    names = repo.site_names(session, [s.site_id for s in stops])
    status = _statuses(session, plan, group, {m.user_id for m in members}, list(names), today, tz)
    by_crew: dict[tuple[int | None, date], list[StopView]] = defaultdict(list)
    for s in stops:
        name, lat, lon = names[s.site_id]
        view = StopView(s.site_id, name, lat, lon, status[(s.site_id, s.day)])
        by_crew[(s.member_user_id, s.day)].append(view)
    people: list[tuple[int | None, str | None, str]] = [
        (m.user_id, m.username, m.display_name) for m in members
    ] or [(None, None, group.group_name)]
    return [
        MemberDay(
            group.grid_code,
            group.group_name,
            group.group_id,
            username,
            display,
            day,
            tuple(by_crew.get((uid, day), []) or by_crew.get((None, day), [])),
        )
        for day in days
        for uid, username, display in people
    ]


def week_plans(
    session: Session,
    week: str,
    *,
    principal: Principal | None,
    settings: Settings,
    today: date,
    grid_code: str | None = None,
    policy: PatrolPolicy = DEFAULT_PATROL_POLICY,
) -> WeekPlans:
    """The week's plans in scope, one entry per member and working day, routes in order."""
    _check_reader(principal)
    monday = parse_week_param(week)
    calendar = work_calendar(settings)
    week_days = [monday + timedelta(days=i) for i in range(7)]
    rows = repo.plans_overlapping(
        session, week_days[0], week_days[-1], principal=principal, grid_code=grid_code
    )
    members = repo.members(session, [g.group_id for _, g in rows])
    views = []
    for plan, group in rows:
        days = working_days(
            calendar, (d for d in week_days if plan.period_start <= d <= plan.period_end)
        )
        views.append(
            PlanView(
                group.grid_code,
                group.grid_name,
                group.group_name,
                group.group_id,
                plan.kind,
                plan.period_start,
                plan.period_end,
                plan.policy_version,
                plan.shortfall,
                list(plan.shortfall_site_ids or []),
                _member_days(
                    session, plan, group, members.get(group.group_id, []), days, today, calendar.tz
                ),
            )
        )
    return WeekPlans(week, monday, policy.focus(monday), views)


# --- coverage ------------------------------------------------------------------------------

LEVELS = ("member", "group", "grid", "district")


def coverage(
    session: Session,
    *,
    principal: Principal | None,
    settings: Settings,
    first: date,
    last: date,
    level: str,
    today: date,
) -> list[CoverageRow]:
    """Planned, visited and missed stops with a day in ``first``..``last``, per ``level``.

    A member counts the stops of their own route and, when the group goes together, every
    stop of the group. The monthly assessment reads these rows (patrol frequency and site
    coverage, domain.md §6).
    """
    _check_reader(principal)
    if level not in LEVELS:
        raise Invalid("patrols.error.level_must_one", levels=", ".join(LEVELS), level=level)
    if last < first:
        raise Invalid("patrols.error.must_not_before_from")
    calendar = work_calendar(settings)
    rows = repo.plans_overlapping(session, first, last, principal=principal)
    members = repo.members(session, [g.group_id for _, g in rows])
    districts = repo.district_names(session, [g.district_id for _, g in rows])
    tally: dict[str, list[Any]] = {}
    for plan, group in rows:
        people = members.get(group.group_id, [])
        for key, label in _keys(level, group, people, None, districts):
            tally.setdefault(key, [label, 0, 0, 0])  # a member with nothing planned shows 0
        for stop, status in _plan_statuses(session, plan, group, people, today, calendar.tz):
            if not first <= stop.day <= last:
                continue
            for key, label in _keys(level, group, people, stop, districts):
                entry = tally.setdefault(key, [label, 0, 0, 0])
                entry[1] += 1
                entry[2] += status == VISITED
                entry[3] += status == MISSED
    return [
        CoverageRow(level, key, label, planned, visited, missed)
        for key, (label, planned, visited, missed) in sorted(tally.items())
    ]


def _plan_statuses(
    session: Session,
    plan: PatrolPlan,
    group: repo.GroupRow,
    people: list[repo.MemberRow],
    today: date,
    tz: tzinfo,
) -> list[tuple[PatrolStop, str]]:
    stops = repo.stops_of(session, [plan.id])
    status = _statuses(
        session, plan, group, {m.user_id for m in people}, [s.site_id for s in stops], today, tz
    )
    return [(s, status[(s.site_id, s.day)]) for s in stops]


def _keys(
    level: str,
    group: repo.GroupRow,
    people: list[repo.MemberRow],
    stop: PatrolStop | None,
    districts: dict[int, str],
) -> list[tuple[str, str]]:
    """The rows a stop counts in (``stop`` None: every row the plan has)."""
    if level == "group":
        return [(str(group.group_id), f"{group.grid_code} {group.group_name}")]
    if level == "grid":
        return [(group.grid_code, group.grid_name)]
    if level == "district":
        return [(str(group.district_id), districts.get(group.district_id, ""))]
    walkers = [m for m in people if stop is None or stop.member_user_id in (None, m.user_id)]
    return [(m.username, m.display_name) for m in walkers]
