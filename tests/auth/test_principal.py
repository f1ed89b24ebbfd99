"""One principal per account, however it is resolved: a request's session (one statement)
and a login or service call (``load_principal``) build it the same way, with the unit, the
district and the grids the account's scope needs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from dustgrid.auth.models import User
from dustgrid.auth.service import (
    SESSION_COOKIE,
    identity_for_session,
    load_principal,
    start_session,
)
from dustgrid.config import Settings
from dustgrid.identity.principal import Principal
from tests.fixtures.city import City

USERS = ("admin", "d_heping", "st_heping", "off_hp1", "insp_sh1", "con_alpha", "viewer_city")


@pytest.mark.parametrize("username", USERS)
def test_a_session_and_a_login_resolve_the_same_principal(
    db: Session, city: City, settings: Settings, username: str
) -> None:
    user = db.get(User, city.users[username])
    assert user is not None
    sid, _ = start_session(db, user, kind=SESSION_COOKIE, ttl=timedelta(minutes=5))
    found = identity_for_session(db, sid, kind=SESSION_COOKIE, settings=settings, ip="10.0.0.9")
    assert found is not None
    assert found.principal == load_principal(db, user, ip="10.0.0.9")


def test_the_principal_carries_unit_district_and_grids(db: Session, city: City) -> None:
    def principal(username: str) -> Principal:
        user = db.get(User, city.users[username])
        assert user is not None
        return load_principal(db, user)

    station = principal("st_heping")
    assert station.unit_level == 3
    assert station.parent_unit_id == city.units["bureau_heping"]
    assert station.district_id == city.districts["heping"]
    assert station.grid_ids == {city.grids["E-HP"]}  # its own grid
    officer = principal("off_hp1")
    assert officer.grid_ids == {city.grids["E-HP"]}  # its group's
    contractor = principal("con_alpha")
    assert contractor.enterprise_id == city.enterprises["alpha"]
    assert contractor.grid_ids == frozenset()


def test_a_request_reads_its_identity_in_one_statement(
    db: Session, city: City, settings: Settings
) -> None:
    """A request costs one statement, its grids included (an officer's groups' grids)."""
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    sids = {}
    for username in ("d_heping", "off_hp1"):
        user = db.get(User, city.users[username])
        assert user is not None
        sids[username], _ = start_session(db, user, kind=SESSION_COOKIE, ttl=timedelta(minutes=5))
    db.flush()
    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        for username, expected in (("d_heping", 1), ("off_hp1", 1)):
            statements.clear()
            found = identity_for_session(db, sids[username], kind=SESSION_COOKIE, settings=settings)
            assert found is not None and found.principal.username == username
            assert len(statements) == expected, statements
    finally:
        event.remove(engine, "before_cursor_execute", count)
