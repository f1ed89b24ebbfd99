"""Issue 13: a map that tells the truth, and charts that show the limit (a real browser).

- the map at 1440×900: clusters are rings of their sites' grade mix whose counts add up to
  the sites, district names are written on the map, a grade filter reduces the markers, and
  the layer control shows and hides monitors, open alerts and open cases;
- at 390×844 the map page does not scroll sideways;
- the alert chart's y-axis starts at 0 and reaches the limit line, its x-axis ends at or
  before now; the site chart's y-axis starts at 0 and reaches the site's limit line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from dustgrid.db import make_engine
from dustgrid.models import utcnow
from tests.alerts.alert_kit import add_device, alerts_of, rows, run, store, use_rule
from tests.web.test_browser_ledger import login

pytestmark = pytest.mark.browser

SHANGHAI = "shanghai-db31-964-2016"


@pytest.fixture(scope="module")
def layered(live_server: Any) -> Iterator[dict[str, int]]:
    """Two monitors at HP-001 (one online with an open PM10 alert and its case, raised from
    readings of the last hour, one offline) in the browser database."""
    engine = make_engine(live_server.settings.database_url)
    city = live_server.city
    with Session(engine) as db:
        use_rule(db, city, SHANGHAI)
        on = add_device(db, city, "BRMAPHP0010001", site="HP-001")
        off = add_device(db, city, "BRMAPHP0010002", site="HP-001")
        off.online = False
        now = utcnow().replace(second=0, microsecond=0)
        start = now - timedelta(minutes=now.minute % 15 + 45)
        store(db, rows(on.id, "pm10", start, [180.0] * 40), now)
        run(db, now)
        # the newest alert at HP-001 is this run's (other browser tests share the database)
        alert = max(alerts_of(db, city.sites["HP-001"]), key=lambda a: a.id)
        db.commit()
        out = {"alert": alert.id, "on": on.id, "off": off.id}
    engine.dispose()
    yield out


def _wide(browser: Any, width: int = 1440, height: int = 900) -> Any:
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": height})
    return context.new_page()


def _clusters_add_up(page: Any) -> int:
    total = int(page.get_attribute("#map", "data-markers"))
    rings = page.locator(".marker-cluster .ring")
    counted = 0
    for i in range(rings.count()):
        ring = rings.nth(i)
        n = int(ring.get_attribute("data-count"))
        assert int(ring.inner_text()) == n
        mix = dict(part.split(":") for part in ring.get_attribute("data-mix").split(","))
        assert sum(int(v) for v in mix.values()) == n  # the ring's shares are its sites
        assert "conic-gradient" in (ring.get_attribute("style") or "")
        counted += n
    assert counted + page.locator("path.site-marker").count() == total
    return total


def test_map_rings_labels_filter(browser: Any, live_server: Any) -> None:
    page = _wide(browser)
    try:
        login(page, live_server.url, "admin")
        page.goto(f"{live_server.url}/map")
        page.wait_for_selector("#map[data-markers]")
        page.wait_for_selector(".marker-cluster .ring, path.site-marker")
        page.wait_for_timeout(300)
        # every site the user may see (other browser tests may have added some)
        sites = len(page.request.get(f"{live_server.url}/api/v1/sites/map").json()["rows"])
        assert sites >= 7
        assert _clusters_add_up(page) == sites
        for _ in range(3):  # zoomed out, the test city's sites gather into rings
            page.click(".leaflet-control-zoom-out")
            page.wait_for_timeout(400)
        assert page.locator(".marker-cluster .ring").count() >= 1
        assert _clusters_add_up(page) == sites
        labels = sorted(page.locator(".district-label").all_inner_texts())
        assert labels == ["和平区", "沈河区"]
        # the demo city's roads and rivers, drawn under everything else without tiles
        assert page.locator(".leaflet-basemap-pane path").count() >= 10
        # the legend explains the rings
        assert "圆环" in page.locator("#legend").inner_text()
        # a grade filter reduces the markers to that grade's sites
        expected = page.request.get(
            f"{live_server.url}/api/v1/sites/map", params={"grade": "non_compliant"}
        ).json()["rows"]
        assert 0 < len(expected) < sites
        page.select_option("[data-testid=filter-grade]", "non_compliant")
        page.wait_for_selector(f'#map[data-markers="{len(expected)}"]')
        page.wait_for_timeout(300)
        assert _clusters_add_up(page) == len(expected)
        assert page.locator("path.site-marker:not(.grade-non_compliant)").count() == 0
        assert str(len(expected)) in page.locator("[data-testid=site-count]").inner_text()
        page.click("button[type=reset]")
        page.wait_for_selector(f'#map[data-markers="{sites}"]')
    finally:
        page.context.close()


def _toggle(page: Any, name: str) -> None:
    page.locator(".leaflet-control-layers-overlays label", has_text=name).locator("input").click()


def test_map_layers_toggle(browser: Any, live_server: Any, layered: dict[str, int]) -> None:
    page = _wide(browser)
    try:
        login(page, live_server.url, "admin")
        page.goto(f"{live_server.url}/map")
        page.wait_for_selector("#map[data-markers]")
        for layer, attr, selector in (
            ("监测设备（在线）", "data-devices-online", ".dev-marker.dev-on"),
            ("监测设备（离线）", "data-devices-offline", ".dev-marker.dev-off"),
            ("未解除告警", "data-alerts", ".alert-marker"),
            ("办理中案件", "data-cases", ".case-marker"),
        ):
            assert page.locator(selector).count() == 0  # off at first
            _toggle(page, layer)
            page.wait_for_selector(f"#map[{attr}]")
            n = int(page.get_attribute("#map", attr))
            assert n >= 1, layer
            assert page.locator(selector).count() == n, layer
            _toggle(page, layer)
            assert page.locator(selector).count() == 0, layer
    finally:
        page.context.close()


def test_map_on_a_phone_has_no_sideways_scroll(browser: Any, live_server: Any) -> None:
    page = _wide(browser, 390, 844)
    try:
        login(page, live_server.url, "d_heping")
        page.goto(f"{live_server.url}/map")
        page.wait_for_selector("#map[data-markers]")
        page.wait_for_timeout(300)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        # the filter panel opens without widening the page
        page.click("#map-filters-box summary")
        assert page.locator("[data-testid=filter-grade]").is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        page.context.close()


def _axes(page: Any, selector: str) -> dict[str, float]:
    page.wait_for_selector(f"{selector}[data-y-max]", timeout=15000)
    el = page.locator(selector)
    return {
        k: float(el.get_attribute(f"data-{k}") or "nan") for k in ("y-min", "y-max", "x-max", "now")
    }


def test_alert_chart_shows_the_limit_and_ends_at_now(
    browser: Any, live_server: Any, layered: dict[str, int]
) -> None:
    page = _wide(browser)
    try:
        login(page, live_server.url, "admin")
        page.goto(f"{live_server.url}/alerts/{layered['alert']}")
        axes = _axes(page, "[data-alert-chart]")
        limit = float(page.get_attribute("[data-alert-chart]", "data-limit") or "nan")
        assert limit == 100.0  # the Shanghai profile's 15-minute PM10 limit
        assert axes["y-min"] == 0 and axes["y-max"] >= limit
        assert axes["x-max"] <= axes["now"]
    finally:
        page.context.close()


def test_site_chart_starts_at_zero_and_shows_the_limit(
    browser: Any, live_server: Any, layered: dict[str, int]
) -> None:
    page = _wide(browser)
    try:
        login(page, live_server.url, "admin")
        page.goto(f"{live_server.url}/sites/{live_server.city.sites['HP-001']}")
        axes = _axes(page, "[data-site-chart]")
        limits = json.loads(page.get_attribute("[data-site-chart]", "data-limits") or "{}")
        assert limits.get("pm10") == 100.0 and limits.get("tsp") == 800.0
        assert axes["y-min"] == 0 and axes["y-max"] >= max(limits["pm10"], limits["tsp"])
        assert axes["x-max"] <= axes["now"]
    finally:
        page.context.close()
