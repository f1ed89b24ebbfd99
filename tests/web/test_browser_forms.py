"""A real browser: 退出台账 opens a confirm dialog showing the reason; cancel retires nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.test_browser_ledger import login

pytestmark = pytest.mark.browser


def test_retire_asks_in_a_dialog_and_cancel_keeps_the_site(page: Any, live_server: Any) -> None:
    login(page, live_server.url, "d_heping")
    url = f"{live_server.url}/sites/{live_server.city.sites['HP-002']}"
    page.goto(url)
    form = page.locator("[data-testid=retire-form]")
    form.locator("input[name=reason]").fill("重复录入")
    form.locator("button[type=submit]").click()
    dialog = page.locator("[data-testid=retire-dialog]")
    dialog.wait_for(state="visible")
    assert "重复录入" in dialog.inner_text() and "确认退出台账" in dialog.inner_text()
    dialog.locator("[data-confirm-no]").click()
    dialog.wait_for(state="hidden")
    assert page.url == url
    page.reload()
    assert page.locator("[data-testid=retire-form]").count() == 1  # still in the ledger


@pytest.fixture
def phone(browser: Any) -> Any:
    context = browser.new_context(
        locale="zh-CN",
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        geolocation={"latitude": 41.7912, "longitude": 123.4013, "accuracy": 15},
        permissions=["geolocation"],
    )
    yield context
    context.close()


def test_site_form_location_and_enterprise_picker_on_a_phone(phone: Any, live_server: Any) -> None:
    page = phone.new_page()
    login(page, live_server.url, "d_heping")
    page.goto(f"{live_server.url}/sites/new")
    page.click("[data-locate]")
    page.wait_for_function("document.querySelector('[name=lat]').value !== ''")
    assert page.input_value("[name=lat]") == "41.791200"
    assert page.input_value("[name=lon]") == "123.401300"
    page.fill("[name=contractor_name]", "阿尔法")
    page.wait_for_selector("#ent-names option", state="attached")
    page.fill("[name=contractor_name]", "沈阳阿尔法建设集团有限公司")
    assert page.input_value("[name=contractor_uscc]").startswith("91210102MA0000001")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"page is {width} px wide on a 390 px phone"
