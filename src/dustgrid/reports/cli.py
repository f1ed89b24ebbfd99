"""`dustgrid notices …`: the monthly notice (月通报) as files.

Mounted in ``dustgrid/cli.py`` as ``dustgrid notices``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dustgrid.assessments.months import Month
from dustgrid.config import get_settings
from dustgrid.db import session_scope
from dustgrid.errors import DomainError
from dustgrid.i18n import translate
from dustgrid.reports import service as svc

app = typer.Typer(help="Monthly notice (月通报)", no_args_is_help=True)


@app.callback()
def main() -> None:
    """Notices (a group, so commands keep their names when mounted)."""


@app.command("monthly")
def monthly_cmd(
    month: Annotated[str, typer.Option(help="the month, YYYY-MM")],
    out: Annotated[Path, typer.Option(help="the folder to write the .xlsx and .pdf to")],
) -> None:
    """Write MONTH's notice (rankings, red and black lists, key figures, chart) as
    monthly-notice-YYYY-MM.xlsx and .pdf into OUT."""
    settings = get_settings()
    try:
        m = Month.parse(month)
    except DomainError as exc:
        typer.echo(str(exc.message), err=True)
        raise typer.Exit(2) from exc
    with session_scope() as session:
        notice = svc.monthly_notice(session, m, settings)
    try:
        paths = svc.write_notice(notice, out)
    except OSError as exc:
        typer.echo(translate("reports.error.bad_out", "zh-CN").format(path=out), err=True)
        typer.echo(translate("reports.error.bad_out", "en").format(path=out), err=True)
        raise typer.Exit(2) from exc
    for path in paths:
        typer.echo(str(path))
