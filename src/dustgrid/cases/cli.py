"""Case commands of the worker CLI (mounted under ``dustgrid jobs`` by ``dustgrid.cli``)."""

from __future__ import annotations

from typing import Annotated

import typer


def look_back(
    rate: Annotated[float | None, typer.Option(help="share of the cohort (0–1]")] = None,
) -> None:
    """Draw the monthly look-back (回头看) sample of closed cases."""
    from dustgrid.cases.escalation import sample_look_back
    from dustgrid.db import session_scope
    from dustgrid.models import utcnow

    with session_scope() as session:
        ids = sample_look_back(session, now=utcnow(), rate=rate)
        session.commit()
    typer.echo(f"selected {len(ids)} cases for look-back")
