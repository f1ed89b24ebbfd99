"""The map's data: device, alert and case layers (scoped, in the base map's datum), the
vector base map, district labels, and the charts' limits and time spans."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from dustgrid.alerts import chart
from dustgrid.config import Settings
from dustgrid.data import DEMO_BASEMAP
from dustgrid.demo.basemap import demo_basemap, dumps
from dustgrid.demo.geography import DISTRICTS, district_polygon
from dustgrid.devices.models import Device
from dustgrid.geo.coords import gcj02_to_wgs84, haversine_m, to_map_datum, wgs84_to_gcj02
from dustgrid.geo.shapes import point_in_geometry
from dustgrid.i18n import is_key
from dustgrid.identity.deps import app_settings
from dustgrid.web.mapdata import label_point, to_datum, vector_basemap
from tests.alerts.alert_kit import add_device, alerts_of, local, rows, run, store, use_rule
from tests.fixtures.city import City

# Routes of the map walked here (registered in tests/auth/walk_registry.py).
WALKED = {
    ("GET", "/api/v1/devices/map"),
    ("GET", "/api/v1/alerts/map"),
}
SHANGHAI = "shanghai-db31-964-2016"
TILES = "https://tiles.intranet.example/{z}/{x}/{y}.png"


@pytest.fixture
def layers(db: Session, city: City) -> dict[str, Any]:
    """A monitor with an open alert (and its case) at HP-001 and at SH-001, plus an offline
    monitor at HP-002."""
    use_rule(db, city, SHANGHAI)
    out: dict[str, Any] = {"devices": {}, "alerts": {}}
    for key, code, district in (("hp", "HP-001", "heping"), ("sh", "SH-001", "shenhe")):
        dev = add_device(db, city, f"MAP{code.replace('-', '')}00001", site=code, district=district)
        out["devices"][key] = dev.id
        store(
            db,
            rows(dev.id, "pm10", local(2026, 11, 20, 10, 0), [180.0] * 30),
            local(2026, 11, 20, 10, 31),
        )
    off = add_device(db, city, "MAPHP00200001", site="HP-002")
    off.online = False
    off.lat = off.lon = None  # drawn at its site
    out["devices"]["off"] = off.id
    run(db, local(2026, 11, 20, 10, 33))
    for key, code in (("hp", "HP-001"), ("sh", "SH-001")):
        (alert,) = alerts_of(db, city.sites[code])
        out["alerts"][key] = alert.id
    db.commit()
    return out


def _ids(c: TestClient, url: str, **params: str) -> dict[int, list[Any]]:
    r = c.get(url, params=params)
    assert r.status_code == 200, r.text
    return {row[0]: row for row in r.json()["rows"]}


def test_device_layer_is_scoped_and_says_online(
    api_as: Callable[[str], TestClient], layers: dict[str, Any], city: City, db: Session
) -> None:
    dev = layers["devices"]
    admin = _ids(api_as("admin"), "/api/v1/devices/map")
    assert set(dev.values()) <= set(admin)
    assert admin[dev["hp"]][3] is True and admin[dev["off"]][3] is False
    site = db.get(Device, dev["off"])
    assert site is not None
    # a device without its own position stands at its site
    hp2 = api_as("admin").get("/api/v1/sites/map").json()["rows"]
    at = next(r for r in hp2 if r[0] == city.sites["HP-002"])
    assert admin[dev["off"]][1:3] == pytest.approx(at[1:3], abs=1e-6)
    heping = _ids(api_as("d_heping"), "/api/v1/devices/map")
    assert dev["hp"] in heping and dev["off"] in heping and dev["sh"] not in heping
    assert set(_ids(api_as("d_shenhe"), "/api/v1/devices/map")) & set(dev.values()) == {dev["sh"]}


def test_alert_layer_is_scoped_and_open_only(
    api_as: Callable[[str], TestClient], layers: dict[str, Any], city: City
) -> None:
    al = layers["alerts"]
    admin = _ids(api_as("admin"), "/api/v1/alerts/map")
    assert set(al.values()) <= set(admin)
    row = admin[al["hp"]]
    assert row[3] == "exceedance" and row[5] == "active" and row[6] == city.sites["HP-001"]
    assert set(_ids(api_as("d_heping"), "/api/v1/alerts/map")) == {al["hp"]}
    assert set(_ids(api_as("d_shenhe"), "/api/v1/alerts/map")) == {al["sh"]}
    assert _ids(api_as("con_beta"), "/api/v1/alerts/map").keys() == {al["sh"]}


def test_layers_shift_to_gcj02_on_request(
    api_as: Callable[[str], TestClient], layers: dict[str, Any]
) -> None:
    c = api_as("admin")
    for url in ("/api/v1/devices/map", "/api/v1/alerts/map"):
        wgs = _ids(c, url, crs="wgs84")
        gcj = _ids(c, url, crs="gcj02")
        assert wgs.keys() == gcj.keys() and wgs
        for key, row in wgs.items():
            lat, lon = wgs84_to_gcj02(row[1], row[2])
            assert gcj[key][1:3] == pytest.approx([lat, lon], abs=2e-6)
            # the shift is the few hundred metres of GCJ-02, not nothing
            assert 100 < haversine_m(row[1], row[2], gcj[key][1], gcj[key][2]) < 1000
        assert c.get(url, params={"crs": "bd09"}).status_code == 422
    cases = c.get("/api/v1/cases/map").json()
    shifted = {x["id"]: x for x in c.get("/api/v1/cases/map", params={"crs": "gcj02"}).json()}
    assert cases and shifted.keys() == {x["id"] for x in cases}
    for x in cases:
        assert [shifted[x["id"]]["lat"], shifted[x["id"]]["lon"]] == pytest.approx(
            list(wgs84_to_gcj02(x["lat"], x["lon"])), abs=1e-9
        )


def test_layers_need_a_login(anon: TestClient) -> None:
    for url in ("/api/v1/devices/map", "/api/v1/alerts/map"):
        assert anon.get(url).status_code == 401


def test_gcj02_shift_of_points_lines_and_polygons() -> None:
    """With a GCJ-02 tile server, markers and every vector layer move by the same shift."""
    lat, lon = 41.80, 123.43
    glat, glon = to_map_datum(lat, lon, "gcj02")
    assert gcj02_to_wgs84(glat, glon) == pytest.approx((lat, lon), abs=1e-9)
    assert 100 < haversine_m(lat, lon, glat, glon) < 1000
    assert to_map_datum(lat, lon, "wgs84") == (lat, lon)
    line = {"type": "LineString", "coordinates": [[lon, lat], [lon + 0.01, lat]]}
    moved = to_datum(line, "gcj02")
    assert moved is not None and moved["coordinates"][0] == pytest.approx([glon, glat], abs=1e-6)
    poly = {"type": "Polygon", "coordinates": [[[lon, lat], [lon + 0.01, lat], [lon, lat + 0.01]]]}
    shifted = to_datum(poly, "gcj02")
    assert shifted is not None
    assert shifted["coordinates"][0][0] == pytest.approx([glon, glat], abs=1e-6)
    assert to_datum(line, "wgs84") is line
    # the shipped base map's lines move the same way as a marker at the same point
    plain = vector_basemap(Settings(vector_basemap="demo"))
    assert plain is not None  # no tile server: the vector layers are drawn, in WGS-84
    first = plain["features"][0]["geometry"]
    tiled = to_datum(first, "gcj02")
    assert tiled is not None
    lon0, lat0 = first["coordinates"][0]
    glat0, glon0 = to_map_datum(lat0, lon0, "gcj02")
    assert tiled["coordinates"][0] == pytest.approx([glon0, glat0], abs=1e-6)


def test_gcj02_tile_server_shifts_markers_and_vector_layers(
    app: Any, web_as: Callable[[str], TestClient], api_as: Callable[[str], TestClient], city: City
) -> None:
    """With a GCJ-02 tile server configured the page's boundaries and name labels and the
    marker API's default positions are all GCJ-02; without one, all WGS-84."""
    plain_page = _config(web_as("admin").get("/map").text)
    plain_rows = {r[0]: r for r in api_as("admin").get("/api/v1/sites/map").json()["rows"]}
    tiled = Settings(**{**app.dependency_overrides[app_settings]().model_dump(), "tile_url": TILES})
    app.dependency_overrides[app_settings] = lambda: tiled
    page = _config(web_as("admin").get("/map").text)
    rows = {r[0]: r for r in api_as("admin").get("/api/v1/sites/map").json()["rows"]}
    assert plain_page["crs"] == "wgs84" and page["crs"] == "gcj02" and page["tileUrl"] == TILES
    assert page["basemap"] is None and plain_page["basemap"]  # tiles draw the roads
    for sid, row in plain_rows.items():
        assert rows[sid][1:3] == pytest.approx(list(wgs84_to_gcj02(row[1], row[2])), abs=1e-6)
    for before, after in zip(plain_page["districts"], page["districts"], strict=True):
        lat, lon = before["label"]
        assert after["label"] == pytest.approx(list(wgs84_to_gcj02(lat, lon)), abs=1e-6)
        lon0, lat0 = before["boundary"]["coordinates"][0][0]
        glat, glon = wgs84_to_gcj02(lat0, lon0)
        assert after["boundary"]["coordinates"][0][0] == pytest.approx([glon, glat], abs=1e-6)


