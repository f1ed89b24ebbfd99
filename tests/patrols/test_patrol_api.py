"""The patrol routes through the real app: scope per role, errors, coverage."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from dustgrid.config import Settings
from dustgrid.patrols import service as svc
from tests.patrols.helpers import MONDAY, WEEK

WALKED = {
    ("GET", "/api/v1/patrol-plans"),
    ("GET", "/api/v1/patrol-coverage"),
}

# Whose plans each role sees: members their own group's; L3 its station's grids plus the
# grids holding its sites; L2 its district's; L1 all.
SEES = {
    "admin": {"E-HP", "E-HP-C", "E-SH", "I-HP", "I-SH"},
    "viewer_city": {"E-HP", "E-HP-C", "E-SH", "I-HP", "I-SH"},
    "d_heping": {"E-HP", "E-HP-C", "I-HP"},  # E-HP-C: the city station's grid in 和平
    "st_shenhe": {"E-SH", "I-SH"},
    "off_hp1": {"E-HP"},
    "off_sf1": {"E-HP-C"},
    "insp_sh2": {"I-SH"},
}


@pytest.fixture
def planned(db: Session, settings: Settings) -> None:
    svc.generate_week(db, MONDAY, today=MONDAY, settings=settings)


@pytest.mark.parametrize("user", sorted(SEES))
def test_plans_in_scope(user: str, planned: None, api_as: Callable[[str], TestClient]) -> None:
    r = api_as(user).get("/api/v1/patrol-plans", params={"week": WEEK})
    assert r.status_code == 200, r.text
    body = r.json()
    assert {p["grid"] for p in body["plans"]} == SEES[user]
    assert body["focus"] == list(svc.DEFAULT_PATROL_POLICY.focus(MONDAY))
    for plan in body["plans"]:
        for day in plan["days"]:
            assert day["sites"] == [s["site_id"] for s in day["stops"]]


@pytest.mark.parametrize("user", ["con_alpha", "prov_gamma"])
def test_companies_may_not_read_plans(
    user: str, planned: None, api_as: Callable[[str], TestClient]
) -> None:
    c = api_as(user)
    assert c.get("/api/v1/patrol-plans", params={"week": WEEK}).status_code == 403
    params = {"from": "2026-12-14", "to": "2026-12-20"}
    assert c.get("/api/v1/patrol-coverage", params=params).status_code == 403


def test_bad_input_is_named(api_as: Callable[[str], TestClient]) -> None:
    c = api_as("admin")
    r = c.get("/api/v1/patrol-plans", params={"week": "2026-51"})
    assert r.status_code == 422 and "2026-W50" in r.text
    r = c.get("/api/v1/patrol-coverage", params={"from": "2026-12-20", "to": "2026-12-14"})
    assert r.status_code == 422
    r = c.get(
        "/api/v1/patrol-coverage", params={"from": "2026-12-14", "to": "2026-12-20", "level": "x"}
    )
    assert r.status_code == 422 and "level" in r.text


def test_grid_filter_and_coverage(planned: None, api_as: Callable[[str], TestClient]) -> None:
    c = api_as("d_heping")
    r = c.get("/api/v1/patrol-plans", params={"week": WEEK, "grid": "I-HP"})
    assert [p["grid"] for p in r.json()["plans"]] == ["I-HP"]
    r = c.get(
        "/api/v1/patrol-coverage",
        params={"from": "2026-12-14", "to": "2026-12-27", "level": "grid"},
    )
    assert r.status_code == 200
    rows = {row["key"]: row for row in r.json()}
    assert set(rows) == {"E-HP", "E-HP-C", "I-HP"}
    # 和平's four sites: three in the station's grid, the metro site in the city station's
    assert rows["E-HP"]["planned"] == 3 and rows["E-HP-C"]["planned"] == 1
    assert rows["I-HP"]["planned"] == 4


def test_weeks_and_dates_out_of_range_are_422(api_as: Callable[[str], TestClient]) -> None:
    c = api_as("admin")
    assert c.get("/api/v1/patrol-plans", params={"week": "9999-W52"}).status_code == 422
    r = c.get("/api/v1/patrol-coverage", params={"from": "0001-01-01", "to": "2026-12-20"})
    assert r.status_code == 422 and "from" in r.text
