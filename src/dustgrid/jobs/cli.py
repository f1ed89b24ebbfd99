"""``dustgrid jobs …``: the worker, one-off sweeps and the look-back sample."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

app = typer.Typer(help="Outbox delivery, reminders, escalation, look-back", no_args_is_help=True)


@app.command("run")
def run(
    once: Annotated[bool, typer.Option("--once", help="one round, then exit")] = False,
) -> None:
    """Sweep reminders and escalations and deliver queued messages, every jobs_poll_s."""
    from dustgrid.db import get_sessionmaker
    from dustgrid.jobs.scheduler import run_forever

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    run_forever(get_sessionmaker(), once=once)


@app.command("sweep")
def sweep_once() -> None:
    """Run the case sweeps once (reminders, escalation, review dates)."""
    from dustgrid.cases.escalation import sweep
    from dustgrid.db import session_scope
    from dustgrid.models import utcnow

    with session_scope() as session:
        report = sweep(session, utcnow())
        session.commit()
    typer.echo(str(report))


@app.command("look-back")
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
