"""Issue 13: the alert rule editor is a form (metric, zone limits, window, counts); the JSON is
only an advanced view, and both paths (and the API) go through one validation."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.alerts.engine.profiles import BUILTIN_PROFILES
from dustgrid.alerts.models import AlertProfileSetting
from dustgrid.alerts.ruleform import check_tuning, form_values, tuning_from_form

SHANGHAI = "shanghai-db31-964-2016"
LIAONING = "liaoning-db21-2642-2016"
NOISE = "noise-gb12523-2011"


def _value(html: str, name: str) -> str:
    found = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', html)
    assert found, name
    return found.group(1)


def _post(c: TestClient, profile_id: str, **fields: str) -> dict[str, str]:
    page = c.get("/alerts/profiles", params={"rule": profile_id}).text
    base = BUILTIN_PROFILES[profile_id]
    form = {"csrf_token": c.csrf, "profile_id": profile_id, "enabled": "1"}  # type: ignore[attr-defined]
    form.update({k: v for k, v in form_values(base).items()})
    assert all(k in page for k in form_values(base))
    form.update(fields)
    return form


def _stored(db: Session, profile_id: str) -> list[AlertProfileSetting]:
    stmt = select(AlertProfileSetting).where(AlertProfileSetting.profile_id == profile_id)
    return list(db.scalars(stmt.order_by(AlertProfileSetting.version)))


def test_the_editor_is_a_form_with_the_json_folded_away(
    web_as: Callable[[str], TestClient],
) -> None:
    page = web_as("admin").get("/alerts/profiles", params={"rule": SHANGHAI}).text
    assert _value(page, "limit") == "100"
    assert 'name="window_minutes"' in page and '<option value="15" selected>15 分钟' in page
    for label in ("限值", "连续超标几个窗口后告警", "每日允许超标窗口数", "PM10"):
        assert label in page, label
    assert '<details class="rule-advanced" data-testid="rule-advanced" >' in page  # collapsed
    zones = web_as("admin").get("/alerts/profiles", params={"rule": LIAONING}).text
    assert _value(zones, "limits.built-up") == "800" and _value(zones, "limits.other") == "1000"
    assert "城市建成区限值" in zones and "其他区域限值" in zones
    noise = web_as("admin").get("/alerts/profiles", params={"rule": NOISE}).text
    assert _value(noise, "day_period_start") == "07:00" and "昼间限值" in noise


def test_a_form_post_saves_only_what_differs_and_the_json_follows(
    db: Session, web_as: Callable[[str], TestClient]
) -> None:
    c = web_as("admin")
    r = c.post("/alerts/profiles", data=_post(c, SHANGHAI, limit="90", raise_after="2"))
    assert r.status_code == 303 and r.headers["location"].endswith(f"rule={SHANGHAI}")
    [row] = _stored(db, SHANGHAI)
    assert row.tuning == {"limit": 90.0, "raise_after": 2}
    page = c.get(r.headers["location"]).text
    assert _value(page, "limit") == "90" and _value(page, "raise_after") == "2"
    text = page.split('id="tuning"', 1)[1].split("</textarea>", 1)[0]
    assert json.loads(text.split(">", 1)[1].replace("&#34;", '"')) == row.tuning
    assert "第 1 版" in page  # the flash names the rule's version
    # zone limits: one zone changed, the other kept as published (a table is stored whole)
    r = c.post("/alerts/profiles", data=_post(c, LIAONING, **{"limits.built-up": "700"}))
    assert r.status_code == 303
    assert _stored(db, LIAONING)[-1].tuning == {"limits": {"built-up": 700.0, "other": 1000.0}}
    page = c.get(r.headers["location"]).text
    assert _value(page, "limits.built-up") == "700" and _value(page, "limits.other") == "1000"


def test_the_json_view_and_the_form_build_the_same_rule(
    db: Session, web_as: Callable[[str], TestClient], api_as: Callable[[str], TestClient]
) -> None:
    c = web_as("admin")
    form = _post(c, SHANGHAI, use_json="1", tuning='{"limit": 90, "raise_after": 2}')
    assert c.post("/alerts/profiles", data=form).status_code == 303
    c.post("/alerts/profiles", data=_post(c, SHANGHAI, limit="90", raise_after="2"))
    api = api_as("admin").post(
        "/api/v1/alerts/profiles",
        json={"profile_id": SHANGHAI, "tuning": {"limit": 90, "raise_after": 2}},
    )
    assert api.status_code == 201
    assert [r.tuning for r in _stored(db, SHANGHAI)] == [{"limit": 90.0, "raise_after": 2}] * 3


def test_errors_are_said_next_to_the_field_in_the_readers_language(
    db: Session, web_as: Callable[[str], TestClient]
) -> None:
    c = web_as("admin")
    bad = _post(c, SHANGHAI, limit="九十", window_minutes="7", raise_after="0")
    r = c.post("/alerts/profiles", data=bad)
    assert r.status_code == 422

    def said(name: str) -> str:
        return r.text.split(f'data-testid="error-{name}"', 1)[1].split("</p>", 1)[0]

    assert "应为数字" in said("limit")
    assert "整除一天" in said("window_minutes")
    assert "应不小于 1" in said("raise_after")
    assert 'value="九十"' in r.text  # what was typed is kept
    summary = r.text.split('data-testid="form-errors"', 1)[1].split("</div>", 1)[0]
    assert "限值" in summary and "统计窗口" in summary
    c.cookies.set("lang", "en")
    r = c.post("/alerts/profiles", data=bad)
    assert "must be a number" in said("limit") and "应为" not in r.text.split("<main", 1)[1]
    assert _stored(db, SHANGHAI) == []


def test_a_bad_json_tuning_is_refused_like_the_form(
    db: Session, web_as: Callable[[str], TestClient], api_as: Callable[[str], TestClient]
) -> None:
    c = web_as("admin")
    r = c.post("/alerts/profiles", data=_post(c, SHANGHAI, use_json="1", tuning='{"limit": -5}'))
    assert r.status_code == 422
    assert "应不小于 0" in r.text.split('data-testid="error-tuning"', 1)[1].split("</p>", 1)[0]
    assert 'data-testid="rule-advanced" open' in r.text  # the JSON view stays open
    r = c.post("/alerts/profiles", data=_post(c, SHANGHAI, use_json="1", tuning="[1]"))
    assert r.status_code == 422 and "应为 JSON 对象" in r.text
    api = api_as("admin").post(
        "/api/v1/alerts/profiles",
        json={"profile_id": SHANGHAI, "tuning": {"window_minutes": 7}},
        headers={"Accept-Language": "en"},
    )
    assert api.status_code == 422
    assert api.json()["detail"] == "Window: must divide a day (1440 minutes), such as 5, 15 or 60"
    assert api.json()["errors"]["field"] == "window_minutes"
    unknown = api_as("admin").post(
        "/api/v1/alerts/profiles", json={"profile_id": SHANGHAI, "tuning": {"metric": "tsp"}}
    )
    assert unknown.status_code == 422 and unknown.json()["detail"] == "metric 不可调整"
    r = c.post("/alerts/profiles", data=_post(c, SHANGHAI, use_json="1", tuning='{"x": 1}'))
    assert r.status_code == 422 and "alerts.rule" not in r.text
    assert _stored(db, SHANGHAI) == []


def test_only_the_city_admin_saves(web_as: Callable[[str], TestClient]) -> None:
    c = web_as("d_heping")
    assert c.post("/alerts/profiles", data=_post(c, SHANGHAI, limit="90")).status_code == 403


def test_check_tuning_and_form_round_trip() -> None:
    base = BUILTIN_PROFILES[LIAONING]
    assert check_tuning(base, {"limits": {"nowhere": 1}}) != {}
    assert check_tuning(base, {"limit": 5}) == {}  # a fixed limit the basis ignores is allowed
    tuning, errors = tuning_from_form(base, form_values(base))
    assert tuning == {} and errors == {}
    tuning, errors = tuning_from_form(base, {**form_values(base), "limits.other": ""})
    assert tuning == {"limits": {"other": None}} and errors == {}
