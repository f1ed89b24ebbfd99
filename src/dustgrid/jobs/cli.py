"""``dustgrid jobs …``: the worker and one-off sweeps of the work the domains registered
(``dustgrid.periodic``); domains add their own commands (``cases.cli``: look-back)."""

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
    from dustgrid import periodic
    from dustgrid.config import get_settings
    from dustgrid.db import session_scope
    from dustgrid.models import utcnow

    settings = get_settings()
    with session_scope() as session:
        now = utcnow()
        reports = [fn(session, now, settings) for fn in periodic.SWEEPS.values()]
        session.commit()
    for report in reports:  # one line per registered sweep (the domains register them)
        typer.echo(str(report))
