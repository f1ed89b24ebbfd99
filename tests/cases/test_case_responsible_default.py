"""Accepting a case proposes an officer of the site's enforcement grid, not the admin."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from dustgrid.cases import views
from dustgrid.cases.states import CaseState
from dustgrid.config import Settings
from tests.cases.case_kit import case_in
from tests.fixtures.city import City


def test_the_accept_form_proposes_a_grid_officer(
    db: Session, city: City, settings: Settings, web_as: Callable[[str], TestClient]
) -> None:
    case = case_in(db, city, settings, CaseState.dispatched)
    db.commit()
    page = web_as("d_heping").get(f"/cases/{case.id}")
    form = page.text.split('data-move="accept"', 1)[1].split("</form>", 1)[0]
    chosen = re.findall(r'<option value="(\d+)"\s+selected', form)
    officers = {city.users["off_hp1"], city.users["off_hp2"]}  # the officers of grid E-HP
    assert len(chosen) == 1 and int(chosen[0]) in officers
    assert f'value="{city.users["d_heping"]}"' in form  # the admin may still be chosen


def test_candidates_list_the_grid_officers_first(
    db: Session, city: City, settings: Settings
) -> None:
    case = case_in(db, city, settings, CaseState.dispatched)
    people = views.responsible_candidates(db, case)
    roles = [role for _, _, role in people]
    first_other = next(i for i, r in enumerate(roles) if r != "officer")
    assert roles[:first_other] == ["officer"] * first_other and first_other >= 2
    assert all(r != "officer" for r in roles[first_other:])
