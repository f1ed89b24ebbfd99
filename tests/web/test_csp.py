"""The page CSP (issue 10 §5): no inline script anywhere, images from known origins only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dustgrid.app import create_app
from dustgrid.config import Settings
from dustgrid.web.csp import content_security_policy, tile_origin

TEMPLATES = Path(__file__).parents[2] / "src" / "dustgrid" / "web" / "templates"
# A <script> that runs: one without src= and not a JSON data island.
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)


def _directive(policy: str, name: str) -> list[str]:
    for part in policy.split(";"):
        words = part.split()
        if words and words[0] == name:
            return words[1:]
    raise AssertionError(f"{name} missing from {policy!r}")


def test_page_policy_has_no_inline_script_and_no_wildcard_images(anon: TestClient) -> None:
    policy = anon.get("/login").headers["content-security-policy"]
    assert _directive(policy, "script-src") == ["'self'"]
    # blob: for the previews of photos kept on the phone (the inspection page's outbox)
    assert _directive(policy, "img-src") == ["'self'", "data:", "blob:"]
    assert _directive(policy, "default-src") == ["'self'"]  # the service worker: ours only
    assert _directive(policy, "object-src") == ["'none'"]


def test_tile_server_origin_is_the_only_extra_image_source(settings: Settings) -> None:
    tiled = settings.model_copy(update={"tile_url": "https://tiles.gis.local:8443/{z}/{x}/{y}.png"})
    with TestClient(create_app(tiled)) as c:
        policy = c.get("/login").headers["content-security-policy"]
    assert _directive(policy, "img-src") == [
        "'self'",
        "data:",
        "blob:",
        "https://tiles.gis.local:8443",
    ]


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("", None),
        ("http://10.1.2.3/tiles/{z}/{x}/{y}.png", "http://10.1.2.3"),
        ("https://{s}.tile.example.cn/{z}/{x}/{y}.png", "https://*.tile.example.cn"),
        ("/tiles/{z}/{x}/{y}.png", None),
        ("javascript:alert(1)", None),
        ("https://a.example; script-src *", None),
    ],
)
def test_tile_origin(url: str, origin: str | None) -> None:
    assert tile_origin(url) == origin
    policy = content_security_policy(Settings(tile_url=url, secret_key="x" * 40))
    assert "script-src 'self';" in policy and " * " not in f" {policy} "


def test_templates_have_no_inline_script_or_handler() -> None:
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        found += [f"{path.name}: {m.group(0)}" for m in INLINE_SCRIPT.finditer(text)]
        found += [f"{path.name}: {m.group(0)}" for m in INLINE_HANDLER.finditer(text)]
    assert found == []


def test_api_docs_have_no_inline_script(anon: TestClient) -> None:
    page = anon.get("/docs").text
    assert INLINE_SCRIPT.search(page) is None
    assert 'src="/static/js/swagger_init.js" data-openapi-url="/openapi.json"' in page
