"""`dustgrid …`: migrate, demo, serve, user administration, and the engineers' tools."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from dustgrid.config import get_settings
from dustgrid.data import PRSA_DIR

app = typer.Typer(help="DustGrid 城市大脑·工地扬尘在线管控平台", no_args_is_help=True)
user_app = typer.Typer(help="Accounts", no_args_is_help=True)
app.add_typer(user_app, name="user")


def _mount_tools() -> None:
    from dustgrid.alerts.cli import app as alerts_app
    from dustgrid.ingest.hj212.cli import app as hj212_app

    hj212_app.command("listen")(hj212_listen)
    app.add_typer(hj212_app, name="hj212", help="HJ 212-2017 frame tools and TCP listener")
    app.add_typer(alerts_app, name="alerts", help="Alert rule profiles and audits")
    from dustgrid.trajectories.cli import app as trajectories_app

    app.add_typer(
        trajectories_app, name="trajectories", help="Muck-truck GPS: suspected unpermitted sites"
    )

    from dustgrid.cases.cli import look_back
    from dustgrid.devices.cli import app as devices_app
    from dustgrid.jobs.cli import app as jobs_app

    jobs_app.command("look-back")(look_back)

    app.add_typer(devices_app, name="devices", help="Smart sensing devices: offline sweep")

    from dustgrid.patrols.cli import app as patrols_app

    app.add_typer(patrols_app, name="patrols", help="Patrol plans: weekly and fortnightly routes")

    from dustgrid.assessments.cli import app as assess_app

    app.add_typer(assess_app, name="assess", help="Monthly assessment: scores and their evidence")
    from dustgrid.reports.cli import app as notices_app

    app.add_typer(notices_app, name="notices", help="Monthly notice: rankings, lists, key figures")

    app.add_typer(
        jobs_app,
        name="jobs",
        help="Worker: outbox, reminders, escalation",
        callback=_load_registrations,
    )


def _load_registrations() -> None:
    """The domains' outbox handlers and periodic work, before the worker runs."""
    from dustgrid import wiring

    wiring.load()


def hj212_listen(
    host: Annotated[str | None, typer.Option(help="bind address (default hj212_host)")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port (default hj212_port)")] = None,
) -> None:
    """Run only the HJ 212 TCP listener (no web server) until SIGINT/SIGTERM."""
    import asyncio
    import logging

    import dustgrid.model_registry  # noqa: F401 - every table mapped (foreign keys resolve)
    from dustgrid.ingest.hj212.server import run_listener

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    asyncio.run(run_listener(get_settings(), host=host, port=port))


@app.command()
def simulate(
    devices: Annotated[int, typer.Option(help="number of simulated devices")] = 5,
    host: Annotated[str, typer.Option(help="HJ 212 server address")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="HJ 212 port (default hj212_port)")] = None,
    duration: Annotated[float | None, typer.Option(help="stop after S seconds")] = None,
    interval: Annotated[float, typer.Option(help="seconds between real-time frames")] = 60.0,
    speedup: Annotated[float, typer.Option(help="model clock runs this much faster")] = 1.0,
    mn_prefix: Annotated[str, typer.Option(help="MNs are PREFIX + a 4-digit number")] = "",
    mn: Annotated[list[str] | None, typer.Option(help="explicit MNs (repeatable)")] = None,
    password: Annotated[str, typer.Option(help="HJ 212 PW of the devices")] = "",
    from_db: Annotated[
        bool, typer.Option("--from-db", help="take MN/PW/unit/CRC of active monitors from the DB")
    ] = False,
    seed: Annotated[int, typer.Option(help="random seed")] = 1,
    garbage: Annotated[float, typer.Option(help="P(garbage bytes before a frame)")] = 0.0,
    bad_crc: Annotated[float, typer.Option(help="P(frame with a wrong CRC)")] = 0.0,
    split: Annotated[float, typer.Option(help="P(frame split across TCP writes)")] = 0.0,
    split_packets: Annotated[float, typer.Option(help="P(frame sent as PNUM/PNO parts)")] = 0.0,
    duplicates: Annotated[float, typer.Option(help="P(frame sent twice)")] = 0.0,
    out_of_order: Annotated[float, typer.Option(help="P(frame held back one turn)")] = 0.0,
    silence_reconnect: Annotated[
        float, typer.Option(help="P(per frame) of going silent, then reconnecting")
    ] = 0.0,
    silence_s: Annotated[float, typer.Option(help="length of a silence")] = 900.0,
    modbus_crc: Annotated[float, typer.Option(help="P(frame with a Modbus CRC)")] = 0.0,
    dusty: Annotated[
        float, typer.Option(help="share of devices at sites whose dust control failed")
    ] = 0.0,
) -> None:
    """Simulated dust monitors speaking HJ 212-2017 over TCP (diurnal PM, events, faults)."""
    import asyncio
    import logging

    from dustgrid.simulator.runner import Faults, SimOptions, run_simulation

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = get_settings()
    options = SimOptions(
        devices=devices,
        host=host,
        port=settings.hj212_port if port is None else port,
        duration=duration,
        interval=interval,
        speedup=speedup,
        mn_prefix=mn_prefix,
        mns=list(mn or []),
        password=password,
        from_db=from_db,
        seed=seed,
        background_csv=settings.simulator_background_csv,
        dusty=dusty,
        faults=Faults(
            garbage=garbage,
            bad_crc=bad_crc,
            split=split,
            split_packets=split_packets,
            duplicates=duplicates,
            out_of_order=out_of_order,
            silence_reconnect=silence_reconnect,
            silence_s=silence_s,
            modbus_crc=modbus_crc,
        ),
    )
    report = asyncio.run(run_simulation(options, settings))
    typer.echo(str(report))


