"""The demo city's inspection history: a week of visits by every grid team, so the site
pages, the visit list and the patrol pages are not empty.

Every visit is a submitted, consistent record: checked in inside the fence (or by video,
for officers), answered on the checklist that applied that day, "nothing found" (a failed
item would need a photo and a case, which the demo does not fabricate). Rows are written
in bulk: the demo stays fast.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from dustgrid.grids.models import GridKind
from dustgrid.inspections import repository as repo
from dustgrid.inspections.checklist import template_for
from dustgrid.inspections.models import (
    Inspection,
    InspectionItem,
    InspectionMode,
    InspectionResult,
    ItemOutcome,
)

HISTORY_DAYS = 7
VISITS_PER_DAY = {GridKind.enforcement: 2, GridKind.inspector: 3}  # domain.md §3, scaled down
VIDEO_SHARE = 0.25  # of officers' visits
METRES_PER_DEGREE = 111_320.0


@dataclass(frozen=True, slots=True)
class Team:
    grid_id: int
    kind: GridKind
    group_id: int
    member_ids: Sequence[int]


def _working_days(today: date, n: int) -> list[date]:
    days: list[date] = []
    day = today - timedelta(days=1)
    while len(days) < n:
        if day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    return days


def _visit(rng: random.Random, team: Team, site: Any, day: date, k: int, tz: Any) -> dict[str, Any]:
    at = datetime.combine(day, time(9, 0), tzinfo=tz) + timedelta(minutes=55 * k)
    video = team.kind == GridKind.enforcement and rng.random() < VIDEO_SHARE
    offset = rng.uniform(5, 150)  # metres north of the site point, inside the 200 m fence
    return {
        "idempotency_key": f"demo-{team.grid_id}-{day.isoformat()}-{k}",
        "site_id": site.id,
        "inspector_id": team.member_ids[k % len(team.member_ids)],
        "group_id": team.group_id,
        "mode": InspectionMode.video if video else InspectionMode.on_site,
        "result": InspectionResult.nothing_found,
        "template_version": template_for(day).version,
        "checked_in_at": at,
        "submitted_at": at + timedelta(minutes=rng.randint(12, 35)),
        "check_in_lat": None if video else site.lat + offset / METRES_PER_DEGREE,
        "check_in_lon": None if video else site.lon,
        "check_in_accuracy_m": None if video else round(rng.uniform(6, 35), 1),
        "check_in_distance_m": None if video else round(offset, 1),
        "note": "",
        "created_at": at,
        "updated_at": at,
    }


def add_history(
    session: Session,
    rng: random.Random,
    teams: Sequence[Team],
    today: date,
    tz: Any,
    *,
    only: Collection[int] | None = None,
) -> int:
    """Write the week's visits and their answers (to the sites in ``only``, when given);
    returns the number of visits."""
    by_grid: dict[int, list[Any]] = {}
    for site in repo.site_points(session):
        if only is not None and site.id not in only:
            continue
        for grid in (site.enforcement_grid_id, site.inspector_grid_id):
            if grid is not None:
                by_grid.setdefault(grid, []).append(site)
    visits = []
    for team in teams:
        sites = by_grid.get(team.grid_id, [])
        for day in _working_days(today, HISTORY_DAYS):
            for k, site in enumerate(rng.sample(sites, min(VISITS_PER_DAY[team.kind], len(sites)))):
                visits.append(_visit(rng, team, site, day, k, tz))
    if not visits:
        return 0
    session.execute(insert(Inspection), visits)
    session.flush()
    ids = {v.idempotency_key: v.id for v in repo.demo_visits(session)}
    items = [
        {
            "inspection_id": ids[v["idempotency_key"]],
            "item_code": code,
            "outcome": ItemOutcome.not_applicable
            if code == "video_monitoring" and rng.random() < 0.1
            else ItemOutcome.passed,
            "note": "",
        }
        for v in visits
        for code in template_for(v["checked_in_at"].date()).codes()
    ]
    session.execute(insert(InspectionItem), items)
    return len(visits)
