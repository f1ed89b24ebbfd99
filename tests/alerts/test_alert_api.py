"""Alert API and pages: scope (404 outside, 403 without permission), filters, ack, rules."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.alerts.alert_kit import add_device, alerts_of, local, rows, run, store, use_rule
from tests.fixtures.city import City

# Routes of this issue walked here (registered in tests/auth/walk_registry.py).
WALKED = {
    ("GET", "/api/v1/alerts"),
    ("GET", "/api/v1/alerts/profiles"),
    ("POST", "/api/v1/alerts/profiles"),
    ("POST", "/api/v1/alerts/profiles/dry-run"),
    ("GET", "/api/v1/alerts/quality"),
    ("GET", "/api/v1/alerts/reference"),
    ("GET", "/api/v1/alerts/{alert_id}"),
    ("GET", "/api/v1/alerts/{alert_id}/chart"),
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge"),
}
SHANGHAI = "shanghai-db31-964-2016"
DRY = {"profile_id": SHANGHAI, "tuning": {"limit": 90}, "start": "2026-11-20", "end": "2026-11-20"}


@pytest.fixture
def alerted(db: Session, city: City) -> dict[str, int]:
    """An active exceedance alert (with its case) at HP-001 and one at SH-001."""
    use_rule(db, city, SHANGHAI)
    ids: dict[str, int] = {}
    for key, code in (("hp", "HP-001"), ("sh", "SH-001")):
        dev = add_device(
            db,
            city,
            f"API{code.replace('-', '')}00001",
            site=code,
            district="heping" if key == "hp" else "shenhe",
        )
        store(
            db,
            rows(dev.id, "pm10", local(2026, 11, 20, 10, 0), [180.0] * 30),
            local(2026, 11, 20, 10, 31),
        )
    run(db, local(2026, 11, 20, 10, 33))
    for key, code in (("hp", "HP-001"), ("sh", "SH-001")):
        (alert,) = alerts_of(db, city.sites[code])
        ids[key] = alert.id
    db.commit()
    return ids


EXPECTED = {
    "admin": {"hp", "sh"},
    "viewer_city": {"hp", "sh"},
    "d_heping": {"hp"},
    "d_shenhe": {"sh"},
    "st_heping": {"hp"},
    "off_hp1": {"hp"},
    "insp_sh2": {"sh"},
    "con_alpha": {"hp"},
    "con_beta": {"sh"},
    "prov_gamma": {"hp", "sh"},  # its monitors are at both sites
    "safety_admin": set(),
}


@pytest.mark.parametrize("user", sorted(EXPECTED))
def test_reads_are_scoped(
    user: str, api_as: Callable[[str], TestClient], alerted: dict[str, int]
) -> None:
    c = api_as(user)
    body = c.get("/api/v1/alerts").json()
    seen = {k for k, v in alerted.items() if v in {i["id"] for i in body["items"]}}
    assert seen == EXPECTED[user] and body["total"] == len(EXPECTED[user])
    for key, alert_id in alerted.items():
        expected = 200 if key in EXPECTED[user] else 404
        assert c.get(f"/api/v1/alerts/{alert_id}").status_code == expected, (user, key)
        assert c.get(f"/api/v1/alerts/{alert_id}/chart").status_code == expected, (user, key)
    for path in ("/api/v1/alerts/profiles", "/api/v1/alerts/quality", "/api/v1/alerts/reference"):
        assert c.get(path).status_code == 200, (user, path)


ACKERS = {"admin", "d_heping", "st_heping", "off_hp1"}


@pytest.mark.parametrize(
    "user",
    [
        "admin",
        "d_heping",
        "off_hp1",
        "con_alpha",
        "viewer_heping",
        "insp_hp1",
        "d_shenhe",
        "con_beta",
    ],
)
def test_acknowledge_needs_scope_then_permission(
    user: str, api_as: Callable[[str], TestClient], alerted: dict[str, int]
) -> None:
    r = api_as(user).post(f"/api/v1/alerts/{alerted['hp']}/acknowledge", json={"note": "在处理"})
    if user in ACKERS:
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "acknowledged" and r.json()["ack_note"] == "在处理"
        again = api_as(user).post(f"/api/v1/alerts/{alerted['hp']}/acknowledge", json={})
        assert again.status_code == 409
    elif user in {"d_shenhe", "con_beta"}:
        assert r.status_code == 404, r.text
    else:
        assert r.status_code == 403, r.text


@pytest.mark.parametrize("user", ["admin", "d_heping", "off_hp1", "con_alpha", "viewer_city"])
def test_profile_edit_and_dry_run_are_for_the_city_admin(
    user: str, api_as: Callable[[str], TestClient], alerted: dict[str, int]
) -> None:
    c = api_as(user)
    saved = c.post(
        "/api/v1/alerts/profiles",
        json={"profile_id": SHANGHAI, "tuning": {"limit": 90}, "note": "试行"},
    )
    dry = c.post("/api/v1/alerts/profiles/dry-run", json=DRY)
    if user == "admin":
        assert saved.status_code == 201, saved.text
        assert saved.json()["version"] == 2 and saved.json()["effective"]["limit"] == 90
        assert dry.status_code == 200, dry.text
        assert dry.json()["totals"]["alerts"] == 2
        listed = c.get("/api/v1/alerts/profiles").json()
        assert [s["version"] for s in listed["settings"]] == [2]
        assert [s["version"] for s in listed["history"]] == [2, 1]
        bad = c.post("/api/v1/alerts/profiles", json={"profile_id": SHANGHAI, "tuning": {"x": 1}})
        assert bad.status_code == 422
    else:
        assert saved.status_code == 403 and dry.status_code == 403


def test_filters_and_errors(
    api_as: Callable[[str], TestClient], alerted: dict[str, int], city: City, anon: TestClient
) -> None:
    c = api_as("admin")

    def ids(**params: object) -> set[int]:
        return {i["id"] for i in c.get("/api/v1/alerts", params=params).json()["items"]}

    assert ids(state="active", kind="exceedance") == set(alerted.values())
    assert ids(site_id=city.sites["HP-001"]) == {alerted["hp"]}
    assert ids(district_id=city.districts["shenhe"]) == {alerted["sh"]}
    assert ids(state="cleared") == set() and ids(kind="offline") == set()
    assert ids(date_from="2026-11-20", date_to="2026-11-20") == set(alerted.values())
    assert ids(date_from="2026-11-21") == set()
    assert ids(state="", kind="") == set(alerted.values())  # blank form fields mean "any"
    assert c.get("/api/v1/alerts", params={"state": "bogus"}).status_code == 422
    detail = c.get(f"/api/v1/alerts/{alerted['hp']}").json()
    assert detail["site_name"] and detail["evidence"]["rule"]["id"] == SHANGHAI
    chart = c.get(f"/api/v1/alerts/{alerted['hp']}/chart").json()
    assert len(chart["windows"]) == 2 and len(chart["site_points"]) == 30
    assert chart["started_at"] == "2026-11-20T10:00:00+08:00"
    assert anon.get("/api/v1/alerts").status_code == 401


def test_pages(web_as: Callable[[str], TestClient], alerted: dict[str, int], city: City) -> None:
    admin = web_as("admin")
    listing = admin.get("/alerts", params={"state": "active"})
    assert listing.status_code == 200 and f'data-alert-id="{alerted["hp"]}"' in listing.text
    page = admin.get(f"/alerts/{alerted['hp']}")
    assert page.status_code == 200 and "data-alert-chart" in page.text
    assert "/static/js/alert_chart.js" in page.text and 'data-testid="ack-form"' in page.text
    ack = admin.post(f"/alerts/{alerted['hp']}/acknowledge", data={"csrf_token": admin.csrf})  # type: ignore[attr-defined]
    assert ack.status_code == 303
    assert 'data-state="acknowledged"' in admin.get(f"/alerts/{alerted['hp']}").text
    editor = admin.get("/alerts/profiles")
    assert editor.status_code == 200 and 'data-testid="save-profile"' in editor.text
    form = {
        "csrf_token": admin.csrf,
        "profile_id": SHANGHAI,
        "tuning": '{"limit": 95}',  # type: ignore[attr-defined]
        "enabled": "1",
        "note": "",
    }
    assert admin.post("/alerts/profiles", data=form).status_code == 303
    assert "v2" in admin.get("/alerts/profiles").text
    dry = admin.post(
        "/alerts/profiles/dry-run", data={**form, "start": "2026-11-20", "end": "2026-11-20"}
    )
    assert dry.status_code == 200 and 'data-testid="dry-run-result"' in dry.text
    bad = admin.post(
        "/alerts/profiles/dry-run",
        data={**form, "tuning": "[", "start": "2026-11-20", "end": "2026-11-20"},
    )
    assert 'data-testid="dry-run-error"' in bad.text
    fragment = admin.get(f"/sites/{city.sites['HP-001']}/alerts")
    assert fragment.status_code == 200 and f'data-alert-id="{alerted["hp"]}"' in fragment.text
    assert admin.get("/alerts/quality").status_code == 200
    assert admin.get("/alerts/reference").status_code == 200
    admin.cookies.set("lang", "en")
    assert "Exceedance" in admin.get("/alerts").text
    alpha = web_as("con_alpha")
    assert alpha.get(f"/sites/{city.sites['SH-001']}/alerts").status_code == 404
    assert alpha.get(f"/alerts/{alerted['sh']}").status_code == 404
    assert 'data-testid="save-profile"' not in alpha.get("/alerts/profiles").text
    form["csrf_token"] = alpha.csrf  # type: ignore[attr-defined]
    assert alpha.post("/alerts/profiles", data=form).status_code == 403