_mount_tools()


@app.command()
def migrate() -> None:
    """Bring the configured database to the latest schema."""
    from dustgrid import migrate as m

    m.upgrade(get_settings().database_url)
    typer.echo(f"database at head: {get_settings().database_url}")


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="random seed: same seed, same city")] = 1,
    sites: Annotated[int, typer.Option(help="number of sites")] = 480,
    devices: Annotated[int, typer.Option(help="demo dust monitors to register")] = 20,
    reference_data: Annotated[
        Path,
        typer.Option(help="folder of the PRSA station CSVs for the demo's reference stations"),
    ] = PRSA_DIR,
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="do nothing when the database already has sites")
    ] = False,
    history: Annotated[
        bool,
        typer.Option(help="two closed months of records and their assessment scores"),
    ] = True,
    with_fleet: Annotated[
        bool,
        typer.Option("--fleet/--no-fleet", help="muck-truck fixes and City Brain suspects"),
    ] = True,
) -> None:
    """Load the generated demo city into the configured database (prints the logins)."""
    from dustgrid.db import refresh_planner_statistics, session_scope
    from dustgrid.demo.assessments import add_assessment_history
    from dustgrid.demo.city import DEMO_PASSWORD, build_demo, demo_loaded, featured_site_ids
    from dustgrid.demo.reference import ensure_demo_reference
    from dustgrid.models import utcnow
    from dustgrid.simulator.demo_devices import ensure_demo_devices

    with session_scope() as session:
        if if_empty and demo_loaded(session):
            typer.echo("database already holds a city; demo not loaded again")
            typer.echo(f"Demo password for every account: {DEMO_PASSWORD}")
            return
        summary = build_demo(session, seed=seed, n_sites=sites)
        featured = featured_site_ids(session, [login.username for login in summary.logins])
        mns = (
            ensure_demo_devices(session, devices, variety=True, first_sites=featured)
            if devices
            else []
        )
        refs = ensure_demo_reference(
            session, reference_data, now=utcnow(), tz=ZoneInfo(get_settings().timezone)
        )
        closed = add_assessment_history(session, get_settings(), utcnow(), seed) if history else []
        fleet = None
        if with_fleet:
            from dustgrid.demo.citybrain import load_fleet_demo

            settings = get_settings()
            today = utcnow().astimezone(ZoneInfo(settings.timezone)).date()
            fleet = load_fleet_demo(
                session, seed=seed, n_sites=sites, settings=settings, today=today
            )
        session.commit()
        refresh_planner_statistics(session)
    typer.echo(summary.describe())
    if fleet is not None:
        typer.echo(fleet.describe())
    if mns:
        typer.echo(f"\nDemo dust monitors (HJ 212): {len(mns)}, {mns[0]} … {mns[-1]}")
    for mn, report in refs.items():
        problems = "; ".join(report.problems)
        typer.echo(
            f"Reference station {mn}: {report.new} hourly values"
            + (f" ({problems})" if problems else "")
        )
    if closed:
        typer.echo(f"Monthly assessment closed for {', '.join(closed)} (dustgrid assess run)")
    typer.echo(f"\nDemo password for every account: {DEMO_PASSWORD}")
    if not get_settings().demo_mode:
        typer.echo("Note: demo accounts log in only with DUSTGRID_DEMO_MODE=true")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="bind address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port")] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="web processes (default web_workers, else the CPU cores)"),
    ] = None,
    hj212: Annotated[
        bool | None,
        typer.Option(
            "--hj212/--no-hj212", help="also run the HJ 212 listener (default: hj212_enabled)"
        ),
    ] = None,
    jobs: Annotated[
        bool,
        typer.Option(
            "--jobs/--no-jobs",
            help="also run the background loops (roll-ups, sweeps, alerts, MQTT); "
            "exactly one node of a deployment does",
        ),
    ] = True,
) -> None:
    """Serve the pages and the API (several web processes on one port), the HJ 212 TCP
    listener and the background loops; extra web nodes: --no-hj212 --no-jobs."""
    from dustgrid.serving import roles_for
    from dustgrid.serving import serve as run

    settings = get_settings()
    run(host, port, workers or settings.web_processes(), roles_for(settings, hj212, jobs))


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Argument(help="login name")],
    role: Annotated[str, typer.Option(help="city_admin, district_admin, station_staff, …")],
    display_name: Annotated[str, typer.Option(help="name shown in pages")] = "",
    unit_id: Annotated[int | None, typer.Option(help="organisation unit id")] = None,
    enterprise_id: Annotated[int | None, typer.Option(help="enterprise id")] = None,
    password: Annotated[
        str | None, typer.Option(help="password (prompted when omitted)", envvar="DUSTGRID_PW")
    ] = None,
) -> None:
    """Create an account. There is no default password: give one or type it in."""
    from dustgrid.auth.service import create_user
    from dustgrid.db import session_scope
    from dustgrid.errors import DomainError
    from dustgrid.identity.roles import Role

    try:
        role_value = Role(role)
    except ValueError:
        raise typer.BadParameter(
            f"unknown role {role!r}; one of {[r.value for r in Role]}"
        ) from None
    if password is None:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Repeat: "):
            raise typer.BadParameter("passwords differ")
    with session_scope() as session:
        try:
            user = create_user(
                session,
                actor=None,
                username=username,
                password=password,
                display_name=display_name or username,
                role=role_value,
                org_unit_id=unit_id,
                enterprise_id=enterprise_id,
            )
        except DomainError as exc:
            typer.echo(exc.message, err=True)
            raise typer.Exit(2) from exc
        session.commit()
        typer.echo(f"created user {user.username} (id {user.id}, {user.role.value})")


def main() -> None:
    app()
