"""The phone's "Today" page (今日) for officers and inspectors: my route of the day in order
with visited stops ticked, rechecks due in my grids, open cases at the route's sites; field
roles land on it after login. And the service worker that opens the field pages offline."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from dustgrid.cases.states import CaseState
from dustgrid.config import Settings
from dustgrid.patrols import service as patrols
from tests.cases.case_kit import case_in
from tests.fixtures.city import City
from tests.patrols.helpers import MONDAY, visit

Web = Callable[[str], TestClient]


@pytest.fixture
def on_monday(monkeypatch: pytest.MonkeyPatch) -> date:
    """The page's "today" is the planned week's Monday (a working day, whatever today is)."""
    monkeypatch.setattr(patrols, "today_for", lambda settings, now=None: MONDAY)
    return MONDAY


@pytest.mark.parametrize(
    ("user", "landing"),
    [
        ("off_hp1", "/today"),
        ("insp_sh1", "/today"),
        ("admin", "/overview"),
        ("con_alpha", "/sites"),
    ],
)
def test_field_roles_land_on_today(user: str, landing: str, web_as: Web) -> None:
    r = web_as(user).get("/")
    assert r.status_code == 303 and r.headers["location"] == landing


def test_my_route_in_order_with_visits_ticked(
    db: Session, settings: Settings, city: City, web_as: Web, on_monday: date
) -> None:
    patrols.generate_week(db, MONDAY, today=MONDAY, settings=settings)
    visit(db, city.sites["HP-003"], city.users["off_hp2"], MONDAY)  # my crew mate was there
    html = web_as("off_hp1").get("/today").text
    # the menu shows Today first
    nav = html.split('id="main-nav"', 1)[1]
    assert nav.index('href="/today"') < nav.index('href="/sites"')
    # the three sites of E-HP, the worst first, each with "start inspection" and the site
    plan = patrols.week_plans(db, "2026-W51", principal=None, settings=settings, today=MONDAY)
    route = next(d for p in plan.plans for d in p.days if d.member == "off_hp1" and d.day == MONDAY)
    positions = [html.index(f'data-site-id="{s}"') for s in route.site_ids]
    assert positions == sorted(positions) and route.site_ids[0] == city.sites["HP-001"]
    for code in ("HP-001", "HP-002", "HP-003"):
        sid = city.sites[code]
        assert f'href="/inspections/new/{sid}"' in html and f'href="/sites/{sid}"' in html
    assert f'data-site-id="{city.sites["HP-003"]}" data-status="visited"' in html
    assert "已巡查 1 / 3 个工地" in html and "今日巡查路线" in html
    assert "地铁十号线和平站" not in html  # HP-M01 is the city station's, not mine
    assert 'id="today-map"' in html and "field." not in html  # no raw message keys
    assert 'class="field-outbox"' in html and "/static/js/field_queue.js" in html


def test_rechecks_due_and_open_cases_at_my_sites(
    db: Session, settings: Settings, city: City, web_as: Web, on_monday: date
) -> None:
    patrols.generate_week(db, MONDAY, today=MONDAY, settings=settings)
    rectifying = case_in(db, city, settings, CaseState.rectifying)  # HP-001, its recheck due
    html = web_as("off_hp1").get("/today").text
    rechecks = html.split('data-testid="rechecks"', 1)[1].split("</section>", 1)[0]
    assert f'href="/cases/{rectifying.id}"' in rechecks
    open_cases = html.split('data-testid="open-cases"', 1)[1].split("</section>", 1)[0]
    assert f'href="/cases/{rectifying.id}"' in open_cases and "和平区中山路住宅项目" in open_cases
    # the city station's officers work another grid: not theirs to recheck
    assert f'href="/cases/{rectifying.id}"' not in web_as("off_sf1").get("/today").text


def test_english_nothing_planned_and_companies(web_as: Web, on_monday: date) -> None:
    c = web_as("insp_hp1")
    c.get("/lang/en")
    html = c.get("/today").text
    assert "Today&#39;s patrol route" in html and "No sites are planned for you today." in html
    assert "Rechecks due" in html and "今日" not in html.split("<main", 1)[1]
    assert web_as("con_alpha").get("/today").status_code == 403
    assert 'href="/today"' not in web_as("admin").get("/sites").text


def test_the_inspection_page_shows_the_outbox(city: City, web_as: Web) -> None:
    html = web_as("insp_hp1").get(f"/inspections/new/{city.sites['HP-001']}").text
    assert 'data-testid="outbox"' in html and 'data-msg-waiting="{n} 项待发送"' in html
    scripts = [s.split('"', 1)[0] for s in html.split('<script src="')[1:]]
    assert scripts[-4:] == [
        "/static/js/inspection.js",
        "/static/js/field_queue.js",
        "/static/js/field_outbox.js",
        "/static/js/inspection_page.js",
    ]


def test_the_service_worker_is_served_from_the_root(anon: TestClient) -> None:
    r = anon.get("/sw.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert "/today" in r.text and "/inspections/new/" in r.text  # the field pages it keeps
    assert "network" in r.text and r.headers["cache-control"] == "no-cache"
