"""Issue 10 §5: user text on maps renders as text, and the pages run under a strict CSP.

A district named ``<img src=x onerror=...>`` shows that exact text in the map tooltip (no
element is created from it), and no page of the walk below reports a CSP violation: every
script is a file of our own origin, and images come from our origin or ``data:`` only.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from dustgrid.db import make_engine
from dustgrid.org.models import District
from tests.web.test_browser_ledger import login

pytestmark = pytest.mark.browser

EVIL = '<img src=x onerror="window.__xss=1">沈河区'

# Record every CSP violation the page reports, from before any page script runs.
WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


@pytest.fixture
def evil_district(live_server: Any) -> Iterator[int]:
    engine = make_engine(live_server.settings.database_url)
    shenhe = live_server.city.districts["shenhe"]
    with Session(engine) as s:
        s.execute(update(District).where(District.id == shenhe).values(name=EVIL))
        s.commit()
    try:
        yield shenhe
    finally:
        with Session(engine) as s:
            s.execute(update(District).where(District.id == shenhe).values(name="沈河区"))
            s.commit()
        engine.dispose()


def _watch(page: Any) -> list[str]:
    messages: list[str] = []
    page.add_init_script(WATCH_CSP)
    page.on(
        "console",
        lambda m: messages.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return messages


def test_district_name_in_map_tooltip_is_text(
    page: Any, live_server: Any, evil_district: int
) -> None:
    console = _watch(page)
    login(page, live_server.url, "admin")
    page.goto(f"{live_server.url}/map")
    page.wait_for_selector("#map[data-markers]")
    boundaries = page.locator(".leaflet-overlay-pane path:not(.site-marker)")
    assert boundaries.count() == 2
    texts = []
    for i in range(2):
        boundaries.nth(i).dispatch_event("mouseover")
        page.wait_for_selector(".leaflet-tooltip")
        tip = page.locator(".leaflet-tooltip").last
        texts.append(tip.inner_text())
        assert tip.locator("img").count() == 0
        boundaries.nth(i).dispatch_event("mouseout")
    assert EVIL in texts
    assert page.locator(".leaflet-container img[src=x]").count() == 0
    assert page.evaluate("window.__xss") is None
    assert page.evaluate("window.__csp") == [] and console == []


PAGES = (
    "/overview",
    "/overview/screen",
    "/sites",
    "/map",
    "/cases",
    "/cases/map",
    "/cases/board",
    "/alerts",
    "/alerts/profiles",
    "/devices",
    "/devices/quarantine",
    "/grids",
    "/patrols",
    "/org",
    "/hotline",
    "/credit",
    "/docs",
    "/today",  # the field pages: their scripts, the outbox and the service worker
)


def test_pages_report_no_csp_violation(page: Any, live_server: Any) -> None:
    console = _watch(page)
    login(page, live_server.url, "admin")
    site = live_server.city.sites["HP-001"]
    field = f"/inspections/new/{site}"
    for path in (*PAGES, f"/sites/{site}", f"/sites/{site}/telemetry", field):
        r = page.goto(f"{live_server.url}{path}")
        assert r is not None and r.status == 200, path
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__csp") == [], path
    # the CSRF header script is a file now: an htmx-driven call still works without inline JS
    policy = r.headers["content-security-policy"] if r else ""
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]
    assert console == []
