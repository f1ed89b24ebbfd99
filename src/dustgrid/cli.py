"""`dustgrid …`: migrate, demo, serve, user administration, and the engineers' tools."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from dustgrid.config import get_settings

app = typer.Typer(help="DustGrid 城市大脑·工地扬尘在线管控平台", no_args_is_help=True)
user_app = typer.Typer(help="Accounts", no_args_is_help=True)
app.add_typer(user_app, name="user")


def _mount_tools() -> None:
    from dustgrid.alerts.cli import app as alerts_app
    from dustgrid.ingest.hj212.cli import app as hj212_app

    app.add_typer(hj212_app, name="hj212", help="HJ 212-2017 frame tools")
    app.add_typer(alerts_app, name="alerts", help="Alert rule profiles and audits")


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
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="do nothing when the database already has sites")
    ] = False,
) -> None:
    """Load the generated demo city into the configured database (prints the logins)."""
    from dustgrid.db import session_scope
    from dustgrid.demo.city import DEMO_PASSWORD, build_demo, demo_loaded

    with session_scope() as session:
        if if_empty and demo_loaded(session):
            typer.echo("database already holds a city; demo not loaded again")
            typer.echo(f"Demo password for every account: {DEMO_PASSWORD}")
            return
        summary = build_demo(session, seed=seed, n_sites=sites)
        session.commit()
    typer.echo(summary.describe())
    typer.echo(f"\nDemo password for every account: {DEMO_PASSWORD}")
    if not get_settings().demo_mode:
        typer.echo("Note: demo accounts log in only with DUSTGRID_DEMO_MODE=true")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="bind address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port")] = 8000,
) -> None:
    """Serve the web pages and the API."""
    import uvicorn

    from dustgrid.app import create_app

    uvicorn.run(create_app(), host=host, port=port, proxy_headers=True)


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
    from dustgrid.auth.roles import Role
    from dustgrid.auth.service import create_user
    from dustgrid.db import session_scope
    from dustgrid.errors import DomainError

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
