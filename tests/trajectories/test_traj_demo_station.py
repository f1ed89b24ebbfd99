"""The demo city gives the city safety station a City Brain push of its own: one hidden
site of the demo fleet lies in the area of a station grid (``demo.citybrain.station_place``),
so ``safety_admin`` finds a push to decide on ``make run``."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid import migrate
from dustgrid.auth.models import User
from dustgrid.auth.service import load_principal
from dustgrid.config import Settings
from dustgrid.db import make_engine
from dustgrid.demo.city import build_demo
from dustgrid.demo.citybrain import load_fleet_demo
from dustgrid.grids.models import Grid
from dustgrid.org.models import OrgUnit, UnitKind
from dustgrid.trajectories import service

TODAY = date(2026, 5, 20)


def test_the_demo_city_pushes_one_suspect_to_the_city_safety_station(
    settings: Settings, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    cb = settings.model_copy(update={"var_dir": tmp_path / "var"})
    with Session(engine) as session:
        build_demo(session, seed=3, n_sites=120, today=TODAY)
        demo = load_fleet_demo(
            session, seed=3, n_sites=120, settings=cb, today=TODAY, days=3, trucks=24
        )
        assert demo.pushed >= 1
        station = session.scalar(
            select(OrgUnit.id).where(OrgUnit.kind == UnitKind.city_safety_station)
        )
        admin = session.scalar(select(User).where(User.username == "safety_admin"))
        assert admin is not None and station is not None
        mine = service.list_suspects(session, load_principal(session, admin))
        assert mine and all(s.unit_id == station for s in mine)
        grid = session.get(Grid, mine[0].grid_id)
        assert grid is not None and grid.unit_id == station  # one of the station's grids
    engine.dispose()
