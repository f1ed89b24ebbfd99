"""The patrol plans page on a 390 px phone: routes drawn on the map, no sideways scrolling."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from dustgrid.db import make_engine
from dustgrid.patrols import service as svc
from dustgrid.patrols.periods import monday_of, week_label
from tests.web.test_browser_ledger import login

pytestmark = pytest.mark.browser


def test_patrol_page_fits_a_phone(browser: Any, live_server: Any) -> None:
    settings = live_server.settings
    today = svc.today_for(settings)
    monday = monday_of(today)
    engine = make_engine(settings.database_url)
    with Session(engine) as s:
        # plan the week as of its Monday, so every group has routes to draw
        svc.generate_week(s, monday, today=monday, settings=settings)
        s.commit()
    engine.dispose()
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        login(page, live_server.url, "off_hp1")
        page.goto(f"{live_server.url}/patrols?week={week_label(monday)}")
        page.wait_for_load_state("networkidle")
        assert page.locator("[data-testid=plan]").count() == 1
        assert page.locator("#patrol-map path.leaflet-interactive").count() >= 1
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways ({width}px)"
    finally:
        context.close()
