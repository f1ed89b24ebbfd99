"""`dustgrid patrols …`: generate and print a week's patrol plans.

Mounted in ``dustgrid/cli.py`` as ``dustgrid patrols``.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

import typer

from dustgrid.config import get_settings
from dustgrid.db import session_scope
from dustgrid.errors import DomainError
from dustgrid.patrols import service as svc

app = typer.Typer(help="Patrol plans (巡查计划)", no_args_is_help=True)


@app.callback()
def main() -> None:
    """Patrol plans (a group, so commands keep their names when mounted)."""


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(str(getattr(exc, "message", exc)), err=True)
    return typer.Exit(2)


@app.command()
def plan(
    week: Annotated[str, typer.Option(help="ISO week, e.g. 2026-W50")],
    grid: Annotated[str | None, typer.Option(help="only this grid (code)")] = None,
    replace: Annotated[
        bool,
        typer.Option(help="regenerate existing plans (unvisited stops from today on only)"),
    ] = False,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="plan as if today were YYYY-MM-DD")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per member-day")] = False,
) -> None:
    """Plan the period holding WEEK for every group (missing plans only, unless --replace),
    then print the week: per member and working day, the sites in route order."""
    settings = get_settings()
    try:
        monday = svc.parse_week_param(week)
        today = date.fromisoformat(as_of) if as_of else svc.today_for(settings)
    except (DomainError, ValueError) as exc:
        raise _fail(exc) from exc
    with session_scope() as session:
        try:
            reports = svc.generate_week(
                session, monday, today=today, settings=settings, grid_code=grid, replace=replace
            )
            plans = svc.week_plans(
                session, week, principal=None, settings=settings, today=today, grid_code=grid
            )
        except DomainError as exc:
            raise _fail(exc) from exc
        session.commit()
    if as_json:
        for d in plans.member_days():
            line = {
                "grid": d.grid,
                "group": d.group,
                "member": d.member,
                "date": d.day.isoformat(),
                "sites": d.site_ids,
            }
            typer.echo(json.dumps(line, ensure_ascii=False))
        return
    _print_table(plans, reports)


def _print_table(plans: svc.WeekPlans, reports: list[svc.GenerateReport]) -> None:
    created = sum(r.created for r in reports)
    typer.echo(f"{plans.week}: {len(plans.plans)} plan(s), {created} new")
    for p in plans.plans:
        typer.echo(
            f"\n{p.grid} {p.grid_name} · {p.group} · {p.kind} {p.period_start}–{p.period_end}"
            + (f" · shortfall {p.shortfall}" if p.shortfall else "")
        )
        for d in p.days:
            sites = " → ".join(str(s) for s in d.site_ids) or "-"
            typer.echo(f"  {d.day}  {d.member or '-':<16} {len(d.site_ids):>3}  {sites}")
