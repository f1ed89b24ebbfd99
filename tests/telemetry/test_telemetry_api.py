"""Site series API and the site page's monitoring panel: values, ranges and scope."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from dustgrid.devices.online import mark_seen
from dustgrid.telemetry.rollups import refresh_rollups
from dustgrid.telemetry.store import write_readings
from tests.auth.test_scope_walk import VISIBLE
from tests.fixtures.city import City
from tests.telemetry.telemetry_support import SHANGHAI, add_device, local, series

# Routes of this issue walked here (registered in tests/auth/walk_registry.py).
WALKED = {
    ("GET", "/api/v1/sites/{site_id}/series"),
    ("POST", "/api/v1/telemetry"),  # device keys, walked in tests/ingest/http as well
}
NOW = datetime(2024, 5, 3, tzinfo=UTC)
RANGE = {"start": "2024-05-01T10:00:00", "end": "2024-05-01T11:00:00+08:00"}


@pytest.fixture
def monitored(db: Session, city: City) -> dict[str, int]:
    """HP-001 with two dust monitors (pm10 10 and 30, noise 60 on one) and a camera."""
    site = city.sites["HP-001"]
    a = add_device(db, "APISERIES000001", site_id=site)
    b = add_device(db, "APISERIES000002", site_id=site)
    start = local(2024, 5, 1, 10, 0)
    rows = series(a.id, "pm10", start, [10.0] * 30) + series(b.id, "pm10", start, [30.0] * 15)
    rows += series(a.id, "noise", start, [60.0] * 15)
    write_readings(db.connection(), rows)
    mark_seen(db, device_id=a.id, at=NOW, metrics={"pm10": (start, 10.0)})
    refresh_rollups(db, now=NOW, tz=SHANGHAI)
    db.commit()
    return {"site": site, "a": a.id, "b": b.id}


def test_series_is_the_mean_over_the_site_monitors(
    api_as: Callable[[str], TestClient], monitored: dict[str, int]
) -> None:
    r = api_as("d_heping").get(f"/api/v1/sites/{monitored['site']}/series", params=RANGE)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["period"] == "15m" and body["timezone"] == "Asia/Shanghai"
    assert body["start"] == "2024-05-01T10:00:00+08:00"
    by_metric = {s["metric"]: s for s in body["series"]}
    assert list(by_metric) == ["pm10", "pm25", "tsp", "noise"]
    pm10 = by_metric["pm10"]
    assert pm10["unit"] == "µg/m³"
    assert [p["t"] for p in pm10["points"]] == [
        "2024-05-01T10:00:00+08:00",
        "2024-05-01T10:15:00+08:00",
    ]
    first, second = pm10["points"]
    assert (first["mean"], first["min"], first["max"], first["devices"]) == (20.0, 10.0, 30.0, 2)
    assert first["valid_rate"] == 1.0  # 30 valid values of 2 x 15 owed
    assert (second["mean"], second["devices"]) == (10.0, 1)
    assert by_metric["pm25"]["points"] == []
    assert by_metric["noise"]["points"][0]["mean"] == pytest.approx(60.0)


def test_series_hour_and_day_and_metric_choice(
    api_as: Callable[[str], TestClient], monitored: dict[str, int]
) -> None:
    c = api_as("admin")
    url = f"/api/v1/sites/{monitored['site']}/series"
    hour = c.get(url, params={**RANGE, "period": "1h", "metric": "pm10"}).json()
    assert [s["metric"] for s in hour["series"]] == ["pm10"]
    (point,) = hour["series"][0]["points"]
    assert point["t"] == "2024-05-01T10:00:00+08:00"
    assert point["mean"] == 20.0  # mean of the monitors' hourly means (10 and 30)
    assert point["valid_rate"] == pytest.approx(45 / 120)
    day = c.get(url, params={"period": "1d", "metric": "pm10,noise", "start": "2024-05-01",
                             "end": "2024-05-02"}).json()  # fmt: skip
    assert [p["t"] for p in day["series"][0]["points"]] == ["2024-05-01T00:00:00+08:00"]
    assert c.get(url).status_code == 200  # default range: the last day up to now


@pytest.mark.parametrize(
    "params",
    [
        {"period": "1w"},
        {"metric": "ozone"},
        {"start": "2024-05-02T00:00:00", "end": "2024-05-01T00:00:00"},
        {"start": "2020-01-01T00:00:00", "end": "2024-05-01T00:00:00"},  # too many points
    ],
)
def test_series_refuses_bad_queries(
    api_as: Callable[[str], TestClient], city: City, params: dict[str, str]
) -> None:
    r = api_as("admin").get(f"/api/v1/sites/{city.sites['HP-001']}/series", params=params)
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("user", sorted(VISIBLE))
def test_series_outside_scope_is_404(
    user: str, api_as: Callable[[str], TestClient], city: City
) -> None:
    c = api_as(user)
    for code, site_id in city.sites.items():
        r = c.get(f"/api/v1/sites/{site_id}/series", params=RANGE)
        assert r.status_code == (200 if code in VISIBLE[user] else 404), (user, code, r.text)
    assert c.get("/api/v1/sites/999999/series").status_code == 404


def test_contractor_alpha_sees_no_shenhe_series(
    api_as: Callable[[str], TestClient], city: City
) -> None:
    c = api_as("con_alpha")
    for code in ("SH-001", "SH-002", "SH-003"):
        assert c.get(f"/api/v1/sites/{city.sites[code]}/series").status_code == 404


def test_series_needs_a_login(anon: TestClient, city: City) -> None:
    assert anon.get(f"/api/v1/sites/{city.sites['HP-001']}/series").status_code == 401


def test_user_tokens_cannot_push_readings(api_as: Callable[[str], TestClient]) -> None:
    r = api_as("admin").post("/api/v1/telemetry", json={"readings": []})
    assert r.status_code == 401


def test_panel_fragment_renders(
    web_as: Callable[[str], TestClient], monitored: dict[str, int], city: City
) -> None:
    c = web_as("d_heping")
    page = c.get(f"/sites/{monitored['site']}")
    assert f'hx-get="/sites/{monitored["site"]}/telemetry"' in page.text
    r = c.get(f"/sites/{monitored['site']}/telemetry")
    assert r.status_code == 200, r.text
    html = r.text
    assert 'data-testid="site-chart"' in html and 'data-testid="period-switch"' in html
    assert 'data-period="15m"' in html and 'data-period="1h"' in html and 'data-period="1d"' in html
    assert f"/api/v1/sites/{monitored['site']}/series" in html  # chart config (JSON)
    assert '<script src="/static/js/site_chart.js"></script>' in html
    assert "APISERIES000001" in html and "APISERIES000002" in html
    assert 'data-state="online"' in html and 'data-state="offline"' in html
    assert "10.0" in html  # latest PM10 of monitor A
    assert c.get(f"/sites/{city.sites['SH-001']}/telemetry").status_code == 404
    empty = c.get(f"/sites/{city.sites['HP-002']}/telemetry")
    assert empty.status_code == 200 and 'data-testid="no-devices"' in empty.text


def test_panel_in_english(web_as: Callable[[str], TestClient], monitored: dict[str, int]) -> None:
    c = web_as("admin")
    c.cookies.set("lang", "en")
    html = c.get(f"/sites/{monitored['site']}/telemetry").text
    assert "Online monitoring" in html and "Valid-data rate" in html


def test_chart_script_is_served(anon: TestClient) -> None:
    r = anon.get("/static/js/site_chart.js")
    assert r.status_code == 200 and "DustGridSiteChart" in r.text
