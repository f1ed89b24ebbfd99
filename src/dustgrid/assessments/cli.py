"""`dustgrid assess …`: score a month, close it.

Mounted in ``dustgrid/cli.py`` as ``dustgrid assess``.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from dustgrid.assessments import service as svc
from dustgrid.assessments.months import Month
from dustgrid.config import get_settings
from dustgrid.db import session_scope
from dustgrid.errors import DomainError

app = typer.Typer(help="Monthly assessment (督考)", no_args_is_help=True)


@app.callback()
def main() -> None:
    """Monthly assessment (a group, so commands keep their names when mounted)."""


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(str(getattr(exc, "message", exc)), err=True)
    return typer.Exit(2)


@app.command("run")
def run_cmd(
    month: Annotated[str, typer.Option(help="the month, YYYY-MM")],
    as_json: Annotated[
        bool, typer.Option("--json", help="one JSON object per line and assessed party")
    ] = False,
    rerun: Annotated[
        str,
        typer.Option(help="re-compute a closed month from the records; the reason is kept"),
    ] = "",
    close: Annotated[bool, typer.Option(help="close the month after scoring it")] = False,
) -> None:
    """Score MONTH from the records (a new version when anything changed; a closed month
    only with --rerun REASON) and print every party's score."""
    settings = get_settings()
    try:
        m = Month.parse(month)
    except DomainError as exc:
        raise _fail(exc) from exc
    with session_scope() as session:
        try:
            result = (
                svc.close(session, m, settings)
                if close
                else svc.run(session, m, settings, rerun_reason=rerun)
            )
        except DomainError as exc:
            raise _fail(exc) from exc
        session.commit()
        rows = [
            {"kind": s.kind, "id": s.party_id, "name": s.name, "score": s.score,
             "consequence": s.consequence, "items": s.items}
            for s in result.scores
        ]  # fmt: skip
    if as_json:
        for line in rows:
            typer.echo(json.dumps(line, ensure_ascii=False))
        return
    state = "closed" if result.state == "closed" else "open"
    typer.echo(f"{result.month} · {state} · version {result.version}")
    for line in rows:
        items: list[dict[str, float]] = line["items"]  # type: ignore[assignment]
        lost = sum(i["points"] for i in items if i["points"] < 0)
        typer.echo(f"  {line['kind']:<16} {line['id']:>5} {line['score']:>6.1f} ({lost:+.1f})  "
                   f"{line['name']}")  # fmt: skip
