"""A city admin on a 390 px phone opens the emergencies page and declares a warning for one
district: the page fits the screen, the orders reach the district's sites."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures.city import PASSWORD

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="zh-CN", viewport=PHONE)
    pg = context.new_page()
    yield pg
    context.close()


def _fits(page: Any) -> bool:
    width = page.evaluate("document.documentElement.scrollWidth")
    return bool(width <= PHONE["width"])


def test_declare_a_district_warning_on_a_phone(phone: Any, live_server: Any) -> None:
    base = live_server.url
    phone.goto(f"{base}/login")
    phone.fill("#username", "admin")
    phone.fill("#password", PASSWORD)
    phone.click("button[type=submit]")
    phone.wait_for_url(f"{base}/overview")  # leaders land on the overview
    phone.goto(f"{base}/emergencies")
    assert phone.locator("h1").inner_text() == "重污染应急"
    assert _fits(phone)
    phone.select_option("[data-testid=level]", "orange")
    phone.fill("[data-testid=ends-at]", "2099-12-31T18:00")
    phone.check("[data-testid=area-districts]")
    assert phone.locator("#em-map").is_hidden()
    phone.check(f"[data-testid=district-{live_server.city.districts['shenhe']}]")
    phone.check("[data-testid=area-polygon]")  # the map shows, fits the phone, then back
    assert phone.locator("#em-map").is_visible() and _fits(phone)
    assert phone.locator(
        f"[data-testid=district-{live_server.city.districts['shenhe']}]"
    ).is_hidden()
    phone.check("[data-testid=area-districts]")
    phone.click("[data-testid=declare]")
    phone.wait_for_url(f"{base}/emergencies/*")
    assert phone.locator("[data-testid=em-level]").inner_text() == "橙色预警"
    assert "停止土石方作业" in phone.locator("[data-testid=em-measures]").inner_text()
    table = phone.locator("[data-testid=compliance]").inner_text()
    assert "沈河区北市场住宅项目" in table and "和平区" not in table
    assert _fits(phone)
