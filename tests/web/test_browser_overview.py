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


def test_overview_fits_a_phone(page: Any, live_server: Any) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, live_server.url, "admin")
    page.goto(f"{live_server.url}/overview")
    page.wait_for_selector("canvas")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.click("[data-testid=kpi-sites]")
    page.wait_for_url("**/sites?district_id=")
