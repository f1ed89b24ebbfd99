"""The big screen refreshes its figures in place, and the overview fits a phone."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from dustgrid.db import make_engine
from dustgrid.sites.models import Grade, Site
from tests.web.test_browser_ledger import login

pytestmark = pytest.mark.browser


def _set_grade(url: str, site_id: int, grade: Grade) -> None:
    engine = make_engine(url)
    with Session(engine) as s:
        s.execute(update(Site).where(Site.id == site_id).values(grade=grade))
        s.commit()
    engine.dispose()


def test_big_screen_updates_without_reloading(page: Any, live_server: Any) -> None:
    login(page, live_server.url, "admin")
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto(f"{live_server.url}/overview/screen?refresh=2")
    cell = page.locator(
        '.overview-kpis [data-k="grades.non_compliant"], [data-k="grades.non_compliant"]'
    ).first
    before = int(cell.inner_text())
    page.evaluate("window.__sameDocument = true")
    site = live_server.city.sites["HP-002"]
    _set_grade(live_server.settings.database_url, site, Grade.non_compliant)
    try:
        page.wait_for_function(
            "n => document.querySelector('[data-k=\"grades.non_compliant\"]')"
            ".textContent == String(n)",
            arg=before + 1,
            timeout=15000,
        )
        assert page.evaluate("window.__sameDocument") is True  # no reload
        assert page.locator("canvas").count() >= 2  # the grade ring and the trend
        assert page.locator("[data-stale]").is_hidden()
    finally:
        _set_grade(live_server.settings.database_url, site, Grade.basic)


def test_big_screen_clock_is_the_citys_zone_named_by_the_page(page: Any, live_server: Any) -> None:
    """The refreshed clock follows the zone the page names (the ``timezone`` setting, as
    ``data-tz``), not the browser's and not a fixed UTC+8: here a city in New York."""
    login(page, live_server.url, "admin")

    def in_new_york(route: Any) -> None:
        html = route.fetch().text()
        assert 'data-tz="Asia/Shanghai"' in html  # the setting of the test server
        route.fulfill(
            body=html.replace('data-tz="Asia/Shanghai"', 'data-tz="America/New_York"'),
            content_type="text/html; charset=utf-8",
        )

    def generated_at_noon(route: Any) -> None:
        data = route.fetch().json()
        data["generated_at"] = "2026-12-07T04:05:00+00:00"  # 12:05 in Shanghai
        route.fulfill(json=data)

    page.route("**/overview/screen?refresh=2", in_new_york)
    page.route("**/api/v1/overview*", generated_at_noon)
    page.goto(f"{live_server.url}/overview/screen?refresh=2")
    page.wait_for_function(
        "() => document.querySelector('[data-k=\"as_of\"]').textContent == '2026-12-06 23:05'",
        timeout=15000,
    )


def test_overview_fits_a_phone(page: Any, live_server: Any) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, live_server.url, "admin")
    page.goto(f"{live_server.url}/overview")
    page.wait_for_selector("canvas")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.click("[data-testid=kpi-sites]")
    page.wait_for_url("**/sites?district_id=")
