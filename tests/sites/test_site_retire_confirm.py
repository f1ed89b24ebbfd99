"""退出台账 asks first: the page has a <dialog> (no inline script) and the server has a
confirm step, so a stray click never retires a site."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from dustgrid.sites.models import Site
from tests.fixtures.city import City


def test_the_site_page_asks_with_a_dialog_and_no_inline_script(
    web_as: Callable[[str], TestClient], city: City
) -> None:
    page = web_as("d_heping").get(f"/sites/{city.sites['HP-002']}")
    assert page.status_code == 200
    form = page.text.split('data-testid="retire-form"', 1)[1].split("</form>", 1)[0]
    assert 'data-confirm="retire-dialog"' in page.text and '<dialog id="retire-dialog"' in page.text
    assert 'name="confirm" value=""' in form
    assert '<script src="/static/js/confirm.js"></script>' in page.text
    assert "onclick" not in page.text and "onsubmit" not in page.text
    assert "确认退出台账" in page.text


def test_retire_without_confirm_only_asks(
    web_as: Callable[[str], TestClient], city: City, db: Session
) -> None:
    c = web_as("d_heping")
    site_id = city.sites["HP-002"]
    r = c.post(f"/sites/{site_id}/retire", data={"csrf_token": c.csrf, "reason": "已竣工"})  # type: ignore[attr-defined]
    assert r.status_code == 200
    assert 'name="confirm" value="yes"' in r.text and "已竣工" in r.text
    site = db.get(Site, site_id)
    assert site is not None and site.retired_at is None
    r = c.post(
        f"/sites/{site_id}/retire",
        data={"csrf_token": c.csrf, "reason": "已竣工", "confirm": "yes"},  # type: ignore[attr-defined]
    )
    assert r.status_code == 303
    db.expire_all()
    site = db.get(Site, site_id)
    assert site is not None and site.retired_at is not None


def test_the_confirm_step_speaks_english(web_as: Callable[[str], TestClient], city: City) -> None:
    c = web_as("d_heping")
    c.cookies.set("lang", "en")
    r = c.post(
        f"/sites/{city.sites['HP-002']}/retire",
        data={"csrf_token": c.csrf, "reason": "finished"},  # type: ignore[attr-defined]
    )
    assert r.status_code == 200 and "Retire this site?" in r.text and "确认" not in r.text
