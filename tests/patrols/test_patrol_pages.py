"""The patrol plans page: routes per group, coverage with missed visits, scope."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from dustgrid.config import Settings
from dustgrid.patrols import service as svc
from tests.fixtures.city import City
from tests.patrols.helpers import MONDAY, WEEK


def test_member_sees_own_routes_and_missed_visits(
    db: Session, settings: Settings, city: City, web_as: Callable[[str], TestClient]
) -> None:
    # a plan for a week long past: its Monday's stops were never visited
    past = date(2026, 11, 2)
    svc.generate_week(db, past, today=past, settings=settings)
    page = web_as("off_hp1").get("/patrols", params={"week": "2026-W45"})
    assert page.status_code == 200
    html = page.text
    assert 'data-grid="E-HP"' in html and 'data-grid="I-HP"' not in html
    assert "和平区中山路住宅项目" in html  # the worst site, first on the route
    assert 'data-status="missed"' in html and "漏巡" in html
    assert 'class="table-wrap"' in html and "patrol-map" in html
    assert "patrols." not in html.replace("/static/js/patrols.js", "")  # no raw keys


def test_english_and_bad_week(
    db: Session, settings: Settings, web_as: Callable[[str], TestClient]
) -> None:
    svc.generate_week(db, MONDAY, today=MONDAY, settings=settings)
    c = web_as("admin")
    c.get("/lang/en")
    page = c.get("/patrols", params={"week": WEEK})
    assert "Patrol plans" in page.text and "Route map" in page.text
    bad = c.get("/patrols", params={"week": "soon"})
    assert bad.status_code == 200 and "could not be read" in bad.text


def test_companies_get_no_plans(web_as: Callable[[str], TestClient]) -> None:
    c = web_as("con_alpha")
    assert c.get("/patrols").status_code == 403
    assert 'href="/patrols"' not in c.get("/sites").text
