"""The leaders' overview: figures from the records, scoped, each linking to its list."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from dustgrid.alerts.models import Alert
from dustgrid.cases.models import Case
from dustgrid.cases.states import CaseSource, CaseState
from dustgrid.config import Settings
from dustgrid.devices.models import Device, DeviceKind
from dustgrid.devices.states import Lifecycle
from dustgrid.identity.deps import app_settings
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Role
from dustgrid.models import utcnow
from dustgrid.overview.service import overview
from dustgrid.workcal.calendar import people_time
from tests.auth.test_scope_walk import ROLES, VISIBLE
from tests.fixtures.city import City

CITY_TZ = ZoneInfo(Settings().timezone)  # the default setting (China time)


def test_city_figures_come_from_the_ledger(api_as: Callable[[str], TestClient]) -> None:
    body = api_as("admin").get("/api/v1/overview").json()
    assert body["sites"] == 7
    assert body["grades"] == {"non_compliant": 2, "basic": 3, "full": 1, "ungraded": 1}
    assert body["compliance_rate"] == round(4 / 6, 4)  # graded sites only
    assert [d["rank"] for d in body["districts"]] == [1, 2]
    by_name = {d["name"]: d for d in body["districts"]}
    assert by_name["和平区"]["sites"] == 4 and by_name["沈河区"]["sites"] == 3
    assert by_name["和平区"]["rank"] == 1  # 3 of 4 compliant beat 1 of 2
    assert len(body["trend"]) == 14 and body["trend"][-1]["day"]


def test_a_district_sees_itself_and_not_the_other(
    api_as: Callable[[str], TestClient], city: City
) -> None:
    c = api_as("d_shenhe")
    body = c.get("/api/v1/overview").json()
    assert body["sites"] == 3
    assert [d["name"] for d in body["districts"]] == ["沈河区"]
    other = c.get("/api/v1/overview", params={"district_id": city.districts["heping"]})
    assert other.status_code == 404
    admin = api_as("admin").get(
        "/api/v1/overview", params={"district_id": city.districts["heping"]}
    )
    assert admin.json()["sites"] == 4


def _admin(city: City) -> Principal:
    return Principal(
        user_id=city.users["admin"],
        username="admin",
        display_name="admin",
        role=Role.city_admin,
        unit_level=1,
    )


def test_cases_alerts_and_monitors_move_the_figures(db: Session, city: City) -> None:
    now = utcnow()
    before = overview(db, _admin(city), now=now, tz=CITY_TZ)
    site = city.sites["HP-001"]
    heping = city.districts["heping"]
    late = Case(
        source=CaseSource.third_party_inspector,
        state=CaseState.dispatched,
        site_id=site,
        district_id=heping,
        category="other",
        description="x",
        severity="normal",
        opened_at=now - timedelta(hours=1),
        due_at=now - timedelta(minutes=5),
        warn_at=now - timedelta(hours=1),
    )
    closed = Case(
        source=CaseSource.third_party_inspector,
        state=CaseState.closed,
        site_id=site,
        district_id=heping,
        category="other",
        description="y",
        severity="normal",
        opened_at=now - timedelta(minutes=30),
        closed_at=now,
    )
    db.add_all([late, closed])
    db.add(
        Device(
            mn="OVW0000000000001",
            kind=DeviceKind.dust_monitor,
            site_id=site,
            district_id=heping,
            lifecycle=Lifecycle.active,
            online=True,
        )
    )
    db.add(
        Device(
            mn="OVW0000000000002",
            kind=DeviceKind.dust_monitor,
            site_id=site,
            district_id=heping,
            lifecycle=Lifecycle.active,
            online=False,
        )
    )
    db.add(
        Alert(
            kind="exceedance",
            rule_key="r",
            site_id=site,
            district_id=heping,
            started_at=now,
            raised_at=now,
        )
    )
    db.flush()
    after = overview(db, _admin(city), now=now, tz=CITY_TZ)
    assert after.lights["red"] == before.lights["red"] + 1
    assert after.open_cases == before.open_cases + 1
    assert after.received == before.received + 2 and after.closed == before.closed + 1
    assert after.monitors == before.monitors + 2 and after.online == before.online + 1
    assert after.alerts_today == before.alerts_today + 1
    assert after.alerts_open_today == before.alerts_open_today + 1
    yesterday = overview(db, _admin(city), now=now + timedelta(days=1), tz=CITY_TZ)
    assert yesterday.alerts_today == before.alerts_today  # "today" is the city's day


def test_overview_page_links_each_figure_to_its_list(web_as: Callable[[str], TestClient]) -> None:
    c = web_as("admin")
    assert c.get("/").headers["location"] == "/overview"
    page = c.get("/overview")
    assert page.status_code == 200
    html = page.text
    assert "全市工地扬尘管控总览" in html and "各区排名" in html
    for href in (
        "/sites?grade=non_compliant",
        "/cases?tab=overdue",
        "/devices?kind=dust_monitor&amp;online=false",
        "/overview/screen",
    ):
        assert href in html, href
    c.cookies.set("lang", "en")
    english = c.get("/overview").text
    assert "City dust control overview" in english and "全市工地扬尘管控总览" not in english
    screen = c.get("/overview/screen")
    assert screen.status_code == 200 and 'data-refresh="30"' in screen.text


def test_the_pages_write_the_time_in_the_citys_zone(
    app: object, web_as: Callable[[str], TestClient], settings: Settings
) -> None:
    """The time of the figures is the city's clock (the ``timezone`` setting), and the big
    screen names that zone for its script (``data-tz``), which rewrites it on refresh."""
    c = web_as("admin")
    for zone in ("Asia/Shanghai", "America/New_York"):
        moved = settings.model_copy(update={"timezone": zone})
        app.dependency_overrides[app_settings] = lambda moved=moved: moved  # type: ignore[attr-defined]
        before = utcnow()
        screen = c.get("/overview/screen").text
        after = utcnow()
        assert f'data-tz="{zone}"' in screen
        clock = re.search(r'data-k="as_of">([^<]+)<', screen)
        assert clock is not None
        local = {people_time(t, ZoneInfo(zone)) for t in (before, after)}
        assert clock.group(1) in local, (zone, clock.group(1), local)
        page = c.get("/overview").text
        assert any(t in page for t in local)


def test_field_roles_land_on_today_and_have_no_overview(
    web_as: Callable[[str], TestClient],
) -> None:
    officer = web_as("off_hp1")
    assert officer.get("/").headers["location"] == "/today"  # their day's work (issue 12)
    assert officer.get("/overview").status_code == 403
    contractor = web_as("con_alpha")
    assert contractor.get("/").headers["location"] == "/sites"
    assert contractor.get("/overview").status_code == 403
    district = web_as("d_heping")
    page = district.get("/overview").text
    assert "和平区工地扬尘管控总览" in page and "各区排名" not in page


def test_no_time_after_now_and_days_are_local(db: Session, city: City) -> None:
    # 2026-12-06 17:30 UTC is already 12-07 in the city
    now = datetime(2026, 12, 6, 17, 30, tzinfo=UTC)
    data = overview(db, _admin(city), now=now, tz=CITY_TZ)
    assert str(data.trend[-1].day) == "2026-12-07"
    assert data.month_start.isoformat() == "2026-12-01"


def test_the_days_are_those_of_the_zone_setting(
    db: Session, city: City, app: object, api_as: Callable[[str], TestClient], settings: Settings
) -> None:
    """Another city's zone moves the day and month buckets: 2026-11-30 20:00 UTC is
    December in China but still November in New York."""
    now = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)
    china = overview(db, _admin(city), now=now, tz=CITY_TZ)
    new_york = overview(db, _admin(city), now=now, tz=ZoneInfo("America/New_York"))
    assert (str(china.trend[-1].day), str(china.month_start)) == ("2026-12-01", "2026-12-01")
    assert (str(new_york.trend[-1].day), str(new_york.month_start)) == ("2026-11-30", "2026-11-01")
    # The route reads the setting: a zone whose date is not China's at this hour.
    late = datetime.now(CITY_TZ).hour >= 20
    zone = ZoneInfo("Pacific/Kiritimati" if late else "Etc/GMT+12")  # UTC+14 or UTC-12
    moved = settings.model_copy(update={"timezone": zone.key})
    app.dependency_overrides[app_settings] = lambda: moved  # type: ignore[attr-defined]
    before = str(datetime.now(zone).date())
    body = api_as("admin").get("/api/v1/overview").json()
    days = {before, str(datetime.now(zone).date())}
    assert body["trend"][-1]["day"] in days and str(datetime.now(CITY_TZ).date()) not in days


WALKED = {("GET", "/api/v1/overview")}


@pytest.mark.parametrize("user", ROLES)
def test_every_role_counts_only_its_scope(
    user: str, api_as: Callable[[str], TestClient], city: City
) -> None:
    c = api_as(user)
    body = c.get("/api/v1/overview").json()
    assert body["sites"] == len(VISIBLE[user]), user
    seen = {d["district_id"] for d in body["districts"]}
    for key, district in city.districts.items():
        r = c.get("/api/v1/overview", params={"district_id": district})
        assert r.status_code == (200 if district in seen else 404), (user, key)
