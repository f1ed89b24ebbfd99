"""A grid member's name leads to their archive from the grid pages, the account pages and
the assessment drill-down of a group, for readers allowed to open it (and only them)."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.assessments import service as assess
from dustgrid.assessments.months import Month
from dustgrid.config import Settings
from dustgrid.grids.models import GridGroup
from tests.assessments.helpers import AFTER, MONTH, build_november
from tests.fixtures.city import City

Web = Callable[[str], TestClient]


def linked(html: str) -> set[int]:
    """The user ids whose archive the page links to."""
    return {int(i) for i in re.findall(r'href="/archives/members/(\d+)"', html)}


def test_grid_pages_link_members_in_scope(city: City, web_as: Web) -> None:
    u = city.users
    admin = web_as("admin")
    listed = linked(admin.get("/grids").text)
    assert {u["off_hp1"], u["off_sh1"], u["insp_hp1"]} <= listed
    page = admin.get(f"/grids/{city.grids['E-HP']}").text
    assert linked(page) == {u["off_hp1"], u["off_hp2"]}
    link = f'href="/archives/members/{u["off_hp1"]}" data-testid="member-archive">off_hp1</a>'
    assert f'<a class="member-link" {link}' in page
    # a district: its own officers; not the third-party inspectors (no unit of its own)
    district = web_as("d_heping")
    listed = linked(district.get("/grids").text)
    assert {u["off_hp1"], u["off_hp2"]} <= listed
    assert u["insp_hp1"] not in listed and u["off_sh1"] not in listed
    inspectors = district.get(f"/grids/{city.grids['I-HP']}").text
    assert "insp_hp1" in inspectors and linked(inspectors) == set()
    # a member: their own name only
    own = web_as("off_hp1").get(f"/grids/{city.grids['E-HP']}").text
    assert "off_hp2" in own and linked(own) == {u["off_hp1"]}
    # every link opens
    assert district.get(f"/archives/members/{u['off_hp2']}").status_code == 200


def test_user_pages_link_members(city: City, web_as: Web) -> None:
    u = city.users
    admin = web_as("admin")
    listed = linked(admin.get("/users").text)
    assert {u["off_hp1"], u["off_sh1"], u["insp_sh1"]} <= listed
    assert u["admin"] not in listed and u["d_heping"] not in listed  # no archive
    detail = admin.get(f"/users/{u['off_hp1']}").text
    assert linked(detail) == {u["off_hp1"]} and "电子档案" in detail
    assert linked(admin.get(f"/users/{u['d_heping']}").text) == set()
    district = linked(web_as("d_heping").get("/users").text)
    assert u["off_hp1"] in district and u["off_sh1"] not in district


def test_group_drill_down_links_its_members(
    db: Session, city: City, settings: Settings, web_as: Web
) -> None:
    build_november(db, city)
    assess.close(db, Month(2026, 11), settings, now=AFTER)
    db.commit()
    u = city.users
    groups = {g.grid_id: g.id for g in db.scalars(select(GridGroup))}
    officers = f"/assessments/{MONTH}/officer_group/{groups[city.grids['E-HP']]}"
    inspectors = f"/assessments/{MONTH}/inspector_group/{groups[city.grids['I-HP']]}"
    admin = web_as("admin")
    page = admin.get(officers)
    assert page.status_code == 200 and "组员" in page.text
    assert linked(page.text) == {u["off_hp1"], u["off_hp2"]}
    assert linked(admin.get(inspectors).text) == {u["insp_hp1"], u["insp_hp2"]}
    district = web_as("d_heping")
    assert linked(district.get(officers).text) == {u["off_hp1"], u["off_hp2"]}
    seen = district.get(inspectors)  # the district's inspector group: names, no archives
    assert seen.status_code == 200
    assert "insp_hp1" in seen.text and linked(seen.text) == set()
    # an L2 unit's page has no member list
    unit = admin.get(f"/assessments/{MONTH}/l2_unit/{city.units['bureau_heping']}").text
    assert 'data-testid="group-members"' not in unit
