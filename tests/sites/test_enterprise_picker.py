"""The site form's enterprise picker: by name or credit code, only enterprises of sites in
the caller's scope; the form carries the picker's lists and the "use my location" button."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

ALPHA = "沈阳阿尔法建设集团有限公司"
BETA = "辽宁贝塔建筑工程有限公司"


def _names(client: TestClient, q: str) -> list[str]:
    r = client.get("/api/v1/sites/enterprises", params={"q": q})
    assert r.status_code == 200, r.text
    return [e["name"] for e in r.json()]


def test_by_name_or_credit_code(api_as: Callable[[str], TestClient]) -> None:
    admin = api_as("admin")
    assert _names(admin, "阿尔法") == [ALPHA]
    assert _names(admin, "91210103MA") == [BETA]
    assert set(_names(admin, "有限公司")) >= {ALPHA, BETA}
    assert _names(admin, "%") == _names(admin, "")  # a wildcard is plain text, not a pattern


def test_only_enterprises_of_sites_in_scope(api_as: Callable[[str], TestClient]) -> None:
    assert ALPHA in _names(api_as("con_alpha"), "有限公司")
    assert BETA not in _names(api_as("con_alpha"), "贝塔")
    assert ALPHA not in _names(api_as("d_shenhe"), "阿尔法")


def test_a_long_query_is_refused(api_as: Callable[[str], TestClient]) -> None:
    r = api_as("admin").get("/api/v1/sites/enterprises", params={"q": "x" * 65})
    assert r.status_code == 422


def test_the_form_has_the_picker_and_the_location_button(
    web_as: Callable[[str], TestClient],
) -> None:
    page = web_as("d_heping").get("/sites/new")
    assert '<datalist id="ent-names">' in page.text and 'list="ent-codes"' in page.text
    assert 'data-enterprise="contractor"' in page.text
    assert "data-locate" in page.text and "使用我的位置" in page.text
    assert '<script src="/static/js/site_form.js"></script>' in page.text
