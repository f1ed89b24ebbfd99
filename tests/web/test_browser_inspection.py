"""A real phone-sized browser (390×844, faked geolocation): check in at a site (refused
outside the fence first), fail one item with a photo, submit, and see the case opened."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.inspections.photo_kit import jpeg
from tests.web.test_browser_ledger import login

pytestmark = pytest.mark.browser

INSIDE = {"latitude": 41.7912, "longitude": 123.4013, "accuracy": 15}
FAR = {"latitude": 41.803, "longitude": 123.401, "accuracy": 15}


@pytest.fixture
def phone(browser: Any) -> Any:
    context = browser.new_context(
        locale="zh-CN",
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        geolocation=FAR,
        permissions=["geolocation"],
    )
    yield context
    context.close()


def _no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"page is {width} px wide on a 390 px phone"


def test_inspection_on_a_phone(phone: Any, live_server: Any) -> None:
    page = phone.new_page()
    base = live_server.url
    site_id = live_server.city.sites["HP-001"]
    login(page, base, "insp_hp1")
    page.goto(f"{base}/inspections/new")
    page.wait_for_selector("#pick-status:has-text('已按距您的远近排序')")
    page.click(f"a[href='/inspections/new/{site_id}']")
    page.wait_for_url(f"**/inspections/new/{site_id}")
    _no_sideways_scroll(page)

    page.click("[data-testid=checkin]")
    status = page.locator("[data-testid=checkin-status]")
    status.filter(has_text="您距工地约 1.3 公里").wait_for()
    assert page.locator("[data-testid=checklist]").is_hidden()

    phone.set_geolocation(INSIDE)
    page.click("[data-testid=checkin]")
    status.filter(has_text="已签到").wait_for()
    assert "定位精度约 15 米" in status.inner_text()

    page.click("#all-pass")
    page.check("[data-testid=road_hardening-failed]")
    page.click("[data-testid=submit]")
    error = page.locator("[data-testid=submit-error]")
    error.filter(has_text="不符合项须拍照").wait_for()
    assert "车行道路硬化" in error.inner_text()

    photo = jpeg(taken=datetime.now(UTC), lat=INSIDE["latitude"], lon=INSIDE["longitude"])
    page.set_input_files(
        "[data-testid=road_hardening-photo]",
        files=[{"name": "road.jpg", "mimeType": "image/jpeg", "buffer": photo}],
    )
    page.fill("[data-testid=item-road_hardening] textarea", "东门出入口未硬化")
    _no_sideways_scroll(page)
    page.click("[data-testid=submit]")
    page.wait_for_url(re.compile(r".*/inspections/\d+$"))

    assert page.locator("[data-testid=visit-result]").inner_text() == "发现问题"
    assert page.locator("[data-testid=visit-photo]").count() == 1
    link = page.locator("[data-testid=case-link]")
    assert "道路未硬化" in link.inner_text()
    _no_sideways_scroll(page)
    link.click()
    page.wait_for_url(re.compile(r".*/cases/\d+$"))
    assert "道路未硬化" in page.locator("[data-testid=case-title]").inner_text()
