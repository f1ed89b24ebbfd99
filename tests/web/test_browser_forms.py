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