def test_vector_basemap_settings(tmp_path: Any) -> None:
    assert vector_basemap(Settings(vector_basemap="")) is None
    # a tile server draws roads itself: no vector layer over it
    assert vector_basemap(Settings(tile_url="https://t.example/{z}/{x}/{y}.png")) is None
    own = tmp_path / "roads.geojson"
    line = {"type": "LineString", "coordinates": [[123.4, 41.8], [123.5, 41.8]]}
    feature = {"type": "Feature", "properties": {"kind": "road"}, "geometry": line}
    own.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    drawn = vector_basemap(Settings(vector_basemap=str(own)))
    assert drawn is not None and drawn["features"][0]["geometry"] == line
    assert vector_basemap(Settings(vector_basemap=str(tmp_path / "missing.geojson"))) is None


def test_shipped_demo_basemap_is_the_generated_one() -> None:
    assert DEMO_BASEMAP.read_text(encoding="utf-8") == dumps(demo_basemap())
    kinds = {f["properties"]["kind"] for f in demo_basemap()["features"]}
    assert kinds == {"river", "ring_road", "road"}


def test_district_label_inside_its_district() -> None:
    """The demo's districts: each name is written inside its own district (even the bent
    outer ones, whose centroid could fall outside)."""
    for spec in DISTRICTS:
        polygon = district_polygon(spec)
        point = label_point(polygon, "wgs84")
        assert point is not None
        assert point_in_geometry(point[0], point[1], polygon), spec.name
    assert label_point(None, "wgs84") is None


