"""Every text box on the main pages says what it is (``type``), so app.css styles it."""

from __future__ import annotations

from collections.abc import Callable
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.city import City


class _Inputs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.untyped: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "input" and not names.get("type"):
            self.untyped.append(str(names.get("name") or names.get("id") or "?"))


def _untyped(html: str) -> list[str]:
    parser = _Inputs()
    parser.feed(html)
    return parser.untyped


MAIN_PAGES = (
    "/sites",
    "/sites/new",
    "/grids",
    "/devices",
    "/cases",
    "/alerts",
    "/inspections",
    "/org",
)


def test_login_form_inputs_have_a_type(anon: TestClient) -> None:
    page = anon.get("/login")
    assert page.status_code == 200
    assert 'name="username"' in page.text
    assert _untyped(page.text) == []


@pytest.mark.parametrize("path", MAIN_PAGES)
def test_main_page_inputs_have_a_type(web_as: Callable[[str], TestClient], path: str) -> None:
    page = web_as("admin").get(path)
    assert page.status_code == 200, path
    assert _untyped(page.text) == [], path


def test_site_pages_inputs_have_a_type(web_as: Callable[[str], TestClient], city: City) -> None:
    client = web_as("admin")
    site_id = next(iter(city.sites.values()))
    for path in (f"/sites/{site_id}", f"/sites/{site_id}/edit"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert _untyped(page.text) == [], path


def test_text_inputs_are_styled() -> None:
    from pathlib import Path

    import dustgrid.web

    css = (Path(dustgrid.web.__file__).parent / "static" / "css" / "app.css").read_text()
    for kind in ("text", "search", "number", "date", "week"):
        assert f"input[type={kind}]" in css, kind
