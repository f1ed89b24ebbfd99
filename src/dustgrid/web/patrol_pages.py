"""The patrol plans page (巡查计划): a week's routes per group, on a map, with coverage."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from dustgrid.auth.deps import AppSettings, CurrentPrincipal, DbSession
from dustgrid.errors import Invalid
from dustgrid.geo.coords import wgs84_to_gcj02
from dustgrid.patrols import service as svc
from dustgrid.patrols.periods import monday_of, week_label
from dustgrid.routing import Router
from dustgrid.web.templating import render

router = Router(include_in_schema=False)


def _rows(plan: svc.PlanView) -> list[dict[str, Any]]:
    """A table row per crew and day: members with the same route (or both free) share one."""
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for d in plan.days:
        key = (d.day, tuple(d.site_ids))
        row = rows.setdefault(key, {"day": d.day, "names": [], "stops": d.stops})
        row["names"].append(d.member_name)
    return list(rows.values())


def _map_data(plans: list[svc.PlanView], crs: str) -> list[dict[str, Any]]:
    def point(s: svc.StopView) -> list[Any]:
        lat, lon = wgs84_to_gcj02(s.lat, s.lon) if crs == "gcj02" else (s.lat, s.lon)
        return [round(lat, 6), round(lon, 6), s.name, s.status, s.site_id]

    return [
        {
            "label": f"{p.grid} · {p.group}",
            "routes": [
                {
                    "day": r["day"].isoformat(),
                    "who": "、".join(r["names"]),
                    "stops": [point(s) for s in r["stops"]],
                }
                for r in _rows(p)
                if r["stops"]
            ],
        }
        for p in plans
    ]


@router.get("/patrols", response_class=HTMLResponse)
def patrols_page(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    week: str = "",
    grid: str = "",
) -> Response:
    today = svc.today_for(settings)
    error = ""
    label = week.strip() or week_label(monday_of(today))
    try:
        plans = svc.week_plans(
            session,
            label,
            principal=principal,
            settings=settings,
            today=today,
            grid_code=grid.strip() or None,
        )
    except Invalid:
        error, label = "patrols.bad_week", week_label(monday_of(today))
        plans = svc.week_plans(session, label, principal=principal, settings=settings, today=today)
    coverage = svc.coverage(
        session,
        principal=principal,
        settings=settings,
        first=plans.monday,
        last=plans.monday + timedelta(days=6),
        level="group",
        today=today,
    )
    crs = settings.tile_crs if settings.tile_url else "wgs84"
    return render(
        request,
        "patrols/week.html",
        week=label,
        grid=grid.strip(),
        error=error,
        plans=plans,
        rows={p.group_id: _rows(p) for p in plans.plans},
        coverage=coverage,
        map_config={
            "plans": _map_data(plans.plans, crs),
            "tileUrl": settings.tile_url,
            "tileAttribution": settings.tile_attribution,
        },
    )
