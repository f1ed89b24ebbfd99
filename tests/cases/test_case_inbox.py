"""Inbox tabs: each tab stays inside the caller's scope and holds the cases it should."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.cases import repository
from dustgrid.cases.models import Case
from dustgrid.cases.repository import TABS_BY_ROLE, Tab, case_clause
from dustgrid.cases.states import CaseState
from dustgrid.config import Settings
from tests.cases.case_kit import MONDAY, case_in, report, who
from tests.fixtures.city import City

USERS = ["admin", "viewer_city", "d_heping", "viewer_heping", "d_shenhe", "safety_admin",
         "st_heping", "st_shenhe", "off_hp1", "off_hp2", "off_sh1", "insp_hp1", "insp_sh1",
         "con_alpha", "con_beta", "prov_gamma"]  # fmt: skip
LATER = MONDAY + timedelta(days=60)  # every running clock is overdue by then


@pytest.fixture
def cases(db: Session, city: City, settings: Settings) -> dict[str, Case]:
    out = {st.value: case_in(db, city, settings, st) for st in CaseState}
    out["sh_reported"] = report(db, city, settings, site="SH-001", by="insp_sh1")
    out["metro"] = case_in(db, city, settings, CaseState.reported, site="HP-M01")
    return out


@pytest.mark.parametrize("user", USERS)
def test_every_tab_stays_in_scope(
    db: Session, city: City, settings: Settings, cases: dict[str, Case], user: str
) -> None:
    p = who(db, city, user)
    visible = set(db.scalars(select(Case.id).where(case_clause(p))))
    for tab in Tab:
        for now in (MONDAY, LATER):
            got = {c.id for c in db.scalars(repository.filtered(p, tab=tab, now=now))}
            assert got <= visible, (user, tab.value)
    counts = repository.tab_counts(db, p, LATER)
    assert set(counts) <= {t.value for t in TABS_BY_ROLE[p.role]}


@pytest.mark.parametrize(
    ("user", "tab", "holds"),
    [
        ("admin", Tab.to_dispatch, {"reported", "returned", "sh_reported", "metro"}),
        ("d_heping", Tab.to_accept, {"dispatched"}),
        ("d_heping", Tab.to_verify, {"verifying"}),
        ("off_hp1", Tab.to_handle, {"accepted", "handling", "penalizing"}),
        ("off_hp2", Tab.to_handle, {"accepted", "handling", "penalizing"}),  # same grid
        ("st_heping", Tab.to_handle, {"accepted", "handling", "penalizing"}),
        ("insp_hp1", Tab.to_recheck, {"rectifying"}),
        ("con_alpha", Tab.to_rectify, {"rectifying"}),
        ("d_shenhe", Tab.to_accept, set()),
        ("off_sh1", Tab.to_handle, set()),
        ("insp_sh1", Tab.reported, {"sh_reported"}),
    ],
)
def test_tabs_hold_the_right_cases(
    db: Session, city: City, cases: dict[str, Case], user: str, tab: Tab, holds: set[str]
) -> None:
    p = who(db, city, user)
    got = {c.id for c in db.scalars(repository.filtered(p, tab=tab, now=MONDAY))}
    assert got == {cases[k].id for k in holds}


def test_overdue_tab_per_role(db: Session, city: City, cases: dict[str, Case]) -> None:
    open_hp = {k for k in cases if k not in ("closed", "suspended", "sh_reported", "metro")}
    for user, want in (
        ("admin", {k for k in cases if k not in ("closed", "suspended")}),
        ("d_heping", open_hp - {"reported"}),  # the ones dispatched to its unit
        ("off_hp1", open_hp),  # the ones on its grid's sites
        ("off_sf1", {"metro"}),  # the metro site is the city safety station's grid
        ("d_shenhe", set()),
    ):
        p = who(db, city, user)
        got = {c.id for c in db.scalars(repository.filtered(p, tab=Tab.overdue, now=LATER))}
        assert got == {cases[k].id for k in want}, user
