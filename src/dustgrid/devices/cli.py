"""`dustgrid devices …`: the offline sweep, run from cron or as a small loop.

Mount with ``app.add_typer(devices_app, name="devices")`` in ``dustgrid/cli.py``.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer

from dustgrid.db import session_scope
from dustgrid.devices.online import sweep_offline
from dustgrid.models import utcnow

app = typer.Typer(help="Smart sensing devices", no_args_is_help=True)


@app.callback()
def main() -> None:
    """Smart sensing devices (a group, so commands keep their names when mounted)."""


def sweep_once() -> list[str]:
    """One sweep in its own transaction; the MNs that went offline."""
    session = session_scope()
    try:
        newly = [d.mn for d in sweep_offline(session, now=utcnow())]
        session.commit()
        return newly
    finally:
        session.close()


@app.command()
def sweep(
    every: Annotated[
        float, typer.Option(help="repeat every N seconds (0: run once, e.g. from cron)")
    ] = 0,
) -> None:
    """Mark devices silent for longer than their limit offline and open offline periods."""
    while True:
        newly = sweep_once()
        typer.echo(
            f"{len(newly)} device(s) newly offline" + (f": {', '.join(newly)}" if newly else "")
        )
        if every <= 0:
            return
        time.sleep(every)