def _config(html: str) -> dict[str, Any]:
    start = html.index('id="map-config">') + len('id="map-config">')
    data: dict[str, Any] = json.loads(html[start : html.index("</script>", start)])
    return data


def test_map_page_config(web_as: Callable[[str], TestClient], city: City) -> None:
    page = web_as("d_heping").get("/map")
    assert page.status_code == 200
    cfg = _config(page.text)
    assert cfg["fitDistrict"] == city.districts["heping"]
    assert all(d["label"] for d in cfg["districts"])
    assert cfg["basemap"]["features"]  # the demo's roads and rivers without a tile server
    assert 'data-testid="filter-grade"' in page.text and 'data-testid="filter-grid"' in page.text
    admin = web_as("admin").get("/map").text
    assert '"fitDistrict": null' in admin


def test_alert_chart_span_ends_at_now() -> None:
    started = local(2026, 11, 20, 10, 0)
    open_alert = SimpleNamespace(started_at=started, ended_at=None)
    now = started + timedelta(minutes=20)
    start, end = chart._span(open_alert, 15, now)  # type: ignore[arg-type]
    assert start == started - timedelta(hours=1) and end == now
    ended = SimpleNamespace(started_at=started, ended_at=started + timedelta(hours=2))
    later = started + timedelta(days=1)
    assert chart._span(ended, 15, later)[1] == started + timedelta(hours=3)  # type: ignore[arg-type]


def test_alert_chart_and_series_say_now(
    api_as: Callable[[str], TestClient], layers: dict[str, Any], city: City
) -> None:
    c = api_as("admin")
    data = c.get(f"/api/v1/alerts/{layers['alerts']['hp']}/chart").json()
    assert data["now"] >= data["end"][:16]  # the chart never runs past now
    series = c.get(f"/api/v1/sites/{city.sites['HP-001']}/series").json()
    assert series["now"] and series["now"] <= series["end"]


def test_site_chart_has_the_site_limit(web_as: Callable[[str], TestClient], city: City) -> None:
    """The default profile (Liaoning DB21/2642) judges TSP by area class: built-up 0.8 mg/m³."""
    page = web_as("admin").get(f"/sites/{city.sites['HP-001']}/telemetry")
    assert page.status_code == 200
    start = page.text.index("data-chart-config")
    start = page.text.index(">", start) + 1
    cfg = json.loads(page.text[start : page.text.index("</script>", start)])
    assert cfg["limits"]["tsp"] in (800.0, 1000.0)
    assert cfg["labels"]["limit"] == "限值"
    labels = ("noData", "failed", "validRate", "mean", "min", "max")
    assert all(cfg["labels"][k] and not is_key(cfg["labels"][k]) for k in labels)  # texts
