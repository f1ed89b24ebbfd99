"""Messages by key: errors rendered in the caller's language, evidence as a table, people by
name on a case's timeline (issue 13, "No internal text on screen")."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from dustgrid.alerts.engine.profiles import BUILTIN_PROFILES
from dustgrid.alerts.service import raise_alert
from dustgrid.bounds import Month
from dustgrid.errors import Invalid, NotFound, validation_summary
from dustgrid.i18n import Msg, localize, pick_language, stored
from dustgrid.identity.models import User
from dustgrid.intake.service import raise_case
from dustgrid.models import utcnow
from dustgrid.web.evidence import present, rule_name
from dustgrid.workcal.calendar import people_time
from tests.fixtures.city import City

LIAONING = BUILTIN_PROFILES["liaoning-db21-2642-2016"]


def _evidence() -> dict[str, object]:
    start = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # 10:00 in Shenyang
    windows = [
        {"start": (start + timedelta(hours=i)).isoformat(),
         "end": (start + timedelta(hours=i + 1)).isoformat(),
         "value": 150.0 + 10 * i, "reference": 60.0, "limit": 80.0, "excess": 10.0, "held": False}
        for i in range(2)
    ]  # fmt: skip
    return {"alert_id": 7, "rule": LIAONING.describe(), "windows": windows, "held_windows": 0}


# --------------------------------------------------------------------------- errors


def test_a_domain_error_carries_a_key_and_renders_in_each_language() -> None:
    err = NotFound("auth.error.throttled", seconds=5)
    assert err.text("zh-CN") == "登录失败次数过多，请 5 秒后再试" == err.message
    assert err.text("en") == "Too many failed logins; try again in 5 seconds"
    assert NotFound(Msg("auth.error.wrong_password")).text("en") == "Wrong username or password"


def test_an_unconverted_bilingual_error_still_works_and_is_cut_to_one_language() -> None:
    err = Invalid("告警不存在 / alert not found")
    assert err.text(None) == "告警不存在 / alert not found"  # as written, for old API clients
    assert err.text("zh-CN") == "告警不存在" and err.text("en") == "alert not found"
    assert pick_language("巡查/执法上报 / app reports use POST /api/v1/cases", "en") == (
        "app reports use POST /api/v1/cases"
    )
    assert pick_language("no cut here", "zh-CN") == "no cut here"


def test_api_detail_follows_accept_language(anon: TestClient) -> None:
    wrong = {"username": "admin", "password": "wrong-password-9"}
    zh = anon.post("/api/v1/auth/token", data=wrong)
    en = anon.post("/api/v1/auth/token", data=wrong, headers={"Accept-Language": "en-GB,en"})
    assert zh.status_code == en.status_code == 401
    assert zh.json()["detail"] == "用户名或密码错误"
    assert en.json()["detail"] == "Wrong username or password"


def test_api_detail_of_a_keyed_error_in_the_asked_language(
    api_as: Callable[[str], TestClient],
) -> None:
    client = api_as("admin")
    plain = client.get("/api/v1/alerts/999999")
    en = client.get("/api/v1/alerts/999999", headers={"Accept-Language": "en"})
    assert plain.status_code == en.status_code == 404
    assert plain.json()["detail"] == "告警不存在或无权查看：999999"  # zh-CN by default
    assert en.json()["detail"] == "Alert not found: 999999"


def test_error_pages_and_login_error_in_the_readers_language(
    web_as: Callable[[str], TestClient], anon: TestClient
) -> None:
    web = web_as("admin")
    web.cookies.set("lang", "en")
    missing = web.get("/no-such-page")
    assert missing.status_code == 404 and "No such page" in missing.text
    assert "页面不存在" not in missing.text
    web.cookies.set("lang", "zh-CN")
    assert "页面不存在" in web.get("/no-such-page").text
    page = anon.get("/login", cookies={"lang": "en"})
    csrf = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    r = anon.post(
        "/login",
        data={"username": "admin", "password": "wrong-password-9", "csrf_token": csrf},
        cookies={"lang": "en"},
    )
    assert "Wrong username or password" in r.text and "用户名或密码错误" not in r.text


def test_validation_messages_name_the_field_in_the_readers_language() -> None:
    errors = [
        {"loc": ["body", "lat"], "msg": "Input should be a valid number", "type": "float_parsing"},
        {"loc": ["body", "name"], "msg": "x", "type": "string_too_short", "ctx": {"min_length": 2}},
    ]
    assert validation_summary(errors, locale="zh-CN") == "纬度：应为数字；名称：至少 2 个字符"
    assert validation_summary(errors, locale="en") == (
        "latitude: must be a number; name: at least 2 characters"
    )
    assert validation_summary(errors).startswith("body.lat: Input should be")  # the API's


# --------------------------------------------------------------------------- evidence


def test_evidence_is_a_table_with_units_local_time_and_the_rules_name() -> None:
    city = ZoneInfo("Asia/Shanghai")
    zh, en = present(_evidence(), "zh-CN", city), present(_evidence(), "en", city)
    assert zh.rule == LIAONING.title_zh and en.rule == LIAONING.title_en
    first = zh.rows[0]
    assert first.when == "2026-12-07 10:00"  # China time, not UTC
    # the city's zone comes from the setting, written as every page writes a time
    assert first.when == people_time(datetime(2026, 12, 7, 2, 0, tzinfo=UTC), city)
    urumqi = present(_evidence(), "zh-CN", ZoneInfo("Asia/Urumqi"))
    assert urumqi.rows[0].when == "2026-12-07 08:00"
    assert urumqi.chart is not None and urumqi.chart["labels"][0] == "12-07 08:00"
    assert first.value == "150 µg/m³" and first.limit == "80 µg/m³"
    assert first.metric == "TSP" and first.window == "5 分钟"
    assert en.rows[0].window == "5 min"
    assert zh.chart is not None and zh.chart["values"] == [150.0, 160.0]
    assert zh.chart["unit"] == "µg/m³" and zh.alert_id == 7
    assert ("暂缓窗口数", "0") in zh.facts


def test_rules_and_metrics_by_their_names() -> None:
    assert rule_name(LIAONING.id, "en") == LIAONING.title_en
    assert rule_name("offline:5", "zh-CN") == "设备离线"
    assert rule_name("stale:5:wind_direction", "en") == "Stale metric · Wind direction"
    assert localize({"zh-CN": "风速", "en": "Wind speed"}, "en") == "Wind speed"


def test_sensor_case_page_shows_evidence_table_not_json_or_keys(
    web_as: Callable[[str], TestClient], city: City, db: Session
) -> None:
    now = utcnow()
    alert = raise_alert(
        db, kind="exceedance", rule_key=LIAONING.id, rule_version=LIAONING.version,
        started_at=now - timedelta(hours=2), now=now, severity="high",
        site_id=city.sites["HP-001"], district_id=city.districts["heping"], evidence=_evidence(),
    )  # fmt: skip
    db.flush()
    web = web_as("admin")
    for lang, name in (("zh-CN", LIAONING.title_zh), ("en", LIAONING.title_en)):
        web.cookies.set("lang", lang)
        case = web.get(f"/cases/{alert.case_id}").text
        assert 'data-testid="evidence-table"' in case and name in case
        assert "case_event.case.evidence" not in case and "{&#34;" not in case
        assert "µg/m³" in case and "data-evidence-chart" in case
        page = web.get(f"/alerts/{alert.id}").text
        assert name in page and LIAONING.id not in page and '"windows"' not in page


# --------------------------------------------------------------------------- timeline


def test_case_timeline_shows_names_with_their_unit(
    web_as: Callable[[str], TestClient], city: City, db: Session
) -> None:
    officer = db.get(User, city.users["off_hp1"])
    assert officer is not None
    officer.display_name = "李明"
    case, _ = raise_case(
        db, source="video_ai", category="bare_soil_cover", description="识别到裸土",
        site_id=city.sites["HP-001"],
    )  # fmt: skip
    case_id = case.id
    db.flush()
    web = web_as("off_hp1")
    r = web.post(f"/cases/{case_id}/notes", data={"text": "已到现场", "csrf_token": _csrf(web)})
    assert r.status_code in (200, 303), r.text
    page = web_as("admin").get(f"/cases/{case_id}").text
    who = [part.split("</span>")[0] for part in page.split('data-testid="event-who">')[1:]]
    assert any(w.startswith("李明（") for w in who), who
    assert not any("off_hp1" in w for w in who)


def _csrf(client: TestClient) -> str:
    page = client.get("/cases").text
    return page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]


def test_a_stored_message_is_said_in_each_language() -> None:
    """What a text column keeps (an audit summary): the key and parameters, not a sentence."""
    text = stored(Msg("alerts.audit.acknowledged", {"id": 7}), 255)
    assert localize(text, "zh-CN") == "告警 #7 已确认"
    assert localize(text, "en") == "Alert #7 acknowledged"
    assert stored(Msg("core.text", {"text": "长" * 300}), 255) == "长" * 255  # too long: zh-CN


def test_a_validator_message_in_the_readers_language() -> None:
    with pytest.raises(ValidationError) as err:
        TypeAdapter(Month).validate_python("2026-13")
    assert "YYYY-MM" in validation_summary(err.value.errors(), locale="en")
    assert validation_summary(err.value.errors(), locale="en").count("The month") == 1
    assert "月份格式须为" in validation_summary(err.value.errors(), locale="zh-CN")
    assert " / " not in str(err.value)
