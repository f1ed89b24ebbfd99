"""Issue 13: the site form's map picker (its configuration; the browser test clicks it).

The form carries the map's datum, base layers and the district boundaries in scope; the
coordinates stay plain WGS-84 number boxes, so the form works without JavaScript.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dustgrid.config import Settings
from dustgrid.geo.coords import wgs84_to_gcj02
from dustgrid.identity.deps import app_settings
from tests.fixtures.city import City

TILES = "https://tiles.intranet.example/{z}/{x}/{y}.png"


def _config(html: str) -> dict[str, Any]:
    found = re.search(r'id="coord-map-config">(.*?)</script>', html, re.S)
    assert found, "the form carries the map picker's configuration"
    return dict(json.loads(found.group(1)))


def test_new_site_form_has_the_map_and_plain_coordinate_boxes(
    web_as: Callable[[str], TestClient], city: City
) -> None:
    page = web_as("d_heping").get("/sites/new")
    assert page.status_code == 200
    cfg = _config(page.text)
    assert cfg["crs"] == "wgs84" and cfg["basemap"]["features"]  # the demo roads and rivers
    assert [d["id"] for d in cfg["districts"]] == [city.districts["heping"]]  # own district only
    # the map is hidden until its script shows it: without JavaScript the boxes do the work
    assert re.search(r"data-coord-map-row\s+hidden", page.text)
    assert 'name="lat"' in page.text and 'type="number"' in page.text


def test_edit_form_map_follows_a_gcj02_tile_server(
    app: Any, web_as: Callable[[str], TestClient], city: City
) -> None:
    plain = _config(web_as("admin").get(f"/sites/{city.sites['HP-001']}/edit").text)
    tiled = Settings(**{**app.dependency_overrides[app_settings]().model_dump(), "tile_url": TILES})
    app.dependency_overrides[app_settings] = lambda: tiled
    page = web_as("admin").get(f"/sites/{city.sites['HP-001']}/edit")
    cfg = _config(page.text)
    assert cfg["crs"] == "gcj02" and cfg["tileUrl"] == TILES and cfg["basemap"] is None
    lon0, lat0 = plain["districts"][0]["boundary"]["coordinates"][0][0]
    glat, glon = wgs84_to_gcj02(lat0, lon0)
    shifted = cfg["districts"][0]["boundary"]["coordinates"][0][0]
    assert shifted == pytest.approx([glon, glat], abs=1e-6)
    # the boxes still show the stored WGS-84 values
    assert 'value="41.791"' in page.text and 'value="123.401"' in page.text
