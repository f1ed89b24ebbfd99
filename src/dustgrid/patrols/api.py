"""JSON routes of patrol plans: ``/api/v1/patrol-plans`` and ``/api/v1/patrol-coverage``."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import Query

from dustgrid.bounds import Day
from dustgrid.errors import error_responses
from dustgrid.identity.deps import AppSettings, CurrentPrincipal, DbSession
from dustgrid.patrols import service as svc
from dustgrid.patrols.schemas import CoverageOut, MemberDayOut, PlanOut, StopOut, WeekPlansOut
from dustgrid.routing import Router

router = Router(prefix="/api/v1", tags=["patrols"], responses=error_responses())


def _today(settings: AppSettings) -> date:
    return svc.today_for(settings)


def week_out(plans: svc.WeekPlans) -> WeekPlansOut:
    return WeekPlansOut(
        week=plans.week,
        monday=plans.monday,
        focus=list(plans.focus),
        plans=[
            PlanOut(
                grid=p.grid,
                grid_name=p.grid_name,
                group=p.group,
                group_id=p.group_id,
                kind=p.kind,
                period_start=p.period_start,
                period_end=p.period_end,
                policy_version=p.policy_version,
                shortfall=p.shortfall,
                shortfall_site_ids=p.shortfall_site_ids,
                days=[
                    MemberDayOut(
                        date=d.day,
                        member=d.member,
                        member_name=d.member_name,
                        sites=d.site_ids,
                        stops=[_stop(s) for s in d.stops],
                    )
                    for d in p.days
                ],
            )
            for p in plans.plans
        ],
    )


def _stop(s: svc.StopView) -> StopOut:
    return StopOut(site_id=s.site_id, name=s.name, lat=s.lat, lon=s.lon, status=s.status)


@router.get(
    "/patrol-plans",
    response_model=WeekPlansOut,
    summary="A week's patrol plans in scope: per member and working day, sites in route order",
)
def patrol_plans(
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    week: Annotated[str, Query(description="ISO week, e.g. 2026-W50", max_length=8)],
    grid: Annotated[str | None, Query(description="grid code", max_length=32)] = None,
) -> WeekPlansOut:
    plans = svc.week_plans(
        session,
        week,
        principal=principal,
        settings=settings,
        today=_today(settings),
        grid_code=grid,
    )
    return week_out(plans)


@router.get(
    "/patrol-coverage",
    response_model=list[CoverageOut],
    summary="Planned, visited and missed patrol stops per member, group, grid or district",
)
def patrol_coverage(
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    from_: Annotated[Day, Query(alias="from", description="first day (YYYY-MM-DD)")],
    to: Annotated[Day, Query(description="last day, inclusive (YYYY-MM-DD)")],
    level: Literal["member", "group", "grid", "district"] = "group",
) -> list[CoverageOut]:
    rows = svc.coverage(
        session,
        principal=principal,
        settings=settings,
        first=from_,
        last=to,
        level=level,
        today=_today(settings),
    )
    return [
        CoverageOut(
            level=r.level,
            key=r.key,
            label=r.label,
            planned=r.planned,
            visited=r.visited,
            missed=r.missed,
            rate=r.rate,
        )
        for r in rows
    ]
